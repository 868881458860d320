"""Checks for the exercises of chapter 13a (SeqGAN: discrete sequences)."""
from __future__ import annotations

import torch

from ._core import compare


def _q_reference(rollout_rewards: torch.Tensor, final: torch.Tensor) -> torch.Tensor:
    """Eq. (ch13-q): the mean over the R rollouts for prefixes t < T, the sequence's own reward at t = T."""
    return torch.cat([rollout_rewards.mean(-1), final.unsqueeze(-1)], dim=-1)


def rollout_q(fn) -> str:
    """Exercise 13a: ``fn(rollout_rewards, final)`` returns Q of shape (n, T) from the rewards (n, T − 1, R) of
    the R Monte Carlo completions of every prefix x_{1:t}, t = 1..T − 1, and the rewards (n,) of the complete
    sequences, eq. (ch13-q)."""
    g = torch.Generator().manual_seed(131)
    cases = [(torch.rand(n, T - 1, R, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64))
             for n, T, R in ((3, 4, 2), (5, 10, 4), (2, 6, 16), (1, 2, 3))]
    mistakes = {"the final reward copied to every position (REINFORCE without rollouts: unbiased but noisier, "
                "not the Q of eq. ch13-q)": lambda rr, f: f.unsqueeze(-1).expand(-1, rr.shape[1] + 1).clone(),
                "the rollout mean at the last position too (the complete sequence needs no rollout: Q_T = D(x))":
                lambda rr, f: torch.cat([rr.mean(-1), rr.mean(-1)[:, -1:]], -1),
                "the maximum over rollouts instead of the mean (a biased, optimistic Q)":
                lambda rr, f: torch.cat([rr.amax(-1), f.unsqueeze(-1)], -1),
                "the final reward first and the rollout means after it (positions shifted by one)":
                lambda rr, f: torch.cat([f.unsqueeze(-1), rr.mean(-1)], -1)}
    return compare(fn, _q_reference, cases, name="rollout_q", arg_names=("rollout_rewards", "final"), atol=1e-10,
                   rtol=1e-8, mistakes=mistakes)


__all__ = ["rollout_q"]
