"""MMD², energy distance and exact W1 (ganbook.divergences, chapter 4) against independent
references: brute-force double sums, closed forms for Gaussians, scipy.stats and POT."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganbook import divergences as dv


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _brute_mmd2(x: np.ndarray, y: np.ndarray, k, unbiased: bool) -> float:
    """MMD² by explicit loops over pairs, eq. (ch4-mmd-unbiased)."""
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if not (unbiased and i == j))
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if not (unbiased and i == j))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    if unbiased:
        return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)
    return sxx / m ** 2 + syy / n ** 2 - 2 * sxy / (m * n)


KERNELS = {
    "gaussian": (dict(bandwidths=(0.5, 2.0)),
                 lambda a, b: sum(math.exp(-float(((a - b) ** 2).sum()) / (2 * s * s)) for s in (0.5, 2.0))),
    "polynomial": (dict(degree=3, coef=1.0),
                   lambda a, b: (float(a @ b) / len(a) + 1.0) ** 3),
    "distance": ({}, lambda a, b: 0.5 * (np.linalg.norm(a) + np.linalg.norm(b) - np.linalg.norm(a - b))),
}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd2_matches_brute_force(kernel, unbiased):
    g = _rng(1)
    x = torch.randn(9, 3, generator=g, dtype=torch.float64)
    y = torch.randn(7, 3, generator=g, dtype=torch.float64) * 1.5 + 0.3
    kwargs, k = KERNELS[kernel]
    got = float(dv.mmd2(x, y, kernel=kernel, unbiased=unbiased, **kwargs))
    assert got == pytest.approx(_brute_mmd2(x.numpy(), y.numpy(), k, unbiased), rel=1e-10, abs=1e-12)


def test_mmd2_callable_kernel_and_gradients():
    g = _rng(2)
    x = torch.randn(6, 2, generator=g, dtype=torch.float64)
    y = torch.randn(5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    lin = lambda a, b: a @ b.T
    got = dv.mmd2(x, y, kernel=lin, unbiased=False)
    # a linear kernel's biased MMD² is the squared distance between the sample means
    assert float(got.detach()) == pytest.approx(float(((x.mean(0) - y.mean(0)) ** 2).sum().detach()), rel=1e-12)
    got.backward()
    assert y.grad is not None and bool(torch.isfinite(y.grad).all())


def test_unbiased_mmd2_is_unbiased_for_gaussians():
    """E[MMD²_u] equals the closed form 2(σ²/(σ²+2))^{1/2}(1 − exp(−μ²/(2(σ²+2)))) between N(0,1)
    and N(μ,1) with k = exp(−(a−b)²/(2σ²)); the biased estimate overshoots by ≈ 2(1 − E k(X,X'))/m."""
    mu, sigma, m, reps = 0.7, 1.0, 5, 4000
    c = math.sqrt(sigma ** 2 / (sigma ** 2 + 2))
    truth = 2 * c * (1 - math.exp(-mu ** 2 / (2 * (sigma ** 2 + 2))))
    g = _rng(3)
    xs = torch.randn(reps, m, 1, generator=g, dtype=torch.float64)
    ys = torch.randn(reps, m, 1, generator=g, dtype=torch.float64) + mu
    u = torch.tensor([float(dv.mmd2(x, y, bandwidths=sigma)) for x, y in zip(xs, ys)])
    b = torch.tensor([float(dv.mmd2(x, y, bandwidths=sigma, unbiased=False)) for x, y in zip(xs, ys)])
    se = float(u.std()) / math.sqrt(reps)
    assert abs(float(u.mean()) - truth) < 4 * se
    bias = 2 * (1 - c) / m
    assert abs(float(b.mean()) - truth - bias) < 4 * float(b.std()) / math.sqrt(reps) + 1e-3
    assert float(b.mean()) - truth > 10 * se        # the V-statistic is visibly biased at m = 5


def test_energy_distance_matches_scipy_squared_in_1d():
    g = _rng(4)
    for m, n in ((20, 20), (13, 31)):
        x = torch.randn(m, generator=g, dtype=torch.float64)
        y = torch.randn(n, generator=g, dtype=torch.float64) * 2 + 0.5
        # scipy returns sqrt(2 E|X−Y| − E|X−X'| − E|Y−Y'|) = sqrt(2) · L2 distance of the CDFs
        ref = stats.energy_distance(x.numpy(), y.numpy()) ** 2
        assert float(dv.energy_distance(x[:, None], y[:, None])) == pytest.approx(ref, rel=1e-9)


def test_energy_distance_brute_force_and_mmd_identity():
    g = _rng(5)
    x = torch.randn(8, 3, generator=g, dtype=torch.float64)
    y = torch.randn(6, 3, generator=g, dtype=torch.float64) + 1.0
    xn, yn = x.numpy(), y.numpy()
    d = lambda a, b: float(np.linalg.norm(a - b))
    exy = np.mean([d(a, b) for a in xn for b in yn])
    for unbiased in (False, True):
        exx = np.mean([d(a, b) for i, a in enumerate(xn) for j, b in enumerate(xn) if not (unbiased and i == j)])
        eyy = np.mean([d(a, b) for i, a in enumerate(yn) for j, b in enumerate(yn) if not (unbiased and i == j)])
        assert float(dv.energy_distance(x, y, unbiased=unbiased)) == pytest.approx(2 * exy - exx - eyy, rel=1e-10)
        # the distance kernel's MMD² is half the energy distance, eq. (ch4-energy-mmd)
        assert float(2 * dv.mmd2(x, y, kernel="distance", unbiased=unbiased)) == pytest.approx(
            2 * exy - exx - eyy, rel=1e-9)


def test_wasserstein1_1d_matches_scipy():
    g = _rng(6)
    for m, n in ((1, 1), (10, 10), (17, 40), (300, 123)):
        x = torch.randn(m, generator=g, dtype=torch.float64)
        y = torch.rand(n, generator=g, dtype=torch.float64) * 3
        assert dv.wasserstein1(x, y) == pytest.approx(stats.wasserstein_distance(x.numpy(), y.numpy()), rel=1e-10)
        assert dv.wasserstein1(x[:, None], y[:, None]) == pytest.approx(dv.wasserstein1(x, y), rel=1e-12)


def test_wasserstein1_2d_matches_pot_emd2():
    ot = pytest.importorskip("ot")
    g = _rng(7)
    for n, d in ((5, 2), (60, 2), (40, 3)):
        x = torch.randn(n, d, generator=g, dtype=torch.float64)
        y = torch.randn(n, d, generator=g, dtype=torch.float64) * 0.5 + 1.0
        cost = ot.dist(x.numpy(), y.numpy(), metric="euclidean")
        w = np.full(n, 1.0 / n)
        assert dv.wasserstein1(x, y) == pytest.approx(float(ot.emd2(w, w, cost)), rel=1e-9)


def test_wasserstein1_of_a_translation_is_the_shift_length():
    """W1(μ, μ + v) = ‖v‖: the coupling x ↦ x + v costs ‖v‖, and the 1-Lipschitz f(x) = ⟨x, v/‖v‖⟩
    shows nothing cheaper exists."""
    g = _rng(8)
    x = torch.randn(50, 2, generator=g, dtype=torch.float64)
    v = torch.tensor([0.3, -0.4], dtype=torch.float64)
    assert dv.wasserstein1(x, x + v) == pytest.approx(0.5, rel=1e-10)


def test_bad_inputs_raise():
    x = torch.randn(5, 2)
    with pytest.raises(ValueError, match="same dimension"):
        dv.mmd2(x, torch.randn(5, 3))
    with pytest.raises(ValueError, match="at least 2"):
        dv.mmd2(x[:1], x)
    with pytest.raises(ValueError, match="kernel"):
        dv.mmd2(x, x, kernel="laplace")
    with pytest.raises(ValueError, match="bandwidths"):
        dv.mmd2(x, x, bandwidths=(1.0, -2.0))
    with pytest.raises(ValueError, match="equal size"):
        dv.wasserstein1(x, torch.randn(4, 2))
    with pytest.raises(ValueError, match="NaN"):
        dv.energy_distance(x, torch.full((3, 2), float("nan")))
    with pytest.raises(TypeError):
        dv.wasserstein1([1.0, 2.0], [0.0])
