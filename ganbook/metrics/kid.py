"""Kernel Inception Distance (KID), chapter 15, eqs. (ch15-mmd-unbiased) and (ch15-kid).

KID is the unbiased estimate of the squared maximum mean discrepancy between the feature
distributions of real and generated images, with the cubic polynomial kernel

    k(x, y) = (γ xᵀy + c)³,   γ = 1/d, c = 1,

    MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(xᵢ, xⱼ) + 1/(n(n−1)) Σ_{i≠j} k(yᵢ, yⱼ) − 2/(mn) Σ_{i,j} k(xᵢ, yⱼ).

Its expectation is the population MMD² for every sample size (the diagonal terms i = j, whose
expectation differs, are left out), which is why KID, unlike FID, has no sample-size bias.
The protocol of Bińkowski et al. averages the estimate over ``subsets`` random subsets of
``subset_size`` samples of each set and reports the mean and the spread.

The kernel and the MMD² from kernel sums are :mod:`ganbook.kernels` (shared with chapter 4's MMD);
here the inputs are float64 feature matrices, kernel sums are accumulated block by block (never a
full n × n matrix), and a symmetric sum Σ_{i≠j} k(xᵢ, xⱼ) only computes the blocks on and above the
diagonal.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _validate as V
from ..kernels import _polynomial, mmd2_from_sums
from . import _common as C


@dataclass(frozen=True)
class KID:
    """KID over subsets: the mean, the standard deviation across subsets (ddof = 0, as in the
    reference implementations) and every subset's value."""

    mean: float
    std: float
    values: torch.Tensor

    def __str__(self) -> str:
        return f"KID {self.mean:.5f} ± {self.std:.5f} ({self.values.numel()} subsets)"


def _kernel_args(degree: object, gamma: object, coef: object, d: int) -> tuple[int, float, float]:
    degree = V.positive_int(degree, "degree")
    gamma = 1.0 / d if gamma is None else V.positive_float(gamma, "gamma")
    coef = V.positive_float(coef, "coef", allow_zero=True)
    return degree, gamma, coef


def _poly_sum(a: torch.Tensor, b: torch.Tensor, gamma: float, coef: float, degree: int, block: int) -> torch.Tensor:
    """Σ_{i,j} (γ aᵢᵀbⱼ + c)^degree, computed in row blocks; a float64 scalar tensor."""
    total = a.new_zeros(())
    for s, e in C.row_blocks(a.shape[0], block):
        total += _polynomial(a[s:e], b, degree, gamma, coef).sum()                # (e − s, m) block
    return total


def _poly_sum_offdiag(a: torch.Tensor, gamma: float, coef: float, degree: int, block: int) -> torch.Tensor:
    """Σ_{i≠j} (γ aᵢᵀaⱼ + c)^degree using symmetry: each row block only meets the columns from its
    own first row on; the off-diagonal blocks count twice."""
    total = a.new_zeros(())
    for s, e in C.row_blocks(a.shape[0], block):
        k = _polynomial(a[s:e], a[s:], degree, gamma, coef)                        # (e − s, n − s)
        total += k[:, : e - s].sum() + 2.0 * k[:, e - s:].sum()
    diag = (gamma * (a * a).sum(1) + coef).pow_(degree).sum()                      # Σ_i k(aᵢ, aᵢ)
    return total - diag


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, degree: int = 3, gamma: float | None = None,
                  coef: float = 1.0, block: int = 128) -> float:
    """Unbiased MMD² between samples x (m, d) and y (n, d) with the polynomial kernel
    (:func:`ganbook.kernels.polynomial_kernel`), eq. (ch15-mmd-unbiased), in float64, without forming
    full kernel matrices: the three kernel sums are accumulated over blocks of ``block`` rows and
    combined by :func:`ganbook.kernels.mmd2_from_sums`."""
    x, y = C.pair(x, y, names=("x", "y"), min_rows=2)
    degree, gamma, coef = _kernel_args(degree, gamma, coef, x.shape[1])
    block = V.positive_int(block, "block")
    m, n = x.shape[0], y.shape[0]
    sxx = _poly_sum_offdiag(x, gamma, coef, degree, block)
    syy = _poly_sum_offdiag(y, gamma, coef, degree, block)
    sxy = _poly_sum(x, y, gamma, coef, degree, block)
    return float(mmd2_from_sums(sxx, syy, sxy, m, n, unbiased=True))


def kid(real_features: torch.Tensor, fake_features: torch.Tensor, subsets: int = 100, subset_size: int = 1000,
        degree: int = 3, gamma: float | None = None, coef: float = 1.0,
        generator: torch.Generator | None = None) -> KID:
    """KID, eq. (ch15-kid): the unbiased MMD² with the cubic kernel, averaged over ``subsets`` pairs of
    random subsets (without replacement) of ``subset_size`` real and fake feature vectors.

    For each subset the real indices are drawn first, then the fake ones, each with
    ``torch.randperm(n, generator=generator)[:subset_size]`` (the order torchmetrics uses).
    """
    real, fake = C.pair(real_features, fake_features, names=("real_features", "fake_features"), min_rows=2)
    subsets = V.positive_int(subsets, "subsets")
    subset_size = V.positive_int(subset_size, "subset_size", minimum=2)
    V.generator(generator)
    degree, gamma, coef = _kernel_args(degree, gamma, coef, real.shape[1])
    for name, x in (("real_features", real), ("fake_features", fake)):
        if x.shape[0] < subset_size:
            raise ValueError(f"subset_size = {subset_size} is larger than the {x.shape[0]} rows of {name}; "
                             f"pass a smaller subset_size")
    where = C.generator_device(generator)
    # When subset_size equals both sample sizes, every "subset" is the whole sample in another order, and
    # MMD² does not depend on the order: it is computed once. The permutations are still drawn, so that
    # ``generator`` advances exactly as it does otherwise (callers' later draws do not change).
    whole = subset_size == real.shape[0] == fake.shape[0]
    values = torch.empty(subsets, dtype=torch.float64)
    for s in range(subsets):
        ir = torch.randperm(real.shape[0], generator=generator, device=where)[:subset_size].to(real.device)
        jf = torch.randperm(fake.shape[0], generator=generator, device=where)[:subset_size].to(fake.device)
        if whole and s > 0:
            values[s] = values[0]
        else:
            values[s] = mmd2_unbiased(real if whole else real[ir], fake if whole else fake[jf], degree, gamma, coef)
    mean = float(values.mean())
    std = float(values.std(unbiased=False))
    return KID(mean=mean, std=std, values=values)
