"""The original GAN game on logits (chapter 2).

With D(x) = σ(l(x)) for a logit l, the identities log σ(l) = −softplus(−l) and
log(1 − σ(l)) = −softplus(l) give numerically stable losses that never evaluate log(0).
The losses are means over all entries, so they take logits of shape (n,) or (S, n) for S seeds
trained side by side (the benchmark).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _validate as V
from .registry import Objective, get, register


def value_function(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The minimax value, eq. (ch2-value): V(G, D) = E_data[log D(x)] + E_z[log(1 − D(G(z)))],
    estimated from the discriminator's logits on a real batch (``real``) and a generated batch
    (``fake``). D maximises it."""
    V.scores(real, "real", batched=True)
    V.scores(fake, "fake", batched=True)
    return -F.softplus(-real).mean() - F.softplus(fake).mean()


def minimax_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Discriminator loss = −V(G, D) = E[softplus(−l_real)] + E[softplus(l_fake)]
    (binary cross-entropy with labels 1 for real and 0 for fake), from the logits on a real and a
    generated batch."""
    return -value_function(real, fake)


def minimax_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Saturating (minimax) generator loss, eq. (ch2-g-minimax): E_z[log(1 − D(G(z)))] = −E[softplus(l)],
    from the logits ``fake`` on a generated batch. Its gradient vanishes when D confidently rejects
    fakes (l → −∞)."""
    V.scores(fake, "fake", batched=True)
    return -F.softplus(fake).mean()


def nonsaturating_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss, eq. (ch2-g-ns): −E_z[log D(G(z))] = E[softplus(−l)], from the
    logits ``fake`` on a generated batch. Same fixed point as the minimax loss, strong gradients when
    D rejects fakes."""
    V.scores(fake, "fake", batched=True)
    return F.softplus(-fake).mean()


def minimax() -> Objective:
    """The minimax GAN objective (saturating generator loss)."""
    return get("minimax")


def nonsaturating() -> Objective:
    """The GAN objective with the non-saturating generator loss."""
    return get("nonsaturating")


register("minimax", lambda: Objective("minimax", minimax_d_loss, minimax_g_loss))
register("nonsaturating", lambda: Objective("nonsaturating", minimax_d_loss, nonsaturating_g_loss))
