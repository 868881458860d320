"""Chapter 9, section 9.6: the latent space itself — linear and spherical interpolation, latent arithmetic and the
truncation trick.

* :func:`lerp` and :func:`slerp`, eqs. (ch9-lerp), (ch9-slerp) {white2016sampling}: for z ~ N(0, I_d) the
  norm concentrates near √d, a linear path's midpoint has norm ≈ √(d/2), and slerp keeps the norm.
* :func:`truncated_normal` (BigGAN's resampling) and :func:`truncate` (the ψ-shrink toward the mean),
  eq. (ch9-truncation) {brock2019biggan}.
"""
from __future__ import annotations

import torch

from . import _validate as V


def _pair(a: torch.Tensor, b: torch.Tensor) -> None:
    V.tensor(a, "a")
    V.tensor(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def _weights(t: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.dim() > 1:
        raise ValueError(f"t must be a number or a 1-D tensor of steps, got shape {tuple(t.shape)}")
    return t


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Linear interpolation (1 − t) a + t b, eq. (ch9-lerp). ``a``, ``b``: (..., d); ``t``: a number
    (→ (..., d)) or steps (T,) (→ (T, ..., d))."""
    _pair(a, b)
    t = _weights(t, a)
    if t.dim() == 1:
        t = t.view(-1, *([1] * a.dim()))
    return (1 - t) * a + t * b


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor | float, eps: float = 1e-7) -> torch.Tensor:
    """Spherical interpolation along the great circle, eq. (ch9-slerp):
    sin((1 − t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b with cos Ω = âᵀb̂, over the last axis. For (anti)parallel
    vectors (sin Ω < eps) it falls back to :func:`lerp`. Shapes as :func:`lerp`."""
    _pair(a, b)
    t = _weights(t, a)
    if t.dim() == 1:
        t = t.view(-1, *([1] * a.dim()))
    cos = (torch.nn.functional.normalize(a, dim=-1) * torch.nn.functional.normalize(b, dim=-1)).sum(-1, keepdim=True)
    omega = torch.arccos(cos.clamp(-1, 1))
    so = torch.sin(omega)
    safe = so.abs() > eps
    so_ = torch.where(safe, so, torch.ones_like(so))
    out = torch.sin((1 - t) * omega) / so_ * a + torch.sin(t * omega) / so_ * b
    return torch.where(safe, out, (1 - t) * a + t * b)


def truncated_normal(n: int, dim: int, threshold: float, *, generator: torch.Generator | None = None,
                     device: torch.device | str | None = None, max_rounds: int = 1000) -> torch.Tensor:
    """(n, dim) draws of N(0, 1) with every coordinate resampled until |z_i| ≤ threshold — BigGAN's
    truncation trick, eq. (ch9-truncation)."""
    V.positive_int(n, "n")
    V.positive_int(dim, "dim")
    V.positive_float(threshold, "threshold")
    dev = V.device_arg(device)
    z = torch.randn(n, dim, generator=generator, device=dev)
    for _ in range(max_rounds):
        bad = z.abs() > threshold
        if not bool(bad.any()):
            return z
        z = torch.where(bad, torch.randn(n, dim, generator=generator, device=dev), z)
    raise RuntimeError(f"truncated_normal: threshold={threshold} too small to resample in {max_rounds} rounds")


def truncate(z: torch.Tensor, psi: float, center: torch.Tensor | None = None) -> torch.Tensor:
    """The ψ-truncation z' = c + ψ (z − c) toward the centre c (0 by default; StyleGAN uses the mean of
    the mapped latents), ψ ∈ [0, 1]: ψ = 1 leaves z alone, ψ = 0 collapses every sample to c."""
    V.tensor(z, "z")
    psi = V.probability(psi, "psi")
    c = torch.zeros_like(z) if center is None else center
    return c + psi * (z - c)


def arithmetic(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Latent arithmetic z = mean(a) − mean(b) + mean(c) over the rows of three groups of codes (n_i, d):
    'smiling woman − neutral woman + neutral man' {radford2016dcgan}, averaged over a few samples each."""
    for t, name in ((a, "a"), (b, "b"), (c, "c")):
        V.tensor(t, name, ndim=2)
    if not a.shape[1] == b.shape[1] == c.shape[1]:
        raise ValueError("a, b and c must have the same number of columns")
    return a.mean(0) - b.mean(0) + c.mean(0)
