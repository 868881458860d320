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


def one_sided_smoothing_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, alpha: float = 0.9) -> torch.Tensor:
    """Discriminator loss with one-sided label smoothing, eq. (ch8-ls): binary cross-entropy with
    target α for real samples and 0 (not smoothed) for generated ones. Its pointwise minimiser is
    D*(x) = α p_data / (p_data + p_g), eq. (ch8-ls). Logits of any shape; means over all."""
    V.tensor(real_logits, "real_logits", min_rows=1)
    V.tensor(fake_logits, "fake_logits", min_rows=1)
    V.probability(alpha, "alpha")
    real_target = torch.full_like(real_logits, alpha)
    return (F.binary_cross_entropy_with_logits(real_logits, real_target)
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def smoothed_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, alpha: float = 0.9,
                    beta: float = 0.0) -> torch.Tensor:
    """Two-sided label smoothing (targets α for real, β for fake), for comparison with
    :func:`one_sided_smoothing_d_loss`. Its pointwise minimiser is
    (α p_data + β p_g)/(p_data + p_g), eq. (ch8-ls-two-sided)."""
    V.tensor(real_logits, "real_logits", min_rows=1)
    V.tensor(fake_logits, "fake_logits", min_rows=1)
    V.probability(alpha, "alpha")
    V.probability(beta, "beta")
    return (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, alpha))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, beta)))


def one_sided_smoothing(alpha: float = 0.9) -> Objective:
    """The non-saturating GAN with one-sided label smoothing of the discriminator's real targets."""
    V.probability(alpha, "alpha")
    return Objective(f"one-sided-smoothing({alpha})",
                     lambda r, f: one_sided_smoothing_d_loss(r, f, alpha), nonsaturating_g_loss)


register("one-sided-smoothing", one_sided_smoothing)

__all__ = ["one_sided_smoothing", "one_sided_smoothing_d_loss", "smoothed_d_loss"]
