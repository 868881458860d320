"""Chapter 13b's videos: the moving-shapes renderer, VGAN's composition, MoCoGAN's generator and the
frame-by-frame measurements, against independent references (mask centroids, pixel shifts, hand
computations, brute-force loops, numpy)."""
import itertools
import math

import numpy as np
import pytest
import torch

from ganbook import metrics, shapes
from ganbook import video as Vd


def _gens(n, base=0):
    return [torch.Generator().manual_seed(base + s) for s in range(n)]


def test_trajectories_are_straight_constant_speed_and_inside_the_canvas():
    x, y = Vd.trajectories(500, 5, speed=0.12, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (500, 5)
    assert float(x.abs().max()) <= shapes.POSITION + 1e-6 and float(y.abs().max()) <= shapes.POSITION + 1e-6
    steps = torch.stack([x.diff(dim=1), y.diff(dim=1)], -1)          # (n, T − 1, 2)
    torch.testing.assert_close(steps.norm(dim=-1), torch.full((500, 4), 0.12))
    torch.testing.assert_close(steps, steps[:, :1].expand_as(steps))  # one direction and speed per video
    angles = torch.atan2(steps[:, 0, 1], steps[:, 0, 0])
    assert float(angles.min()) < -2.5 and float(angles.max()) > 2.5  # all directions occur


def _centroids(masks):
    """Coverage-weighted mean of the pixel centres, in canvas units (y up), shapes' convention."""
    size = masks.shape[-1]
    c = (2 * torch.arange(size, dtype=torch.float64) + 1) / size - 1
    m = masks.double().squeeze(-3)
    total = m.sum((-1, -2))
    return (m * c).sum((-1, -2)) / total, (m * -c[:, None]).sum((-1, -2)) / total


@pytest.mark.parametrize("size", [16, 32])
def test_rendered_object_follows_the_requested_trajectory(size):
    b = Vd.moving_shapes(60, 4, size, speed=0.15, classes=("square", "circle"), angle=0.0,
                         generator=torch.Generator().manual_seed(1))
    assert b.videos.shape == (60, 4, 3, size, size) and b.masks.shape == (60, 4, 1, size, size)
    cx, cy = _centroids(b.masks)
    tol = 0.04 if size == 16 else 0.02                                  # antialiasing at the border pixels
    assert float((cx - b.factors["x"].double()).abs().max()) < tol
    assert float((cy - b.factors["y"].double()).abs().max()) < tol


def test_a_whole_pixel_step_is_a_pixel_shift():
    """Two pixels to the right per frame (2 · 2/16 canvas units at 16 × 16): frame t+1 is frame t shifted."""
    f = {"label": torch.tensor([2, 3]), "scale": torch.tensor([0.3, 0.3]), "angle": torch.tensor([0.4, 1.0]),
         "color": torch.tensor([[1.0, 0.5, 0.2], [0.3, 0.9, 0.6]]),
         "x": torch.tensor([[-0.25, 0.0, 0.25], [-0.25, 0.0, 0.25]]), "y": torch.tensor([[0.1] * 3, [-0.2] * 3])}
    v, _ = Vd.render_video(f, 16)
    for t in range(2):
        torch.testing.assert_close(v[:, t + 1], torch.roll(v[:, t], 2, dims=-1), atol=1e-5, rtol=0)


def test_frames_are_the_shapes_data_sets_images():
    g = torch.Generator().manual_seed(2)
    b = Vd.moving_shapes(8, 3, 16, generator=g)
    ref = shapes.shapes(8, 16, generator=torch.Generator().manual_seed(2))        # the same first draws
    for k in ("label", "scale", "angle", "color"):
        torch.testing.assert_close(b.factors[k], ref.factors[k])
    for t in range(3):                                                           # same object, moved
        f = dict(ref.factors, x=b.factors["x"][:, t], y=b.factors["y"][:, t])
        m = shapes.render_masks(f, 16)
        torch.testing.assert_close(b.videos[:, t], 2 * m * f["color"][..., None, None] - 1)


def test_vgan_composition_by_hand():
    f = torch.tensor([0.8, -0.4]).view(1, 2, 1, 1, 1)                # n = 1, T = 2, C = H = W = 1
    m = torch.tensor([0.25, 1.0]).view(1, 2, 1, 1, 1)
    b = torch.tensor([0.6]).view(1, 1, 1, 1)
    v = Vd.vgan_compose(f, m, b)
    torch.testing.assert_close(v.flatten(), torch.tensor([0.25 * 0.8 + 0.75 * 0.6, -0.4]))
    g = torch.Generator().manual_seed(3)
    f, m, b = torch.randn(2, 3, 2, 4, 4, generator=g), torch.rand(2, 3, 1, 4, 4, generator=g), torch.randn(2, 2, 4, 4, generator=g)
    v = Vd.vgan_compose(f, m, b)
    for i, t, c, h, w in itertools.product(range(2), range(3), range(2), range(4), range(4)):
        mm = float(m[i, t, 0, h, w])
        assert abs(float(v[i, t, c, h, w]) - (mm * float(f[i, t, c, h, w]) + (1 - mm) * float(b[i, c, h, w]))) < 1e-6
    with pytest.raises(ValueError, match="mask must have shape"):
        Vd.vgan_compose(f, m[:, :2], b)
    with pytest.raises(ValueError, match="background must have shape"):
        Vd.vgan_compose(f, m, b[:, :1])


def test_vgan_generator_streams_and_a_zero_mask_gives_a_still_video():
    torch.manual_seed(0)
    G = Vd.VGANGenerator(z_dim=6, frames=4, size=16, channels=3, width=8).eval()
    z = torch.randn(5, 6)
    with torch.no_grad():
        f, m, b = G.streams(z)
    assert f.shape == (5, 4, 3, 16, 16) and m.shape == (5, 4, 1, 16, 16) and b.shape == (5, 3, 16, 16)
    assert float(m.min()) >= 0 and float(m.max()) <= 1
    with torch.no_grad():
        torch.testing.assert_close(G(z), m * f + (1 - m) * b[:, None])
        G.fg[-1].bias[3] = -40.0                                      # the mask channel's bias: m ≈ 0
        v = G(z)
    torch.testing.assert_close(v, b[:, None].expand_as(v), atol=1e-6, rtol=0)


@torch.no_grad()
def test_mocogan_generator_shapes_content_and_causal_motion():
    torch.manual_seed(0)
    G = Vd.MoCoGANGenerator(5, 3, frames=4, size=16, width=8, generators=_gens(2, 7)).eval()
    z_c, eps = G.codes(3, generator=torch.Generator().manual_seed(4))
    assert z_c.shape == (2, 3, 5) and eps.shape == (2, 3, 4, 3)
    v = G(z_c, eps)
    assert v.shape == (2, 3, 4, 3, 16, 16) and float(v.abs().max()) <= 1
    eps2 = eps.clone()
    eps2[:, :, 2] += 1.0                                              # new motion noise from frame 2 on
    v2 = G(z_c, eps2)
    torch.testing.assert_close(v2[:, :, :2], v[:, :, :2])             # earlier frames unchanged
    assert float((v2[:, :, 2:] - v[:, :, 2:]).abs().max()) > 1e-4
    zm = G.motion_codes(eps)                                          # the frames' inputs: [z_C, z_M^(t)]
    flat = torch.cat([z_c[:, :, None].expand(2, 3, 4, 5), zm], -1).reshape(2, 12, 8)
    torch.testing.assert_close(G.image(flat).view_as(v), v)


@pytest.mark.parametrize("kind", ["conv3d", "stacked"])
def test_video_discriminators_shapes_and_independent_members(kind):
    import dataclasses

    p = dataclasses.replace(Vd.preset("cpu"), video_d=kind, seeds=2)
    torch.manual_seed(0)
    D = Vd.video_discriminator(p).eval()
    v = torch.randn(2, 5, p.frames, 3, p.size, p.size)
    out = D(v)
    assert out.shape == (2, 5)
    v2 = v.clone()
    v2[1] += 1.0
    torch.testing.assert_close(D(v2)[0], out[0])                      # member 0 does not see member 1's clips


def test_class_agreement_and_spread_against_brute_force():
    g = torch.Generator().manual_seed(5)
    labels = torch.randint(0, 3, (4, 6, 5), generator=g)
    got = Vd.class_agreement(labels, dim=1)                           # across the 6 entries of axis 1
    for i, k in itertools.product(range(4), range(5)):
        col = labels[i, :, k].tolist()
        pairs = [(a, b) for a, b in itertools.permutations(range(6), 2)]
        assert float(got[i, k]) == pytest.approx(sum(col[a] == col[b] for a, b in pairs) / len(pairs))
    assert float(Vd.class_agreement(torch.zeros(3, 4, dtype=torch.long)).min()) == 1.0
    pts = torch.randn(4, 7, 2, generator=g, dtype=torch.float64)
    ref = np.sqrt(np.var(pts.numpy(), axis=1).sum(-1))
    np.testing.assert_allclose(Vd.spread(pts, dim=1).numpy(), ref)


def test_the_classifier_reads_the_moving_shapes_frame_by_frame():
    p = Vd.preset("cpu")
    b = Vd.moving_shapes(200, p.frames, p.size, speed=p.speed, classes=p.classes, scale=p.scale, angle=p.angle,
                         generator=torch.Generator().manual_seed(6))
    f = Vd.frame_factors(metrics.shapes_classifier(), b.videos)
    assert f["label"].shape == (200, p.frames) and f["color"].shape == (200, p.frames, 3)
    names = [shapes.CLASSES.index(c) for c in p.classes]              # the data's labels index p.classes
    truth = torch.tensor(names)[b.factors["label"]][:, None].expand(-1, p.frames)
    assert float((f["label"] == truth).double().mean()) > 0.95
    assert float(Vd.class_agreement(f["label"]).mean()) > 0.95
    err = torch.stack([f["x"] - b.factors["x"], f["y"] - b.factors["y"]], -1).norm(dim=-1)
    assert float(err.mean()) < 0.05
    true_spread = Vd.spread(torch.stack([b.factors["x"], b.factors["y"]], -1)).mean()
    assert float(true_spread) == pytest.approx(p.speed * math.sqrt((p.frames ** 2 - 1) / 12), rel=1e-4)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="speed"):
        Vd.trajectories(3, 8, speed=0.2)
    with pytest.raises(ValueError, match="scale"):
        Vd.moving_shapes(3, scale=0.9)
    with pytest.raises(ValueError, match="factors must have the key"):
        Vd.render_video({"label": torch.zeros(2, dtype=torch.long)})
    with pytest.raises(ValueError, match="z_content"):
        G = Vd.MoCoGANGenerator(5, 3, generators=_gens(2))
        G(torch.zeros(1, 3, 5), torch.zeros(2, 3, 4, 3))
    with pytest.raises(ValueError, match="frames"):
        Vd.VGANGenerator(frames=3, size=16)
    with pytest.raises(ValueError, match="dim must index the points"):
        Vd.spread(torch.zeros(4, 2), dim=-1)
    with pytest.raises(ValueError, match="preset"):
        Vd.preset("tpu")


