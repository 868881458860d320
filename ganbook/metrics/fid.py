"""Fréchet Inception Distance (FID), chapter 15, eq. (ch15-fid).

Features → statistics → metric: :func:`gaussian_stats` summarises a feature matrix by its mean
and covariance (ddof = 1, float64); :func:`frechet_distance` is the closed-form 2-Wasserstein
distance² between the two Gaussians with those moments,

    FID = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2}),

and :func:`fid` chains the two. The trace of the matrix square root is taken from the eigenvalues
of the symmetric positive semi-definite matrix Σ₁^{1/2} Σ₂ Σ₁^{1/2}, which has the same eigenvalues
as Σ₁Σ₂: a symmetric eigendecomposition (``torch.linalg.eigh``) never returns imaginary parts,
unlike a general matrix square root of the non-symmetric product Σ₁Σ₂.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import _common as C


@dataclass(frozen=True)
class GaussianStats:
    """Mean (d,) and covariance (d, d), float64, of n feature vectors."""

    mean: torch.Tensor
    cov: torch.Tensor
    n: int

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])


def gaussian_stats(features: torch.Tensor, name: str = "features") -> GaussianStats:
    """Mean and unbiased covariance (ddof = 1) of ``features`` (n, d), in float64.

    The covariance of n samples has rank at most n − 1, so a full-rank estimate needs n ≥ d + 1;
    fewer samples raise a ``ValueError`` (FID on 2048-d Inception features needs ≥ 2049 images).
    """
    x = C.features(features, name, min_rows=2)
    n, d = x.shape
    if n <= d:
        raise ValueError(f"{name} has {n} samples of dimension {d}: a full-rank covariance needs at least "
                         f"d + 1 = {d + 1} samples (and many more for a small bias; see chapter 15)")
    mean = x.mean(0)                                   # (d,)
    xc = x - mean                                      # (n, d)
    cov = xc.T @ xc / (n - 1)                          # (d, d), ddof = 1
    return GaussianStats(mean=mean, cov=0.5 * (cov + cov.T), n=n)


def sqrtm_psd(a: torch.Tensor, name: str = "a") -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix, by ``eigh``;
    eigenvalues that rounding pushed below zero are set to zero."""
    if not isinstance(a, torch.Tensor) or a.dim() != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square matrix, got {getattr(a, 'shape', type(a).__name__)}")
    a = C.to_float64(a)
    w, v = torch.linalg.eigh(0.5 * (a + a.T))          # a = v diag(w) vᵀ
    return (v * w.clamp(min=0.0).sqrt()) @ v.T


def trace_sqrt_product(cov1: torch.Tensor, cov2: torch.Tensor) -> torch.Tensor:
    """Tr((Σ₁Σ₂)^{1/2}) = Σᵢ √λᵢ(Σ₁^{1/2} Σ₂ Σ₁^{1/2}), a float64 scalar tensor."""
    s1 = sqrtm_psd(cov1, "cov1")
    m = s1 @ C.to_float64(cov2) @ s1                   # symmetric PSD, same spectrum as Σ₁Σ₂
    eig = torch.linalg.eigvalsh(0.5 * (m + m.T))
    return eig.clamp(min=0.0).sqrt().sum()


def frechet_distance(mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor) -> float:
    """Fréchet distance² between N(μ₁, Σ₁) and N(μ₂, Σ₂), eq. (ch15-fid)."""
    for name, mu in (("mu1", mu1), ("mu2", mu2)):
        if not isinstance(mu, torch.Tensor) or mu.dim() != 1:
            raise ValueError(f"{name} must be a vector (d,), got {getattr(mu, 'shape', type(mu).__name__)}")
    d = mu1.shape[0]
    for name, cov in (("cov1", cov1), ("cov2", cov2)):
        if not isinstance(cov, torch.Tensor) or tuple(cov.shape) != (d, d):
            raise ValueError(f"{name} must have shape ({d}, {d}) to match mu1, got "
                             f"{getattr(cov, 'shape', type(cov).__name__)}")
    if mu2.shape[0] != d:
        raise ValueError(f"mu1 and mu2 must have the same dimension, got {d} and {mu2.shape[0]}")
    for name, t in (("mu1", mu1), ("cov1", cov1), ("mu2", mu2), ("cov2", cov2)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
    mu1, mu2, cov1, cov2 = (C.to_float64(t) for t in (mu1, mu2, cov1, cov2))
    diff = mu1 - mu2
    value = diff @ diff + torch.trace(cov1) + torch.trace(cov2) - 2.0 * trace_sqrt_product(cov1, cov2)
    return float(value)


def fid_from_stats(real: GaussianStats, fake: GaussianStats) -> float:
    """FID between two :class:`GaussianStats` (e.g. cached statistics of the real data)."""
    for name, s in (("real", real), ("fake", fake)):
        if not isinstance(s, GaussianStats):
            raise TypeError(f"{name} must be a GaussianStats (from gaussian_stats), got {type(s).__name__}")
    if real.dim != fake.dim:
        raise ValueError(f"real and fake statistics have different dimensions: {real.dim} and {fake.dim}")
    return frechet_distance(real.mean, real.cov, fake.mean, fake.cov)


def fid(real_features: torch.Tensor, fake_features: torch.Tensor) -> float:
    """FID between two feature matrices (n₁, d) and (n₂, d), eq. (ch15-fid): Gaussian statistics
    (ddof = 1, float64) of each, then the Fréchet distance between them."""
    real, fake = C.pair(real_features, fake_features, names=("real_features", "fake_features"), min_rows=2)
    return fid_from_stats(gaussian_stats(real, "real_features"), gaussian_stats(fake, "fake_features"))
