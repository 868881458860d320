"""The objectives' registry (a leaf module: it imports nothing from ganbook).

An :class:`Objective` is a named pair of losses with the book's uniform signature; each chapter's
module (``gan``, ``fgan``, ``ipm``, ``smoothing``) defines its objectives and registers a factory
under a name, and :func:`get` looks the name up. Because every loss module imports this leaf and
nothing imports back, the import graph of :mod:`ganbook.objectives` has no cycle.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

LossD = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LossG = Callable[[torch.Tensor], torch.Tensor]

_REGISTRY: dict[str, Callable[[], "Objective"]] = {}
# Names that must not be looked up: objectives whose state the caller must hold (the reason says how).
_HELD: dict[str, str] = {}


@dataclass(frozen=True)
class Objective:
    """A named pair of losses with the uniform signature of the book: ``d_loss(real, fake)`` and
    ``g_loss(fake)``, functions of the discriminator's outputs on a real and a generated batch."""

    name: str
    d_loss: LossD
    g_loss: LossG

    def __repr__(self) -> str:
        return f"Objective({self.name!r})"


def register(name: str, factory: Callable[[], Objective]) -> None:
    """Add an objective factory under ``name`` (used by the chapters' loss modules)."""
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    if not callable(factory):
        raise TypeError(f"factory must be callable, got {type(factory).__name__}")
    _REGISTRY[name] = factory


def hold(name: str, reason: str) -> None:
    """Refuse ``get(name)`` with ``reason``: a stateful objective (Fisher GAN's multiplier) is an
    object the caller creates and keeps, never a fresh copy looked up by string."""
    _REGISTRY.pop(name, None)
    _HELD[name] = reason


def names() -> list[str]:
    """The names :func:`get` knows."""
    return sorted(_REGISTRY)


def get(name: str | Objective) -> Objective:
    """The objective called ``name``; an :class:`Objective` is returned unchanged."""
    if isinstance(name, Objective):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name must be a str or Objective, got {type(name).__name__}")
    if name in _HELD:
        raise ValueError(f"objective {name!r} is not looked up by name: {_HELD[name]}")
    if name not in _REGISTRY:
        raise ValueError(f"unknown objective {name!r}; known: {', '.join(names())}")
    return _REGISTRY[name]()


__all__ = ["LossD", "LossG", "Objective", "get", "hold", "names", "register"]
