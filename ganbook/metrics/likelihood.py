"""Parzen-window (kernel density) log-likelihood estimates, chapter 15, eq. (ch15-parzen).

Before sample-based metrics, GANs were compared by fitting an isotropic Gaussian kernel density
to generated samples s₁…s_n and scoring held-out data with it:

    log p̂(x) = log (1/n) Σᵢ N(x; sᵢ, σ² I) = logsumexp_i(−‖x − sᵢ‖²/(2σ²)) − log n − (d/2) log(2πσ²),

with σ chosen on a validation set. Theis et al. (2016) showed that in high dimension this estimate
is far from the model's true log-likelihood even with many samples, and can rank models in the
wrong order; chapter 15 reproduces both failures.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .. import _validate as V
from . import _common as C


def parzen_log_likelihood(samples: torch.Tensor, points: torch.Tensor, sigma: float,
                          block: int = C.CHUNK) -> float:
    """Mean Parzen-window log-density of ``points`` (m, d) under a Gaussian kernel density with
    bandwidth ``sigma`` centred on ``samples`` (n, d), eq. (ch15-parzen), in nats per point."""
    s, x = C.pair(samples, points, names=("samples", "points"))
    sigma = V.positive_float(sigma, "sigma")
    block = V.positive_int(block, "block")
    n, d = s.shape
    s_sq = (s * s).sum(1)
    const = -math.log(n) - 0.5 * d * math.log(2 * math.pi * sigma ** 2)
    total = 0.0
    for a, b in C.row_blocks(x.shape[0], block):
        d2 = C.sq_dists(x[a:b], s, s_sq)                               # (b − a, n)
        total += float(torch.logsumexp(-d2 / (2 * sigma ** 2), dim=1).sum())
    return total / x.shape[0] + const


def parzen_select_sigma(samples: torch.Tensor, validation: torch.Tensor, sigmas: Sequence[float]
                        ) -> tuple[float, float]:
    """The bandwidth among ``sigmas`` that maximises the validation log-likelihood; returns
    (sigma, validation log-likelihood)."""
    if len(sigmas) == 0:
        raise ValueError("sigmas must hold at least one bandwidth")
    scores = [(parzen_log_likelihood(samples, validation, s), s) for s in sigmas]
    best, sigma = max(scores)
    return sigma, best
