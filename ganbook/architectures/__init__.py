"""Multi-component generators, chapter 6c: the generator split into parts that each solve an easier problem.

* :mod:`.laplacian` — Laplacian pyramids and LAPGAN (a coarse generator and conditional band-pass
  generators), eqs. (ch6-laplacian-pyramid), (ch6-lapgan-sample), (ch6-lapgan-loss);
* :mod:`.recurrent` — GRAN's recurrent canvas, eq. (ch6-gran);
* :mod:`.layered` — LR-GAN's background, foreground, mask and spatial transformer, eqs. (ch6-compose),
  (ch6-lrgan);
* :mod:`.stacked` — Stacked GAN's conditional and entropy losses, eq. (ch6-sgan);
* :mod:`.ranking` — GoGAN's margin and ranking losses, eqs. (ch6-gogan-margin), (ch6-gogan-rank);
* :mod:`.experiments` — the chapter's training runs, E seeds side by side, with ``"cpu"`` and ``"gpu"``
  presets; ``python -m ganbook.architectures --preset gpu`` runs them outside the notebook.

MAD-GAN, the multi-generator architecture of the survey's list, is :func:`ganbook.collapse.madgan_d_loss`
and :func:`ganbook.collapse.madgan_g_loss` (chapter 8b).
"""
from __future__ import annotations

from .laplacian import (LAPGANDiscriminator, LAPGANGenerator, downsample, gaussian_pyramid, laplacian_pyramid,
                        reconstruct, upsample)
from .layered import LayeredGenerator, affine_theta, compose, place
from .ranking import gogan_d_loss, stage_margins
from .recurrent import GRANGenerator
from .stacked import sgan_conditional, sgan_entropy

__all__ = ["downsample", "upsample", "gaussian_pyramid", "laplacian_pyramid", "reconstruct", "LAPGANGenerator",
           "LAPGANDiscriminator", "GRANGenerator", "compose", "affine_theta", "place", "LayeredGenerator",
           "gogan_d_loss", "stage_margins", "sgan_conditional", "sgan_entropy"]
