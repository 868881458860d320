"""Tests of ganbook.translation (chapter 11) against independent references: a perturbation
experiment for the PatchGAN's receptive field, hand-computed values of the unpaired loss with each
paper's weights, brute-force bijection checks of the known maps."""
from __future__ import annotations

import colorsys
import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from ganbook import translation as T


def _measured_receptive_field(D: T.PatchGAN, size: int = 32) -> int:
    """Perturb each input pixel in turn and record which input rows/columns change the centre logit:
    the side of that region, measured without the formula."""
    torch.manual_seed(0)
    x = torch.randn(1, 1, D.in_channels, size, size)
    with torch.no_grad():
        base = D(x)[0, 0]
        c = base.shape[-1] // 2
        rows, cols = set(), set()
        for i in range(size):
            for j in range(size):
                z = x.clone()
                z[..., i, j] += 1.0
                if (D(z)[0, 0, c, c] - base[c, c]).abs() > 1e-7:
                    rows.add(i)
                    cols.add(j)
    assert max(rows) - min(rows) == max(cols) - min(cols)
    return max(rows) - min(rows) + 1


def test_patchgan_receptive_field_matches_a_perturbation_experiment():
    D = T.PatchGAN(in_channels=2, width=4)
    assert D.receptive_field == 10 == T.receptive_field(D.LAYERS)
    assert _measured_receptive_field(D) == D.receptive_field


def test_receptive_field_formula_on_known_stacks():
    # pix2pix's 70×70 PatchGAN: three 4×4 stride-2 layers and two 4×4 stride-1 layers
    assert T.receptive_field([(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)]) == 70
    assert T.receptive_field([(3, 1)] * 3) == 7          # three 3×3 convolutions
    assert T.receptive_field([(1, 1)]) == 1
    with pytest.raises(TypeError):
        T.receptive_field([])
    with pytest.raises(ValueError):
        T.receptive_field([(0, 1)])


