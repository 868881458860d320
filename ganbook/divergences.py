"""Divergences and distances in closed form and by numerical integration, used to check the
theory of the book numerically.

Conventions: natural logarithms (nats); KL(p‖q) = ∫ p log(p/q);
JS(p‖q) = ½ KL(p‖m) + ½ KL(q‖m) with m = (p + q)/2, so 0 ≤ JS ≤ log 2.
Chapter 3 adds the f-divergences (one :class:`FDivergence` per divergence, shared with the f-GAN
objectives), exact values between discrete distributions, closed forms between Gaussians,
quadrature, the variational bound and Monte Carlo estimators.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, Union

import torch
import torch.nn.functional as _F

from . import _validate as V
from .data import GaussianMixture

Density = Union[GaussianMixture, Callable[[torch.Tensor], torch.Tensor]]


def kl_gaussian(mu_p: float, sigma_p: float, mu_q: float, sigma_q: float) -> float:
    """Closed form KL(N(μ_p, σ_p²) ‖ N(μ_q, σ_q²)) = log(σ_q/σ_p) + (σ_p² + (μ_p − μ_q)²)/(2σ_q²) − ½."""
    V.finite_float(mu_p, "mu_p")
    V.finite_float(mu_q, "mu_q")
    V.positive_float(sigma_p, "sigma_p")
    V.positive_float(sigma_q, "sigma_q")
    return math.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q) ** 2) / (2 * sigma_q**2) - 0.5


def log_density(p: Density, name: str = "p") -> Callable[[torch.Tensor], torch.Tensor]:
    """The function x ↦ log p(x) for x of shape (n,), in float64, for a 1D mixture or a callable pdf
    (``name`` labels error messages)."""
    if isinstance(p, GaussianMixture):
        if p.dim != 1:
            raise ValueError(f"{name} must be a 1D mixture, got dimension {p.dim}")
        p64 = GaussianMixture(p.means.double().cpu(), p.stds.double().cpu(), p.weights.double().cpu())
        return lambda x: p64.log_prob(x[:, None])
    if callable(p):
        def log_p(x: torch.Tensor) -> torch.Tensor:
            v = V.tensor(p(x), f"{name}(x)", ndim=1)
            if v.shape != x.shape:
                raise ValueError(f"{name}(x) must return one density value per point, shape {tuple(x.shape)}, "
                                 f"got shape {tuple(v.shape)}")
            if bool((v < 0).any()):
                raise ValueError(f"{name}(x) must be a density (non-negative), but it returned negative values")
            return torch.log(v.to(x))
        return log_p
    raise TypeError(f"{name} must be a GaussianMixture or a callable pdf(x), got {type(p).__name__}")


def grid_1d(lo: float, hi: float, n: int = 20001) -> torch.Tensor:
    """An evenly spaced float64 grid on [lo, hi] for trapezoidal integration."""
    lo, hi = V.finite_float(lo, "lo"), V.finite_float(hi, "hi")
    if not lo < hi:
        raise ValueError(f"need lo < hi, got lo={lo}, hi={hi}")
    V.positive_int(n, "n", minimum=3)
    return torch.linspace(lo, hi, n, dtype=torch.float64)


def _xlogy_ratio(lp: torch.Tensor, lq: torch.Tensor) -> torch.Tensor:
    """p log(p/q) pointwise from log-densities, with 0 log 0 = 0."""
    p = lp.exp()
    return torch.where(p > 0, p * (lp - lq), torch.zeros_like(p))


def kl_1d(p: Density, q: Density, lo: float, hi: float, n: int = 20001) -> float:
    """KL(p‖q) for 1D densities by the trapezoidal rule on [lo, hi] (eq. ch1-kl-def)."""
    x = grid_1d(lo, hi, n)
    lp, lq = log_density(p, "p")(x), log_density(q, "q")(x)
    return float(torch.trapezoid(_xlogy_ratio(lp, lq), x))


def js_1d(p: Density, q: Density, lo: float, hi: float, n: int = 20001) -> float:
    """Jensen–Shannon divergence JS(p‖q) in nats for 1D densities, by the trapezoidal rule."""
    x = grid_1d(lo, hi, n)
    lp, lq = log_density(p, "p")(x), log_density(q, "q")(x)
    lm = torch.logaddexp(lp, lq) - math.log(2)
    return float(0.5 * torch.trapezoid(_xlogy_ratio(lp, lm), x) + 0.5 * torch.trapezoid(_xlogy_ratio(lq, lm), x))


def kl_discrete(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p‖q) = Σ p_i log(p_i/q_i) between probability vectors; +inf when p puts mass where q has none."""
    for t, name in ((p, "p"), (q, "q")):
        V.tensor(t, name, ndim=1, min_rows=1)
        if bool((t < 0).any()) or abs(float(t.sum()) - 1) > 1e-6:
            raise ValueError(f"{name} must be a probability vector (non-negative, sums to 1)")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.shape[0]} and {q.shape[0]}")
    p, q = p.double(), q.double()
    if bool(((p > 0) & (q == 0)).any()):
        return math.inf
    nz = p > 0
    return float((p[nz] * torch.log(p[nz] / q[nz])).sum())


