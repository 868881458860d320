"""Shapes: a procedurally generated colour image data set with known factors (issue 15).

In the spirit of dSprites, but in colour: one object per image, drawn from a few classes (square,
circle, triangle, heart), with known factors — class, position, scale, rotation, colour — on a plain
(black) or a smooth textured background, at any size from 8×8 to 128×128. Offline, unlimited, and
deterministic from a ``torch.Generator``; it returns the factors and the object's coverage mask with
the images, for conditioning, disentanglement scores, paired translation (masks/edges ↔ images) and
super-resolution. Users call it as ``ganbook.data.shapes(...)``.

Coordinates. The canvas is the square [−1, 1]² whatever the pixel size: x grows to the right
(columns), y grows upwards (rows counted from the bottom), as in a plot. The pixel in row i, column j
(row 0 at the top) has its centre at x = (2j + 1)/size − 1, y = 1 − (2i + 1)/size, so a centre
(x, y) lies at column (x + 1)·size/2 − ½ and row (1 − y)·size/2 − ½.

Every shape is inscribed in the circle of radius ``scale`` around its centre (x, y): the circle is
that circle; the square, the equilateral triangle (apex up) and the heart (tip down) touch it. The
centre is the shape's centroid. ``angle`` rotates the shape counter-clockwise, in radians. Factor
ranges, the same at every size (so one seed gives the same scene at 16×16 and at 64×64 — pairs for
super-resolution): x, y ∈ [−0.3, 0.3], scale ∈ [0.25, 0.45], angle ∈ [0, 2π), so the object keeps a
clear border of at least one pixel for every size ≥ 8.

Rendering, fully vectorised on the requested device: the signed distance d of each pixel centre to
the shape (after the inverse translation, rotation and scaling) is measured in pixels, and the
coverage is the ramp m = clamp(½ − d, 0, 1) over one pixel width, so that a shape's total coverage
is its analytic area plus about 2π/24 ≈ 0.26 pixel² for a convex shape (the ramp's curvature term),
whatever its size (``antialias=False``: m = [d < 0]).
The image is m·colour + (1 − m)·background in [0, 1], mapped to the book's range [−1, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from . import _validate as V

CLASSES = ("square", "circle", "triangle", "heart")
BACKGROUNDS = ("plain", "textured")
POSITION = 0.3                  # x, y ∈ [−POSITION, POSITION] (canvas units)
SCALE = (0.25, 0.45)            # circumradius range (canvas units)
MIN_SIZE, MAX_SIZE = 8, 128
# Rotational symmetry order of each class: an angle is identifiable only modulo 2π/order
# (0 for the circle: its angle does not change the image).
SYMMETRY = {"square": 4, "circle": 0, "triangle": 3, "heart": 1}

_WAVES = 3                      # sinusoids summed by the textured background
_CHUNK = 1 << 21                # pixels rendered at once (memory of the temporaries)
# The heart: a square of side √2/2 rotated 45° (tip at the origin) with a disk of radius √2/4 on
# each upper side (Inigo Quilez's heart). Its centroid lies at height _HEART_CY above the tip, which is
# also the distance from the centroid to the farthest point (the tip): the circumradius.
_HEART_CY = (0.25 + math.pi / 8 * (0.75 + 1 / (3 * math.pi))) / (0.5 + math.pi / 8)


@dataclass(frozen=True)
class ShapesBatch:
    """A batch of the shapes data set.

    ``images``: (n, 3, size, size) in [−1, 1]. ``masks``: (n, 1, size, size) in [0, 1], the object's
    coverage of each pixel. ``factors``: ``label`` (n,) long, an index into ``classes``; ``x``, ``y``
    (n,) the centre in canvas units [−1, 1] (y up); ``scale`` (n,) the circumradius in canvas units;
    ``angle`` (n,) the counter-clockwise rotation in radians; ``color`` (n, 3) RGB in [0, 1].
    """

    images: torch.Tensor
    masks: torch.Tensor
    factors: dict[str, torch.Tensor]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])


# --- signed distances in the unit frame (circumradius 1), negative inside ---------------------------

def _sd_circle(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    return torch.hypot(px, py) - 1.0


def _sd_square(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Axis-aligned square of half-side 1/√2: |max(q, 0)| + min(max(q_x, q_y), 0), q = |p| − b."""
    b = 1 / math.sqrt(2)
    qx, qy = px.abs() - b, py.abs() - b
    return torch.hypot(qx.clamp(min=0), qy.clamp(min=0)) + torch.maximum(qx, qy).clamp(max=0)


