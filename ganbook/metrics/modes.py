"""Measurements of what a generator learned.

Mode statistics of the published mode-coverage protocol (VEEGAN, PacGAN), for samples from a
generator trained on a :class:`~ganbook.data.GaussianMixture` with K components:

* each sample goes to the component with the smallest standardized distance ‖x − μ_k‖/σ;
* it is *high quality* (HQ) if that distance is below ``threshold`` (3 standard deviations);
* a mode is *captured* if at least one HQ sample is assigned to it;
* reverse KL = KL(q ‖ u) = Σ_k q_k log(q_k K), with q the histogram of HQ samples over the modes
  and u uniform (0 when every mode gets the same share, log K when one mode takes all).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import _validate as V
from ..data import GaussianMixture


@dataclass(frozen=True)
class ModeStats:
    """Result of :func:`mode_stats`."""

    modes: int            # modes captured (≥ 1 HQ sample)
    n_modes: int          # K
    hq_fraction: float    # share of samples within `threshold` std of their nearest mode
    reverse_kl: float     # KL(histogram of HQ samples over modes ‖ uniform); inf if no HQ sample
    counts: tuple[int, ...]  # HQ samples per mode

    def __str__(self) -> str:
        return (f"modes {self.modes}/{self.n_modes}, high quality {100 * self.hq_fraction:.1f}%, "
                f"reverse KL {self.reverse_kl:.3f}")


def mode_stats(samples: torch.Tensor, target: GaussianMixture, threshold: float = 3.0,
               min_count: int = 1) -> ModeStats:
    """Modes captured, high-quality fraction and reverse KL of ``samples`` (n, d) against the
    mixture ``target`` (published protocol; see the module docstring)."""
    if not isinstance(target, GaussianMixture):
        raise TypeError(f"target must be a ganbook.data.GaussianMixture, got {type(target).__name__}")
    V.tensor(samples, "samples", ndim=2, last_dim=target.dim, min_rows=1)
    V.positive_float(threshold, "threshold")
    V.positive_int(min_count, "min_count")
    idx, dist = target.to(samples.device).nearest(samples)
    hq = dist < threshold
    counts = torch.bincount(idx[hq], minlength=target.n_components).cpu()
    n_hq = int(counts.sum())
    k = target.n_components
    if n_hq == 0:
        rkl = math.inf
    else:
        q = counts.double() / n_hq
        nz = q > 0
        rkl = float((q[nz] * torch.log(q[nz] * k)).sum())
    return ModeStats(modes=int((counts >= min_count).sum()), n_modes=k,
                     hq_fraction=n_hq / samples.shape[0], reverse_kl=rkl,
                     counts=tuple(int(c) for c in counts))