def js_discrete(p: torch.Tensor, q: torch.Tensor) -> float:
    """JS(p‖q) = ½ KL(p‖m) + ½ KL(q‖m), m = (p + q)/2, eq. (ch2-js), between probability vectors, in
    nats: finite (at most log 2) even where the supports are disjoint."""
    for t, name in ((p, "p"), (q, "q")):
        V.tensor(t, name, ndim=1, min_rows=1)
    m = (p + q) / 2
    return 0.5 * kl_discrete(p, m) + 0.5 * kl_discrete(q, m)


# ----------------------------------------------------------------------------------------------
# f-divergences (chapter 3)
#
# D_f(P‖Q) = ∫ q(x) f(p(x)/q(x)) dx, eq. (ch3-fdiv), with f convex on [0, ∞) and f(1) = 0.
# Each divergence is described ONCE, by an :class:`FDivergence`: its generator f, the derivative
# f′ (the optimal critic T* = f′(p/q), eq. ch3-tstar), the convex conjugate f* (eq. ch3-conjugate),
# the output activation g_f: ℝ → dom f* and the composition f*(g_f(v)) in a numerically stable
# form. The exact divergences below and the f-GAN objectives (ganbook.objectives.fgan) both read
# these fields, so a formula can never differ between the two.
#
# Boundary conventions (the limits of the perspective q f(p/q)):
#   0·f(0/0) = 0;  q·f(0) where p = 0 < q;  p·f′(∞) where q = 0 < p, with
#   f′(∞) = lim_{u→∞} f(u)/u = sup dom f* (the upper end of the conjugate's domain).
# ----------------------------------------------------------------------------------------------

Tensor = torch.Tensor
_LOG2 = math.log(2.0)


@dataclass(frozen=True)
class FDivergence:
    """One f-divergence with everything the book's table lists, eq. (ch3-fdiv), conjugate
    eq. (ch3-conjugate), activation eq. (ch3-fgan-d): generator ``f``, derivative ``f_prime``,
    conjugate ``f_star``, output activation ``activation`` (g_f), the stable composition ``f_star_of_activation`` (v ↦ f*(g_f(v))),
    f′(1), and the domain of f*.

    All functions act elementwise on tensors. ``f_star`` returns ``inf`` outside its domain.
    ``dom`` = (lower, upper) ends of dom f*; ``dom_closed`` says whether each end belongs to it.
    """

    name: str
    label: str
    f: Callable[[Tensor], Tensor]
    f_prime: Callable[[Tensor], Tensor]
    f_star: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    f_star_of_activation: Callable[[Tensor], Tensor]
    f_prime_1: float
    dom: tuple[float, float]
    dom_closed: tuple[bool, bool]
    tex: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def slope_at_infinity(self) -> float:
        """f′(∞) = lim f(u)/u = sup dom f*: the weight of P's mass where Q has none."""
        return self.dom[1]

    def in_domain(self, t: Tensor) -> Tensor:
        """Boolean mask: which entries of ``t`` lie in dom f*."""
        lo, hi = self.dom
        lo_ok = (t >= lo) if self.dom_closed[0] else (t > lo)
        hi_ok = (t <= hi) if self.dom_closed[1] else (t < hi)
        return lo_ok & hi_ok

    def __repr__(self) -> str:
        return f"FDivergence({self.name!r})"


def _outside_inf(t: Tensor, inside: Tensor, value: Tensor) -> Tensor:
    return torch.where(inside, value, torch.full_like(t, math.inf))


