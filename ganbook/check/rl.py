"""Checks for the exercises of chapter 16 (GANs and reinforcement learning).

* :func:`soft_value_iteration` — the finite-horizon soft Bellman recursion, eq. (ch16-soft-vi):
  V_T = 0, Q_t(s, a) = r(s, a) + Σ_s' P(s'|s, a) V_{t+1}(s'), V_t(s) = log Σ_a exp Q_t(s, a); return V_0.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..rl import TabularMDP, soft_value_iteration as _soft_vi
from ._core import compare, learners


def _cases(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """Random stochastic MDPs (S states, A actions), rewards of both signs, several horizons."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for S, A, T in ((3, 2, 1), (4, 3, 3), (5, 4, 6), (2, 5, 4)):
        P = torch.softmax(3 * torch.randn(S, A, S, generator=g, dtype=torch.float64), -1)
        reward = 2 * torch.randn(S, A, generator=g, dtype=torch.float64)
        cases.append((P, reward, T))
    return cases


def _mdp(P: torch.Tensor, reward: torch.Tensor, horizon: int) -> TabularMDP:
    init = torch.full((P.shape[0],), 1.0 / P.shape[0], dtype=P.dtype)
    return TabularMDP(P, reward, init, horizon)


def _reference(P: torch.Tensor, reward: torch.Tensor, horizon: int) -> torch.Tensor:
    return _soft_vi(_mdp(P, reward, horizon))[1]


def _hard_max(P: torch.Tensor, reward: torch.Tensor, horizon: int) -> torch.Tensor:
    v = torch.zeros(P.shape[0], dtype=P.dtype)
    for _ in range(horizon):
        v = (reward + P @ v).max(dim=1).values
    return v


def _one_step_too_many(P: torch.Tensor, reward: torch.Tensor, horizon: int) -> torch.Tensor:
    return _soft_vi(_mdp(P, reward, horizon + 1))[1]


def _soft_inside(P: torch.Tensor, reward: torch.Tensor, horizon: int) -> torch.Tensor:
    """log E_s'[exp V(s')]: the 'optimistic' soft backup over the dynamics as well as the actions."""
    v = torch.zeros(P.shape[0], dtype=P.dtype)
    for _ in range(horizon):
        v = torch.logsumexp(reward + torch.log(P @ v.exp()), dim=1)
    return v


def soft_value_iteration(fn: Callable, *, quiet: bool = False) -> str:
    """Check ``fn(P, reward, horizon) -> V_0``: P (S, A, S) transition probabilities, reward (S, A),
    horizon T ≥ 1; the soft value V_0 (S,) of eq. (ch16-soft-vi)."""
    name = "soft_value_iteration"
    learners(fn, name)
    return compare(fn, _reference, _cases(), name=name, arg_names=("P", "reward", "horizon"), atol=1e-8,
                   rtol=1e-6,
                   mistakes={"a hard max over actions (that is ordinary value iteration, not the soft one)":
                             _hard_max,
                             "one backup too many (V_T = 0 and T backups give V_0)": _one_step_too_many,
                             "log E_s'[exp V(s')] over the next state: the expectation over the dynamics "
                             "stays outside the exponential": _soft_inside},
                   quiet=quiet)
