"""Unit tests of ganbook.divergences (kl_gaussian, kl_1d, js_1d, kl_discrete) against independent
references: scipy's quadrature with scipy.stats densities, scipy.stats.entropy,
scipy.spatial.distance.jensenshannon, and values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.spatial.distance import jensenshannon

from ganbook import data, divergences as dv

# ---------------------------------------------------------------- independent references


def _kl_quad(p, q, lo: float, hi: float) -> float:
    """∫ p log(p/q) with scipy.integrate.quad, on log-densities (p, q: scipy frozen distributions)."""
    f = lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x))
    return integrate.quad(f, lo, hi, limit=400, epsabs=1e-12, epsrel=1e-10)[0]


class _Mix:
    """A 1D Gaussian mixture written with scipy.stats only (independent of ganbook.data)."""

    def __init__(self, means, stds, weights):
        self.parts = [stats.norm(m, s) for m, s in zip(means, stds)]
        self.w = list(weights)

    def pdf(self, x):
        return sum(w * c.pdf(x) for w, c in zip(self.w, self.parts))

    def logpdf(self, x):
        return np.log(self.pdf(x))


def _js_quad(p, q, lo: float, hi: float) -> float:
    def half(a, b):
        def f(x):
            pa, pb = a.pdf(x), b.pdf(x)
            return 0.0 if pa == 0 else pa * math.log(2 * pa / (pa + pb))
        return integrate.quad(f, lo, hi, limit=400, epsabs=1e-12, epsrel=1e-10)[0]
    return 0.5 * half(p, q) + 0.5 * half(q, p)


def _torch_pdf(dist):
    """A ganbook-style callable density x (n,) float64 -> (n,) from a scipy frozen distribution."""
    return lambda x: torch.as_tensor(dist.pdf(x.numpy()), dtype=torch.float64)


# ---------------------------------------------------------------- kl_gaussian

@pytest.mark.parametrize("mu_p,s_p,mu_q,s_q", [
    (0.0, 1.0, 1.0, 1.0), (0.0, 1.0, 0.0, 2.0), (0.0, 2.0, 0.0, 1.0),
    (-1.3, 0.4, 2.2, 1.7), (3.0, 2.5, -1.0, 0.6), (0.5, 0.05, 0.0, 1.0),
])
def test_kl_gaussian_matches_quadrature(mu_p, s_p, mu_q, s_q):
    p, q = stats.norm(mu_p, s_p), stats.norm(mu_q, s_q)
    ref = _kl_quad(p, q, mu_p - 40 * s_p, mu_p + 40 * s_p)
    assert dv.kl_gaussian(mu_p, s_p, mu_q, s_q) == pytest.approx(ref, rel=1e-7, abs=1e-10)


def test_kl_gaussian_hand_values():
    # KL(N(0,1) || N(1,1)) = (μ_p − μ_q)² / 2 = 1/2
    assert dv.kl_gaussian(0.0, 1.0, 1.0, 1.0) == pytest.approx(0.5, abs=1e-12)
    # KL(N(0,1) || N(0,2²)) = log 2 + 1/(2·4) − 1/2
    assert dv.kl_gaussian(0.0, 1.0, 0.0, 2.0) == pytest.approx(math.log(2) + 1 / 8 - 0.5, abs=1e-12)
    # KL(N(0,2²) || N(0,1)) = −log 2 + 4/2 − 1/2: the divergence is not symmetric
    assert dv.kl_gaussian(0.0, 2.0, 0.0, 1.0) == pytest.approx(-math.log(2) + 1.5, abs=1e-12)
    assert dv.kl_gaussian(1.7, 0.3, 1.7, 0.3) == pytest.approx(0.0, abs=1e-15)


def test_kl_gaussian_grows_without_bound_as_model_narrows():
    # KL(N(0,1) || N(0,σ²)) = log σ + 1/(2σ²) − 1/2 → ∞ as σ → 0 (the 1/σ² term wins)
    sigmas = [1.0, 0.5, 0.1, 0.01, 0.001]
    vals = [dv.kl_gaussian(0.0, 1.0, 0.0, s) for s in sigmas]
    assert all(b > a for a, b in zip(vals, vals[1:]))
    assert vals[-1] == pytest.approx(math.log(0.001) + 0.5 / 0.001**2 - 0.5, rel=1e-12)
    assert vals[-1] > 4.9e5


@pytest.mark.parametrize("args,exc,word", [
    ((0.0, 0.0, 0.0, 1.0), ValueError, "sigma_p"),
    ((0.0, 1.0, 0.0, -1.0), ValueError, "sigma_q"),
    ((float("nan"), 1.0, 0.0, 1.0), ValueError, "mu_p"),
    ((0.0, 1.0, float("inf"), 1.0), ValueError, "mu_q"),
    (("0", 1.0, 0.0, 1.0), TypeError, "mu_p"),
    ((0.0, True, 0.0, 1.0), TypeError, "sigma_p"),
    ((0.0, 1.0, 0.0, float("inf")), ValueError, "sigma_q"),
])
def test_kl_gaussian_bad_input(args, exc, word):
    with pytest.raises(exc, match=word):
        dv.kl_gaussian(*args)


# ---------------------------------------------------------------- kl_1d

def test_kl_1d_gaussians_matches_closed_form_and_quadrature():
    p, q = data.gaussian_1d(0.3, 0.8), data.gaussian_1d(-1.0, 1.5)
    ref = _kl_quad(stats.norm(0.3, 0.8), stats.norm(-1.0, 1.5), -15, 15)
    got = dv.kl_1d(p, q, -15.0, 15.0)
    assert got == pytest.approx(ref, rel=1e-6)
    assert got == pytest.approx(dv.kl_gaussian(0.3, 0.8, -1.0, 1.5), rel=1e-6)


def test_kl_1d_mixtures_match_quadrature_both_ways():
    means, stds, w = [-2.0, 1.5], [0.5, 0.8], [0.3, 0.7]
    p = data.mixture(means, stds, w)
    q = data.gaussian_1d(0.2, 1.9)
    ps, qs = _Mix(means, stds, w), stats.norm(0.2, 1.9)
    assert dv.kl_1d(p, q, -15.0, 15.0) == pytest.approx(_kl_quad(ps, qs, -15, 15), rel=1e-6)
    assert dv.kl_1d(q, p, -15.0, 15.0) == pytest.approx(_kl_quad(qs, ps, -15, 15), rel=1e-6)


def test_kl_1d_accepts_callable_densities():
    ps, qs = stats.t(df=5), stats.norm(0.0, 1.3)       # heavy-tailed data, Gaussian model
    got = dv.kl_1d(_torch_pdf(ps), _torch_pdf(qs), -30.0, 30.0, n=60001)
    assert got == pytest.approx(_kl_quad(ps, qs, -30, 30), rel=1e-5)


def test_kl_1d_infinite_when_p_has_mass_where_q_has_none():
    # p = U[0, 1], q = U[0.5, 1.5]: p puts mass 1/2 on [0, 0.5) where q = 0
    u = lambda a, b: (lambda x: ((x >= a) & (x <= b)).double() / (b - a))
    assert dv.kl_1d(u(0.0, 1.0), u(0.5, 1.5), -1.0, 3.0) == math.inf
    # the other way round q = U[0, 2] covers p: KL(U[0,1] || U[0,2]) = log 2 (up to the grid's
    # treatment of the two jumps of p, of order the grid step)
    assert dv.kl_1d(u(0.0, 1.0), u(0.0, 2.0), -1.0, 3.0, n=40001) == pytest.approx(math.log(2), abs=1e-3)


@pytest.mark.parametrize("kwargs,exc,word", [
    (dict(lo=1.0, hi=1.0), ValueError, "lo"),
    (dict(lo=2.0, hi=-2.0), ValueError, "lo"),
    (dict(lo=-2.0, hi=2.0, n=2), ValueError, "n"),
    (dict(lo=-2.0, hi=2.0, n=10.5), TypeError, "n"),
    (dict(lo=float("nan"), hi=2.0), ValueError, "lo"),
])
def test_kl_1d_bad_grid(kwargs, exc, word):
    p = data.gaussian_1d()
    with pytest.raises(exc, match=word):
        dv.kl_1d(p, p, **kwargs)


def test_kl_1d_bad_densities():
    p = data.gaussian_1d()
    with pytest.raises(ValueError, match="p must be a 1D mixture"):
        dv.kl_1d(data.ring(), p, -3.0, 3.0)
    with pytest.raises(TypeError, match="q must be"):
        dv.kl_1d(p, 3.0, -3.0, 3.0)
    with pytest.raises(ValueError, match=r"q\(x\).*non-negative"):
        dv.kl_1d(p, lambda x: -torch.ones_like(x), -3.0, 3.0)
    with pytest.raises(ValueError, match=r"q\(x\).*shape"):
        dv.kl_1d(p, lambda x: torch.ones(5, dtype=torch.float64), -3.0, 3.0)
    with pytest.raises(TypeError, match=r"p\(x\)"):
        dv.js_1d(lambda x: x.numpy(), p, -3.0, 3.0)


# ---------------------------------------------------------------- js_1d

@pytest.mark.parametrize("mp,sp,mq,sq", [(0.0, 1.0, 1.0, 1.0), (0.0, 1.0, 0.0, 3.0), (-2.0, 0.3, 2.0, 0.5)])
def test_js_1d_matches_quadrature(mp, sp, mq, sq):
    got = dv.js_1d(data.gaussian_1d(mp, sp), data.gaussian_1d(mq, sq), -20.0, 20.0)
    ref = _js_quad(stats.norm(mp, sp), stats.norm(mq, sq), -20, 20)
    assert got == pytest.approx(ref, rel=1e-6, abs=1e-9)
    assert 0.0 <= got <= math.log(2)


def test_js_1d_matches_scipy_jensenshannon_on_a_fine_grid():
    # scipy returns the Jensen–Shannon *distance* (square root), base e by default
    means, stds, w = [-1.0, 2.0], [0.4, 0.9], [0.5, 0.5]
    p, q = data.mixture(means, stds, w), data.gaussian_1d(0.5, 1.2)
    x = np.linspace(-10, 10, 200001)
    pw, qw = _Mix(means, stds, w).pdf(x), stats.norm(0.5, 1.2).pdf(x)
    ref = jensenshannon(pw, qw) ** 2          # normalises the weights itself
    assert dv.js_1d(p, q, -10.0, 10.0) == pytest.approx(ref, rel=1e-5)


def test_js_1d_symmetric_zero_and_log2():
    p, q = data.gaussian_1d(0.0, 1.0), data.gaussian_1d(1.5, 0.7)
    assert dv.js_1d(p, q, -12.0, 12.0) == pytest.approx(dv.js_1d(q, p, -12.0, 12.0), rel=1e-12)
    assert dv.js_1d(p, p, -12.0, 12.0) == pytest.approx(0.0, abs=1e-12)
    # disjoint supports: JS = log 2 exactly (the grid only blurs the jumps, by O(grid step))
    u = lambda a, b: (lambda x: ((x >= a) & (x <= b)).double() / (b - a))
    assert dv.js_1d(u(0.0, 1.0), u(2.0, 3.0), -1.0, 4.0, n=50001) == pytest.approx(math.log(2), abs=1e-3)
    # two far-apart narrow Gaussians are numerically disjoint
    assert dv.js_1d(data.gaussian_1d(-5.0, 0.1), data.gaussian_1d(5.0, 0.1), -8.0, 8.0) == pytest.approx(
        math.log(2), abs=1e-9)


# ---------------------------------------------------------------- kl_discrete

@pytest.mark.parametrize("seed,k", [(0, 2), (1, 5), (2, 50)])
def test_kl_discrete_matches_scipy_entropy(seed, k):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
    got = dv.kl_discrete(torch.tensor(p), torch.tensor(q))
    assert got == pytest.approx(stats.entropy(p, q), rel=1e-10)


def test_kl_discrete_hand_values_and_zeros():
    # KL(Bern(1/2) || Bern(1/4)) = ½ log 2 + ½ log(2/3) = ½ log(4/3)
    p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.75, 0.25])
    assert dv.kl_discrete(p, q) == pytest.approx(0.5 * math.log(4 / 3), abs=1e-7)
    # zeros of p contribute nothing (0 log 0 = 0): KL((1/2,1/2,0) || (1/4,1/4,1/2)) = log 2
    p0, q0 = torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.25, 0.25, 0.5])
    assert dv.kl_discrete(p0, q0) == pytest.approx(math.log(2), abs=1e-7)
    assert dv.kl_discrete(p0, q0) == pytest.approx(stats.entropy(p0.numpy(), q0.numpy()), abs=1e-7)
    assert dv.kl_discrete(q0, q0) == 0.0


def test_kl_discrete_infinite_off_support():
    p, q = torch.tensor([0.5, 0.5, 0.0]), torch.tensor([0.0, 0.5, 0.5])
    assert dv.kl_discrete(p, q) == math.inf
    assert stats.entropy(p.numpy(), q.numpy()) == math.inf
    # q having mass where p has none is harmless for KL(p || q)
    assert math.isfinite(dv.kl_discrete(torch.tensor([0.0, 1.0, 0.0]), q))


def test_kl_discrete_bad_input():
    ok = torch.tensor([0.5, 0.5])
    with pytest.raises(TypeError, match="p"):
        dv.kl_discrete([0.5, 0.5], ok)
    with pytest.raises(TypeError, match="q"):
        dv.kl_discrete(ok, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="p"):
        dv.kl_discrete(torch.full((2, 2), 0.25), torch.full((2, 2), 0.25))
    with pytest.raises(ValueError, match="q must be a probability vector"):
        dv.kl_discrete(ok, torch.tensor([1.5, -0.5]))
    with pytest.raises(ValueError, match="p must be a probability vector"):
        dv.kl_discrete(torch.tensor([0.5, 0.6]), ok)
    with pytest.raises(ValueError, match="same length"):
        dv.kl_discrete(ok, torch.tensor([0.2, 0.3, 0.5]))
    with pytest.raises(ValueError, match="q contains NaN"):
        dv.kl_discrete(ok, torch.tensor([float("nan"), 0.5]))
    with pytest.raises(ValueError, match="p"):
        dv.kl_discrete(torch.tensor([]), torch.tensor([]))
