"""Laplacian pyramids and LAPGAN (Denton et al. 2015), chapter 6c.

Pyramid operators on images of shape (..., C, H, W) (any leading axes, e.g. (E, n, C, H, W) for E
seeds side by side):

* :func:`downsample` d(·): blur with a 2×2 box and keep every second pixel — the mean of each 2×2 block;
* :func:`upsample` u(·): smooth expansion to twice the size, bilinear interpolation;
* :func:`gaussian_pyramid` [I_0, …, I_K] with I_{k+1} = d(I_k), eq. (ch6-gaussian-pyramid);
* :func:`laplacian_pyramid` [h_0, …, h_{K−1}, I_K] with h_k = I_k − u(I_{k+1}), eq. (ch6-laplacian-pyramid);
* :func:`reconstruct` the inverse, I_k = u(I_{k+1}) + h_k, exact whatever d and u are, eq. (ch6-pyramid-inverse).

LAPGAN's generators and discriminators, one small MLP per level, each a :class:`ganbook.nets.BatchedMLP`
holding E independent members (seeds): :class:`LAPGANGenerator` samples coarse to fine,
eq. (ch6-lapgan-sample); :class:`LAPGANDiscriminator` scores a band-pass image together with the
low-pass image it was conditioned on, eq. (ch6-lapgan-loss). Level 0 is the finest, level K the coarsest.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from ..nets import BatchedMLP


def _images(x: object, name: str) -> torch.Tensor:
    V.tensor(x, name, finite=False)
    if x.dim() < 3:
        raise ValueError(f"{name} must have shape (..., C, H, W), got {tuple(x.shape)}")
    return x


def _flat4(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(-1, *x.shape[-3:])


def downsample(x: torch.Tensor) -> torch.Tensor:
    """d(x), eq. (ch6-gaussian-pyramid): the mean of each 2×2 block (a 2×2 box blur, then every second
    pixel). ``x`` (..., C, H, W) with even H and W → (..., C, H/2, W/2)."""
    _images(x, "x")
    h, w = x.shape[-2:]
    if h % 2 or w % 2 or h < 2 or w < 2:
        raise ValueError(f"downsample needs an even height and width >= 2, got {h}×{w}")
    return F.avg_pool2d(_flat4(x), 2).reshape(*x.shape[:-2], h // 2, w // 2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """u(x), eq. (ch6-gaussian-pyramid): bilinear expansion to twice the size (pixel centres aligned as
    in ``F.interpolate(..., align_corners=False)``; at the border the nearest pixel is repeated).
    ``x`` (..., C, H, W) → (..., C, 2H, 2W)."""
    _images(x, "x")
    h, w = x.shape[-2:]
    y = F.interpolate(_flat4(x), scale_factor=2, mode="bilinear", align_corners=False)
    return y.reshape(*x.shape[:-2], 2 * h, 2 * w)


def _check_levels(x: torch.Tensor, levels: object) -> int:
    V.positive_int(levels, "levels")
    h, w = x.shape[-2:]
    if h % 2 ** (levels - 1) or w % 2 ** (levels - 1):
        raise ValueError(f"levels={levels} needs height and width divisible by {2 ** (levels - 1)}, got {h}×{w}")
    return levels


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[I_0, …, I_{levels−1}], I_0 = x and I_{k+1} = d(I_k), eq. (ch6-gaussian-pyramid): the image at
    ``levels`` resolutions, finest first."""
    _images(x, "x")
    _check_levels(x, levels)
    out = [x]
    for _ in range(levels - 1):
        out.append(downsample(out[-1]))
    return out


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """[h_0, …, h_{K−1}, I_K] with K = levels − 1, eq. (ch6-laplacian-pyramid): the band-pass images
    h_k = I_k − u(I_{k+1}) of the Gaussian pyramid, finest first, and its coarsest image I_K last."""
    g = gaussian_pyramid(x, levels)
    return [g[k] - upsample(g[k + 1]) for k in range(levels - 1)] + [g[-1]]


def reconstruct(pyramid: Sequence[torch.Tensor]) -> torch.Tensor:
    """The image of a Laplacian pyramid [h_0, …, h_{K−1}, I_K], eq. (ch6-pyramid-inverse): from the
    coarsest image up, I_k = u(I_{k+1}) + h_k. It inverts :func:`laplacian_pyramid` exactly in exact
    arithmetic, whatever d and u are (to rounding in floating point)."""
    if isinstance(pyramid, torch.Tensor) or not isinstance(pyramid, Sequence) or len(pyramid) == 0:
        raise TypeError("pyramid must be a non-empty list of tensors [h_0, ..., h_{K-1}, I_K]")
    image = _images(pyramid[-1], f"pyramid[{len(pyramid) - 1}]")
    for k in range(len(pyramid) - 2, -1, -1):
        band = _images(pyramid[k], f"pyramid[{k}]")
        low = upsample(image)
        if band.shape != low.shape:
            raise ValueError(f"pyramid[{k}] has shape {tuple(band.shape)}, but the upsampled coarser image has "
                             f"{tuple(low.shape)}")
        image = low + band
    return image