def _safe(t: Tensor, inside: Tensor, fill: float) -> Tensor:
    """t where inside, else a harmless value (so that formulas evaluated off the domain do not
    produce NaN gradients through torch.where)."""
    return torch.where(inside, t, torch.full_like(t, fill))


# -- the generators f(u), u ≥ 0 -----------------------------------------------------------------
def _f_kl(u): return torch.xlogy(u, u)                                           # u log u
def _f_rkl(u): return -torch.log(u)                                              # −log u
def _f_pearson(u): return (u - 1) ** 2                                           # (u − 1)²
def _f_neyman(u): return (1 - u) ** 2 / u                                        # (1 − u)²/u
def _f_hellinger(u): return (torch.sqrt(u) - 1) ** 2                             # (√u − 1)²
def _f_js(u): return 0.5 * (torch.xlogy(u, u) - torch.xlogy(u + 1, (u + 1) / 2))  # ½[u log u − (u+1) log((u+1)/2)]
def _f_gan(u): return torch.xlogy(u, u) - torch.xlogy(u + 1, u + 1)              # u log u − (u+1) log(u+1)
def _f_tv(u): return 0.5 * torch.abs(u - 1)                                      # ½|u − 1|


# -- derivatives f′(u): the optimal critic T*(x) = f′(p(x)/q(x)) ---------------------------------
def _fp_kl(u): return 1 + torch.log(u)
def _fp_rkl(u): return -1 / u
def _fp_pearson(u): return 2 * (u - 1)
def _fp_neyman(u): return 1 - 1 / u ** 2
def _fp_hellinger(u): return 1 - 1 / torch.sqrt(u)
def _fp_js(u): return 0.5 * torch.log(2 * u / (1 + u))
def _fp_gan(u): return torch.log(u / (1 + u))
def _fp_tv(u): return 0.5 * torch.sign(u - 1)                                   # a subgradient (0 at u = 1)


# -- conjugates f*(t) (inf outside dom f*) ----------------------------------------------------------
def _fs_kl(t): return torch.exp(t - 1)


def _fs_rkl(t):
    inside = t < 0
    return _outside_inf(t, inside, -1 - torch.log(-_safe(t, inside, -1.0)))


def _fs_pearson(t): return t ** 2 / 4 + t


def _fs_neyman(t):
    inside = t <= 1
    return _outside_inf(t, inside, 2 - 2 * torch.sqrt(1 - _safe(t, inside, 0.0)))


def _fs_hellinger(t):
    inside = t < 1
    ts = _safe(t, inside, 0.0)
    return _outside_inf(t, inside, ts / (1 - ts))


def _fs_js(t):
    inside = t < 0.5 * _LOG2
    ts = _safe(t, inside, 0.0)
    return _outside_inf(t, inside, -0.5 * torch.log(2 - torch.exp(2 * ts)))


def _fs_gan(t):
    inside = t < 0
    ts = _safe(t, inside, -1.0)
    return _outside_inf(t, inside, -torch.log1p(-torch.exp(ts)))


def _fs_tv(t):
    inside = t.abs() <= 0.5
    return _outside_inf(t, inside, t)


# -- output activations g_f: ℝ → dom f*, and f*(g_f(v)) simplified -------------------------------
def _g_js(v): return 0.5 * (_LOG2 - _F.softplus(-v))             # ½(log 2 − log(1 + e^{−v}))


_TABLE: dict[str, FDivergence] = {}


def _add(d: FDivergence) -> None:
    _TABLE[d.name] = d


_add(FDivergence(
    "kl", "Kullback–Leibler", _f_kl, _fp_kl, _fs_kl,
    activation=lambda v: v, f_star_of_activation=lambda v: torch.exp(v - 1),
    f_prime_1=1.0, dom=(-math.inf, math.inf), dom_closed=(False, False),
    tex=dict(D=r"\int p\log\frac{p}{q}", f=r"u\log u", fstar=r"e^{t-1}", g=r"v", dom=r"\mathbb{R}",
             tstar=r"1+\log\frac{p}{q}")))
