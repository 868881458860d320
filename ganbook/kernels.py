"""Kernels and the squared maximum mean discrepancy (MMD²) computed from them: the one kernel core
of the book, used by the differentiable MMD of chapter 4 (:func:`ganbook.divergences.mmd2`, GMMN,
MMD-GAN), by KID (:mod:`ganbook.metrics.kid`, the cubic kernel in float64, summed block by block)
and by the MMD permutation test (:mod:`ganbook.metrics.two_sample`, a Gaussian kernel) of
chapter 15.

* :func:`pairwise_distances` — ‖xᵢ − yⱼ‖, computed directly (the one distance rule: exact zeros,
  finite gradients);
* :func:`gaussian_kernel`, :func:`polynomial_kernel`, :func:`distance_kernel` — kernel matrices,
  differentiable and in the inputs' dtype; :data:`KERNELS` names them for :func:`named_kernel`;
* :func:`mmd2_from_sums` — eq. (ch4-mmd-unbiased) from the three kernel sums;
  :func:`mmd2_from_kernels` — the same from the three kernel matrices, unbiased or biased.

A leaf module: it imports torch and the input checks only.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

import torch

from . import _validate as V

Kernel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

KERNELS: tuple[str, ...] = ("gaussian", "polynomial", "distance")
"""Kernels known by name (:func:`named_kernel`; ``divergences.mmd2(kernel=...)``)."""


def _samples(x: object, name: str, min_rows: int = 1) -> torch.Tensor:
    V.tensor(x, name, ndim=2, min_rows=min_rows)
    if x.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column, got shape {tuple(x.shape)}")
    return x


def _sample_pair(x: object, y: object, min_rows: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two sample matrices x (m, d) and y (n, d): finite, same width, device and dtype."""
    x, y = _samples(x, "x", min_rows), _samples(y, "y", min_rows)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    V.same_device(x, y, "x", "y")
    if x.dtype != y.dtype:
        raise TypeError(f"x and y must have the same dtype, got {x.dtype} and {y.dtype}")
    return x, y


def pairwise_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """‖xᵢ − yⱼ‖, shape (m, n), computed directly (not through ‖x‖² + ‖y‖² − 2xᵀy, whose rounding
    leaves non-zero "zero" distances); differentiable, with gradient 0 where a distance is 0."""
    return torch.cdist(x, y, compute_mode="donot_use_mm_for_euclid_dist")


def gaussian_kernel(x: torch.Tensor, y: torch.Tensor, bandwidths: float | Sequence[float] = 1.0) -> torch.Tensor:
    """Σ_σ exp(−‖xᵢ − yⱼ‖²/(2σ²)) over the bandwidths σ, shape (m, n): one Gaussian kernel or a
    mixture of them (GMMN, MMD-GAN), eq. (ch4-gauss-mix)."""
    x, y = _sample_pair(x, y)
    sigmas = [bandwidths] if isinstance(bandwidths, (int, float)) else list(bandwidths)
    if not sigmas:
        raise ValueError("bandwidths must hold at least one value")
    for i, s in enumerate(sigmas):
        V.positive_float(s, f"bandwidths[{i}]")
    d2 = pairwise_distances(x, y).pow(2)                                  # (m, n)
    inv = torch.tensor([0.5 / float(s) ** 2 for s in sigmas], dtype=d2.dtype, device=d2.device)
    return torch.exp(-d2.unsqueeze(0) * inv[:, None, None]).sum(0)       # Σ_σ, one batched exp


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, gamma: float | None = None,
                      coef: float = 1.0) -> torch.Tensor:
    """(γ xᵢᵀyⱼ + c)^degree, shape (m, n); γ = 1/d by default: with degree 3 and c = 1 the kernel of
    KID, eq. (ch15-kid). Differentiable and in the inputs' dtype (one fused c + γ·xyᵀ product)."""
    x, y = _sample_pair(x, y)
    degree = V.positive_int(degree, "degree")
    gamma = 1.0 / x.shape[1] if gamma is None else V.positive_float(gamma, "gamma")
    coef = V.positive_float(coef, "coef", allow_zero=True)
    return _polynomial(x, y, degree, gamma, coef)


def _polynomial(x: torch.Tensor, y: torch.Tensor, degree: int, gamma: float, coef: float) -> torch.Tensor:
    """(γ xᵢᵀyⱼ + c)^degree without input checks: for callers that checked x, y and the parameters
    once and evaluate the kernel block by block (KID)."""
    return torch.addmm(x.new_full((1, 1), coef), x, y.T, alpha=gamma).pow(degree)


