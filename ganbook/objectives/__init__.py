"""Objectives of the book, all with one shape.

An :class:`Objective` holds two functions of the discriminator's raw scores (logits or critic
values, shape (n,)):

* ``d_loss(real_scores, fake_scores)`` — what the discriminator minimises;
* ``g_loss(fake_scores)`` — what the generator minimises.

Objectives are looked up by name with :func:`get` (``get("nonsaturating")``). Regularizers such
as gradient penalties are separate functions of ``(D, real, fake)`` in :mod:`ganbook.objectives.penalties`
when a chapter introduces them. Each chapter's losses live in its own module and register there:

* chapter 2, :mod:`.gan`: ``"minimax"``, ``"nonsaturating"``;
* chapter 3, :mod:`.fgan`: ``fgan(name)`` (``"fgan:<name>"``), ``lsgan`` (``"lsgan"``, ``"lsgan:chi2"``);
* chapter 4, :mod:`.ipm`: ``"wasserstein"``, ``"hinge"``, ``"mcgan"``; Fisher GAN's multiplier is
  state, so ``ipm.fisher()`` is an object the caller holds, not a name;
* chapter 5, :mod:`.energy` (losses with a margin, written into the chapter's loop);
* chapter 8, :mod:`.smoothing`: ``"one-sided-smoothing"``.

The registry itself is the leaf module :mod:`.registry`; the loss modules import it and nothing
imports back, so importing any one of them alone works (a test imports every module of the
package alone, in a fresh interpreter).
"""
from __future__ import annotations

from . import energy, fgan as _fgan_module, ipm, penalties, smoothing  # noqa: F401  (register their objectives)
from .fgan import fgan, lsgan
from .gan import (minimax, minimax_d_loss, minimax_g_loss, nonsaturating, nonsaturating_g_loss,
                  value_function)
from .registry import LossD, LossG, Objective, get, names, register

__all__ = ["LossD", "LossG", "Objective", "get", "names", "register", "minimax", "nonsaturating",
           "minimax_d_loss", "minimax_g_loss", "nonsaturating_g_loss", "value_function", "fgan", "lsgan",
           "energy", "ipm", "penalties", "smoothing"]
