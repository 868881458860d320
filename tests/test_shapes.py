"""The shapes data set (ganbook.shapes, ganbook.data.shapes): shapes and ranges, determinism, and the
geometry of the masks against independent references (analytic areas, centroids, rotated moments)."""
from __future__ import annotations

import math

import pytest
import torch

from ganbook import data
from ganbook import shapes as S


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def centred(label: int, angle: float, n: int = 1, scale: float = 0.4) -> dict[str, torch.Tensor]:
    return {"label": torch.full((n,), label), "x": torch.zeros(n), "y": torch.zeros(n),
            "scale": torch.full((n,), scale), "angle": torch.full((n,), angle)}


def heart_reference(points: int = 2000) -> tuple[float, float]:
    """Brute force on a fine grid: the heart (a square of side √2/2 standing on a corner at the origin,
    with a disk of radius √2/4 on each upper side) scaled to circumradius 1 about its centroid.
    Returns (area, centroid height above the tip) in the scaled frame."""
    t = (torch.arange(points, dtype=torch.float64) + 0.5) / points
    x, y = (1.4 * t - 0.7).view(1, -1), (1.2 * t - 0.05).view(-1, 1)
    r2 = (math.sqrt(2) / 4) ** 2
    inside = ((x.abs() + (y - 0.5).abs() <= 0.5) | ((x - 0.25) ** 2 + (y - 0.75) ** 2 <= r2)
              | ((x + 0.25) ** 2 + (y - 0.75) ** 2 <= r2)).double()
    cell = (1.4 / points) * (1.2 / points)
    area = float(inside.sum()) * cell
    cy = float((inside * y).sum()) * cell / area
    radius = float(torch.sqrt(x ** 2 + (y - cy) ** 2)[inside.bool()].max())
    return area / radius ** 2, cy / radius


AREA = {"circle": math.pi, "square": 2.0, "triangle": 3 * math.sqrt(3) / 4}   # circumradius 1


def pixel_centre(b: S.ShapesBatch) -> tuple[torch.Tensor, torch.Tensor]:
    size = b.images.shape[-1]
    return (b.factors["x"] + 1) * size / 2 - 0.5, (1 - b.factors["y"]) * size / 2 - 0.5


