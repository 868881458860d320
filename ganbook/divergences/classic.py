"""Chapter 1 (and 2): the Kullback–Leibler and Jensen–Shannon divergences in closed form between
Gaussians, by the trapezoidal rule between 1D densities, and exactly between probability vectors.

Conventions: natural logarithms (nats); KL(p‖q) = ∫ p log(p/q), eq. (ch1-kl-def);
JS(p‖q) = ½ KL(p‖m) + ½ KL(q‖m) with m = (p + q)/2, eq. (ch2-js), so 0 ≤ JS ≤ log 2.
"""
from __future__ import annotations

import math
from typing import Callable, Union

import torch

from .. import _validate as V
from ..data import GaussianMixture

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


def _probability_vector(t: object, name: str) -> torch.Tensor:
    """Check that ``t`` is a probability vector (1D, non-negative, sums to 1); return it in float64."""
    V.tensor(t, name, ndim=1, min_rows=1)
    if bool((t < 0).any()) or abs(float(t.sum()) - 1) > 1e-6:
        raise ValueError(f"{name} must be a probability vector (non-negative, sums to 1)")
    return t.double()


def kl_discrete(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p‖q) = Σ p_i log(p_i/q_i) between probability vectors; +inf when p puts mass where q has none."""
    p, q = _probability_vector(p, "p"), _probability_vector(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same length, got {p.shape[0]} and {q.shape[0]}")
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