_add(FDivergence(
    "reverse_kl", "reverse KL", _f_rkl, _fp_rkl, _fs_rkl,
    activation=lambda v: -torch.exp(-v), f_star_of_activation=lambda v: v - 1,
    f_prime_1=-1.0, dom=(-math.inf, 0.0), dom_closed=(False, False),
    tex=dict(D=r"\int q\log\frac{q}{p}", f=r"-\log u", fstar=r"-1-\log(-t)", g=r"-e^{-v}", dom=r"t<0",
             tstar=r"-\frac{q}{p}")))
_add(FDivergence(
    "pearson", "Pearson χ²", _f_pearson, _fp_pearson, _fs_pearson,
    activation=lambda v: v, f_star_of_activation=lambda v: v ** 2 / 4 + v,
    f_prime_1=0.0, dom=(-math.inf, math.inf), dom_closed=(False, False),
    tex=dict(D=r"\int\frac{(p-q)^2}{q}", f=r"(u-1)^2", fstar=r"\tfrac14 t^2+t", g=r"v", dom=r"\mathbb{R}",
             tstar=r"2\left(\frac{p}{q}-1\right)")))
_add(FDivergence(
    "neyman", "Neyman χ²", _f_neyman, _fp_neyman, _fs_neyman,
    activation=lambda v: 1 - torch.exp(-v), f_star_of_activation=lambda v: 2 - 2 * torch.exp(-v / 2),
    f_prime_1=0.0, dom=(-math.inf, 1.0), dom_closed=(False, True),
    tex=dict(D=r"\int\frac{(p-q)^2}{p}", f=r"\frac{(1-u)^2}{u}", fstar=r"2-2\sqrt{1-t}", g=r"1-e^{-v}",
             dom=r"t\le 1", tstar=r"1-\frac{q^2}{p^2}")))
_add(FDivergence(
    "hellinger", "squared Hellinger", _f_hellinger, _fp_hellinger, _fs_hellinger,
    activation=lambda v: 1 - torch.exp(-v), f_star_of_activation=lambda v: torch.expm1(v),
    f_prime_1=0.0, dom=(-math.inf, 1.0), dom_closed=(False, False),
    tex=dict(D=r"\int(\sqrt p-\sqrt q)^2", f=r"(\sqrt u-1)^2", fstar=r"\frac{t}{1-t}", g=r"1-e^{-v}",
             dom=r"t<1", tstar=r"1-\sqrt{q/p}")))
_add(FDivergence(
    "js", "Jensen–Shannon", _f_js, _fp_js, _fs_js,
    activation=_g_js, f_star_of_activation=lambda v: 0.5 * (_F.softplus(v) - _LOG2),
    f_prime_1=0.0, dom=(-math.inf, 0.5 * _LOG2), dom_closed=(False, False),
    tex=dict(D=r"\tfrac12\int p\log\frac{2p}{p+q}+q\log\frac{2q}{p+q}",
             f=r"\tfrac12\left[u\log u-(u+1)\log\tfrac{u+1}{2}\right]",
             fstar=r"-\tfrac12\log\left(2-e^{2t}\right)", g=r"\tfrac12\left(\log 2-\log(1+e^{-v})\right)",
             dom=r"t<\tfrac12\log 2", tstar=r"\tfrac12\log\frac{2p}{p+q}")))
_add(FDivergence(
    "gan", "GAN (2·JS − log 4)", _f_gan, _fp_gan, _fs_gan,
    activation=lambda v: -_F.softplus(-v), f_star_of_activation=lambda v: _F.softplus(v),
    f_prime_1=-_LOG2, dom=(-math.inf, 0.0), dom_closed=(False, False),
    tex=dict(D=r"\int p\log\frac{p}{p+q}+q\log\frac{q}{p+q}", f=r"u\log u-(u+1)\log(u+1)",
             fstar=r"-\log(1-e^{t})", g=r"-\log(1+e^{-v})", dom=r"t<0", tstar=r"\log\frac{p}{p+q}")))
_add(FDivergence(
    "tv", "total variation", _f_tv, _fp_tv, _fs_tv,
    activation=lambda v: 0.5 * torch.tanh(v), f_star_of_activation=lambda v: 0.5 * torch.tanh(v),
    f_prime_1=0.0, dom=(-0.5, 0.5), dom_closed=(True, True),
    tex=dict(D=r"\tfrac12\int|p-q|", f=r"\tfrac12|u-1|", fstar=r"t", g=r"\tfrac12\tanh v",
             dom=r"|t|\le\tfrac12", tstar=r"\tfrac12\operatorname{sign}\left(\frac{p}{q}-1\right)")))

