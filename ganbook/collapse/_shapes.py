"""A shape check shared by the losses of :mod:`ganbook.collapse`."""
from __future__ import annotations

import torch

from .. import _validate as V


def at_least_2d(x: object, name: str) -> torch.Tensor:
    """A batch of rows, shape (..., n, d) with n ≥ 1 (leading dimensions, e.g. seeds, allowed)."""
    V.tensor(x, name, min_rows=1)
    if x.dim() < 2 or x.shape[-2] == 0:
        raise ValueError(f"{name} must have shape (..., n, d) with n >= 1, got {tuple(x.shape)}")
    return x
