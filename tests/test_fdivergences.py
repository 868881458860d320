"""f-divergences of chapter 3 against independent references: scipy.stats.entropy,
scipy.spatial.distance.jensenshannon, scipy.stats.power_divergence, scipy.integrate.quad of
the definitions, and numerical maximisation of t·u − f(u) for the conjugates."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize, stats
from scipy.spatial.distance import jensenshannon

from ganbook import data
from ganbook import divergences as dv

NAMES = dv.F_DIVERGENCES
LOG4 = math.log(4)


def _t(x):
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


# -- discrete distributions ------------------------------------------------------------------
def _discrete_reference(name, p, q):
    """D_f(p‖q) from scipy, independently of ganbook."""
    pd = lambda lam: float(stats.power_divergence(p, q, lambda_=lam).statistic)
    return {
        "kl": float(stats.entropy(p, q)),
        "reverse_kl": float(stats.entropy(q, p)),
        "pearson": pd("pearson"),                     # Σ (p − q)²/q
        "neyman": pd("neyman"),                       # Σ (p − q)²/p
        "hellinger": pd("freeman-tukey") / 4,         # 4 Σ (√p − √q)²
        "js": float(jensenshannon(p, q)) ** 2,        # jensenshannon is the square root of JS (nats)
        "gan": 2 * float(jensenshannon(p, q)) ** 2 - LOG4,
        "tv": 0.5 * float(np.abs(p - q).sum()),
    }[name]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discrete_matches_scipy(name, seed):
    rng = np.random.default_rng(seed)
    k = [3, 10, 50][seed]
    p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k) * 2)
    got = dv.f_divergence_discrete(_t(p), _t(q), name)
    assert got == pytest.approx(_discrete_reference(name, p, q), rel=1e-9, abs=1e-12)


def test_discrete_identical_is_zero_except_gan():
    p = _t([0.2, 0.3, 0.5])
    for name in NAMES:
        expected = -LOG4 if name == "gan" else 0.0          # the GAN generator has f(1) = −log 4
        assert dv.f_divergence_discrete(p, p, name) == pytest.approx(expected, abs=1e-12)


def test_discrete_support_conventions():
    """p puts mass where q has none and vice versa: KL, reverse KL, χ² are infinite; JS, TV,
    Hellinger finite, with the values the definitions give (checked against scipy)."""
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])
    for name in ("kl", "reverse_kl", "pearson", "neyman"):
        assert dv.f_divergence_discrete(_t(p), _t(q), name) == math.inf
    assert dv.f_divergence_discrete(_t(p), _t(q), "tv") == pytest.approx(0.5)
    assert dv.f_divergence_discrete(_t(p), _t(q), "hellinger") == pytest.approx(2 * (1 - 0.5), abs=1e-12)
    assert dv.f_divergence_discrete(_t(p), _t(q), "js") == pytest.approx(float(jensenshannon(p, q)) ** 2, abs=1e-12)
    assert float(stats.entropy(p, q)) == math.inf      # the reference agrees that KL is infinite
    # disjoint supports: JS = log 2, TV = 1, Hellinger = 2
    a, b = _t([1.0, 0.0]), _t([0.0, 1.0])
    assert dv.f_divergence_discrete(a, b, "js") == pytest.approx(math.log(2))
    assert dv.f_divergence_discrete(a, b, "tv") == pytest.approx(1.0)
    assert dv.f_divergence_discrete(a, b, "hellinger") == pytest.approx(2.0)


def test_integrand_sums_to_the_divergence_and_broadcasts():
    rng = np.random.default_rng(4)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    for name in NAMES:
        terms = dv.f_divergence_integrand(name, torch.log(_t(p)), torch.log(_t(q)))
        assert float(terms.sum()) == pytest.approx(_discrete_reference(name, p, q), rel=1e-9, abs=1e-12)
    lp = torch.log(_t(p))[None, :]                                # (1, 7) against (3, 1): (3, 7)
    lq = torch.log(_t([[0.1], [0.2], [0.3]]))
    assert dv.f_divergence_integrand("tv", lp, lq).shape == (3, 7)
    with pytest.raises(ValueError, match="log_q contains NaN"):
        dv.f_divergence_integrand("kl", lp, torch.tensor([float("nan")], dtype=torch.float64))
    with pytest.raises(TypeError, match="log_p must be a torch.Tensor"):
        dv.f_divergence_integrand("kl", [0.0], lq)


def test_kl_discrete_still_agrees():
    rng = np.random.default_rng(5)
    p, q = rng.dirichlet(np.ones(6)), rng.dirichlet(np.ones(6))
    assert dv.kl_discrete(_t(p), _t(q)) == pytest.approx(dv.f_divergence_discrete(_t(p), _t(q), "kl"), rel=1e-12)


# -- 1D densities: closed forms and quadrature against scipy.integrate.quad ----------------------
def _integrand(name):
    """The definition of each divergence from the two log-densities (a = log p, b = log q)."""
    e = math.exp
    lse = lambda a, b: max(a, b) + math.log1p(math.exp(-abs(a - b)))
    return {
        "kl": lambda a, b: e(a) * (a - b),
        "reverse_kl": lambda a, b: e(b) * (b - a),
        "pearson": lambda a, b: e(b) * (e(a - b) - 1) ** 2,          # (p − q)²/q
        "neyman": lambda a, b: e(a) * (e(b - a) - 1) ** 2,           # (p − q)²/p
        "hellinger": lambda a, b: (e(a / 2) - e(b / 2)) ** 2,
        "js": lambda a, b: 0.5 * (e(a) * (math.log(2) + a - lse(a, b)) + e(b) * (math.log(2) + b - lse(a, b))),
        "gan": lambda a, b: e(a) * (a - lse(a, b)) + e(b) * (b - lse(a, b)),
        "tv": lambda a, b: 0.5 * abs(e(a) - e(b)),
    }[name]


def _quad(name, logpdf_p, logpdf_q, lo, hi):
    h = _integrand(name)
    return integrate.quad(lambda x: h(logpdf_p(x), logpdf_q(x)), lo, hi, limit=400, epsabs=1e-11, epsrel=1e-10)[0]


GAUSS_PAIRS = [(0.0, 1.0, 1.0, 1.2), (0.0, 1.0, 0.0, 1.0 + 1e-9), (-1.0, 0.8, 0.5, 0.9),
               (1.0, 1.3, -0.5, 1.1), (0.3, 0.5, 0.0, 0.5)]


@pytest.mark.parametrize("pair", GAUSS_PAIRS)
@pytest.mark.parametrize("name", dv.GAUSSIAN_CLOSED_FORMS)
def test_gaussian_closed_forms_match_quad(name, pair):
    mp, sp, mq, sq = pair
    ref = _quad(name, stats.norm(mp, sp).logpdf, stats.norm(mq, sq).logpdf, -30, 30)
    assert dv.f_divergence_gaussian(name, mp, sp, mq, sq) == pytest.approx(ref, rel=1e-7, abs=1e-9)


def test_chi2_between_gaussians_is_infinite_when_variances_forbid():
    """∫ p²/q diverges when σ_q² ≤ σ_p²/2 (Pearson), ∫ q²/p when σ_p² ≤ σ_q²/2 (Neyman)."""
    assert dv.f_divergence_gaussian("pearson", 0, 1.0, 0, 0.7) == math.inf      # 2·0.49 < 1
    assert math.isfinite(dv.f_divergence_gaussian("pearson", 0, 1.0, 0, 0.72))  # 2·0.5184 > 1
    assert dv.f_divergence_gaussian("neyman", 0, 0.7, 0, 1.0) == math.inf
    assert math.isfinite(dv.f_divergence_gaussian("neyman", 0, 1.0, 0, 0.7))
    # the quadrature on a growing interval keeps growing (no finite limit)
    p, q = data.gaussian_1d(0, 1.0), data.gaussian_1d(0, 0.6)
    vals = [dv.f_divergence_1d(p, q, "pearson", -L, L) for L in (5, 6, 7)]
    assert vals[0] < vals[1] < vals[2] and vals[2] > 10 * vals[0]


def test_tv_equal_variances_has_the_textbook_form():
    """TV(N(0, σ²), N(Δ, σ²)) = 2Φ(Δ/(2σ)) − 1."""
    assert dv.f_divergence_gaussian("tv", 0, 2.0, 3.0, 2.0) == pytest.approx(2 * stats.norm.cdf(3 / 4) - 1, rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_quadrature_matches_scipy_quad(name):
    p = data.mixture([-2.0, 1.5], [0.6, 0.9], [0.3, 0.7])
    q = data.gaussian_1d(0.5, 1.0)                      # both χ² finite: 2·0.9² > 1², 2·1² > 0.9²
    logpdf_p = lambda x: np.logaddexp(math.log(0.3) + stats.norm.logpdf(x, -2, 0.6),
                                      math.log(0.7) + stats.norm.logpdf(x, 1.5, 0.9))
    ref = _quad(name, logpdf_p, stats.norm(0.5, 1.0).logpdf, -14, 16)
    got = dv.f_divergence_1d(p, q, name, -14, 16, n=40001)
    assert got == pytest.approx(ref, rel=1e-6, abs=1e-8)


def test_quadrature_agrees_with_chapter1_functions():
    p, q = data.gaussian_1d(0, 1), data.mixture([-1.0, 2.0], [0.5, 1.0])
    assert dv.f_divergence_1d(p, q, "kl", -12, 12) == pytest.approx(dv.kl_1d(p, q, -12, 12), rel=1e-10)
    assert dv.f_divergence_1d(p, q, "js", -12, 12) == pytest.approx(dv.js_1d(p, q, -12, 12), rel=1e-10)
    gan = dv.f_divergence_1d(p, q, "gan", -12, 12)
    assert gan == pytest.approx(2 * dv.js_1d(p, q, -12, 12) - LOG4, rel=1e-9)


def test_quadrature_accepts_callables_and_disjoint_supports():
    """Uniform densities on [0, 1] and [2, 3]: JS = log 2, TV = 1, KL = inf."""
    u1 = lambda x: ((x >= 0) & (x <= 1)).double()
    u2 = lambda x: ((x >= 2) & (x <= 3)).double()
    assert dv.f_divergence_1d(u1, u2, "js", -1, 4, n=50001) == pytest.approx(math.log(2), rel=1e-3)
    assert dv.f_divergence_1d(u1, u2, "tv", -1, 4, n=50001) == pytest.approx(1.0, rel=1e-3)
    assert dv.f_divergence_1d(u1, u2, "kl", -1, 4) == math.inf


# -- conjugates, activations, the optimal critic ----------------------------------------------
def _numerical_conjugate(d, t):
    """sup_{u ≥ 0} t·u − f(u) by bounded scalar maximisation over s = log u, plus the end u = 0."""
    f = lambda u: float(d.f(torch.tensor(u, dtype=torch.float64)))
    res = optimize.minimize_scalar(lambda s: -(t * math.exp(s) - f(math.exp(s))), bounds=(-25, 12),
                                   method="bounded", options={"xatol": 1e-12, "maxiter": 2000})
    best = -res.fun
    f0 = f(0.0)
    return max(best, -f0) if math.isfinite(f0) else best


@pytest.mark.parametrize("name", NAMES)
def test_conjugates_by_numerical_maximisation(name):
    """f*(t) = sup_u t·u − f(u) on the range of g_f. Where t lies outside f′((0, ∞)) — only for
    Pearson (t < −2) and TV (the ends) — the table's f* is the conjugate of f extended to u < 0,
    which can only be larger: the bound stays valid, and is tight at T* = f′(p/q)."""
    d = dv.fdivergence(name)
    ts = d.activation(torch.linspace(-3.5, 3.5, 29, dtype=torch.float64))
    for t in ts.tolist():
        num = _numerical_conjugate(d, t)
        table = float(d.f_star(torch.tensor(t, dtype=torch.float64)))
        if name == "pearson" and t < -2:
            assert num == pytest.approx(-1.0, abs=1e-9) and table > num     # u = 0 is optimal
        else:
            assert table == pytest.approx(num, rel=1e-7, abs=1e-8), (name, t)


@pytest.mark.parametrize("name", NAMES)
def test_fenchel_young_inequality_and_equality(name):
    """f(u) + f*(t) ≥ t·u for all u ≥ 0, t ∈ dom f*, with equality at t = f′(u) (eq. ch3-fenchel-young)."""
    d = dv.fdivergence(name)
    g = torch.Generator().manual_seed(7)
    u = torch.rand(400, generator=g, dtype=torch.float64) * 6 + 1e-3
    t = d.activation(torch.randn(400, generator=g, dtype=torch.float64) * 3)
    assert bool((d.f(u) + d.f_star(t) - t * u >= -1e-12).all())
    tu = d.f_prime(u)
    ok = d.in_domain(tu)                                     # TV's ±½ are in its closed domain
    assert bool(ok.all())
    assert torch.allclose(d.f(u) + d.f_star(tu), tu * u, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_activation_range_lies_in_dom_fstar(name):
    d = dv.fdivergence(name)
    v = torch.linspace(-30, 30, 2001, dtype=torch.float64)
    t = d.activation(v)
    assert bool(d.in_domain(t).all()) and bool(torch.isfinite(d.f_star(t)).all())
    assert bool((torch.diff(t) >= 0).all())                   # increasing: larger score = "more real"
    lo, hi = d.dom                                            # and it reaches (almost) the whole domain
    assert float(t.max()) > min(hi, 1e6) - 1e-6 if math.isfinite(hi) else float(t.max()) >= 30 - 1e-9
    assert float(t.min()) < (lo + 1e-6 if math.isfinite(lo) else -10)
    # outside the domain the conjugate is +inf
    if math.isfinite(hi):
        assert float(d.f_star(torch.tensor(hi + 0.1, dtype=torch.float64))) == math.inf


@pytest.mark.parametrize("name", NAMES)
def test_stable_composition_equals_conjugate_of_activation(name):
    d = dv.fdivergence(name)
    v = torch.linspace(-6, 6, 241, dtype=torch.float64)
    assert torch.allclose(d.f_star_of_activation(v), d.f_star(d.activation(v)), rtol=1e-9, atol=1e-10)


def test_f_prime_1_and_f_of_1():
    for name in NAMES:
        d = dv.fdivergence(name)
        one = torch.tensor(1.0, dtype=torch.float64)
        h = 1e-6
        if name != "tv":                                    # |u − 1| has no derivative at 1
            numeric = float((d.f(one + h) - d.f(one - h)) / (2 * h))
            assert numeric == pytest.approx(d.f_prime_1, abs=1e-6)
            assert float(d.f_prime(one)) == pytest.approx(d.f_prime_1, abs=1e-12)
        expected_f1 = -LOG4 if name == "gan" else 0.0
        assert float(d.f(one)) == pytest.approx(expected_f1, abs=1e-15)
    assert dv.fdivergence("gan").f_prime_1 == pytest.approx(-math.log(2))


@pytest.mark.parametrize("pair", GAUSS_PAIRS[:1] + GAUSS_PAIRS[2:4])
@pytest.mark.parametrize("name", NAMES)
def test_bound_is_tight_at_optimal_critic(name, pair):
    """∫ p T* − q f*(T*) with T* = f′(p/q) equals the divergence (quad of the definition), and a
    perturbed critic gives strictly less (eq. ch3-bound)."""
    mp, sp, mq, sq = pair
    d = dv.fdivergence(name)
    P, Q = stats.norm(mp, sp), stats.norm(mq, sq)

    def bound(shift):
        def fn(x):
            lr = torch.tensor(P.logpdf(x) - Q.logpdf(x), dtype=torch.float64)
            t = dv.optimal_critic(name, lr.reshape(1))
            if name == "tv":                                # move inside [−½, ½]
                t = t * (1 - abs(shift))
            else:
                t = t + shift
            fs = float(d.f_star(t))
            return P.pdf(x) * float(t) - Q.pdf(x) * fs if math.isfinite(fs) else -math.inf
        return integrate.quad(fn, lo, hi, limit=400, points=[mp, mq])[0]

    # ±10 standard deviations: beyond, T* rounds onto the edge of dom f* in float64
    lo, hi = min(mp, mq) - 10 * max(sp, sq), max(mp, mq) + 10 * max(sp, sq)
    ref = _quad(name, P.logpdf, Q.logpdf, lo, hi)
    assert bound(0.0) == pytest.approx(ref, rel=1e-6, abs=1e-8)
    worse = bound(-0.05)
    assert worse < ref - 1e-5


# -- bad input ---------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors():
    p = _t([0.5, 0.5])
    with pytest.raises(ValueError, match="name='chi'"):
        dv.fdivergence("chi")
    with pytest.raises(TypeError, match="name"):
        dv.fdivergence(3)
    with pytest.raises(ValueError, match="probability vector"):
        dv.f_divergence_discrete(_t([0.5, 0.6]), p, "kl")
    with pytest.raises(ValueError, match="same length"):
        dv.f_divergence_discrete(_t([0.2, 0.3, 0.5]), p, "kl")
    with pytest.raises(TypeError, match="p must be a torch.Tensor"):
        dv.f_divergence_discrete([0.5, 0.5], p, "kl")
    with pytest.raises(ValueError, match="sigma_q"):
        dv.f_divergence_gaussian("kl", 0, 1, 0, 0)
    with pytest.raises(ValueError, match="no closed form"):
        dv.f_divergence_gaussian("js", 0, 1, 0, 2)
    with pytest.raises(ValueError, match="lo < hi"):
        dv.f_divergence_1d(data.gaussian_1d(), data.gaussian_1d(), "kl", 1, -1)
    with pytest.raises(ValueError, match="float64's range"):
        dv.f_divergence_1d(data.gaussian_1d(0, 1), data.gaussian_1d(0, 0.01), "kl", -5, 5)
