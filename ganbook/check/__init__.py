"""Exercise checks: run a learner's function against the book's reference on random inputs and
explain a mismatch in plain words.

    >>> from ganbook import check
    >>> check.nonsaturating_g_loss(my_loss)   # raises CheckFailed with an explanation, or prints ✓

Each check lives next to the chapter that asks for it; the engine is :func:`compare`.
"""
from ._core import CheckFailed, compare
from .foundations import (discriminator_loss, gaussian_mle, kl_gaussian, nonsaturating_g_loss,
                          optimal_discriminator)

__all__ = ["CheckFailed", "compare", "discriminator_loss", "gaussian_mle", "kl_gaussian",
           "nonsaturating_g_loss", "optimal_discriminator"]
from .fdiv import conjugate, fgan_d_loss, optimal_critic  # noqa: E402,F401  (chapter 3)
from .evaluation import fid_from_features, kid_unbiased  # noqa: E402,F401  (chapter 15)
from .ipm import gradient_penalty, mmd2_unbiased  # noqa: E402,F401  (chapter 4)
from .collapse import minibatch_features, pack  # noqa: E402,F401  (chapter 8)
from .spectral import power_step  # noqa: E402,F401  (chapter 6b)
from .conditioning import info_bound  # noqa: E402,F401  (chapter 9)
from .rl import soft_value_iteration  # noqa: E402,F401  (chapter 16)
from .inference import iwae_bound, maligan_weights  # noqa: E402,F401  (chapter 10)
from .semi_supervised import k_plus_one_probability  # noqa: E402,F401  (chapter 14)
from .sequences import rollout_q  # noqa: E402,F401  (chapter 13a)
from .sequences_continuous import periodogram_peak  # noqa: E402,F401  (chapter 13b)
from .translation import receptive_field  # noqa: E402,F401  (chapter 11)
from .superres import psnr  # noqa: E402,F401  (chapter 12)