def _sd_triangle(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Equilateral triangle, apex up at (0, 1), centroid at the origin (Quilez's exact distance)."""
    k, r = math.sqrt(3), math.sqrt(3) / 2           # r: half the side
    px, py = px.abs() - r, py + r / k
    fold = px + k * py > 0                          # reflect onto the nearest edge's side
    px, py = torch.where(fold, (px - k * py) / 2, px), torch.where(fold, (-k * px - py) / 2, py)
    px = px - px.clamp(-2 * r, 0)
    return -torch.hypot(px, py) * torch.sign(py)


def _sd_heart(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Heart, tip down at (0, −1), centroid at the origin (Quilez's exact distance, rescaled)."""
    c = _HEART_CY
    hx, hy = (px * c).abs(), py * c + c             # Quilez's frame: tip at the origin
    lobe = torch.hypot(hx - 0.25, hy - 0.75) - math.sqrt(2) / 4
    t = 0.5 * (hx + hy).clamp(min=0)
    body = torch.sqrt(torch.minimum(hx ** 2 + (hy - 1) ** 2, (hx - t) ** 2 + (hy - t) ** 2))
    return torch.where(hy + hx > 1, lobe, body * torch.sign(hx - hy)) / c


_SD = {"square": _sd_square, "circle": _sd_circle, "triangle": _sd_triangle, "heart": _sd_heart}


# --- factors -----------------------------------------------------------------------------------------

def _hsv_to_rgb(h: torch.Tensor, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(n,) hue, saturation, value in [0, 1] → (n, 3) RGB: c_k = v − v·s·clamp(min(t, 4 − t), 0, 1),
    t = (k + 6h) mod 6 with k = 5, 3, 1 for red, green, blue."""
    t = (torch.tensor([5.0, 3.0, 1.0], device=h.device) + 6 * h[:, None]) % 6
    return v[:, None] - (v * s)[:, None] * torch.minimum(t, 4 - t).clamp(0, 1)


def _draw_factors(n: int, n_classes: int, textured: bool, generator: torch.Generator | None
                  ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Draw, in this order, the labels, the (x, y, scale, angle) factors, the colour (HSV: any hue,
    saturation ∈ [0.6, 1], value ∈ [0.7, 1], so the object stands out from the dark background) and,
    if ``textured``, the background's parameters — all on the generator's device (the CPU by default),
    so one seed gives the same factors whatever device renders them."""
    where = generator.device if generator is not None else torch.device("cpu")
    label = torch.randint(0, n_classes, (n,), generator=generator, device=where)
    u = torch.rand((n, 4), generator=generator, device=where)
    hsv = torch.rand((n, 3), generator=generator, device=where)
    factors = {
        "label": label,
        "x": POSITION * (2 * u[:, 0] - 1),
        "y": POSITION * (2 * u[:, 1] - 1),
        "scale": SCALE[0] + (SCALE[1] - SCALE[0]) * u[:, 2],
        "angle": 2 * math.pi * u[:, 3],
        "color": _hsv_to_rgb(hsv[:, 0], 0.6 + 0.4 * hsv[:, 1], 0.7 + 0.3 * hsv[:, 2]),
    }
    texture: dict[str, torch.Tensor] = {}
    if textured:
        texture["base"] = 0.1 + 0.2 * torch.rand((n, 3), generator=generator, device=where)
        texture["tint"] = 0.5 + 0.5 * torch.rand((n, 3), generator=generator, device=where)
        w = torch.rand((n, _WAVES, 3), generator=generator, device=where)
        texture["direction"] = 2 * math.pi * w[..., 0]
        texture["frequency"] = 1 + 2 * w[..., 1]       # 1 to 3 cycles across the canvas
        texture["phase"] = 2 * math.pi * w[..., 2]
    return factors, texture


# --- rendering ---------------------------------------------------------------------------------------

def _grid(size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates: x of each column, shape (1, 1, size); y of each row, (1, size, 1)."""
    centres = (2 * torch.arange(size, device=device, dtype=torch.float32) + 1) / size - 1
    return centres.view(1, 1, size), (-centres).view(1, size, 1)


def _coverage(factors: dict[str, torch.Tensor], size: int, classes: Sequence[str],
              antialias: bool) -> torch.Tensor:
    """Coverage (n, size, size) of each image's shape: m = clamp(½ − d/w, 0, 1), d the signed distance
    of the pixel centre and w = 2/size the pixel width; one pass per class, none per image."""
    gx, gy = _grid(size, factors["x"].device)
    pixel = 2 / size
    out = torch.empty((factors["x"].shape[0], size, size), device=gx.device)
    for k, name in enumerate(classes):
        idx = torch.nonzero(factors["label"] == k).flatten()
        if idx.numel() == 0:
            continue
        x, y, s, a = (factors[key][idx].view(-1, 1, 1) for key in ("x", "y", "scale", "angle"))
        dx, dy = gx - x, gy - y
        cos, sin = torch.cos(a), torch.sin(a)
        px, py = (cos * dx + sin * dy) / s, (cos * dy - sin * dx) / s     # R(−angle)(p − c) / scale
        d = _SD[name](px, py) * (s / pixel)                                # in pixels
        out[idx] = (0.5 - d).clamp(0, 1) if antialias else (d < 0).float()
    return out


def _texture(texture: dict[str, torch.Tensor], size: int) -> torch.Tensor:
    """Background (n, 3, size, size): base + 0.1·tint·(1/3)Σ_j sin(π f_j (cos θ_j x + sin θ_j y) + φ_j),
    a smooth low-contrast pattern in [0, 0.4], defined in canvas units (the same at every size)."""
    gx, gy = _grid(size, texture["base"].device)
    f, th, ph = (texture[k][..., None, None] for k in ("frequency", "direction", "phase"))
    waves = torch.sin(math.pi * f * (torch.cos(th) * gx[:, None] + torch.sin(th) * gy[:, None]) + ph)
    pattern = waves.mean(dim=1, keepdim=True)                              # (n, 1, size, size)
    return texture["base"][..., None, None] + 0.1 * texture["tint"][..., None, None] * pattern


def render_masks(factors: dict[str, torch.Tensor], size: int, *, classes: Sequence[str] = CLASSES,
                 antialias: bool = True) -> torch.Tensor:
    """The coverage masks (n, 1, size, size) of given factors (``label``, ``x``, ``y``, ``scale``,
    ``angle``: (n,) tensors on one device), e.g. to traverse one factor with the others fixed or to
    render one scene at two sizes. Factors outside the documented ranges are drawn as asked (the shape
    may then leave the canvas)."""
    _check_size(size)
    classes = _check_classes(classes)
    _check_antialias(antialias)
    if not isinstance(factors, dict):
        raise TypeError(f"factors must be a dict of tensors, got {type(factors).__name__}")
    for key in ("label", "x", "y", "scale", "angle"):
        if key not in factors:
            raise ValueError(f"factors must have the key {key!r}")
        V.tensor(factors[key], f"factors[{key!r}]", ndim=1, floating=key != "label")
    label = factors["label"]
    if bool(((label < 0) | (label >= len(classes))).any()):
        raise ValueError(f"factors['label'] must lie in [0, {len(classes)}) (an index into classes)")
    return _coverage(factors, size, classes, antialias).unsqueeze(1)


def _check_size(size: object) -> None:
    V.positive_int(size, "size")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must lie in [{MIN_SIZE}, {MAX_SIZE}], got {size}")


def _check_antialias(antialias: object) -> None:
    if not isinstance(antialias, bool):
        raise TypeError(f"antialias must be a bool, got {type(antialias).__name__}")


def _check_classes(classes: object) -> tuple[str, ...]:
    if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) == 0:
        raise TypeError(f"classes must be a non-empty sequence of names from {CLASSES}, got {classes!r}")
    classes = tuple(classes)
    if any(c not in CLASSES for c in classes) or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names from {CLASSES}, got {classes!r}")
    return classes


def shapes(n: int, size: int = 16, *, generator: torch.Generator | None = None,
           device: torch.device | str | None = None, background: str = "plain",
           classes: Sequence[str] = CLASSES, antialias: bool = True) -> ShapesBatch:
    """``n`` images of one coloured shape each, with their factors and coverage masks.

    ``size``: the side in pixels (8 to 128). ``classes``: the shape classes to draw from, uniformly
    (names from :data:`CLASSES`; ``factors["label"]`` indexes this tuple). ``background``: ``"plain"``
    (black) or ``"textured"`` (a smooth random pattern, low contrast). Factors are drawn from
    ``generator`` on its device (the CPU by default) and moved to ``device``, where the images are
    rendered: the same seed gives the same factors on any device and the same images up to rounding,
    and, since no draw depends on ``size``, the same scene at every size. See the module's docstring
    for the coordinates and ranges.
    """
    V.positive_int(n, "n")
    _check_size(size)
    V.generator(generator)
    device = V.device_arg(device)
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
    classes = _check_classes(classes)
    _check_antialias(antialias)

    factors, texture = _draw_factors(n, len(classes), background == "textured", generator)
    factors = {k: v.to(device) for k, v in factors.items()}
    texture = {k: v.to(device) for k, v in texture.items()}
    images = torch.empty((n, 3, size, size), device=device)
    masks = torch.empty((n, 1, size, size), device=device)
    step = max(1, _CHUNK // (size * size))
    for lo in range(0, n, step):                                           # chunks bound the memory
        part = {k: v[lo:lo + step] for k, v in factors.items()}
        m = _coverage(part, size, classes, antialias).unsqueeze(1)
        color = part["color"][..., None, None]
        if texture:
            bg = _texture({k: v[lo:lo + step] for k, v in texture.items()}, size)
            img = m * color + (1 - m) * bg
        else:
            img = m * color
        images[lo:lo + step] = 2 * img - 1
        masks[lo:lo + step] = m
    return ShapesBatch(images, masks, factors, classes)


def edges(masks: torch.Tensor) -> torch.Tensor:
    """The outline of each mask, (n, 1, H, W) in [0, 1]: the morphological gradient
    max₃ₓ₃(m) − min₃ₓ₃(m), one or two pixels wide (for edge ↔ image translation)."""
    V.tensor(masks, "masks", ndim=4)
    if masks.shape[1] != 1:
        raise ValueError(f"masks must have one channel, got shape {tuple(masks.shape)}")
    grow = torch.nn.functional.max_pool2d(masks, 3, stride=1, padding=1)
    shrink = -torch.nn.functional.max_pool2d(-masks, 3, stride=1, padding=1)
    return grow - shrink
