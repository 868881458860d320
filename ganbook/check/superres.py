"""Checks for the exercises of chapter 12 (super-resolution, editing and joint generation).

* :func:`psnr` — the peak signal-to-noise ratio of each image pair, eq. (ch12-psnr):
  10·log₁₀(L² / MSE) with L the width of the pixel range (2 for images in [−1, 1]) and the MSE over
  one image's channels and pixels.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..superres import psnr as _reference_psnr
from ._core import compare, learners, returned


def _cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(12)
    cases = []
    for shape in ((2, 3, 4, 4), (5, 1, 8, 8), (1, 3, 16, 16), (3, 3, 2, 6)):
        x = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
        noise = torch.randn(shape, generator=g, dtype=torch.float64) * torch.rand(shape[0], 1, 1, 1, generator=g, dtype=torch.float64)
        cases.append((x, (x + 0.3 * noise).clamp(-1, 1)))
    return cases


def _peak_one(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The peak taken as 1 (the range of images in [0, 1]) for images in [−1, 1]."""
    return 10 * torch.log10(1 / ((x - y) ** 2).flatten(1).mean(1))


def _batch_mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One MSE over the whole batch instead of one per image."""
    return (10 * torch.log10(4 / ((x - y) ** 2).mean())).expand(x.shape[0])


def _no_square(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """10·log₁₀(L / MSE): the peak not squared."""
    return 10 * torch.log10(2 / ((x - y) ** 2).flatten(1).mean(1))


def psnr(fn: Callable, *, quiet: bool = False) -> str:
    """Check ``fn(x, y) -> (n,)``, the PSNR in decibels of image pairs x, y (n, C, H, W) in [−1, 1],
    eq. (ch12-psnr)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    name = "psnr"
    learners(fn, name)
    wrapped = lambda x, y: returned(fn(x, y), name)       # noqa: E731
    return compare(wrapped, _reference_psnr, _cases(), name=name, arg_names=("x", "y"), atol=1e-6, rtol=1e-6,
                   mistakes={"the peak taken as 1: images in [−1, 1] have a range L = 2, so the numerator is "
                             "L² = 4": _peak_one,
                             "one MSE over the whole batch: PSNR is computed image by image (mean over "
                             "channels and pixels of ONE image)": _batch_mse,
                             "the peak not squared: PSNR = 10·log₁₀(L²/MSE) = 20·log₁₀(L/√MSE)": _no_square},
                   quiet=quiet)
