"""Input checks and chunked distance helpers shared by the evaluation metrics.

Every metric turns its inputs into float64 feature matrices (n, d) here, so that a NaN, a wrong
rank or two feature sets of different widths fail with a clear error naming the argument.
"""
from __future__ import annotations

from typing import Iterator

import torch

from .. import _validate as V

# Rows per block when a distance or kernel matrix is built in pieces: 1024 × 10,000 float64
# entries are 80 MB, so memory stays bounded whatever the number of samples.
CHUNK = 1024


def float64_device(device: torch.device | str) -> torch.device:
    """Where float64 work on tensors from ``device`` happens: that device, or the CPU for Apple's
    MPS, which has no float64 (``ganbook.device()`` picks MPS on a Mac)."""
    device = torch.device(device)
    return torch.device("cpu") if device.type == "mps" else device


def to_float64(x: torch.Tensor) -> torch.Tensor:
    """``x`` detached, in float64, on :func:`float64_device` of its device."""
    return x.detach().to(device=float64_device(x.device), dtype=torch.float64)


def features(x: object, name: str, *, min_rows: int = 1) -> torch.Tensor:
    """Check that ``x`` is a finite floating-point matrix (n, d) with n ≥ ``min_rows``; return it in
    float64 on its own device (the CPU for an MPS tensor: :func:`float64_device`)."""
    V.tensor(x, name, ndim=2, min_rows=min_rows)
    if x.shape[1] < 1:
        raise ValueError(f"{name} must have at least one feature column, got shape {tuple(x.shape)}")
    return to_float64(x)


def pair(real: object, fake: object, *, names: tuple[str, str] = ("real", "fake"),
         min_rows: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two feature matrices of the same width on the same device; return both in float64."""
    a = features(real, names[0], min_rows=min_rows)
    b = features(fake, names[1], min_rows=min_rows)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} must have the same feature dimension, got "
                         f"{a.shape[1]} and {b.shape[1]} (shapes {tuple(a.shape)} and {tuple(b.shape)})")
    V.same_device(a, b, names[0], names[1])
    return a, b


def row_blocks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """Yield (start, stop) of consecutive row blocks of at most ``size`` rows."""
    for start in range(0, n, size):
        yield start, min(start + size, n)


def sq_dists(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances (n, m) between the rows of a (n, d) and b (m, d), float64,
    through ‖a‖² + ‖b‖² − 2 a·b, clamped at 0 against rounding: one matrix product, fast on large
    feature sets, for the k-NN radii of PRDC and the Parzen windows. Its rounding leaves tiny
    non-zero "zero" distances; kernels (KID, the MMD test) use the exact
    :func:`ganbook.kernels.pairwise_distances` instead."""
    if b_sq is None:
        b_sq = (b * b).sum(1)
    d2 = torch.addmm(b_sq.unsqueeze(0), a, b.T, beta=1.0, alpha=-2.0)   # (n, m): ‖b‖² − 2 a·b
    d2.add_((a * a).sum(1, keepdim=True))
    return d2.clamp_(min=0.0)


def generator_device(gen: torch.Generator | None) -> torch.device:
    return gen.device if gen is not None else torch.device("cpu")