F_DIVERGENCES: tuple[str, ...] = tuple(_TABLE)
"""Names of the f-divergences of the book, in the order of its table."""


def fdivergence(name: str | FDivergence) -> FDivergence:
    """The :class:`FDivergence` called ``name`` (one of :data:`F_DIVERGENCES`)."""
    if isinstance(name, FDivergence):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name not in _TABLE:
        raise ValueError(f"unknown f-divergence name={name!r}; known: {', '.join(F_DIVERGENCES)}")
    return _TABLE[name]


def f_divergence_integrand(name: str | FDivergence, log_p: Tensor, log_q: Tensor) -> Tensor:
    """The integrand q·f(p/q) of eq. (ch3-fdiv), elementwise from log-densities (broadcast
    together; computed in float64), with the boundary conventions of the module comment:
    integrate it over x (or sum it over atoms) to get D_f(P‖Q). Raises a ValueError where the
    ratio p/q leaves float64's range (|log p/q| > 700) and the result would not be finite."""
    d = fdivergence(name)
    for t, n in ((log_p, "log_p"), (log_q, "log_q")):
        V.tensor(t, n, finite=False)
        if bool(torch.isnan(t).any()):
            raise ValueError(f"{n} contains NaN")
    lp, lq = torch.broadcast_tensors(log_p.double(), log_q.double())
    return _perspective(d, lp, lq)


def _perspective(d: FDivergence, lp: Tensor, lq: Tensor) -> Tensor:
    """q·f(p/q) from log-densities of the same shape (float64); see f_divergence_integrand."""
    p, q = lp.exp(), lq.exp()
    both = (p > 0) & (q > 0)
    l = torch.where(both, lp - lq, torch.zeros_like(lp))
    val = q * d.f(l.exp())
    out = torch.where(both, val, torch.zeros_like(lp))
    bad = both & ~torch.isfinite(val) & (l.abs() > 700)
    if bool(bad.any()):
        raise ValueError("the density ratio p/q leaves float64's range (|log p/q| > 700) where the "
                         "integrand matters; integrate over a narrower interval")
    only_q = (q > 0) & (p == 0)
    if bool(only_q.any()):
        f0 = float(d.f(torch.zeros((), dtype=torch.float64)))
        out = torch.where(only_q, q * f0 if math.isfinite(f0) else torch.full_like(q, math.inf), out)
    only_p = (p > 0) & (q == 0)
    if bool(only_p.any()):
        s = d.slope_at_infinity
        out = torch.where(only_p, p * s if math.isfinite(s) else torch.full_like(p, math.inf), out)
    return out


def f_divergence_1d(p: Density, q: Density, name: str | FDivergence, lo: float, hi: float,
                    n: int = 20001) -> float:
    """D_f(p‖q) = ∫ q f(p/q) dx, eq. (ch3-fdiv), for 1D densities by the trapezoidal rule on
    [lo, hi] in float64. ``p``, ``q``: 1D GaussianMixtures or callables pdf(x). May be ``inf``."""
    d = fdivergence(name)
    x = grid_1d(lo, hi, n)
    with torch.no_grad():
        lp, lq = log_density(p, "p")(x).double(), log_density(q, "q")(x).double()
        integrand = _perspective(d, lp, lq)
    if not bool(torch.isfinite(integrand).all()):
        return math.inf
    return float(torch.trapezoid(integrand, x))


def _probability_vector(t: object, name: str) -> Tensor:
    V.tensor(t, name, ndim=1, min_rows=1)
    if bool((t < 0).any()) or abs(float(t.sum()) - 1) > 1e-6:
        raise ValueError(f"{name} must be a probability vector (non-negative, sums to 1)")
    return t.double()


def f_divergence_discrete(p: Tensor, q: Tensor, name: str | FDivergence) -> float:
    """D_f(p‖q) = Σ_i q_i f(p_i/q_i) between probability vectors, eq. (ch3-fdiv), with the
    conventions 0·f(0/0) = 0, q_i f(0) where p_i = 0, p_i f′(∞) where q_i = 0 (may be ``inf``)."""
    d = fdivergence(name)
    p, q = _probability_vector(p, "p"), _probability_vector(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.shape[0]} and {q.shape[0]}")
    terms = _perspective(d, torch.log(p), torch.log(q))
    return float(terms.sum()) if bool(torch.isfinite(terms).all()) else math.inf


