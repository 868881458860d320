"""Chapter 6c's multi-component generators against independent references: the pyramid operators
against explicit loops and hand-built interpolation matrices, the spatial transformer against
hand-computed shifts, rotations and boxes, GRAN's recurrence against a step-by-step replay with each
seed's own MLP, GoGAN's and Stacked GAN's losses against brute force and torch.distributions."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganbook.architectures import (GRANGenerator, LAPGANDiscriminator, LAPGANGenerator, LayeredGenerator, affine_theta,
                                   compose, downsample, gaussian_pyramid, gogan_d_loss, laplacian_pyramid, place,
                                   reconstruct, sgan_conditional, sgan_entropy, stage_margins, upsample)
from ganbook.architectures import experiments as X
from ganbook.architectures.__main__ import main as cli_main
from ganbook.objectives.ipm import wasserstein_d_loss


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- pyramid --------------------------------------------------------------------------------------------------


def test_downsample_is_the_mean_of_each_2x2_block():
    x = torch.randn(2, 3, 4, 6, generator=_gen(), dtype=torch.float64)
    ref = torch.empty(2, 3, 2, 3, dtype=torch.float64)
    for i in range(2):
        for j in range(3):
            ref[..., i, j] = (x[..., 2 * i, 2 * j] + x[..., 2 * i + 1, 2 * j] + x[..., 2 * i, 2 * j + 1]
                              + x[..., 2 * i + 1, 2 * j + 1]) / 4
    assert torch.allclose(downsample(x), ref, atol=1e-14)
    stacked = torch.randn(3, 2, 1, 4, 4, generator=_gen(1))                 # leading (members, n)
    assert torch.equal(downsample(stacked), downsample(stacked.flatten(0, 1)).reshape(3, 2, 1, 2, 2))


def _bilinear_matrix(n: int) -> np.ndarray:
    """The (2n, n) matrix of 1D linear interpolation at the output centres (i + ½)/2 − ½ of the input
    grid, clamped at the ends (align_corners=False), built from the formula alone."""
    U = np.zeros((2 * n, n))
    for i in range(2 * n):
        s = min(max((i + 0.5) / 2 - 0.5, 0.0), n - 1.0)
        lo = int(math.floor(s))
        hi = min(lo + 1, n - 1)
        U[i, lo] += 1 - (s - lo)
        U[i, hi] += s - lo
    return U


@pytest.mark.parametrize("h,w", [(2, 2), (3, 5), (4, 4)])
def test_upsample_is_separable_linear_interpolation(h, w):
    x = torch.randn(2, 1, h, w, generator=_gen(h * w), dtype=torch.float64)
    ref = torch.as_tensor(_bilinear_matrix(h)) @ x @ torch.as_tensor(_bilinear_matrix(w)).T
    assert torch.allclose(upsample(x), ref, atol=1e-12)
    # the 2×2 case by hand: the first row of the 4×4 result is a, ¾a + ¼b, ¼a + ¾b, b
    a, b = x[0, 0, 0, 0], x[0, 0, 0, 1]
    if (h, w) == (2, 2):
        assert torch.allclose(upsample(x)[0, 0, 0], torch.stack([a, 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b, b]))


def test_pyramid_of_a_constant_image_has_no_detail():
    x = torch.full((1, 3, 8, 8), 0.3, dtype=torch.float64)
    pyr = laplacian_pyramid(x, 3)
    assert [tuple(p.shape[-2:]) for p in pyr] == [(8, 8), (4, 4), (2, 2)]
    assert all(float(p.abs().max()) < 1e-15 for p in pyr[:-1])
    assert torch.allclose(pyr[-1], torch.full((1, 3, 2, 2), 0.3, dtype=torch.float64))


def test_reconstruction_inverts_the_pyramid():
    x = torch.randn(4, 2, 16, 16, generator=_gen(2), dtype=torch.float64)
    for levels in (1, 2, 3, 5):
        pyr = laplacian_pyramid(x, levels)
        assert len(pyr) == levels
        assert torch.allclose(reconstruct(pyr), x, atol=1e-13, rtol=0)
    g = gaussian_pyramid(x, 3)
    assert torch.allclose(g[2], downsample(downsample(x)))
    # the two-level case written out: x = u(d(x)) + (x − u(d(x)))
    h0, i1 = laplacian_pyramid(x, 2)
    assert torch.allclose(h0, x - upsample(downsample(x))) and torch.allclose(i1, downsample(x))


def test_the_pyramid_is_overcomplete():
    """64 + 16 + 4 numbers describe 64 pixels: a random pyramid is not the pyramid of its own image."""
    gen = _gen(3)
    pyr = [torch.randn(1, 1, 8, 8, generator=gen), torch.randn(1, 1, 4, 4, generator=gen),
           torch.randn(1, 1, 2, 2, generator=gen)]
    again = laplacian_pyramid(reconstruct(pyr), 3)
    assert not torch.allclose(again[-1], pyr[-1], atol=1e-3)
    assert torch.allclose(reconstruct(again), reconstruct(pyr), atol=1e-5)


def test_pyramid_bad_inputs():
    with pytest.raises(ValueError, match="even"):
        downsample(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="levels"):
        laplacian_pyramid(torch.zeros(1, 1, 8, 8), 5)
    with pytest.raises(TypeError, match="levels"):
        gaussian_pyramid(torch.zeros(1, 1, 8, 8), 2.0)
    with pytest.raises(ValueError, match="shape"):
        upsample(torch.zeros(4, 4))
    with pytest.raises(TypeError, match="pyramid"):
        reconstruct(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="pyramid\\[0\\]"):
        reconstruct([torch.zeros(1, 1, 6, 6), torch.zeros(1, 1, 2, 2)])
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        downsample(np.zeros((1, 1, 4, 4)))


# --- LAPGAN networks -----------------------------------------------------------------------------------------


def test_lapgan_generator_builds_each_level_from_the_coarser_one():
    G = LAPGANGenerator(8, 1, 3, z_dim=4, hidden=(16,), generators=[_gen(0), _gen(1)])
    z = torch.randn(2, 5, 3, 4, generator=_gen(9))
    levels = G(z)
    assert [tuple(t.shape) for t in levels] == [(2, 5, 1, 8, 8), (2, 5, 1, 4, 4), (2, 5, 1, 2, 2)]
    assert float(levels[2].detach().abs().max()) <= 1
    for k in (0, 1):
        low = upsample(levels[k + 1])
        assert torch.allclose(levels[k] - low, G.band(k, z[:, :, k], low), atol=1e-6)
    # the samples are the reconstruction of the generated pyramid
    bands = [levels[k] - upsample(levels[k + 1]) for k in (0, 1)] + [levels[2]]
    assert torch.allclose(reconstruct(bands), levels[0], atol=1e-6)
    # member 1 is the network seed 1 builds alone
    alone = LAPGANGenerator(8, 1, 3, z_dim=4, hidden=(16,), generators=[_gen(1)])
    assert torch.allclose(alone(z[1:])[0], levels[0][1:], atol=1e-6)


def test_lapgan_discriminator_and_bad_inputs():
    D = LAPGANDiscriminator(8, 1, 2, hidden=(8,), members=3)
    x, low = torch.zeros(3, 4, 1, 8, 8), torch.zeros(3, 4, 1, 8, 8)
    assert D(0, x, low).shape == (3, 4) and D(1, torch.zeros(3, 4, 1, 4, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match="low"):
        D(0, x)
    with pytest.raises(ValueError, match="k must"):
        D(2, x)
    with pytest.raises(ValueError, match="divisible"):
        LAPGANGenerator(6, 1, 3, members=1)
    G = LAPGANGenerator(8, 1, 2, z_dim=4, members=2)
    with pytest.raises(ValueError, match="z must have shape"):
        G(torch.zeros(2, 3, 3, 4))
    with pytest.raises(ValueError, match="band-pass"):
        G.band(1, torch.zeros(2, 3, 4), torch.zeros(2, 3, 1, 4, 4))


# --- GRAN -----------------------------------------------------------------------------------------------------


def test_gran_matches_a_step_by_step_replay_with_each_seeds_own_networks():
    G = GRANGenerator(8, 1, z_dim=6, steps=3, code=5, hidden=(12,), generators=[_gen(4), _gen(5)])
    z = torch.randn(2, 7, 6, generator=_gen(6))
    C = G.canvases(z)
    assert C.shape == (3, 2, 7, 1, 8, 8)
    for e in range(2):
        embed, write, read = G.embed.member(e), G.write.member(e), G.read.member(e)
        h_z, h_c, canvas = torch.tanh(embed(z[e])), torch.zeros(7, 5), torch.zeros(7, 64)
        for t in range(3):
            delta = write(torch.cat([h_z, h_c], 1))
            canvas = canvas + delta
            h_c = torch.tanh(read(delta))
            assert torch.allclose(C[t, e].reshape(7, 64), canvas, atol=1e-5)
    assert torch.allclose(G(z), torch.tanh(C[-1]))
    # tanh is the paper's sigmoid for images in [−1, 1]: tanh(c) = 2σ(2c) − 1
    assert torch.allclose(G(z), 2 * torch.sigmoid(2 * C[-1]) - 1, atol=1e-6)
    with pytest.raises(ValueError, match="z must have shape"):
        G(torch.zeros(3, 7, 6))
    with pytest.raises(ValueError, match="steps"):
        GRANGenerator(steps=0, members=1)


# --- LR-GAN ---------------------------------------------------------------------------------------------------


def test_compose_is_alpha_blending():
    gen = _gen(7)
    b, f = torch.randn(2, 3, 4, 4, generator=gen), torch.randn(2, 3, 4, 4, generator=gen)
    m = torch.rand(2, 1, 4, 4, generator=gen)
    x = compose(b, f, m)
    assert torch.allclose(x, m.expand(-1, 3, -1, -1) * f + (1 - m.expand(-1, 3, -1, -1)) * b)
    assert torch.allclose(x - b, m * (f - b), atol=1e-6)                  # linear in the mask
    assert torch.equal(compose(b, f, torch.ones(2, 1, 4, 4)), f) and torch.equal(compose(b, f, torch.zeros(2, 1, 4, 4)), b)
    with pytest.raises(ValueError, match="mask"):
        compose(b, f, torch.rand(2, 2, 4, 4))
    with pytest.raises(ValueError, match="one shape"):
        compose(b, f[:, :2], m)


def _theta(scale=1.0, shift=(0.0, 0.0), angle=None, n=1):
    s = torch.full((n,), float(scale))
    t = torch.tensor([shift], dtype=torch.float32).expand(n, 2).contiguous()
    a = None if angle is None else torch.full((n,), float(angle))
    return affine_theta(s, t, a)


def test_place_identity_shift_and_rotation():
    x = torch.randn(2, 3, 8, 8, generator=_gen(8))
    assert torch.allclose(place(x, _theta(n=2)), x, atol=1e-6)
    # a shift of 2 pixels to the right (4/S canvas units): out[..., j] = x[..., j − 2], zeros enter on the left
    out = place(x, _theta(shift=(4 / 8, 0.0), n=2))
    ref = torch.zeros_like(x)
    ref[..., 2:] = x[..., :-2]
    assert torch.allclose(out, ref, atol=1e-6)
    # one pixel down (y grows downwards)
    out = place(x, _theta(shift=(0.0, 2 / 8), n=2))
    ref = torch.zeros_like(x)
    ref[..., 1:, :] = x[..., :-1, :]
    assert torch.allclose(out, ref, atol=1e-6)
    # a quarter turn counter-clockwise on the screen is rot90 (numpy's direction)
    out = place(x, _theta(angle=math.pi / 2, n=2))
    assert torch.allclose(out, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-5)


def test_place_scale_draws_the_input_in_a_box():
    ones = torch.ones(1, 1, 8, 8)
    out = place(ones, _theta(scale=0.5))
    box = torch.zeros(1, 1, 8, 8)
    box[..., 2:6, 2:6] = 1                                               # centres with |x|, |y| ≤ 3/8
    assert torch.allclose(out, box, atol=1e-6)
    # onto a larger canvas: a 4×4 input at scale 1 fills the 8×8 canvas; away from the border it is the
    # bilinear upsampling
    small = torch.randn(1, 2, 4, 4, generator=_gen(9))
    big = place(small, _theta(), size=8)
    assert big.shape == (1, 2, 8, 8)
    assert torch.allclose(big[..., 1:-1, 1:-1], upsample(small)[..., 1:-1, 1:-1], atol=1e-6)
    with pytest.raises(ValueError, match="theta"):
        place(small, _theta(n=2))
    with pytest.raises(ValueError, match="shift"):
        affine_theta(torch.ones(3), torch.zeros(3))


def test_layered_generator_parts_are_consistent_and_the_placed_mask_vanishes_off_the_object():
    G = LayeredGenerator(16, 3, z_dim=4, hidden=(16,), generators=[_gen(10), _gen(11)])
    z = torch.randn(2, 6, 2, 4, generator=_gen(12))
    with torch.no_grad():
        P = G.parts(z)
    assert P["image"].shape == (2, 6, 3, 16, 16) and P["background"].shape == (2, 6, 3, 16, 16)
    assert P["appearance"].shape == (2, 6, 3, 8, 8) and P["mask"].shape == (2, 6, 1, 8, 8)
    assert torch.allclose(P["image"], compose(P["background"], P["placed_appearance"], P["placed_mask"]))
    assert torch.equal(G(z), P["image"])
    lo, hi = G.scale_range
    assert bool(((P["scale"] >= lo) & (P["scale"] <= hi)).all()) and float(P["shift"].abs().max()) <= G.shift_range
    # a canvas pixel whose source point lies more than half a foreground pixel outside [−1, 1]² gets mask 0
    c = (2 * torch.arange(16) + 1) / 16 - 1
    px, py = c.view(1, 1, 1, 16), c.view(1, 1, 16, 1)
    ux = (px - P["shift"][..., 0, None, None]) / P["scale"][..., None, None]
    uy = (py - P["shift"][..., 1, None, None]) / P["scale"][..., None, None]
    outside = torch.maximum(ux.abs(), uy.abs()) >= 1 + 1 / G.foreground_size
    assert bool(outside.any()) and float(P["placed_mask"][:, :, 0][outside].abs().max()) == 0.0
    with pytest.raises(ValueError, match="z must have"):
        G(torch.zeros(2, 6, 4))
    with pytest.raises(ValueError, match="scale"):
        LayeredGenerator(scale=(0.6, 0.2), members=1)


# --- GoGAN and Stacked GAN losses -----------------------------------------------------------------------------


def test_gogan_margin_loss_against_brute_force():
    gen = _gen(13)
    real, fake = torch.randn(50, generator=gen), torch.randn(50, generator=gen)
    ref = sum(max(0.0, 0.3 + float(f) - float(r)) for r, f in zip(real, fake)) / 50
    assert abs(float(gogan_d_loss(real, fake, margin=0.3)) - ref) < 1e-6
    batched = torch.randn(3, 20, generator=gen), torch.randn(3, 20, generator=gen)
    per_seed = torch.stack([gogan_d_loss(batched[0][s], batched[1][s], margin=0.5) for s in range(3)])
    assert torch.allclose(gogan_d_loss(*batched, margin=0.5), per_seed.mean())


def test_gogan_loss_ignores_pairs_beyond_the_margin_and_is_wgan_within_it():
    real = torch.tensor([2.0, 0.5, 0.0, 1.0], requires_grad=True)
    fake = torch.tensor([0.0, 0.4, 0.2, -1.0], requires_grad=True)      # gaps 2, 0.1, −0.2, 2
    gogan_d_loss(real, fake, margin=1.0).backward()
    assert torch.allclose(real.grad, torch.tensor([0.0, -0.25, -0.25, 0.0]))
    assert torch.allclose(fake.grad, torch.tensor([0.0, 0.25, 0.25, 0.0]))
    # every gap below the margin: the loss is WGAN's critic loss plus the margin
    r, f = torch.randn(30, generator=_gen(14)), torch.randn(30, generator=_gen(15))
    big = 1.0 + float((r - f).abs().max())
    assert abs(float(gogan_d_loss(r, f, margin=big)) - (float(wasserstein_d_loss(r, f)) + big)) < 1e-5
    assert stage_margins(1.0, 3) == [1.0, 0.5, 0.25]
    with pytest.raises(ValueError, match="one shape"):
        gogan_d_loss(torch.zeros(3), torch.zeros(4), margin=1.0)
    with pytest.raises(ValueError, match="margin"):
        gogan_d_loss(torch.zeros(3), torch.zeros(3), margin=-1.0)


def test_stacked_gan_terms():
    gen = _gen(16)
    h, h_hat = torch.randn(2, 10, 3, generator=gen), torch.randn(2, 10, 3, generator=gen)
    ref = sum(float(((h[s, i] - h_hat[s, i]) ** 2).sum()) for s in range(2) for i in range(10)) / 20
    assert abs(float(sgan_conditional(h, h_hat)) - ref) < 1e-5
    nll = -torch.distributions.Normal(h_hat, 1.0).log_prob(h).sum(-1).mean()   # −log Q(z | ĥ), Q = N(μ, I)
    assert abs(float(sgan_entropy(h, h_hat)) - (float(nll) - 1.5 * math.log(2 * math.pi))) < 1e-5
    with pytest.raises(ValueError, match="one shape"):
        sgan_entropy(h, h_hat[..., :2])
    with pytest.raises(ValueError, match="h must have shape"):
        sgan_conditional(torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="z_of_fake"):
        sgan_entropy(torch.zeros(2, 1), [[0.0], [0.0]])


# --- experiments ----------------------------------------------------------------------------------------------


def test_repeat_members_copies_each_member():
    net = X.BatchedMLP(2, 1, (4,), generators=[_gen(1), _gen(2)], squeeze=True)
    twice = X.repeat_members(net, 2)
    assert twice.members == 4
    x = torch.randn(2, 5, 2, generator=_gen(3))
    assert torch.allclose(twice(x.repeat(2, 1, 1)), net(x).repeat(2, 1))
    twice.weights[0].data.add_(1.0)                                      # independent parameters
    assert not torch.allclose(twice(x.repeat(2, 1, 1)), net(x).repeat(2, 1))


def test_training_runs_are_finite_and_shaped():
    gen = _gen(0)
    images = torch.rand(64, 1, 8, 8, generator=gen) * 2 - 1
    lap = X.train_lapgan(images, [0, 1], steps=2, levels=2, hidden=16, batch=8)
    assert lap.history["d_loss"].shape == (2,) and bool(torch.isfinite(lap.history["d_loss"]).all())
    gran = X.train_gran(images, [0, 1], steps=2, hidden=16, batch=8)
    assert gran.G(torch.zeros(2, 3, 16)).shape == (2, 3, 1, 8, 8)
    colour = torch.rand(64, 3, 16, 16, generator=gen) * 2 - 1
    lr = X.train_lrgan(colour, [0], steps=2, hidden=16, batch=8)
    assert lr.G(torch.zeros(1, 3, 2, 16)).shape == (1, 3, 3, 16, 16)
    from ganbook import data
    go = X.train_gogan(data.mixture([[0.0, 0.0], [1.0, 1.0]], stds=0.1).sample, [0, 1], steps=2, hidden=8, batch=8,
                       margin=0.5, n_critic=2)
    assert go.G.members == 4 and go.extra["margins"] == (0.5, 0.25)
    st = X.train_stacked([0], steps=2, hidden=8, batch=8)
    assert st.history["cond"].shape == (2,)
    assert X.stacked_toy(10, _gen(1)).shape == (10, 2)
    with pytest.raises(ValueError, match="seeds"):
        X.generators_for([])
    with pytest.raises(ValueError, match="images"):
        X.train_gran(torch.zeros(1, 1, 8, 8), [0], steps=1)


def test_command_line_smoke(tmp_path):
    assert cli_main(["--preset", "cpu", "--steps", "2", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == {"lapgan.png", "gran.png", "lrgan.png", "summary.json"}
    assert set(X.PRESETS) == {"cpu", "gpu"}
