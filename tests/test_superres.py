"""Chapter 12's super-resolution module against independent references (closed forms, loops, torch ops)."""
import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganbook import superres as SR
from ganbook.translation import translate


def test_psnr_matches_the_formula_by_hand():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    y = (x + 0.2 * torch.randn(4, 3, 8, 8, generator=g)).clamp(-1, 1)
    xs, ys = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    want = [10 * math.log10(4.0 / np.mean((xs[i] - ys[i]) ** 2)) for i in range(4)]
    assert np.allclose(SR.psnr(x, y).numpy(), want, rtol=1e-10)
    # images in [0, 1]: L = 1
    want01 = [10 * math.log10(1.0 / np.mean(((xs[i] - ys[i]) / 2) ** 2)) for i in range(4)]
    assert np.allclose(SR.psnr((x + 1) / 2, (y + 1) / 2, value_range=(0, 1)).numpy(), want01, rtol=1e-6)
    assert torch.isinf(SR.psnr(x, x)).all()
    # a uniform error e: 10 log10(4 / e^2)
    z = torch.zeros(1, 1, 4, 4)
    assert abs(float(SR.psnr(z + 0.5, z)[0]) - 10 * math.log10(16)) < 1e-9


def test_psnr_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        SR.psnr(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="value_range"):
        SR.psnr(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), value_range=(1, 0))
    with pytest.raises(TypeError, match="value_range"):
        SR.psnr(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 4), value_range=2)


def test_downsample_is_the_block_mean_and_upsample_nearest_repeats():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 3, 8, 8, generator=g)
    d = SR.downsample(x, 4)
    assert d.shape == (2, 5, 3, 2, 2)
    for i in range(2):
        for j in range(2):
            assert torch.allclose(d[..., i, j], x[..., 4 * i:4 * i + 4, 4 * j:4 * j + 4].mean((-2, -1)), atol=1e-6)
    small = torch.rand(3, 3, 4, 4, generator=g) * 2 - 1
    up = SR.upsample(small, 4, "nearest")
    assert torch.equal(up, small.repeat_interleave(4, -1).repeat_interleave(4, -2))
    assert torch.allclose(SR.downsample(up, 4), small, atol=1e-6)            # block mean of a repeated block
    with pytest.raises(ValueError, match="factor"):
        SR.downsample(torch.zeros(1, 3, 6, 6), 4)
    with pytest.raises(ValueError, match="mode"):
        SR.upsample(small, 2, "area")


def test_generator_shapes_members_are_independent_and_zero_tail_is_bicubic():
    torch.manual_seed(0)
    G = SR.SRGenerator(4, 6, 1, members=3)
    lr = torch.rand(3, 5, 3, 4, 4) * 2 - 1
    out = G(lr)
    assert out.shape == (3, 5, 3, 16, 16)
    bumped = lr.clone()
    bumped[0] += 0.5
    out2 = G(bumped)
    assert not torch.allclose(out2[0], out[0])
    assert torch.equal(out2[1:], out[1:])                                   # members do not see each other
    with torch.no_grad():
        G.tail.weight.zero_()
        G.tail.bias.zero_()
    ref = F.interpolate(lr.flatten(0, 1), scale_factor=4, mode="bicubic", align_corners=False).clamp(-1, 1)
    assert torch.allclose(G(lr), ref.view(3, 5, 3, 16, 16), atol=1e-6)
    with pytest.raises(ValueError, match="lr"):
        G(torch.zeros(2, 5, 3, 4, 4))


def test_member_blocks_survive_the_pixel_shuffle():
    # channel block e of r^2 w channels becomes channel block e of w channels
    E, w, r = 3, 2, 2
    x = torch.arange(E * r * r * w, dtype=torch.float32).view(1, E * r * r * w, 1, 1)
    y = F.pixel_shuffle(x, r)                                            # (1, E w, r, r)
    for e in range(E):
        block = y[0, e * w:(e + 1) * w].flatten()
        assert bool(((block >= e * r * r * w) & (block < (e + 1) * r * r * w)).all())


def test_sr_g_loss_by_hand():
    g = torch.Generator().manual_seed(2)
    out = torch.randn(3, 4, 3, 16, 16, generator=g)
    tgt = torch.randn(3, 4, 3, 16, 16, generator=g)
    fake = torch.randn(3, 4, generator=g)
    phi = lambda x: x[:, :1] * 2.0                                      # noqa: E731  a fixed "feature map"
    a, b, c = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 0.5, 1.0]), torch.tensor([0.1, 0.0, 1.0])
    got = SR.sr_g_loss(fake, output=out, target=tgt, phi=phi, mse_weight=a, feature_weight=b, adv_weight=c)
    for e in range(3):
        mse = float(((out[e] - tgt[e]) ** 2).mean())
        feat = float(((2 * out[e][:, :1] - 2 * tgt[e][:, :1]) ** 2).mean())
        adv = float(np.mean(np.log1p(np.exp(-fake[e].numpy().astype(np.float64)))))
        assert abs(float(got[e]) - (a[e] * mse + b[e] * feat + c[e] * adv)) < 1e-4
    with pytest.raises(ValueError, match="phi"):
        SR.sr_g_loss(fake, output=out, target=tgt, feature_weight=1.0)
    with pytest.raises(ValueError, match="one weight per member"):
        SR.sr_g_loss(fake, output=out, target=tgt, mse_weight=torch.ones(2))


def test_feature_loss_is_zero_on_the_target_and_does_not_train_phi():
    from ganbook import metrics

    net = metrics.shapes_classifier("cpu")
    before = [p.clone() for p in net.parameters()]
    phi = SR.shapes_phi(net)
    y = torch.rand(2, 3, 3, 16, 16) * 2 - 1
    assert torch.allclose(SR.feature_loss(y, y, phi=phi), torch.zeros(2))
    out = (y + 0.1).requires_grad_()
    SR.feature_loss(y, out, phi=phi).sum().backward()
    assert out.grad is not None and float(out.grad.abs().sum()) > 0
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert all(p.grad is None for p in net.parameters())


def test_train_srgan_runs_and_presets():
    p = dataclasses.replace(SR.preset("cpu"), steps=2, n_train=8)
    hr = torch.rand(8, 3, 16, 16) * 2 - 1
    G = SR.train_srgan(hr, mse_weight=torch.ones(2), feature_weight=torch.zeros(2), adv_weight=torch.tensor([0.0, 0.1]),
                       p=p, seed=0)
    out = translate(G, SR.downsample(hr, 4))
    assert out.shape == (2, 8, 3, 16, 16) and bool(out.abs().le(1).all())
    assert SR.preset("gpu").high == 64 and SR.preset("cpu").high == 16
    with pytest.raises(ValueError, match="preset"):
        SR.preset("tpu")
    with pytest.raises(ValueError, match="hr"):
        SR.train_srgan(torch.zeros(4, 3, 8, 8), mse_weight=torch.ones(1), feature_weight=torch.zeros(1),
                       adv_weight=torch.zeros(1), p=p)
