"""Chapter 3: the f-divergences, one :class:`FDivergence` per divergence (shared with the f-GAN
objectives), their exact values between discrete distributions, by quadrature between 1D
densities, in closed form between Gaussians, and the optimal critic.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as _F

from .. import _validate as V
from .classic import Density, _probability_vector, grid_1d, kl_gaussian, log_density

# ----------------------------------------------------------------------------------------------
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


def fdivergence(name: str | FDivergence, arg: str = "name") -> FDivergence:
    """The :class:`FDivergence` called ``name`` (one of :data:`F_DIVERGENCES`), or ``name`` itself if it
    is one; errors name the caller's argument ``arg``."""
    if isinstance(name, FDivergence):
        return name
    if not isinstance(name, str):
        raise TypeError(f"{arg} must be an FDivergence or a name (str), got {type(name).__name__}")
    if name not in _TABLE:
        raise ValueError(f"unknown f-divergence {arg}={name!r}; known: {', '.join(F_DIVERGENCES)}")
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


# -- the optimal critic --------------------------------------------------------------------------
def optimal_critic(name: str | FDivergence, log_ratio: Tensor) -> Tensor:
    """T*(x) = f′(p(x)/q(x)) from log p(x)/q(x), eq. (ch3-tstar): the critic at which the
    variational bound (ch3-bound) is tight."""
    d = fdivergence(name)
    V.tensor(log_ratio, "log_ratio", min_rows=1, finite=False)
    if bool(torch.isnan(log_ratio).any()):
        raise ValueError("log_ratio contains NaN")
    return d.f_prime(log_ratio.exp())

