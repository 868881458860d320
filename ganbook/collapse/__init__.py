"""Mechanisms against mode collapse (chapter 8), each a small piece that a notebook loop uses.

The package follows the chapter:

* :mod:`.discriminator` — chapter 8a, what the discriminator sees or is asked: feature matching
  (ch8-fm), minibatch discrimination (ch8-mbd), packing (ch8-pack), instance noise and its schedule
  (ch8-noise). One-sided label smoothing (ch8-ls) is a loss, so it lives in
  :mod:`ganbook.objectives.smoothing` (registered as ``"one-sided-smoothing"``) and is re-exported here;
* :mod:`.game` — chapter 8b, changing the game: the Unrolled GAN (ch8-unrolled), MRGAN (ch8-mrgan),
  VEEGAN (ch8-veegan), MAD-GAN (ch8-madgan). DRAGAN's penalty is
  :func:`ganbook.objectives.penalties.dragan_penalty` (chapter 4), used as is;
* :mod:`.rejection` — chapter 8c, discriminator rejection sampling (ch8-drs).

The losses follow the book's convention: ``NAME_d_loss(real, fake)`` and ``NAME_g_loss(fake, *, ...)``
of the discriminator's outputs, every other input keyword-only; the Unrolled GAN's loss looks inside
the discriminator and takes it first, then samples. All discriminators return logits, shape (n,)
(or (n, k + 1) for MAD-GAN). The losses also accept leading batch dimensions, (..., n, d) — e.g.
independent seeds trained at once by :mod:`ganbook.bench` — and then average over them as well.
Use it as ``from ganbook import collapse as C; C.pack(x, 4)``.
"""
from __future__ import annotations

from ..objectives.smoothing import one_sided_smoothing, one_sided_smoothing_d_loss
from .discriminator import (MinibatchDiscrimination, MinibatchDiscriminator, Packed, annealed_sigma,
                            feature_matching_loss, instance_noise, minibatch_features, minibatch_projection,
                            minibatch_similarities, pack)
from .game import (madgan_d_loss, madgan_g_loss, mrgan_geometric, unrolled_g_loss, unrolled_parameters,
                   veegan_d_loss, veegan_g_loss, veegan_reconstruction)
from .rejection import rejection_mask, rejection_sample

__all__ = ["feature_matching_loss", "minibatch_projection", "minibatch_similarities", "minibatch_features",
           "MinibatchDiscrimination", "MinibatchDiscriminator", "pack", "Packed", "instance_noise", "annealed_sigma",
           "one_sided_smoothing_d_loss", "one_sided_smoothing",
           "unrolled_parameters", "unrolled_g_loss", "mrgan_geometric", "veegan_d_loss", "veegan_reconstruction",
           "veegan_g_loss", "madgan_d_loss", "madgan_g_loss",
           "rejection_mask", "rejection_sample"]
