"""Chapter 4: integral probability metrics estimated from samples — MMD (eq. ch4-mmd-unbiased),
energy distance (eq. ch4-energy) and the exact Wasserstein-1 distance of empirical distributions
(eq. ch4-w1-1d, eq. ch4-w1-assignment). The kernels and the MMD² from kernel matrices are
:mod:`ganbook.kernels`; the permutation test with a p-value is
:func:`ganbook.metrics.two_sample.mmd_permutation_test`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from .. import _validate as V
from ..kernels import Kernel, _sample_pair, mmd2_from_kernels, named_kernel, pairwise_distances


def mmd2(x: torch.Tensor, y: torch.Tensor, kernel: str | Kernel = "gaussian", unbiased: bool = True,
         bandwidths: float | Sequence[float] = 1.0, degree: int = 3, gamma: float | None = None,
         coef: float = 1.0) -> torch.Tensor:
    """The squared maximum mean discrepancy between samples x (m, d) and y (n, d),
    eqs. (ch4-mmd) and (ch4-mmd-unbiased), as a differentiable 0-dim tensor.

    ``kernel``: ``"gaussian"`` (a mixture over ``bandwidths``), ``"polynomial"``
    ((γxᵀy + c)^degree), ``"distance"`` (½(‖x‖ + ‖y‖ − ‖x − y‖), MMD² = energy distance / 2), all in
    :mod:`ganbook.kernels`, or a callable k(a, b) returning the (len a, len b) kernel matrix.
    ``unbiased=True`` (default) is the U-statistic, whose expectation is the population MMD² (it
    can be negative); ``unbiased=False`` the V-statistic, MMD² between the empirical distributions."""
    x, y = _sample_pair(x, y, min_rows=2 if unbiased else 1)
    k = named_kernel(kernel, bandwidths, degree, gamma, coef)
    if callable(kernel):
        return mmd2_from_kernels(k(x, x), k(y, y), k(x, y), unbiased=bool(unbiased))
    m = x.shape[0]
    k_all = k(torch.cat([x, y]), torch.cat([x, y]))                     # (m + n, m + n), one pass
    return mmd2_from_kernels(k_all[:m, :m], k_all[m:, m:], k_all[:m, m:], unbiased=bool(unbiased))


def energy_distance(x: torch.Tensor, y: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """The energy distance 2E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ between samples x (m, d) and y (n, d),
    eq. (ch4-energy), as a differentiable 0-dim tensor. Default: its value between the two empirical
    distributions (every pair, i = i' included), which in 1D equals 2∫(F − G)², the square of
    ``scipy.stats.energy_distance``; ``unbiased=True`` leaves out i = i' in the within-sample means."""
    x, y = _sample_pair(x, y, min_rows=2 if unbiased else 1)
    m, n = x.shape[0], y.shape[0]
    d_xy = pairwise_distances(x, y).mean()
    s_xx, s_yy = pairwise_distances(x, x).sum(), pairwise_distances(y, y).sum()   # zero diagonals
    if unbiased:
        return 2 * d_xy - s_xx / (m * (m - 1)) - s_yy / (n * (n - 1))
    return 2 * d_xy - s_xx / m ** 2 - s_yy / n ** 2


def _as_1d(x: object, name: str) -> torch.Tensor:
    V.tensor(x, name, ndim=(1, 2), min_rows=1)
    if x.dim() == 2:
        if x.shape[1] != 1:
            raise ValueError(f"{name} must be 1D samples of shape (n,) or (n, 1), got {tuple(x.shape)}")
        x = x[:, 0]
    return x.detach().double().cpu()


def wasserstein1_1d(x: torch.Tensor, y: torch.Tensor) -> float:
    """W1 between the empirical distributions of 1D samples x (m,) and y (n,), exactly, eq. (ch4-w1-1d):
    W1 = ∫ |F_m(t) − G_n(t)| dt, a sum over the intervals between the pooled sorted samples."""
    x, y = _as_1d(x, "x"), _as_1d(y, "y")
    xs, ys = torch.sort(x).values, torch.sort(y).values
    pooled = torch.sort(torch.cat([xs, ys])).values                      # (m + n,)
    widths = pooled[1:] - pooled[:-1]                                    # (m + n − 1,)
    f = torch.searchsorted(xs, pooled[:-1], right=True).double() / xs.numel()
    g = torch.searchsorted(ys, pooled[:-1], right=True).double() / ys.numel()
    return float(((f - g).abs() * widths).sum())


def wasserstein1(x: torch.Tensor, y: torch.Tensor, max_samples: int = 2000) -> float:
    """Exact W1 between empirical distributions with the Euclidean cost.

    * 1D samples (n,) or (n, 1), any sizes: :func:`wasserstein1_1d`, eq. (ch4-w1-1d);
    * d ≥ 2, equal sizes n ≤ ``max_samples``: the optimal plan between two uniform distributions on
      n points each is a permutation (Birkhoff), found by the assignment solver
      ``scipy.optimize.linear_sum_assignment``; W1 = the mean matched distance, eq. (ch4-w1-assignment).
      Unequal sizes in d ≥ 2 need a general transport solver (e.g. POT's ``ot.emd2``)."""
    V.positive_int(max_samples, "max_samples", minimum=2)
    one_d = lambda t: isinstance(t, torch.Tensor) and (t.dim() == 1 or (t.dim() == 2 and t.shape[1] == 1))
    if one_d(x) and one_d(y):
        return wasserstein1_1d(x, y)
    x, y = _sample_pair(x, y)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"in d >= 2, wasserstein1 needs samples of equal size (got {x.shape[0]} and {y.shape[0]}); "
                         f"subsample, or use a general solver such as POT's ot.emd2")
    if x.shape[0] > max_samples:
        raise ValueError(f"{x.shape[0]} samples exceed max_samples = {max_samples}: the assignment problem costs "
                         f"O(n³); subsample or raise max_samples")
    from scipy.optimize import linear_sum_assignment

    cost = pairwise_distances(x.detach().double().cpu(), y.detach().double().cpu())   # (n, n)
    rows, cols = linear_sum_assignment(cost.numpy())
    return float(cost[torch.as_tensor(rows), torch.as_tensor(cols)].mean())
