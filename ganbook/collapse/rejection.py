"""Discriminator rejection sampling (Azadi et al., 2019), eq. (ch8-drs), measured in chapter 8c: keep
a generated sample with probability exp(D(x) − M), which turns p_g into p_data where D's logit is
log p_data/p_g."""
from __future__ import annotations

import torch

from .. import _validate as V


def rejection_mask(logits: torch.Tensor, generator: torch.Generator | None = None,
                   log_bound: float | None = None) -> tuple[torch.Tensor, float]:
    """Which proposals discriminator rejection sampling keeps, eq. (ch8-drs): proposal i with
    probability exp(ℓ_i − M), M = ``log_bound`` ≥ max ℓ (default: the largest logit). Returns the
    boolean mask, shape (n,), and M. logits: (n,)."""
    V.tensor(logits, "logits", ndim=1)
    V.generator(generator)
    M = float(logits.max()) if log_bound is None else float(log_bound)
    if log_bound is not None and M < float(logits.max()):
        raise ValueError(f"log_bound={log_bound} is below the largest logit {float(logits.max()):.4g}: "
                         "the acceptance probability exp(logit - log_bound) would exceed 1")
    where = generator.device if generator is not None else logits.device
    u = torch.rand(logits.shape, generator=generator, device=where).to(logits.device)
    return u < torch.exp(logits - M), M                                     # P(keep x_i) = exp(ℓ_i − M)


def rejection_sample(x: torch.Tensor, logits: torch.Tensor, generator: torch.Generator | None = None,
                     log_bound: float | None = None) -> tuple[torch.Tensor, float]:
    """Discriminator rejection sampling (Azadi et al., 2019), eq. (ch8-drs): keep proposal x_i ~ p_g
    with probability exp(ℓ_i − M), where ℓ_i is the discriminator's logit at x_i and M ≥ max ℓ.

    For the optimal discriminator of the GAN game ℓ(x) = log p_data(x)/p_g(x) (chapter 2), so the
    kept samples have density ∝ p_g · p_data/p_g = p_data wherever p_g > 0 and the ratio is at most
    e^M: rejection can reweight the modes the generator has and delete the mass it puts between
    them, but it cannot create a mode the generator misses. ``log_bound`` is M; by default the
    largest logit of this batch (the paper's estimate of M from a burn-in of proposals).
    Returns (the kept rows of ``x`` in their order, M).

    x: (n, d) proposals; logits: (n,)."""
    V.tensor(x, "x", ndim=2, min_rows=1)
    V.tensor(logits, "logits", ndim=1)
    if logits.shape[0] != x.shape[0]:
        raise ValueError(f"logits must have one entry per row of x ({x.shape[0]}), got shape {tuple(logits.shape)}")
    keep, M = rejection_mask(logits, generator, log_bound)
    return x[keep], M


__all__ = ["rejection_mask", "rejection_sample"]
