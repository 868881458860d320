"""LR-GAN's layered composition (Yang et al. 2017), chapter 6c.

An image is built in layers, eq. (ch6-lrgan): a background b = G_b(z_b); a foreground appearance f and
mask m ∈ [0, 1] from G_f; a pose (an affine transformation A) that places them on the canvas through a
spatial transformer, f' = T_A(f), m' = T_A(m); and alpha compositing, eq. (ch6-compose),

    x = m' ⊙ f' + (1 − m') ⊙ b .

* :func:`compose` — the alpha compositing;
* :func:`affine_theta` — the 2×3 matrix of a similarity (scale, rotation, shift) in the convention of
  ``F.affine_grid``: it maps each *output* pixel's coordinates to the coordinates it samples in the input;
* :func:`place` — the spatial transformer T_A: ``F.affine_grid`` + ``F.grid_sample`` (bilinear, zeros
  outside the input, so a placed mask is 0 off the object);
* :class:`LayeredGenerator` — a background MLP, a foreground MLP (appearance and mask, drawn at a lower
  resolution than the canvas), a pose MLP (scale and shift, bounded), E members (seeds) side by side.

Coordinates are those of ``F.affine_grid`` with ``align_corners=False``: the canvas is [−1, 1]², x to the
right, y *downwards*; the pixel in row i, column j of an S×S image has its centre at
((2j + 1)/S − 1, (2i + 1)/S − 1), so a shift of 2/S is one pixel.

The paper's generator is recursive (an LSTM over one z per layer, T layers); with one foreground layer,
as here, the LSTM's state is a function of (z_b, z_f), which the foreground and pose networks read directly.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from ..nets import BatchedMLP


def compose(background: torch.Tensor, foreground: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Alpha compositing, eq. (ch6-compose): m ⊙ f + (1 − m) ⊙ b. ``background`` and ``foreground``
    (..., C, H, W); ``mask`` (..., 1, H, W) or (..., C, H, W), values in [0, 1] (not checked: reading
    them would wait for the device)."""
    V.tensor(background, "background", finite=False)
    V.tensor(foreground, "foreground", finite=False)
    V.tensor(mask, "mask", finite=False)
    if background.shape != foreground.shape:
        raise ValueError(f"background and foreground must have one shape, got {tuple(background.shape)} and "
                         f"{tuple(foreground.shape)}")
    if background.dim() < 3 or mask.shape[:-3] != background.shape[:-3] or mask.shape[-2:] != background.shape[-2:] \
            or mask.shape[-3] not in (1, background.shape[-3]):
        raise ValueError(f"mask must have shape (..., 1 or C, H, W) matching the images {tuple(background.shape)}, "
                         f"got {tuple(mask.shape)}")
    return mask * foreground + (1 - mask) * background


def affine_theta(scale: torch.Tensor, shift: torch.Tensor, angle: torch.Tensor | None = None) -> torch.Tensor:
    """The matrix θ (..., 2, 3) for ``F.affine_grid`` that draws the input's square [−1, 1]² at ``scale``
    (..., ) times its size, rotated by ``angle`` (..., ) radians (counter-clockwise on the screen, whose
    y axis points down) and centred at ``shift`` (..., 2) on the canvas: an output point p samples the
    input at R(−angle)(p − shift)/scale, so θ = [R(−angle)/scale | −R(−angle) shift/scale]."""
    V.tensor(scale, "scale", finite=False)
    V.tensor(shift, "shift", finite=False)
    if shift.shape != (*scale.shape, 2):
        raise ValueError(f"shift must have shape scale.shape + (2,) = {(*scale.shape, 2)}, got {tuple(shift.shape)}")
    if angle is None:
        cos, sin = torch.ones_like(scale), torch.zeros_like(scale)
    else:
        V.tensor(angle, "angle", finite=False)
        if angle.shape != scale.shape:
            raise ValueError(f"angle must have the shape of scale {tuple(scale.shape)}, got {tuple(angle.shape)}")
        # on screen (y down) a counter-clockwise turn by a is [[cos a, sin a], [−sin a, cos a]]; below, its inverse
        cos, sin = torch.cos(angle), torch.sin(angle)
    inv = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2) / scale[..., None, None]
    offset = -(inv @ shift.unsqueeze(-1))                                   # (..., 2, 1)
    return torch.cat([inv, offset], dim=-1)