# -- closed forms between 1D Gaussians ----------------------------------------------------------
GAUSSIAN_CLOSED_FORMS: tuple[str, ...] = ("kl", "reverse_kl", "pearson", "neyman", "hellinger", "tv")
"""The f-divergences :func:`f_divergence_gaussian` knows in closed form (JS and GAN have none:
use :func:`f_divergence_1d`)."""


def _chi2_gaussian(mu_p: float, s_p: float, mu_q: float, s_q: float) -> float:
    """Pearson χ²(N_p‖N_q) = ∫ p²/q − 1 = σ_q²/(σ_p √(2σ_q² − σ_p²)) exp(Δ²/(2σ_q² − σ_p²)) − 1,
    finite only when 2σ_q² > σ_p² (otherwise p²/q is not integrable: +inf)."""
    den = 2 * s_q**2 - s_p**2
    if den <= 0:
        return math.inf
    expo = (mu_p - mu_q) ** 2 / den
    if expo > 700:
        return math.inf
    return s_q**2 / (s_p * math.sqrt(den)) * math.exp(expo) - 1


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _tv_gaussian(mu_p: float, s_p: float, mu_q: float, s_q: float) -> float:
    """½∫|p − q| = P(A) − Q(A) with A = {p > q}; A's ends are the real roots of log p = log q."""
    if s_p == s_q:
        return 2 * _normal_cdf(abs(mu_p - mu_q) / (2 * s_p)) - 1
    if s_p > s_q:                                     # make p the narrower one; TV is symmetric
        mu_p, s_p, mu_q, s_q = mu_q, s_q, mu_p, s_p
    # log p − log q = a x² + b x + c, a < 0: positive between the two roots
    a = -0.5 / s_p**2 + 0.5 / s_q**2
    b = mu_p / s_p**2 - mu_q / s_q**2
    c = -0.5 * mu_p**2 / s_p**2 + 0.5 * mu_q**2 / s_q**2 + math.log(s_q / s_p)
    disc = math.sqrt(b * b - 4 * a * c)              # > 0: p > q somewhere because p ≠ q
    r1, r2 = sorted(((-b - disc) / (2 * a), (-b + disc) / (2 * a)))
    mass = lambda m, s: _normal_cdf((r2 - m) / s) - _normal_cdf((r1 - m) / s)
    return mass(mu_p, s_p) - mass(mu_q, s_q)


def f_divergence_gaussian(name: str | FDivergence, mu_p: float, sigma_p: float, mu_q: float,
                          sigma_q: float) -> float:
    """D_f(N(μ_p, σ_p²) ‖ N(μ_q, σ_q²)) in closed form for the names in
    :data:`GAUSSIAN_CLOSED_FORMS`:

    * KL: eq. (ch1-kl-gauss) of chapter 1; reverse KL: the same with the arguments swapped;
    * squared Hellinger: 2 − 2·√(2σ_pσ_q/(σ_p² + σ_q²))·exp(−Δ²/(4(σ_p² + σ_q²)));
    * Pearson χ²: σ_q²/(σ_p√(2σ_q² − σ_p²))·exp(Δ²/(2σ_q² − σ_p²)) − 1 if 2σ_q² > σ_p², else +inf;
      Neyman χ²(P‖Q) = Pearson χ²(Q‖P);
    * total variation: P(A) − Q(A) on A = {p > q}, whose ends solve a quadratic equation.
    """
    d = fdivergence(name)
    V.finite_float(mu_p, "mu_p")
    V.finite_float(mu_q, "mu_q")
    V.positive_float(sigma_p, "sigma_p")
    V.positive_float(sigma_q, "sigma_q")
    mu_p, sigma_p, mu_q, sigma_q = float(mu_p), float(sigma_p), float(mu_q), float(sigma_q)
    if d.name == "kl":
        return kl_gaussian(mu_p, sigma_p, mu_q, sigma_q)
    if d.name == "reverse_kl":
        return kl_gaussian(mu_q, sigma_q, mu_p, sigma_p)
    if d.name == "pearson":
        return _chi2_gaussian(mu_p, sigma_p, mu_q, sigma_q)
    if d.name == "neyman":
        return _chi2_gaussian(mu_q, sigma_q, mu_p, sigma_p)
    if d.name == "hellinger":
        v = sigma_p**2 + sigma_q**2
        bc = math.sqrt(2 * sigma_p * sigma_q / v) * math.exp(-((mu_p - mu_q) ** 2) / (4 * v))
        return 2 - 2 * bc
    if d.name == "tv":
        return _tv_gaussian(mu_p, sigma_p, mu_q, sigma_q)
    raise ValueError(f"no closed form for name={d.name!r} between Gaussians; "
                     f"use f_divergence_1d (known closed forms: {', '.join(GAUSSIAN_CLOSED_FORMS)})")


