"""Checks for the exercises of chapter 6b (spectral normalisation).

* :func:`power_step` — one step of the power iteration, eq. (ch6-power-iteration): from the left vector
  u, v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖, and the estimate σ = uᵀWv of the largest singular value.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..spectral import power_iteration
from ._core import CheckFailed, compare, learners, returned


def _cases(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Random matrices of several shapes (tall, wide, a row, a column) and unit vectors u."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for m, n in ((5, 3), (3, 7), (1, 4), (4, 1), (6, 6)):
        w = torch.randn(m, n, generator=g, dtype=torch.float64)
        u = torch.randn(m, generator=g, dtype=torch.float64)
        cases.append((w, u / u.norm()))
    return cases


def _flat(result: object, name: str) -> torch.Tensor:
    """(σ, u) → one vector [σ, u₁, …, u_m], so that the engine compares both at once."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed(f"{name}: your function should return a pair (sigma, u_new), got {type(result).__name__}"
                          + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    sigma, u = (torch.as_tensor(r, dtype=torch.float64).detach() for r in result)
    if sigma.numel() != 1:
        raise CheckFailed(f"{name}: sigma should be a number, got a tensor of shape {tuple(sigma.shape)}")
    return torch.cat([sigma.reshape(1), u.reshape(-1)])


def _reference(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    sigma, u_new, _ = power_iteration(w, u, n_iter=1)
    return torch.cat([sigma.reshape(1), u_new])


def _sigma_before_update(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """σ = ‖Wᵀu‖ (uᵀWv with the OLD u): the estimate before the second half-step."""
    sigma, u_new, _ = power_iteration(w, u, n_iter=1)
    return torch.cat([(w.t() @ u).norm().reshape(1), u_new])


def _unnormalised_u(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    sigma, _, v = power_iteration(w, u, n_iter=1)
    return torch.cat([sigma.reshape(1), w @ v])


def _frobenius(w: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    _, u_new, _ = power_iteration(w, u, n_iter=1)
    return torch.cat([torch.linalg.matrix_norm(w).reshape(1), u_new])


def power_step(fn: Callable, *, quiet: bool = False) -> str:
    """Check ``fn(W, u) -> (sigma, u_new)``, one step of eq. (ch6-power-iteration) from the unit vector
    u (shape (m,)) for W of shape (m, n): v = Wᵀu/‖Wᵀu‖, u_new = Wv/‖Wv‖, sigma = u_newᵀWv."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    name = "power_step"
    learners(fn, name)
    wrapped = lambda w, u: _flat(returned(fn(w, u), name), name)        # noqa: E731
    return compare(wrapped, _reference, _cases(), name=name, arg_names=("W", "u"), atol=1e-8, rtol=1e-6,
                   mistakes={"σ = ‖Wᵀu‖, taken before u is updated (use the new u: σ = uᵀWv = ‖Wv‖)":
                             _sigma_before_update,
                             "an unnormalised u (divide Wv by its norm)": _unnormalised_u,
                             "the Frobenius norm of W instead of the power-iteration estimate": _frobenius},
                   quiet=quiet)