class LAPGANGenerator(nn.Module):
    """LAPGAN's generators, eq. (ch6-lapgan-sample): G_K(z_K) draws the coarsest image; for k < K,
    G_k(z_k, l_k) draws the band-pass image h̃_k given the upsampled coarser image l_k = u(Ĩ_{k+1}), and
    Ĩ_k = l_k + h̃_k. Each level is an MLP on flattened images, a :class:`BatchedMLP` of ``members``
    independent copies (seeds); tensors are stacked (members, n, …).

    ``image_size``: the side of level 0 (divisible by 2^(levels−1)); level k has side image_size / 2^k.
    The coarsest level ends in ``tanh`` (images lie in [−1, 1]); the band-pass levels are linear.
    """

    def __init__(self, image_size: int = 8, channels: int = 1, levels: int = 3, z_dim: int = 8,
                 hidden: Sequence[int] = (128,), *, members: int | None = None,
                 generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        self.image_size = V.positive_int(image_size, "image_size", minimum=2)
        self.channels = V.positive_int(channels, "channels")
        self.levels = V.positive_int(levels, "levels")
        self.z_dim = V.positive_int(z_dim, "z_dim")
        if image_size % 2 ** (levels - 1):
            raise ValueError(f"image_size={image_size} must be divisible by 2^(levels-1) = {2 ** (levels - 1)}")
        self.sizes = [image_size // 2 ** k for k in range(levels)]
        dims = [channels * s * s for s in self.sizes]
        self.nets = nn.ModuleList(
            BatchedMLP(z_dim + (dims[k] if k < levels - 1 else 0), dims[k], hidden, members=members,
                       generators=generators)
            for k in range(levels))
        self.members = self.nets[0].members

    def _shape(self, k: int, flat: torch.Tensor) -> torch.Tensor:
        s = self.sizes[k]
        return flat.reshape(*flat.shape[:-1], self.channels, s, s)

    def coarse(self, z: torch.Tensor) -> torch.Tensor:
        """Ĩ_K = G_K(z): ``z`` (members, n, z_dim) → (members, n, C, s_K, s_K)."""
        return self._shape(self.levels - 1, torch.tanh(self.nets[-1](z)))

    def band(self, k: int, z: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """h̃_k = G_k(z, l_k) for k < K: ``z`` (members, n, z_dim), ``low`` (members, n, C, s_k, s_k) the
        upsampled coarser image → the band-pass image, same shape as ``low``."""
        if not 0 <= k < self.levels - 1:
            raise ValueError(f"k must lie in [0, {self.levels - 1}) (the band-pass levels), got {k}")
        flat = torch.cat([z, low.flatten(-3)], dim=-1)
        return self._shape(k, self.nets[k](flat))

    def forward(self, z: torch.Tensor) -> list[torch.Tensor]:
        """Sample coarse to fine, eq. (ch6-lapgan-sample). ``z`` (members, n, levels, z_dim): one code per
        level. Returns [Ĩ_0, …, Ĩ_K], finest first (Ĩ_0 is the sample)."""
        V.tensor(z, "z", ndim=4, finite=False)
        if z.shape[0] != self.members or z.shape[2:] != (self.levels, self.z_dim):
            raise ValueError(f"z must have shape ({self.members}, n, {self.levels}, {self.z_dim}), got {tuple(z.shape)}")
        images = [self.coarse(z[:, :, -1])]
        for k in range(self.levels - 2, -1, -1):
            low = upsample(images[0])
            images.insert(0, low + self.band(k, z[:, :, k], low))
        return images


class LAPGANDiscriminator(nn.Module):
    """LAPGAN's discriminators, eq. (ch6-lapgan-loss): D_k scores a band-pass image h_k together with
    the low-pass image l_k it completes (a conditional discriminator); D_K scores coarsest images alone.
    One :class:`BatchedMLP` per level, ``members`` copies; scores are logits (members, n)."""

    def __init__(self, image_size: int = 8, channels: int = 1, levels: int = 3, hidden: Sequence[int] = (128,), *,
                 members: int | None = None, generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        V.positive_int(image_size, "image_size", minimum=2)
        self.levels = V.positive_int(levels, "levels")
        if image_size % 2 ** (levels - 1):
            raise ValueError(f"image_size={image_size} must be divisible by 2^(levels-1) = {2 ** (levels - 1)}")
        dims = [channels * (image_size // 2 ** k) ** 2 for k in range(levels)]
        self.nets = nn.ModuleList(
            BatchedMLP(dims[k] * (2 if k < levels - 1 else 1), 1, hidden, members=members, generators=generators,
                       activation="leaky_relu", squeeze=True)
            for k in range(levels))

    def forward(self, k: int, x: torch.Tensor, low: torch.Tensor | None = None) -> torch.Tensor:
        """D_k(h_k, l_k) for k < K (``x`` the band-pass image, ``low`` the upsampled coarser image, both
        (members, n, C, s, s)); D_K(I_K) for k = K (``low`` None). Returns logits (members, n)."""
        if not 0 <= k < self.levels:
            raise ValueError(f"k must lie in [0, {self.levels}), got {k}")
        if (low is None) != (k == self.levels - 1):
            raise ValueError("give low (the upsampled coarser image) exactly for the band-pass levels k < K")
        flat = x.flatten(-3) if low is None else torch.cat([x.flatten(-3), low.flatten(-3)], dim=-1)
        return self.nets[k](flat)


__all__ = ["downsample", "upsample", "gaussian_pyramid", "laplacian_pyramid", "reconstruct", "LAPGANGenerator",
           "LAPGANDiscriminator"]