@pytest.mark.parametrize("size", [16, 32])
def test_unet_and_pixelnet_shapes_and_members_independent(size):
    torch.manual_seed(0)
    G = T.UNet(1, 3, 4, members=3)
    x = torch.randn(3, 5, 1, size, size)
    y = G(x)
    assert y.shape == (3, 5, 3, size, size)
    # member 1's output does not depend on member 0's input
    x2 = x.clone()
    x2[0] += 1
    assert torch.equal(G(x2)[1:], y[1:])
    # a sample's output does not depend on the other samples (no normalisation across the batch)
    assert torch.allclose(G(x[:, :1])[:, 0], y[:, 0], atol=1e-6)
    P = T.PixelNet(3, 3, 4, members=2)
    xp = torch.randn(2, 4, 3, size, size)
    assert P(xp).shape == (2, 4, 3, size, size)
    # the batched matrix products equal the grouped 1×1 convolutions that hold the weights
    ref = P.net(xp.permute(1, 0, 2, 3, 4).reshape(4, 6, size, size)).view(4, 2, 3, size, size).transpose(0, 1)
    assert torch.allclose(P(xp), ref, atol=1e-5)
    D = T.PatchGAN(4, 4, members=3)
    assert D(torch.randn(3, 5, 4, size, size)).shape == (3, 5, size // 4, size // 4)
    with pytest.raises(ValueError):
        G(torch.randn(2, 5, 1, size, size))


def _tiny():
    g = torch.Generator().manual_seed(0)
    r = lambda *s: torch.randn(*s, generator=g)          # noqa: E731
    return dict(d_y_fake=r(1, 2, 2, 2), d_x_fake=r(1, 2, 2, 2), x=r(1, 2, 1, 2, 2), y=r(1, 2, 1, 2, 2),
                x_cycle=r(1, 2, 1, 2, 2), y_cycle=r(1, 2, 1, 2, 2), y_fake=r(1, 2, 1, 2, 2),
                x_fake=r(1, 2, 1, 2, 2))


def _mean(values) -> float:
    values = [float(v) for v in values]
    return sum(values) / len(values)


def test_unpaired_objective_with_cyclegan_weights_is_lsgan_plus_10_l1_cycles():
    t = _tiny()
    ls = lambda d: _mean([(v - 1) ** 2 for v in d.flatten().tolist()])               # noqa: E731
    l1 = lambda a, b: _mean([abs(u - v) for u, v in zip(a.flatten().tolist(), b.flatten().tolist())])  # noqa: E731
    want = ls(t["d_y_fake"]) + ls(t["d_x_fake"]) + 10 * l1(t["x"], t["x_cycle"]) + 10 * l1(t["y"], t["y_cycle"])
    got = T.unpaired_objective(T.UNPAIRED["cyclegan"], **t)
    assert math.isclose(float(got[0]), want, rel_tol=1e-5)


def test_unpaired_objective_with_discogan_and_dualgan_weights():
    t = _tiny()
    sp = lambda v: math.log1p(math.exp(-v))                                           # softplus(−v)
    l2 = lambda a, b: _mean([(u - v) ** 2 for u, v in zip(a.flatten().tolist(), b.flatten().tolist())])  # noqa: E731
    l1 = lambda a, b: _mean([abs(u - v) for u, v in zip(a.flatten().tolist(), b.flatten().tolist())])  # noqa: E731
    want = (_mean([sp(v) for v in t["d_y_fake"].flatten().tolist()])
            + _mean([sp(v) for v in t["d_x_fake"].flatten().tolist()])
            + l2(t["x"], t["x_cycle"]) + l2(t["y"], t["y_cycle"]))
    assert math.isclose(float(T.unpaired_objective(T.UNPAIRED["discogan"], **t)[0]), want, rel_tol=1e-5)
    want = (-_mean(t["d_y_fake"].flatten().tolist()) - _mean(t["d_x_fake"].flatten().tolist())
            + 100 * l1(t["x"], t["x_cycle"]) + 100 * l1(t["y"], t["y_cycle"]))
    assert math.isclose(float(T.unpaired_objective(T.UNPAIRED["dualgan"], **t)[0]), want, rel_tol=1e-5)


def test_unpaired_objective_with_distancegan_weights():
    t = _tiny()
    stats = (0.5, 0.25, 1.0, 2.0)
    x, yf = t["x"][0], t["y_fake"][0]
    dx = (x[0] - x[1]).abs().mean().item()
    dy = (yf[0] - yf[1]).abs().mean().item()
    sp = lambda v: math.log1p(math.exp(-v))                                           # noqa: E731
    want = _mean([sp(v) for v in t["d_y_fake"].flatten().tolist()]) + abs((dx - 0.5) / 0.25 - (dy - 1.0) / 2.0)
    got = T.unpaired_objective(T.UNPAIRED["distancegan"], **t, stats=stats)
    assert math.isclose(float(got[0]), want, rel_tol=1e-5)
    with pytest.raises(ValueError):
        T.unpaired_objective(T.UNPAIRED["distancegan"], **t)


def test_distance_stats_against_brute_force():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(5, 1, 2, 2, generator=g), torch.randn(4, 1, 2, 2, generator=g)
    for z, (m, s) in ((x, T.distance_stats(x, y)[:2]), (y, T.distance_stats(x, y)[2:])):
        d = [(z[i] - z[j]).abs().mean().item() for i in range(len(z)) for j in range(i + 1, len(z))]
        mu = _mean(d)
        sd = math.sqrt(sum((v - mu) ** 2 for v in d) / (len(d) - 1))
        assert math.isclose(m, mu, rel_tol=1e-5) and math.isclose(s, sd, rel_tol=1e-5)


def test_pix2pix_loss_and_adversarial_losses_by_hand():
    fake = torch.tensor([[[[0.5]]], [[[-1.0]]]])                    # (E=2, n=1, 1, 1) logit maps
    out, tgt = torch.zeros(2, 1, 1, 1, 2), torch.tensor([0.5, -0.5]).view(1, 1, 1, 1, 2).expand(2, 1, 1, 1, 2)
    got = T.pix2pix_g_loss(fake, output=out, target=tgt, l1_weight=torch.tensor([10.0, 0.0]),
                           adv_weight=torch.tensor([0.0, 1.0]))
    assert torch.allclose(got, torch.tensor([5.0, math.log1p(math.e)]), atol=1e-6)
    r, f = torch.tensor([[2.0]]), torch.tensor([[0.5]])
    assert math.isclose(float(T.adversarial_d_loss(r, f, kind="ls")[0]), 1 + 0.25)
    assert math.isclose(float(T.adversarial_d_loss(r, f, kind="wgan")[0]), -1.5)
    assert math.isclose(float(T.adversarial_d_loss(r, f, kind="ns")[0]),
                        math.log1p(math.exp(-2)) + math.log1p(math.exp(0.5)), rel_tol=1e-6)
    with pytest.raises(ValueError):
        T.adversarial_g_loss(f, kind="vanilla")


def test_pan_and_simgan_losses_by_hand():
    a = [torch.ones(1, 2, 3), torch.zeros(1, 2, 2)]
    b = [torch.zeros(1, 2, 3), torch.full((1, 2, 2), 2.0)]
    assert math.isclose(float(T.perceptual_adversarial_g_loss(a, real=b, weights=[1.0, 0.5])[0]), 1 + 0.5 * 2)
    assert float(T.perceptual_adversarial_d_loss(b, a, weights=[1.0, 0.5], margin=3.0)[0]) == 1.0
    refined, synth = torch.ones(1, 1, 1, 2, 2), torch.zeros(1, 1, 1, 2, 2)
    got = T.self_regularised_g_loss(torch.zeros(1, 1, 2, 2), refined=refined, synthetic=synth, weight=0.5)
    assert math.isclose(float(got[0]), math.log(2) + 0.5, rel_tol=1e-6)


def test_permutation_is_a_bijection_and_whitening_is_not():
    x, _ = T.warm_shapes(64, 16, generator=torch.Generator().manual_seed(0))
    y = T.permute_colors(x)
    assert torch.equal(T.unpermute_colors(y), x)
    assert torch.equal(T.permute_colors(T.unpermute_colors(x)), x)
    # brute force over the six channel orders: only the cyclic shift sends every hue in [0, 1/4)
    # into the target hue range [1/3, 1/3 + 1/4) (colorsys as the independent reference)
    colours = ((x + 1) / 2).amax((2, 3))                     # each image's colour (fully covered pixels)
    hits = []
    for order in itertools.permutations(range(3)):
        hues = [colorsys.rgb_to_hsv(*c[list(order)].tolist())[0] for c in colours]
        hits.append(all(1 / 3 - 1e-6 <= h < 1 / 3 + 1 / 4 + 1e-6 for h in hues))
        if order == (2, 0, 1):
            assert hits[-1]
            assert torch.allclose(((y + 1) / 2).amax((2, 3)), colours[:, list(order)])
    assert sum(hits) == 1
    w = T.whiten(x)
    assert torch.equal(w[:, 0], w[:, 1]) and torch.equal(w[:, 1], w[:, 2])
    # many-to-one: two different colours with the same value give the same white shape
    m = torch.zeros(1, 3, 4, 4)
    m[..., 1:3, 1:3] = 1
    a = 2 * m * torch.tensor([0.9, 0.2, 0.1]).view(1, 3, 1, 1) - 1
    c = 2 * m * torch.tensor([0.1, 0.9, 0.5]).view(1, 3, 1, 1) - 1
    assert not torch.equal(a, c) and torch.equal(T.whiten(a), T.whiten(c))


def test_mask_pairs_image_is_mask_times_colour():
    mask, image, label = T.mask_pairs(32, 16, generator=torch.Generator().manual_seed(0))
    m = (mask + 1) / 2
    colour = ((image + 1) / 2).amax((2, 3))            # the colour: the fully covered pixels' value
    assert torch.allclose((image + 1) / 2, m * colour[..., None, None], atol=1e-5)
    assert label.shape == (32,)


def test_bad_arguments():
    with pytest.raises(ValueError):
        T.preset("tpu")
    with pytest.raises(ValueError):
        T.cycle_loss(torch.zeros(1, 2), torch.zeros(1, 2), norm=3)
    with pytest.raises(ValueError):
        T.UnpairedWeights(1, 1, -1, 0, 0, 0)
    with pytest.raises(TypeError):
        T.unpaired_objective("cyclegan", **_tiny())
    with pytest.raises(ValueError):
        T.permute_colors(torch.zeros(2, 4, 4, 4))


def test_tiny_training_runs_and_scores():
    p = T.Preset("tiny", 16, 4, 4, 2, 2, 1e-3, 1, 8)
    a, b, lab = T.mask_pairs(16, 16, generator=torch.Generator().manual_seed(0))
    G = T.train_pix2pix(a, b, l1_weight=torch.tensor([1.0, 0.0]), adv_weight=torch.tensor([0.0, 1.0]), p=p)
    out = T.translate(G, a[:8])
    assert out.shape == (2, 8, 3, 16, 16) and float(out.abs().max()) <= 1
    x, _ = T.warm_shapes(16, 16, generator=torch.Generator().manual_seed(0))
    for name in T.UNPAIRED:
        Gxy, Gyx = T.train_unpaired(x, T.permute_colors(x), T.UNPAIRED[name], members=2, p=p)
        assert T.translate(Gxy, x[:4]).shape == (2, 4, 3, 16, 16)
    assert F.l1_loss(out[0], out[0]) == 0


def test_hide_reveal_is_a_perfect_cycle_that_quantisation_breaks():
    x = __import__("ganbook").data.shapes(64, 16, generator=torch.Generator().manual_seed(0)).images
    y = T.hide(x, 0.01)
    assert float((y - T.whiten(x)).abs().max()) <= 0.02 + 1e-6          # within 2ε of the honest image
    assert float((T.reveal(y, 0.01) - x).abs().max()) < 1e-3              # the colour comes back
    lost = float((T.reveal(T.quantise(y), 0.01) - x).abs().mean())
    assert lost > 10 * float((T.reveal(y, 0.01) - x).abs().mean())
    q = T.quantise(torch.tensor([-1.0, 1.0, 0.0, 0.004]), levels=256)
    assert torch.allclose(q, torch.tensor([-1.0, 1.0, 1 / 255, 1 / 255]), atol=1e-6)


def test_train_unpaired_with_one_weight_set_per_member_trains_each_member_as_its_method_alone():
    # Members are independent: member e of a mixed run equals member e of a run where every member
    # uses member e's weights (same data draws, same initial weights). This checks that each member
    # gets its own adversarial loss, cycle norm and DualGAN's clipping, and nothing of the others'.
    p = T.Preset("tiny", 16, 4, 4, 2, 6, 1e-2, 1, 8)
    x, _ = T.warm_shapes(32, 16, generator=torch.Generator().manual_seed(0))
    y = T.permute_colors(T.warm_shapes(32, 16, generator=torch.Generator().manual_seed(1))[0])
    names = ["cyclegan", "dualgan", "distancegan", "discogan"]
    mixed = T.translate(T.train_unpaired(x, y, [T.UNPAIRED[n] for n in names], members=4, p=p)[0], x[:8])
    for e, n in enumerate(names):
        alone = T.translate(T.train_unpaired(x, y, T.UNPAIRED[n], members=4, p=p)[0], x[:8])
        assert torch.allclose(mixed[e], alone[e], atol=1e-5), n
        others = [k for k in range(4) if names[k] != n]
        assert not torch.allclose(mixed[others], alone[others], atol=1e-3)
    same = T.translate(T.train_unpaired(x, y, [T.UNPAIRED["dualgan"]] * 4, members=4, p=p)[0], x[:8])
    assert torch.equal(same, T.translate(T.train_unpaired(x, y, T.UNPAIRED["dualgan"], members=4, p=p)[0], x[:8]))
    with pytest.raises(ValueError, match="weights"):
        T.train_unpaired(x, y, [T.UNPAIRED["dualgan"]] * 3, members=4, p=p)
    with pytest.raises(TypeError, match="weights"):
        T.train_unpaired(x, y, ["cyclegan"] * 4, members=4, p=p)


def test_train_pix2pix_pan_weight_zero_members_train_as_without_pan():
    p = T.Preset("tiny", 16, 4, 4, 4, 2, 1e-2, 1, 8)
    a, b, _ = T.mask_pairs(24, 16, generator=torch.Generator().manual_seed(0))
    l1, adv = torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])
    plain = T.translate(T.train_pix2pix(a, b, l1_weight=l1, adv_weight=adv, p=p), a[:6])
    mixed = T.translate(T.train_pix2pix(a, b, l1_weight=l1, adv_weight=adv, p=p, pan_weight=torch.tensor([0.0, 5.0])), a[:6])
    assert torch.allclose(mixed[0], plain[0], atol=1e-5)          # weight 0: pix2pix exactly
    assert not torch.allclose(mixed[1], plain[1], atol=1e-3)      # weight 5: PAN changes the member
    with pytest.raises(ValueError, match="pan_weight"):
        T.train_pix2pix(a, b, l1_weight=l1, adv_weight=adv, p=p, pan_weight=torch.ones(3))
