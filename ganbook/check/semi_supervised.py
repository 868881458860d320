"""Checks for the exercises of chapter 14 (semi-supervised learning and domain adaptation).

* :func:`k_plus_one_probability` — D(x) = Z/(Z + 1), Z = Σ_k exp l_k, of a K+1-class discriminator whose
  fake-class logit is fixed to 0, eq. (ch14-logit-trick), stable for logits of any size.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..semi_supervised import real_probability as _reference
from ._core import compare, learners


def _cases() -> list[tuple[torch.Tensor]]:
    g = torch.Generator().manual_seed(141)
    return [(torch.randn(n, k, generator=g, dtype=torch.float64) * s + c,)
            for n, k, s, c in ((4, 3, 1.0, 0.0), (6, 10, 2.0, -1.0), (5, 2, 3.0, 2.0), (3, 10, 2.0, 800.0),
                               (3, 10, 2.0, -800.0))]


def k_plus_one_probability(fn: Callable, *, quiet: bool = False) -> str:
    """Check ``fn(logits) -> D``: ``logits`` a float64 tensor (n, K) of the K real classes' logits (the fake
    class's logit is 0); D (n,) the probability that x is real, 1 − p(y = K+1 | x)."""
    name = "k_plus_one_probability"
    learners(fn, name)
    mistakes = {"the largest class probability max_k softmax(l)_k (that is the classifier's confidence, "
                "not the probability of being real)": lambda v: torch.softmax(v, -1).max(-1).values,
                "σ(Σ_k l_k): the logits are summed instead of log-sum-exp'ed": lambda v: torch.sigmoid(v.sum(-1)),
                "Z/(Z + K): a fake logit of log K instead of 0":
                lambda v: torch.sigmoid(torch.logsumexp(v, -1) - torch.log(torch.tensor(float(v.shape[-1]),
                                                                                        dtype=v.dtype))),
                "1/(Z + 1) = p(y = K+1 | x), the probability of *fake*":
                lambda v: torch.sigmoid(-torch.logsumexp(v, -1))}
    return compare(fn, _reference, _cases(), name=name, arg_names=("logits",), atol=1e-10, rtol=1e-8,
                   mistakes=mistakes, quiet=quiet,
                   large_hint="for logits near ±800, exp overflows (or underflows to 0) in float64: D = "
                              "σ(log Z) with log Z = torch.logsumexp(logits, -1) is stable")


__all__ = ["k_plus_one_probability"]
