"""The one kernel core (ganbook.kernels) against independent references — numpy norms, explicit
double loops over pairs — and the three modules built on it agreeing with each other: chapter 4's
differentiable MMD², KID's blocked float64 sums and the permutation test's statistic."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from ganbook import divergences, kernels
from ganbook import metrics as M


def _data(seed: int, m: int = 11, n: int = 8, d: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(m, d, generator=g, dtype=torch.float64),
            torch.randn(n, d, generator=g, dtype=torch.float64) * 1.3 + 0.4)


def test_pairwise_distances_are_exact_and_differentiable_at_zero():
    x, y = _data(0)
    ref = np.linalg.norm(x.numpy()[:, None] - y.numpy()[None], axis=-1)
    assert np.allclose(kernels.pairwise_distances(x, y).numpy(), ref, rtol=1e-14, atol=0)
    xr = x.clone().requires_grad_(True)
    dist = kernels.pairwise_distances(xr, xr)
    assert bool((torch.diagonal(dist) == 0).all())                     # exact zeros, not rounding noise
    dist.sum().backward()
    assert bool(torch.isfinite(xr.grad).all())


def test_kernels_equal_their_formulas_pair_by_pair():
    x, y = _data(1)
    xn, yn = x.numpy(), y.numpy()
    d = x.shape[1]
    for i, j in itertools.product(range(len(xn)), range(len(yn))):
        a, b = xn[i], yn[j]
        gauss = sum(math.exp(-float(((a - b) ** 2).sum()) / (2 * s * s)) for s in (0.5, 2.0))
        assert float(kernels.gaussian_kernel(x, y, (0.5, 2.0))[i, j]) == pytest.approx(gauss, rel=1e-13)
        assert float(kernels.polynomial_kernel(x, y)[i, j]) == pytest.approx((a @ b / d + 1) ** 3, rel=1e-13)
        assert float(kernels.polynomial_kernel(x, y, degree=2, gamma=0.3, coef=0.5)[i, j]) == \
            pytest.approx((0.3 * a @ b + 0.5) ** 2, rel=1e-13)
        dist = 0.5 * (np.linalg.norm(a) + np.linalg.norm(b) - np.linalg.norm(a - b))
        assert float(kernels.distance_kernel(x, y)[i, j]) == pytest.approx(dist, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd2_from_kernels_and_sums_equal_the_double_loop(unbiased):
    x, y = _data(2)
    k = lambda a, b: float((a @ b / 3 + 1) ** 3)
    m, n = len(x), len(y)
    skip = (lambda i, j: i == j) if unbiased else (lambda i, j: False)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if not skip(i, j))
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if not skip(i, j))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    if unbiased:
        ref = sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)
    else:
        ref = sxx / m ** 2 + syy / n ** 2 - 2 * sxy / (m * n)
    kk = kernels.polynomial_kernel
    got = kernels.mmd2_from_kernels(kk(x, x), kk(y, y), kk(x, y), unbiased=unbiased)
    assert float(got) == pytest.approx(ref, rel=1e-12)
    sums = torch.tensor([[sxx, syy, sxy], [sxx, syy, sxy]], dtype=torch.float64)   # broadcasts over leading axes
    batched = kernels.mmd2_from_sums(sums[:, 0], sums[:, 1], sums[:, 2], m, n, unbiased=unbiased)
    assert batched.shape == (2,) and float(batched[0]) == pytest.approx(ref, rel=1e-12)


def test_the_three_users_of_the_kernel_core_agree():
    """Chapter 4's mmd2 (one pooled matrix), KID's blocked float64 sums and the permutation test's
    statistic (sums over a membership vector) compute the same unbiased MMD²."""
    x, y = _data(3, m=40, n=33, d=5)
    kid = M.mmd2_unbiased(x, y, block=7)
    assert float(divergences.mmd2(x, y, kernel="polynomial")) == pytest.approx(kid, rel=1e-12)
    test = M.mmd_permutation_test(x, y, permutations=5, bandwidth=1.7, generator=torch.Generator().manual_seed(0))
    assert test.statistic == pytest.approx(float(divergences.mmd2(x, y, bandwidths=1.7)), rel=1e-12)
    # the median heuristic is the median of the exact distances between distinct pooled rows
    z = torch.cat([x, y])
    dist = kernels.pairwise_distances(z, z)
    iu = torch.triu_indices(len(z), len(z), offset=1)
    assert M.two_sample.median_bandwidth(z) == float(dist[iu[0], iu[1]].median())


def test_bad_input_raises_clear_errors():
    x, y = _data(4)
    with pytest.raises(ValueError, match="kernel must be one of"):
        kernels.named_kernel("laplace")
    with pytest.raises(ValueError, match="same dimension"):
        kernels.gaussian_kernel(x, torch.randn(4, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="same dtype"):
        kernels.polynomial_kernel(x, y.float())
    with pytest.raises(ValueError, match="bandwidths"):
        kernels.gaussian_kernel(x, y, ())
    with pytest.raises(ValueError, match="degree"):
        kernels.polynomial_kernel(x, y, degree=0)
    with pytest.raises(ValueError, match="shapes"):
        kernels.mmd2_from_kernels(torch.ones(3, 3), torch.ones(2, 2), torch.ones(2, 3))
    with pytest.raises(ValueError, match="at least 2 samples"):
        kernels.mmd2_from_kernels(torch.ones(1, 1), torch.ones(2, 2), torch.ones(1, 2))
    with pytest.raises(ValueError, match="m must be >= 2"):
        kernels.mmd2_from_sums(torch.ones(()), torch.ones(()), torch.ones(()), 1, 5)
    with pytest.raises(TypeError, match="k_xx must be a torch.Tensor"):
        kernels.mmd2_from_kernels([[1.0]], torch.ones(2, 2), torch.ones(1, 2))