def place(x: torch.Tensor, theta: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """The spatial transformer T_A: ``x`` (..., C, h, w) resampled through θ (..., 2, 3)
    (:func:`affine_theta`) onto a ``size``×``size`` canvas (default: x's own size), bilinear, zero outside
    the input. Input and canvas both span [−1, 1]², whatever their pixel counts."""
    V.tensor(x, "x", finite=False)
    V.tensor(theta, "theta", finite=False)
    if x.dim() < 3 or theta.shape != (*x.shape[:-3], 2, 3):
        raise ValueError(f"theta must have shape x.shape[:-3] + (2, 3) = {(*x.shape[:-3], 2, 3)}, got {tuple(theta.shape)}")
    h, w = (x.shape[-2], x.shape[-1]) if size is None else (V.positive_int(size, "size"),) * 2
    flat = x.reshape(-1, *x.shape[-3:])
    grid = F.affine_grid(theta.reshape(-1, 2, 3), [flat.shape[0], flat.shape[1], h, w], align_corners=False)
    out = F.grid_sample(flat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.reshape(*x.shape[:-2], h, w)


class LayeredGenerator(nn.Module):
    """A two-layer LR-GAN generator, eq. (ch6-lrgan), ``members`` copies (seeds) side by side.

    ``z`` (members, n, 2, z_dim) holds (z_b, z_f). The background network maps z_b to b, drawn at
    ``background_size`` (default image_size / 4) and expanded bilinearly to ``image_size``: a smooth
    background, which cannot draw a sharp object; the foreground network maps (z_b, z_f) to an appearance
    f (tanh) and a mask m (sigmoid), drawn at ``foreground_size`` (default image_size / 2); the pose
    network maps (z_b, z_f) to a scale in ``scale`` = (lo, hi) and a shift in [−shift, shift]² (sigmoid
    and tanh: bounded, our choice); f and m are placed on the ``image_size`` canvas with :func:`place` and
    composited with :func:`compose`.
    """

    def __init__(self, image_size: int = 16, channels: int = 3, z_dim: int = 16, hidden: Sequence[int] = (128,),
                 scale: tuple[float, float] = (0.25, 0.6), shift: float = 0.4, background_size: int | None = None,
                 foreground_size: int | None = None, *,
                 members: int | None = None, generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        self.image_size = V.positive_int(image_size, "image_size")
        self.background_size = (max(1, image_size // 4) if background_size is None
                                else V.positive_int(background_size, "background_size"))
        self.foreground_size = (max(1, image_size // 2) if foreground_size is None
                                else V.positive_int(foreground_size, "foreground_size"))
        self.channels = V.positive_int(channels, "channels")
        self.z_dim = V.positive_int(z_dim, "z_dim")
        if not isinstance(scale, (tuple, list)) or len(scale) != 2:
            raise TypeError(f"scale must be a pair (lo, hi), got {scale!r}")
        lo, hi = (V.positive_float(s, "scale") for s in scale)
        if not lo < hi:
            raise ValueError(f"scale must be (lo, hi) with 0 < lo < hi, got {scale}")
        self.scale_range, self.shift_range = (lo, hi), V.positive_float(shift, "shift")
        b, f = self.background_size ** 2, self.foreground_size ** 2
        self.background = BatchedMLP(z_dim, channels * b, hidden, members=members, generators=generators)
        self.foreground = BatchedMLP(2 * z_dim, (channels + 1) * f, hidden, members=members, generators=generators)
        self.pose = BatchedMLP(2 * z_dim, 3, (32,), members=members, generators=generators)
        self.members = self.background.members

    def parts(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer of eq. (ch6-lrgan): ``background`` (on the canvas), ``appearance``, ``mask`` (before
        placing, ``foreground_size``), ``scale`` (members, n), ``shift`` (members, n, 2), ``theta``,
        ``placed_appearance``, ``placed_mask`` and the composite ``image``."""
        V.tensor(z, "z", ndim=4, finite=False)
        if z.shape[0] != self.members or z.shape[2:] != (2, self.z_dim):
            raise ValueError(f"z must have shape ({self.members}, n, 2, {self.z_dim}), got {tuple(z.shape)}")
        lead, c, s = z.shape[:2], self.channels, self.image_size
        p, q = self.background_size, self.foreground_size
        both = z.flatten(-2)                                               # (members, n, 2 z_dim)
        small = torch.tanh(self.background(z[:, :, 0])).reshape(-1, c, p, p)
        background = F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False).reshape(*lead, c, s, s)
        fg = self.foreground(both).reshape(*lead, c + 1, q, q)
        appearance, mask = torch.tanh(fg[:, :, :c]), torch.sigmoid(fg[:, :, c:])
        pose = self.pose(both)                                             # (members, n, 3)
        lo, hi = self.scale_range
        scale = lo + (hi - lo) * torch.sigmoid(pose[..., 0])
        shift = self.shift_range * torch.tanh(pose[..., 1:])
        theta = affine_theta(scale, shift)
        placed_appearance, placed_mask = place(appearance, theta, s), place(mask, theta, s)
        image = compose(background, placed_appearance, placed_mask)
        return dict(background=background, appearance=appearance, mask=mask, scale=scale, shift=shift, theta=theta,
                    placed_appearance=placed_appearance, placed_mask=placed_mask, image=image)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The composite images (members, n, C, S, S)."""
        return self.parts(z)["image"]


__all__ = ["compose", "affine_theta", "place", "LayeredGenerator"]