def test_content_motion_scores_on_a_data_grid():
    """Objects × paths rendered by the data set: content fixes the class, motion fixes the position."""
    p = Vd.preset("cpu")
    I, J = 6, 5
    obj = Vd.moving_shapes(I, p.frames, p.size, speed=p.speed, classes=p.classes, scale=p.scale, angle=p.angle,
                           generator=torch.Generator().manual_seed(7))
    px, py = Vd.trajectories(J, p.frames, speed=p.speed, generator=torch.Generator().manual_seed(8))
    f = {k: obj.factors[k].repeat_interleave(J, 0) for k in ("label", "scale", "angle", "color")}
    grid, _ = Vd.render_video({**f, "x": px.repeat(I, 1), "y": py.repeat(I, 1)}, p.size, classes=p.classes)
    grid = grid.view(I, J, p.frames, 3, p.size, p.size)
    s = Vd.content_motion_scores(metrics.shapes_classifier(), grid)
    assert float(s["frames: class agreement"]) > 0.95 and float(s["motion varies: class agreement"]) > 0.95
    assert float(s["content varies: position spread"]) < 0.05 < float(s["motion varies: position spread"])
    assert float(s["content varies: colour spread"]) > 3 * float(s["motion varies: colour spread"])
    true = Vd.spread(torch.stack([px, py], -1)).mean()                 # across the frames of each path
    assert float(s["frames: position spread"]) == pytest.approx(float(true), abs=0.03)
    stacked = Vd.stack_frames(grid)
    assert stacked.shape == (I, J, 3 * p.frames, p.size, p.size)
    torch.testing.assert_close(stacked[..., 3:6, :, :], grid[:, :, 1])
    with pytest.raises(TypeError, match="Preset"):
        Vd.video_discriminator("cpu")
