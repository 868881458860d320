"""Objectives of the book, all with one shape.

An :class:`Objective` holds two functions of the discriminator's outputs (logits or critic values,
shape (n,)):

* ``d_loss(real, fake)`` — what the discriminator minimises;
* ``g_loss(fake)`` — what the generator minimises.

Objectives are looked up by name with :func:`get` (``get("nonsaturating")``). Each chapter's losses
live in its own module and register there:

* chapter 2, :mod:`.gan`: ``"minimax"``, ``"nonsaturating"``;
* chapter 3, :mod:`.fgan`: ``fgan(name)`` (``"fgan:<name>"``), ``lsgan`` (``"lsgan"``, ``"lsgan:chi2"``);
* chapter 4, :mod:`.ipm`: ``"wasserstein"``, ``"hinge"``, ``"mcgan"``; Fisher GAN's multiplier is
  state, so ``ipm.fisher()`` is an object the caller holds, not a name; penalties in :mod:`.penalties`;
* chapter 5, :mod:`.energy` (losses with a margin, written into the chapter's loop);
* chapter 8, :mod:`.smoothing`: ``"one-sided-smoothing"``.

Losses and penalties
--------------------
Every loss and penalty of the package follows one convention (a test walks the package to check it):

1. A discriminator (critic) loss is ``NAME_d_loss(real, fake, *, <hyper-parameters>)``: ``real`` and
   ``fake`` are the critic's *outputs* on a real batch and a generated batch (logits, critic values,
   energies or embeddings, whatever that critic outputs; shape (n,) for scores, (n, k) for
   embeddings), always under these two names. It returns one scalar that the critic minimises; the
   caller detaches ``fake`` where needed.
2. A generator loss is ``NAME_g_loss(fake, *, <...>)``; when it also needs the real outputs it takes
   them keyword-only, ``real=`` (MMD-GAN, Cramér GAN).
3. Every other input is keyword-only and named for what it is: ``margin=``, ``k=``, ``fake2=``,
   ``divergence=``, ``alpha=``, ``z=``, ``z_of_fake=``.
4. A penalty, or a loss that must look inside the critic (its gradient, unrolled steps), takes the
   critic first and *samples*, not outputs: ``NAME(D, real, fake, *, weight=..., generator=None)``,
   where ``generator`` (a ``torch.Generator`` or None) supplies any noise it draws. Penalties are
   named ``*_penalty`` (``gradient_penalty``, ``dragan_penalty``, ``r1_penalty``, ``r2_penalty``,
   ``lipschitz_penalty``).
5. One function returns one scalar: a method with two terms has two functions (``madgan_d_loss`` and
   ``madgan_g_loss``; ``veegan_g_loss`` and ``veegan_reconstruction``).
6. :class:`Objective` has this shape (``d_loss(real, fake)``, ``g_loss(fake)``), and so do the
   chapters' own loss helpers: a loss of outputs, plus a penalty ``(D, real, fake, *, generator)``.

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