# -- the variational bound, the optimal critic, Monte Carlo -------------------------------------
def optimal_critic(name: str | FDivergence, log_ratio: Tensor) -> Tensor:
    """T*(x) = f′(p(x)/q(x)) from log p(x)/q(x), eq. (ch3-tstar): the critic at which the
    variational bound (ch3-bound) is tight."""
    d = fdivergence(name)
    V.tensor(log_ratio, "log_ratio", min_rows=1, finite=False)
    if bool(torch.isnan(log_ratio).any()):
        raise ValueError("log_ratio contains NaN")
    return d.f_prime(log_ratio.exp())


def variational_bound(name: str | FDivergence, t_real: Tensor, t_fake: Tensor) -> Tensor:
    """E_P[T] − E_Q[f*(T)], eq. (ch3-bound), estimated from critic values T(x) at samples of P
    (``t_real``, shape (n,)) and of Q (``t_fake``, shape (m,)); T must lie in dom f*.
    Returns a 0-dim tensor (differentiable)."""
    d = fdivergence(name)
    V.tensor(t_real, "t_real", ndim=1, min_rows=1)
    V.tensor(t_fake, "t_fake", ndim=1, min_rows=1)
    if not bool(d.in_domain(t_fake).all()):
        raise ValueError(f"t_fake has values outside dom f* of {d.name!r}; map critic outputs with "
                         f"fdivergence({d.name!r}).activation first")
    return t_real.mean() - d.f_star(t_fake).mean()


@dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo estimate with its standard error (std of the terms / √n)."""

    value: float
    stderr: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.4f} ± {self.stderr:.4f} (n = {self.n})"


def f_divergence_mc(name: str | FDivergence, log_ratio: Tensor, sampled_from: str = "q") -> MCEstimate:
    """Monte Carlo estimate of D_f(P‖Q) from log density ratios log p(x_i)/q(x_i):

    * ``sampled_from="q"`` (x_i ~ Q): D_f = E_Q[f(u)], u = p/q;
    * ``sampled_from="p"`` (x_i ~ P): D_f = E_P[f(u)/u] (importance weights q/p; correct only
      when Q puts no mass where p = 0, which samples of P cannot see).
    """
    d = fdivergence(name)
    if sampled_from not in ("q", "p"):
        raise ValueError(f"sampled_from must be 'q' or 'p', got {sampled_from!r}")
    V.tensor(log_ratio, "log_ratio", ndim=1, min_rows=2)
    l = log_ratio.double()
    terms = d.f(l.exp()) if sampled_from == "q" else d.f(l.exp()) * torch.exp(-l)
    if not bool(torch.isfinite(terms).all()):
        raise ValueError("some terms f(u) are not finite: the ratio leaves float64's range")
    n = terms.numel()
    return MCEstimate(float(terms.mean()), float(terms.std() / math.sqrt(n)), n)


# ================================================================================================
# Chapter 4: integral probability metrics estimated from samples — MMD (eq. ch4-mmd-unbiased),
# energy distance (eq. ch4-energy) and the exact Wasserstein-1 distance of empirical
# distributions (eq. ch4-w1-1d, eq. ch4-w1-assignment). Self-contained: torch, math, _validate.
# The permutation test with a p-value is ganbook.metrics.two_sample.mmd_permutation_test.
# ================================================================================================
KERNELS: tuple[str, ...] = ("gaussian", "polynomial", "distance")
"""Kernels :func:`mmd2` knows by name (a callable k(x, y) -> (m, n) matrix works too)."""


def _samples(x: object, name: str, min_rows: int = 1) -> torch.Tensor:
    V.tensor(x, name, ndim=2, min_rows=min_rows)
    if x.shape[1] < 1:
        raise ValueError(f"{name} must have at least one column, got shape {tuple(x.shape)}")
    return x


def _sample_pair(x: object, y: object, min_rows: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
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
    """(γ xᵢᵀyⱼ + c)^degree, shape (m, n); γ = 1/d by default (the KID kernel for degree 3, c = 1).
    Differentiable and in the inputs' dtype."""
    x, y = _sample_pair(x, y)
    degree = V.positive_int(degree, "degree")
    gamma = 1.0 / x.shape[1] if gamma is None else V.positive_float(gamma, "gamma")
    coef = V.positive_float(coef, "coef", allow_zero=True)
    return (gamma * x @ y.T + coef) ** degree


