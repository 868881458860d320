"""Checks for the exercises of chapter 10 (inference, VAEs, discrete data)."""
from __future__ import annotations

import torch

from ..discrete import importance_weights as _weights
from ..vae import iwae_bound as _iwae
from ._core import compare


def iwae_bound(fn) -> str:
    """Exercise 10a: ``fn(log_weights)`` returns log (1/k) Σ_i exp(log w_i) over the first axis of a float64
    tensor of shape (k, n), eq. (ch10-iwae), stably for log-weights of any size."""
    g = torch.Generator().manual_seed(101)
    cases = [(torch.randn(k, n, generator=g, dtype=torch.float64) * s + c,)
             for k, n, s, c in ((1, 4, 1.0, 0.0), (5, 3, 2.0, -1.0), (50, 6, 3.0, 2.0), (10, 2, 5.0, -900.0))]
    mistakes = {"the mean of the log-weights (that is the ELBO estimate, log of a geometric mean)":
                lambda lw: lw.mean(0),
                "log Σ exp(log w) without the − log k (the bound of a sum, not a mean)":
                lambda lw: torch.logsumexp(lw, 0),
                "the largest log-weight alone": lambda lw: lw.max(0).values}
    return compare(fn, _iwae, cases, name="iwae_bound", arg_names=("log_weights",), atol=1e-8, rtol=1e-8,
                   mistakes=mistakes, large_hint="for log-weights near −900, exp underflows to 0: subtract the "
                   "largest log-weight before exponentiating (torch.logsumexp does it)")


def maligan_weights(fn) -> str:
    """Exercise 10b: ``fn(logits)`` returns the estimate D/(1 − D) of p_data/p_g from a discriminator's logits
    (a float64 tensor of shape (n,)), eq. (ch10-weights)."""
    g = torch.Generator().manual_seed(102)
    cases = [(torch.randn(n, generator=g, dtype=torch.float64) * s,) for n, s in ((5, 0.5), (40, 2.0), (7, 4.0))]
    mistakes = {"D = σ(logit) itself, not D/(1 − D)": lambda v: torch.sigmoid(v),
                "(1 − D)/D, the inverse ratio p_g/p_data": lambda v: torch.exp(-v),
                "the logit itself (that is log D/(1 − D))": lambda v: v,
                "D/(1 − D) normalised over the batch (that is the next step, eq. ch10-snis)":
                lambda v: torch.softmax(v, 0)}
    return compare(fn, _weights, cases, name="maligan_weights", arg_names=("logits",), atol=1e-10, rtol=1e-8,
                   mistakes=mistakes)


__all__ = ["iwae_bound", "maligan_weights"]
