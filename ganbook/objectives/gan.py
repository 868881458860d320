"""The original GAN game on logits (chapter 2).

With D(x) = σ(l(x)) for a logit l, the identities log σ(l) = −softplus(−l) and
log(1 − σ(l)) = −softplus(l) give numerically stable losses that never evaluate log(0).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _validate as V
from .registry import Objective, get, register


def _scores(x: torch.Tensor, name: str) -> torch.Tensor:
    return V.batched_scores(x, name)          # (n,), or (S, n) for S seeds: the losses are means


def value_function(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The minimax value, eq. (ch2-value): V(G, D) = E_data[log D(x)] + E_z[log(1 − D(G(z)))],
    estimated from logits of a real batch and a fake batch. D maximises it."""
    _scores(real_logits, "real_logits")
    _scores(fake_logits, "fake_logits")
    return -F.softplus(-real_logits).mean() - F.softplus(fake_logits).mean()


def minimax_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator loss = −V(G, D) = E[softplus(−l_real)] + E[softplus(l_fake)]
    (binary cross-entropy with labels 1 for real and 0 for fake)."""
    return -value_function(real_logits, fake_logits)


def minimax_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Saturating (minimax) generator loss, eq. (ch2-g-minimax): E_z[log(1 − D(G(z)))] = −E[softplus(l)].
    Its gradient vanishes when D confidently rejects fakes (l → −∞)."""
    _scores(fake_logits, "fake_logits")
    return -F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss, eq. (ch2-g-ns): −E_z[log D(G(z))] = E[softplus(−l)].
    Same fixed point as the minimax loss, strong gradients when D rejects fakes."""
    _scores(fake_logits, "fake_logits")
    return F.softplus(-fake_logits).mean()


def minimax() -> Objective:
    """The minimax GAN objective (saturating generator loss)."""
    return get("minimax")


def nonsaturating() -> Objective:
    """The GAN objective with the non-saturating generator loss."""
    return get("nonsaturating")


register("minimax", lambda: Objective("minimax", minimax_d_loss, minimax_g_loss))
register("nonsaturating", lambda: Objective("nonsaturating", minimax_d_loss, nonsaturating_g_loss))