def moments(masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centroid (n, 2) in (column, row) pixels and 2×2 second central moments in (x, y-up) axes."""
    m = masks[:, 0].double()
    size = m.shape[-1]
    col = torch.arange(size, dtype=torch.float64).view(1, 1, -1)
    row = torch.arange(size, dtype=torch.float64).view(1, -1, 1)
    mass = m.sum((1, 2))
    cx, cy = (m * col).sum((1, 2)) / mass, (m * row).sum((1, 2)) / mass
    dx, dy = col - cx.view(-1, 1, 1), -(row - cy.view(-1, 1, 1))          # y up
    cov = torch.stack([torch.stack([(m * dx * dx).sum((1, 2)), (m * dx * dy).sum((1, 2))], -1),
                       torch.stack([(m * dx * dy).sum((1, 2)), (m * dy * dy).sum((1, 2))], -1)], -2)
    return torch.stack([cx, cy], 1), cov / mass.view(-1, 1, 1)


@pytest.mark.parametrize("background", ["plain", "textured"])
def test_shapes_dtypes_and_ranges(background):
    b = data.shapes(64, 16, generator=gen(), background=background)
    assert isinstance(b, S.ShapesBatch) and len(b) == 64 and b.classes == S.CLASSES
    assert b.images.shape == (64, 3, 16, 16) and b.images.dtype == torch.float32
    assert b.masks.shape == (64, 1, 16, 16) and b.masks.dtype == torch.float32
    assert b.images.min() >= -1 and b.images.max() <= 1
    assert b.masks.min() >= 0 and b.masks.max() <= 1
    f = b.factors
    assert f["label"].dtype == torch.long and f["label"].shape == (64,)
    assert all(f[k].shape == (64,) and f[k].dtype == torch.float32 for k in ("x", "y", "scale", "angle"))
    assert f["color"].shape == (64, 3)


def test_same_seed_same_batch_and_different_seeds_differ():
    for background in ("plain", "textured"):
        a = S.shapes(50, 16, generator=gen(3), background=background)
        b = S.shapes(50, 16, generator=gen(3), background=background)
        c = S.shapes(50, 16, generator=gen(4), background=background)
        assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
        assert all(torch.equal(a.factors[k], b.factors[k]) for k in a.factors)
        assert not torch.equal(a.images, c.images)


def test_one_seed_gives_one_scene_at_every_size():
    """No draw depends on the size: the 64×64 render, averaged over 4×4 blocks, is close to the 16×16."""
    small, large = S.shapes(40, 16, generator=gen(5)), S.shapes(40, 64, generator=gen(5))
    assert all(torch.equal(small.factors[k], large.factors[k]) for k in small.factors)
    pooled = torch.nn.functional.avg_pool2d(large.masks, 4)
    assert (pooled - small.masks).abs().mean() < 0.02
    # areas in 16×16 pixels: the ramp adds ≈ 2π/24 ≈ 0.26 px² to a convex shape at any size (so
    # 0.26/16 of a small pixel at 64×64), and each image's sampling on the grid ± a fraction of a pixel
    gap = small.masks.sum((1, 2, 3)) - pooled.sum((1, 2, 3))
    assert float(gap.mean()) == pytest.approx(2 * math.pi / 24 * (1 - 1 / 16), abs=0.15)
    assert gap.abs().max() < 1.0


def test_heart_constant_matches_brute_force():
    """The module's centroid height (the circumradius) and area agree with the brute-force heart."""
    area, cy = heart_reference()
    assert cy == pytest.approx(1.0, abs=2e-3)             # the farthest point from the centroid is the tip
    assert area == pytest.approx((0.5 + math.pi / 8) / S._HEART_CY ** 2, rel=3e-3)


@pytest.mark.parametrize("name", S.CLASSES)
def test_coverage_area_is_the_analytic_area(name):
    """Mean coverage (pixels) / analytic area (circumradius scale·size/2 pixels) ≈ 1 at size 64."""
    area = AREA[name] if name in AREA else heart_reference(1000)[0]
    b = S.shapes(200, 64, generator=gen(1), classes=(name,))
    radius = b.factors["scale"] * 32
    ratio = b.masks.sum((1, 2, 3)) / (area * radius ** 2)
    assert float(ratio.mean()) == pytest.approx(1.0, abs=0.01)
    hard = S.shapes(200, 64, generator=gen(1), classes=(name,), antialias=False)
    assert set(hard.masks.unique().tolist()) <= {0.0, 1.0}
    assert float((hard.masks.sum((1, 2, 3)) / (area * radius ** 2)).mean()) == pytest.approx(1.0, abs=0.03)


def test_mask_centroid_is_the_position():
    b = S.shapes(400, 64, generator=gen(2))
    centre, _ = moments(b.masks)
    col, row = pixel_centre(b)
    assert (centre[:, 0] - col).abs().max() < 0.1 and (centre[:, 1] - row).abs().max() < 0.1   # pixels


def test_second_moments_rotate_with_the_angle():
    """The heart's inertia is anisotropic: C(angle) = R(angle) C(0) R(angle)ᵀ, R counter-clockwise."""
    heart = S.CLASSES.index("heart")
    _, c0 = moments(S.render_masks(centred(heart, 0.0), 64))
    angles = torch.tensor([0.3, 1.0, 2.2, 4.0])
    f = centred(heart, 0.0, n=4)
    f["angle"] = angles
    _, c = moments(S.render_masks(f, 64))
    cos, sin = torch.cos(angles).double(), torch.sin(angles).double()
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    expected = rot @ c0 @ rot.transpose(1, 2)
    assert abs(float(c0[0, 0, 0] - c0[0, 1, 1])) > 5                      # anisotropic (pixels²)
    assert torch.allclose(c, expected, atol=0.05 * float(c0[0].diagonal().mean()))


@pytest.mark.parametrize("name", ["square", "triangle", "heart"])
def test_a_quarter_turn_is_rot90(name):
    """Centred at the canvas centre, angle + π/2 gives the image rotated a quarter turn anticlockwise."""
    k = S.CLASSES.index(name)
    a = S.render_masks(centred(k, 0.4), 32)
    b = S.render_masks(centred(k, 0.4 + math.pi / 2), 32)
    assert torch.allclose(b, torch.rot90(a, 1, dims=(-2, -1)), atol=1e-3)
    if name != "square":                                                  # not a symmetry
        assert not torch.allclose(a, torch.rot90(a, 1, dims=(-2, -1)), atol=0.1)


def test_colour_of_covered_pixels_is_the_colour_factor():
    b = S.shapes(100, 32, generator=gen(6))
    full = b.masks[:, 0] > 0.99
    rgb = (b.images + 1) / 2
    mean = (rgb * full[:, None]).sum((2, 3)) / full.sum((1, 2))[:, None]
    assert torch.allclose(mean, b.factors["color"], atol=0.01)
    assert (b.images[(b.masks == 0).expand_as(b.images)] == -1).all()       # plain background: black


def test_textured_background_is_smooth_low_contrast_and_dark():
    b = S.shapes(100, 32, generator=gen(7), background="textured")
    bg = ((b.images + 1) / 2)[b.masks.expand_as(b.images) == 0]
    assert bg.min() >= 0 and bg.max() <= 0.4 + 1e-6
    rgb = (b.images + 1) / 2
    assert (rgb[:, :, 1:] - rgb[:, :, :-1]).abs()[(b.masks[:, :, 1:] + b.masks[:, :, :-1]).expand(-1, 3, -1, -1) == 0].max() < 0.05
    assert b.factors["color"].max(1).values.min() >= 0.7 - 1e-6           # brighter than the background


@pytest.mark.parametrize("size", [8, 16, 33])
def test_factor_ranges_and_a_clear_border(size):
    b = S.shapes(2000, size, generator=gen(8))
    f = b.factors
    assert f["x"].abs().max() <= S.POSITION and f["y"].abs().max() <= S.POSITION
    assert f["scale"].min() >= S.SCALE[0] and f["scale"].max() <= S.SCALE[1]
    assert f["angle"].min() >= 0 and f["angle"].max() < 2 * math.pi
    assert f["color"].min() >= 0 and f["color"].max() <= 1
    m = b.masks[:, 0]
    assert m[:, 0].max() == 0 and m[:, -1].max() == 0 and m[:, :, 0].max() == 0 and m[:, :, -1].max() == 0


def test_class_balance():
    n, k = 3000, len(S.CLASSES)
    counts = torch.bincount(S.shapes(n, 8, generator=gen(9)).factors["label"], minlength=k).double()
    sd = math.sqrt(n * (1 / k) * (1 - 1 / k))
    assert (counts - n / k).abs().max() <= 4 * sd
    sub = S.shapes(300, 8, generator=gen(9), classes=("heart", "circle"))
    assert sub.classes == ("heart", "circle") and set(sub.factors["label"].tolist()) == {0, 1}


def test_edges_outline_the_mask():
    m = S.render_masks(centred(S.CLASSES.index("circle"), 0.0), 32, antialias=False)
    e = S.edges(m)
    assert e.shape == m.shape and e.min() >= 0 and e.max() <= 1
    assert e[0, 0, 16, 16] == 0 and e[0, 0, 0, 0] == 0                    # deep inside, far outside
    ring = float(e.sum())
    assert 2 * math.pi * 0.4 * 16 < ring < 3 * 2 * math.pi * 0.4 * 16      # one to two pixels wide


@pytest.mark.parametrize("call, match", [
    (lambda: S.shapes(0), "n"),
    (lambda: S.shapes(4, 7), "size"),
    (lambda: S.shapes(4, 129), "size"),
    (lambda: S.shapes(4, 16.0), "size"),
    (lambda: S.shapes(4, classes=("square", "star")), "classes"),
    (lambda: S.shapes(4, classes=()), "classes"),
    (lambda: S.shapes(4, classes="circle"), "classes"),
    (lambda: S.shapes(4, background="noise"), "background"),
    (lambda: S.shapes(4, generator=0), "generator"),
    (lambda: S.shapes(4, antialias=1), "antialias"),
    (lambda: S.render_masks({"x": torch.zeros(2)}, 16), "label"),
    (lambda: S.render_masks(centred(7, 0.0), 16), "label"),
    (lambda: S.edges(torch.zeros(2, 3, 8, 8)), "masks"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


@pytest.mark.cuda
@pytest.mark.parametrize("background", ["plain", "textured"])
def test_cuda_gives_the_same_batch(background):
    cpu = S.shapes(500, 32, generator=gen(10), background=background)
    gpu = S.shapes(500, 32, generator=gen(10), background=background, device="cuda")
    assert gpu.images.device.type == "cuda"
    assert all(torch.equal(cpu.factors[k], gpu.factors[k].cpu()) for k in cpu.factors)
    assert torch.allclose(cpu.images, gpu.images.cpu(), atol=1e-4)
    assert torch.allclose(cpu.masks, gpu.masks.cpu(), atol=1e-4)
