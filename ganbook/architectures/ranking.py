"""GoGAN's margin and ranking losses (Juefei-Xu et al. 2017, "Gang of GANs"), chapter 6c.

GoGAN replaces the WGAN critic loss by a hinge on pairs (x_i, G(z_i)), eq. (ch6-gogan-margin),

    L_D = E [ε + D(G(z)) − D(x)]₊ ,

so a pair whose critic gap D(x) − D(G(z)) already exceeds the margin ε stops pushing the critic; with
every gap below ε it is WGAN's loss plus the constant ε. Training then proceeds in stages: stage k starts
from stage k − 1's networks, halves the margin, ε_k = ε_{k−1}/2, and adds a ranking term that keeps the
previous stage's generator G_{k−1} (frozen) at the larger margin 2ε_k = ε_{k−1} below the data,
eq. (ch6-gogan-rank):

    L_{D_k} = E [ε_k + D_k(G_k(z)) − D_k(x)]₊ + λ E [2ε_k + D_k(G_{k−1}(z)) − D_k(x)]₊ ,

so that the critic's scores are ordered D(x) > D(G_k(z)) > D(G_{k−1}(z)) with margins. The generator's
loss is WGAN's, −E D_k(G_k(z)) (:func:`ganbook.objectives.ipm.wasserstein_g_loss`). Both terms are
:func:`gogan_d_loss` with different margins.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _validate as V


def gogan_d_loss(real: torch.Tensor, fake: torch.Tensor, *, margin: float) -> torch.Tensor:
    """GoGAN's margin loss, eq. (ch6-gogan-margin): mean over pairs of [ε + D(G(zᵢ)) − D(xᵢ)]₊, from the
    critic values ``real`` = D(x) and ``fake`` = D(G(z)) of paired batches of one shape ((n,), or (S, n)
    for S seeds side by side). The ranking term of eq. (ch6-gogan-rank) is the same loss with the previous
    stage's samples as ``fake`` and margin 2ε_k."""
    V.scores(real, "real", batched=True)
    V.scores(fake, "fake", batched=True)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake are paired: they must have one shape, got {tuple(real.shape)} and "
                         f"{tuple(fake.shape)}")
    margin = V.positive_float(margin, "margin", allow_zero=True)
    return F.relu(margin + fake - real).mean()


def stage_margins(first: float, stages: int) -> list[float]:
    """The margins ε_1, …, ε_stages of GoGAN's stages, eq. (ch6-gogan-rank): each half the previous one."""
    first = V.positive_float(first, "first")
    V.positive_int(stages, "stages")
    return [first / 2 ** k for k in range(stages)]


__all__ = ["gogan_d_loss", "stage_margins"]