def distance_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """k(x, y) = ½(‖x‖ + ‖y‖ − ‖x − y‖), shape (m, n): the kernel induced by the Euclidean distance;
    its MMD² is half the energy distance, eq. (ch4-energy-mmd)."""
    x, y = _sample_pair(x, y)
    return 0.5 * (x.norm(dim=1)[:, None] + y.norm(dim=1)[None, :] - pairwise_distances(x, y))


def _kernel_fn(kernel: object, bandwidths, degree, gamma, coef):
    if callable(kernel):
        return kernel
    if kernel == "gaussian":
        return lambda a, b: gaussian_kernel(a, b, bandwidths)
    if kernel == "polynomial":
        return lambda a, b: polynomial_kernel(a, b, degree, gamma, coef)
    if kernel == "distance":
        return distance_kernel
    raise ValueError(f"kernel must be one of {KERNELS} or a callable k(x, y) -> (m, n), got {kernel!r}")


def mmd2_from_kernels(k_xx: torch.Tensor, k_yy: torch.Tensor, k_xy: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """MMD² from the kernel matrices (m, m), (n, n), (m, n), eq. (ch4-mmd-unbiased):

    * unbiased (U-statistic): Σ_{i≠i'} k(xᵢ, xᵢ')/(m(m−1)) + Σ_{j≠j'} k(yⱼ, yⱼ')/(n(n−1)) − 2 Σ k(xᵢ, yⱼ)/(mn);
    * biased (V-statistic, the MMD² of the two empirical distributions, ≥ 0): the same sums with
      the diagonals included, divided by m² and n².
    """
    m, n = k_xx.shape[0], k_yy.shape[0]
    if k_xx.shape != (m, m) or k_yy.shape != (n, n) or k_xy.shape != (m, n):
        raise ValueError(f"kernel matrices must have shapes (m, m), (n, n), (m, n); got {tuple(k_xx.shape)}, "
                         f"{tuple(k_yy.shape)}, {tuple(k_xy.shape)}")
    if unbiased:
        if m < 2 or n < 2:
            raise ValueError(f"the unbiased MMD² needs at least 2 samples on each side, got m = {m}, n = {n}")
        s_xx = (k_xx.sum() - torch.diagonal(k_xx).sum()) / (m * (m - 1))
        s_yy = (k_yy.sum() - torch.diagonal(k_yy).sum()) / (n * (n - 1))
    else:
        s_xx, s_yy = k_xx.mean(), k_yy.mean()
    return s_xx + s_yy - 2 * k_xy.mean()


def mmd2(x: torch.Tensor, y: torch.Tensor, kernel: str | Callable = "gaussian", unbiased: bool = True,
         bandwidths: float | Sequence[float] = 1.0, degree: int = 3, gamma: float | None = None,
         coef: float = 1.0) -> torch.Tensor:
    """The squared maximum mean discrepancy between samples x (m, d) and y (n, d),
    eqs. (ch4-mmd) and (ch4-mmd-unbiased), as a differentiable 0-dim tensor.

    ``kernel``: ``"gaussian"`` (a mixture over ``bandwidths``), ``"polynomial"``
    ((γxᵀy + c)^degree), ``"distance"`` (½(‖x‖ + ‖y‖ − ‖x − y‖), MMD² = energy distance / 2) or a
    callable k(a, b) returning the (len a, len b) kernel matrix. ``unbiased=True`` (default) is the
    U-statistic, whose expectation is the population MMD² (it can be negative);
    ``unbiased=False`` the V-statistic, MMD² between the empirical distributions."""
    x, y = _sample_pair(x, y, min_rows=2 if unbiased else 1)
    k = _kernel_fn(kernel, bandwidths, degree, gamma, coef)
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
