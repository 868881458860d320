"""One-sided label smoothing (chapter 8a): the discriminator's loss with soft real targets.

Salimans et al. smooth only the targets of real samples (α < 1); smoothing the generated ones too
(β > 0) leaves the optimal discriminator flat where only the generator has mass, eq. (ch8-ls-two-sided).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _validate as V
from .gan import nonsaturating_g_loss
from .registry import Objective, register


def one_sided_smoothing_d_loss(real: torch.Tensor, fake: torch.Tensor, *, alpha: float = 0.9) -> torch.Tensor:
    """Discriminator loss with one-sided label smoothing, eq. (ch8-ls): binary cross-entropy with
    target α for real samples and 0 (not smoothed) for generated ones, from the discriminator's
    logits on a real batch (``real``) and a generated batch (``fake``). Its pointwise minimiser is
    D*(x) = α p_data / (p_data + p_g), eq. (ch8-ls). Logits of any shape; means over all."""
    V.tensor(real, "real", min_rows=1)
    V.tensor(fake, "fake", min_rows=1)
    V.probability(alpha, "alpha")
    real_target = torch.full_like(real, alpha)
    return (F.binary_cross_entropy_with_logits(real, real_target)
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


def one_sided_smoothing(alpha: float = 0.9) -> Objective:
    """The non-saturating GAN with one-sided label smoothing of the discriminator's real targets."""
    V.probability(alpha, "alpha")
    return Objective(f"one-sided-smoothing({alpha})",
                     lambda real, fake: one_sided_smoothing_d_loss(real, fake, alpha=alpha), nonsaturating_g_loss)


register("one-sided-smoothing", one_sided_smoothing)

__all__ = ["one_sided_smoothing", "one_sided_smoothing_d_loss"]
