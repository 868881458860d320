"""Checks for the coding exercises of chapter 15 (evaluating GANs)."""
from __future__ import annotations

import torch

from ..kernels import mmd2_from_kernels, polynomial_kernel
from ..metrics.fid import fid as _fid
from ..metrics.kid import mmd2_unbiased as _mmd2_unbiased
from ._core import compare


def _feature_cases(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Pairs of feature matrices with few samples (so that ddof and diagonal terms matter),
    different sizes on the two sides, shifted means and anisotropic covariances."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for n1, n2, d, shift in ((8, 11, 2, 0.5), (20, 15, 3, 0.0), (50, 64, 5, 1.0), (30, 30, 4, -2.0)):
        mix = torch.randn(d, d, generator=g, dtype=torch.float64)
        a = torch.randn(n1, d, generator=g, dtype=torch.float64) @ mix
        b = torch.randn(n2, d, generator=g, dtype=torch.float64) * torch.linspace(0.5, 2.0, d, dtype=torch.float64) + shift
        cases.append((a, b))
    return cases


def _cov(x: torch.Tensor, ddof: int) -> torch.Tensor:
    xc = x - x.mean(0)
    return xc.T @ xc / (x.shape[0] - ddof)


def _fid_with(a: torch.Tensor, b: torch.Tensor, ddof: int = 1, factor: float = 2.0, elementwise: bool = False) -> torch.Tensor:
    from ..metrics.fid import trace_sqrt_product

    s1, s2 = _cov(a, ddof), _cov(b, ddof)
    diff = a.mean(0) - b.mean(0)
    if elementwise:
        cross = (s1 * s2).abs().sqrt().trace()
    else:
        cross = trace_sqrt_product(s1, s2)
    return diff @ diff + s1.trace() + s2.trace() - factor * cross


def fid_from_features(fn) -> str:
    """Exercise 15.x: ``fn(real, fake)`` with feature matrices (n₁, d) and (n₂, d) returns the FID
    ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}) with unbiased (ddof = 1) covariances, as a number."""
    mistakes = {"FID with biased covariances (dividing by n instead of n − 1)": lambda a, b: _fid_with(a, b, ddof=0),
                "the formula without the factor 2 in front of the cross term": lambda a, b: _fid_with(a, b, factor=1.0),
                "an elementwise square root of Σ₁ ∘ Σ₂ instead of the matrix square root of Σ₁Σ₂":
                    lambda a, b: _fid_with(a, b, elementwise=True),
                "only the distance between the means, ‖μ₁ − μ₂‖²": lambda a, b: (a.mean(0) - b.mean(0)).pow(2).sum()}
    return compare(fn, _fid, _feature_cases(15), name="fid_from_features", arg_names=("real", "fake"),
                   atol=1e-6, rtol=1e-5, mistakes=mistakes)


def _mmd_with(x: torch.Tensor, y: torch.Tensor, biased: bool = False, gamma: float | None = None) -> torch.Tensor:
    """A wrong variant of the KID of one subset: the biased estimate, or another kernel scale γ."""
    k = lambda a, b: polynomial_kernel(a, b, degree=3, gamma=gamma, coef=1.0)
    return mmd2_from_kernels(k(x, x), k(y, y), k(x, y), unbiased=not biased)


def kid_unbiased(fn) -> str:
    """Exercise 15.x: ``fn(x, y)`` with feature matrices (m, d) and (n, d) returns the unbiased MMD²
    with the cubic kernel k(a, b) = (aᵀb/d + 1)³ — the KID of one subset — as a number."""
    mistakes = {"the biased estimate (the diagonal terms k(xᵢ, xᵢ) kept, dividing by m² and n²)":
                    lambda x, y: _mmd_with(x, y, biased=True),
                "a kernel without the 1/d scaling, (aᵀb + 1)³": lambda x, y: _mmd_with(x, y, gamma=1.0)}
    return compare(fn, lambda x, y: _mmd2_unbiased(x, y), _feature_cases(16), name="kid_unbiased",
                   arg_names=("x", "y"), atol=1e-8, rtol=1e-6, mistakes=mistakes)