def distance_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = ½(‖x‖ + ‖y‖ − ‖x − y‖), shape (m, n): the kernel induced by the Euclidean distance;
    its MMD² is half the energy distance, eq. (ch4-energy-mmd)."""
    x, y = _sample_pair(x, y)
    return 0.5 * (x.norm(dim=1)[:, None] + y.norm(dim=1)[None, :] - pairwise_distances(x, y))


def named_kernel(kernel: str | Kernel, bandwidths: float | Sequence[float] = 1.0, degree: int = 3,
                 gamma: float | None = None, coef: float = 1.0) -> Kernel:
    """The function k(a, b) -> (len a, len b) matrix for a kernel of :data:`KERNELS` with its
    parameters; a callable ``kernel`` is returned as it is."""
    if callable(kernel):
        return kernel
    if kernel == "gaussian":
        return lambda a, b: gaussian_kernel(a, b, bandwidths)
    if kernel == "polynomial":
        return lambda a, b: polynomial_kernel(a, b, degree, gamma, coef)
    if kernel == "distance":
        return distance_kernel
    raise ValueError(f"kernel must be one of {KERNELS} or a callable k(x, y) -> (m, n), got {kernel!r}")


def mmd2_from_sums(s_xx: torch.Tensor, s_yy: torch.Tensor, s_xy: torch.Tensor, m: int, n: int,
                   unbiased: bool = True) -> torch.Tensor:
    """MMD² from the kernel sums of m samples x and n samples y, eq. (ch4-mmd-unbiased), which
    chapter 15 writes as eq. (ch15-mmd-unbiased):

    * unbiased (U-statistic): s_xx = Σ_{i≠i'} k(xᵢ, xᵢ'), s_yy = Σ_{j≠j'} k(yⱼ, yⱼ'),
      s_xy = Σ k(xᵢ, yⱼ); MMD²_u = s_xx/(m(m−1)) + s_yy/(n(n−1)) − 2 s_xy/(mn);
    * biased (V-statistic): s_xx and s_yy include the diagonals, divided by m² and n².

    Sums of any shape broadcast (one MMD² per permutation in the permutation test)."""
    V.positive_int(m, "m", minimum=2 if unbiased else 1)
    V.positive_int(n, "n", minimum=2 if unbiased else 1)
    if unbiased:
        return s_xx / (m * (m - 1)) + s_yy / (n * (n - 1)) - 2 * s_xy / (m * n)
    return s_xx / m ** 2 + s_yy / n ** 2 - 2 * s_xy / (m * n)


def mmd2_from_kernels(k_xx: torch.Tensor, k_yy: torch.Tensor, k_xy: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """MMD² from the kernel matrices (m, m), (n, n), (m, n), eq. (ch4-mmd-unbiased):

    * unbiased (U-statistic): Σ_{i≠i'} k(xᵢ, xᵢ')/(m(m−1)) + Σ_{j≠j'} k(yⱼ, yⱼ')/(n(n−1)) − 2 Σ k(xᵢ, yⱼ)/(mn);
    * biased (V-statistic, the MMD² of the two empirical distributions, ≥ 0): the same sums with
      the diagonals included, divided by m² and n².
    """
    for name, k in (("k_xx", k_xx), ("k_yy", k_yy), ("k_xy", k_xy)):
        V.tensor(k, name, ndim=2, finite=False)
    m, n = k_xx.shape[0], k_yy.shape[0]
    if k_xx.shape != (m, m) or k_yy.shape != (n, n) or k_xy.shape != (m, n):
        raise ValueError(f"kernel matrices must have shapes (m, m), (n, n), (m, n); got {tuple(k_xx.shape)}, "
                         f"{tuple(k_yy.shape)}, {tuple(k_xy.shape)}")
    if unbiased:
        if m < 2 or n < 2:
            raise ValueError(f"the unbiased MMD² needs at least 2 samples on each side, got m = {m}, n = {n}")
        s_xx = k_xx.sum() - torch.diagonal(k_xx).sum()                   # the diagonal i = i' left out
        s_yy = k_yy.sum() - torch.diagonal(k_yy).sum()
    else:
        s_xx, s_yy = k_xx.sum(), k_yy.sum()
    return mmd2_from_sums(s_xx, s_yy, k_xy.sum(), m, n, unbiased=bool(unbiased))


__all__ = ["KERNELS", "Kernel", "distance_kernel", "gaussian_kernel", "mmd2_from_kernels", "mmd2_from_sums",
           "named_kernel", "pairwise_distances", "polynomial_kernel"]
