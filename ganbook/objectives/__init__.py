"""Objectives of the book, all with one shape.

An :class:`Objective` holds two functions of the discriminator's raw scores (logits or critic
values, shape (n,)):

* ``d_loss(real_scores, fake_scores)`` — what the discriminator minimises;
* ``g_loss(fake_scores)`` — what the generator minimises.

Objectives are looked up by name with :func:`get` (``get("nonsaturating")``). Regularizers such
as gradient penalties are separate functions of ``(D, real, fake)`` in :mod:`ganbook.objectives.penalties`
when a chapter introduces them.
Chapter 3: ``fgan(name)`` (registered as ``"fgan:<name>"``) and ``lsgan`` (``"lsgan"``) in :mod:`.fgan`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .gan import (minimax, minimax_d_loss, minimax_g_loss, nonsaturating, nonsaturating_g_loss,
                  value_function)

LossD = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossG = Callable[[torch.Tensor], torch.Tensor]

_REGISTRY: dict[str, Callable[[], "Objective"]] = {}


@dataclass(frozen=True)
class Objective:
    """A named pair of losses with the uniform signature of the book."""

    name: str
    d_loss: LossD
    g_loss: LossG

    def __repr__(self) -> str:
        return f"Objective({self.name!r})"


def register(name: str, factory: Callable[[], Objective]) -> None:
    """Add an objective factory under ``name`` (used by the chapters' modules)."""
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    _REGISTRY[name] = factory


def names() -> list[str]:
    """The names :func:`get` knows."""
    return sorted(_REGISTRY)


def get(name: str | Objective) -> Objective:
    """The objective called ``name``; an :class:`Objective` is returned unchanged."""
    if isinstance(name, Objective):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name must be a str or Objective, got {type(name).__name__}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown objective {name!r}; known: {', '.join(names())}")
    return _REGISTRY[name]()


register("minimax", lambda: Objective("minimax", minimax_d_loss, minimax_g_loss))
register("nonsaturating", lambda: Objective("nonsaturating", minimax_d_loss, nonsaturating_g_loss))

__all__ = ["Objective", "get", "names", "register", "minimax", "nonsaturating", "minimax_d_loss",
           "minimax_g_loss", "nonsaturating_g_loss", "value_function"]

from .fgan import fgan, lsgan  # noqa: E402,F401  (chapter 3; registers "fgan:<name>", "lsgan", "lsgan:chi2")
from . import ipm, penalties  # noqa: E402,F401  (chapter 4; registers "wasserstein", "hinge", "mcgan", "fisher")
from .. import collapse  # noqa: E402,F401  (chapter 8; registers "one-sided-smoothing")
