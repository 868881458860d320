"""Chapter 10b: GANs for discrete data and sampling in a latent space.

* :func:`importance_weights` — w(x) = D(x) / (1 − D(x)) = exp(logit), the estimate of p_data(x) / p_g(x) at the
  optimal discriminator, eq. (ch10-weights);
* :func:`normalized_weights` — the self-normalised weights w̃_i = w_i / Σ_j w_j of MaliGAN and boundary-seeking
  GAN, eq. (ch10-snis);
* :func:`importance_surrogate` — a scalar whose gradient is the MaliGAN / BSGAN estimator
  −Σ_i (w̃_i − b) ∇ log p_θ(x_i), eq. (ch10-maligan);
* :func:`unit_code` — ARAE's codes on the unit sphere, eq. (ch10-arae);
* :func:`langevin_step` — x ← x + ε ∇log p(x) + √(2ε) ξ, eq. (ch10-langevin);
* :func:`ppgn_step` — the PPGN update with its three step sizes, eq. (ch10-ppgn).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from . import _validate as V

__all__ = ["importance_weights", "normalized_weights", "importance_surrogate", "unit_code", "langevin_step",
           "ppgn_step"]


def importance_weights(logits: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-weights): D/(1 − D) from the discriminator's logits l (D = σ(l)), i.e. exp(l). At the optimal
    discriminator D* = p_data/(p_data + p_g) it equals p_data(x)/p_g(x)."""
    V.tensor(logits, "logits", finite=False)
    return torch.exp(logits)


def normalized_weights(logits: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-snis): w̃_i = w_i / Σ_j w_j over the last axis (a batch), computed as a softmax of the logits so
    that large logits do not overflow."""
    V.tensor(logits, "logits", min_rows=1, finite=False)
    return torch.softmax(logits, dim=-1)


def importance_surrogate(log_prob: torch.Tensor, logits: torch.Tensor, *, baseline: bool = True) -> torch.Tensor:
    """Eq. (ch10-maligan): −Σ_i (w̃_i − b) log p_θ(x_i) for a batch x_1..x_m drawn from p_θ, whose gradient in θ is
    the MaliGAN estimator (b = 1/m, the mean of the normalised weights; ``baseline=True``) or the
    boundary-seeking GAN estimator (b = 0). ``log_prob`` (..., m) is log p_θ(x_i) with its graph, ``logits``
    (..., m) the discriminator's logits (not differentiated). Summed over leading axes."""
    V.tensor(log_prob, "log_prob", min_rows=1, finite=False)
    if logits.shape != log_prob.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and log_prob {tuple(log_prob.shape)} must have one shape")
    w = normalized_weights(logits.detach())
    if baseline:
        w = w - 1.0 / w.shape[-1]
    return -(w * log_prob).sum()


def unit_code(h: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-arae): ARAE's code c = h/‖h‖ on the unit sphere, so that the autoencoder cannot shrink its codes
    to fool the critic in code space."""
    V.tensor(h, "h", finite=False)
    return h / h.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def langevin_step(x: torch.Tensor, score: Callable[[torch.Tensor], torch.Tensor], *, step: float,
                  generator: torch.Generator | None = None, noise: bool = True) -> torch.Tensor:
    """Eq. (ch10-langevin): one unadjusted Langevin step x + ε ∇log p(x) + √(2ε) ξ, ξ ~ N(0, I) drawn from
    ``generator``; ``score(x)`` returns ∇log p(x). With ``noise=False`` it is gradient ascent on log p (what the
    survey's eq. 20 writes), which climbs to a mode instead of sampling."""
    step = V.positive_float(step, "step")
    out = x + step * score(x)
    if noise:
        xi = torch.randn(x.shape, generator=generator, device=generator.device if generator is not None else x.device,
                         dtype=x.dtype).to(x.device)
        out = out + math.sqrt(2.0 * step) * xi
    return out


def ppgn_step(h: torch.Tensor, reconstruct: Callable[[torch.Tensor], torch.Tensor],
              class_score: Callable[[torch.Tensor], torch.Tensor], *, eps1: float, eps2: float, eps3: float,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Eq. (ch10-ppgn), Nguyen et al.'s sampler: h + ε1 (R(h) − h) + ε2 ∇_h log C_c(G(h)) + N(0, ε3²). ``reconstruct``
    is the denoising autoencoder R (whose R(h) − h approximates σ² ∇log p(h)), ``class_score(h)`` returns
    ∇_h log p(y = c | G(h)). With ε1 = ε/σ², ε2 = ε and ε3 = √(2ε) it is the Langevin step of
    :func:`langevin_step` on p(h | y = c) ∝ p(h) p(y = c | G(h)); ε3 = 0 drops the noise."""
    eps1 = V.positive_float(eps1, "eps1", allow_zero=True)
    eps2 = V.positive_float(eps2, "eps2", allow_zero=True)
    eps3 = V.positive_float(eps3, "eps3", allow_zero=True)
    out = h + eps1 * (reconstruct(h) - h) + eps2 * class_score(h)
    if eps3 > 0:
        xi = torch.randn(h.shape, generator=generator, device=generator.device if generator is not None else h.device,
                         dtype=h.dtype).to(h.device)
        out = out + eps3 * xi
    return out
