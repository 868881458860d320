"""Checks for the exercises of chapter 9 (conditioning and disentangling the latent space).

* :func:`info_bound` — the Barber–Agakov lower bound of eq. (ch9-ba-bound) for a uniform categorical code
  with k values, from Q's logits: log k + mean_i log softmax(logits_i)[c_i].
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from ._core import compare, learners, returned


def _cases(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Logits (n, k) and codes (n,) for a few sizes, including k = 2 and a single sample."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for n, k in ((6, 3), (1, 4), (20, 10), (5, 2)):
        out.append((3 * torch.randn(n, k, generator=g, dtype=torch.float64), torch.randint(0, k, (n,), generator=g)))
    return out


def _reference(logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    log_q = torch.log_softmax(logits, -1).gather(-1, c[:, None]).squeeze(-1)
    return (math.log(logits.shape[-1]) + log_q.mean()).reshape(1)


def _no_entropy(logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return _reference(logits, c) - math.log(logits.shape[-1])


def _probabilities(logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    q = torch.softmax(logits, -1).gather(-1, c[:, None]).squeeze(-1)
    return (math.log(logits.shape[-1]) + q.mean()).reshape(1)


def _raw_logits(logits: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return (math.log(logits.shape[-1]) + logits.gather(-1, c[:, None]).mean()).reshape(1)


def info_bound(fn: Callable, *, quiet: bool = False) -> str:
    """Check ``fn(logits, c) -> bound``: eq. (ch9-ba-bound) for a uniform categorical code, from Q's
    logits (n, k) and the codes c (n,) that generated the samples: log k + mean log Q(c_i | x_i)."""
    name = "info_bound"
    learners(fn, name)
    wrapped = lambda lg, c: torch.as_tensor(returned(fn(lg, c), name), dtype=torch.float64).reshape(1)  # noqa: E731
    return compare(wrapped, _reference, _cases(), name=name, arg_names=("logits", "c"), atol=1e-8, rtol=1e-6,
                   mistakes={"no H(c) = log k term (that is E log Q, not the bound on I)": _no_entropy,
                             "Q's probabilities averaged instead of their logarithms": _probabilities,
                             "the raw logit of c instead of log softmax (normalise over the k values)": _raw_logits},
                   quiet=quiet)
