"""Checks for the exercises of chapter 11 (image-to-image translation).

* :func:`receptive_field` — the side of the input patch one output of a stack of convolutions sees,
  eq. (ch11-receptive-field): r = 1 + Σ_l (k_l − 1)·Π_{m<l} s_m for layers (kernel k_l, stride s_l).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..translation import receptive_field as _reference_rf
from ._core import compare, learners, returned

_STACKS = (((4, 2), (4, 2), (1, 1)), ((4, 2), (4, 2), (4, 2), (4, 1), (4, 1)), ((3, 1), (3, 1), (3, 1)),
           ((3, 2), (3, 2), (3, 2), (3, 2)), ((7, 2), (3, 1), (5, 3)), ((1, 1),), ((2, 2), (2, 2)))


def _as(fn: Callable) -> Callable:
    return lambda layers: torch.tensor(float(fn([tuple(pair) for pair in layers])))


def _no_jump(layers) -> int:
    """Σ(k − 1) + 1: the strides forgotten."""
    return 1 + sum(k - 1 for k, _ in layers)


def _jump_includes_own_stride(layers) -> int:
    """Each layer's growth multiplied by its own stride too: Π_{m≤l} instead of Π_{m<l}."""
    r, jump = 1, 1
    for k, s in layers:
        jump *= s
        r += (k - 1) * jump
    return r


def _from_the_output(layers) -> int:
    """The strides multiplied from the output's end (the list read backwards)."""
    return _reference_rf(list(reversed(layers)))


def receptive_field(fn: Callable, *, quiet: bool = False) -> str:
    """Check ``fn(layers) -> int`` for a list of (kernel, stride) pairs from the input to the output,
    eq. (ch11-receptive-field)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    name = "receptive_field"
    learners(fn, name)
    wrapped = lambda layers: _as(lambda ls: returned(fn(ls), name))(layers)     # noqa: E731
    return compare(wrapped, _as(_reference_rf), [(list(s),) for s in _STACKS], name=name, arg_names=("layers",),
                   atol=0, rtol=0,
                   mistakes={"the strides forgotten (r = 1 + Σ(k − 1)): each layer's kernel grows the patch by "
                             "(k − 1) input pixels times the product of the strides BEFORE it": _as(_no_jump),
                             "each layer's own stride included in its jump (use the product over the layers "
                             "before it)": _as(_jump_includes_own_stride),
                             "the strides multiplied from the output end (list the layers from the input)":
                             _as(_from_the_output)},
                   quiet=quiet)
