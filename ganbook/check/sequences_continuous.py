"""Checks for the exercises of chapter 13b (continuous sequences and video)."""
from __future__ import annotations

import torch

from ..crnngan import periodogram_peak as _peak
from ._core import compare, learners


def _cases() -> list[tuple[torch.Tensor, int]]:
    """Sinusoids with an offset and noise, of several lengths and zero-padding factors (float64)."""
    g = torch.Generator().manual_seed(131)
    cases = []
    for n, T, pad in ((4, 16, 8), (6, 20, 4), (3, 32, 16), (5, 24, 1)):
        t = torch.arange(T, dtype=torch.float64)
        f = 1.2 + (T / 2 - 2.5) * torch.rand(n, 1, generator=g, dtype=torch.float64)
        a = 0.3 + torch.rand(n, 1, generator=g, dtype=torch.float64)
        phase = 6.283 * torch.rand(n, 1, generator=g, dtype=torch.float64)
        offset = 2 * torch.rand(n, 1, generator=g, dtype=torch.float64)
        x = a * torch.sin(2 * torch.pi * f * t / T + phase) + offset + 0.05 * torch.randn(n, T, generator=g,
                                                                                           dtype=torch.float64)
        cases.append((x, pad))
    return cases


def _reference(x: torch.Tensor, pad: int) -> torch.Tensor:
    return torch.stack(_peak(x, pad=pad))


def _with_mean(x: torch.Tensor, pad: int) -> torch.Tensor:
    T = x.shape[-1]
    s = torch.fft.rfft(x, n=pad * T).abs()
    k = s.argmax(-1)
    return torch.stack([k.double() / pad, 2 * s.gather(-1, k[:, None])[:, 0] / T])


def _no_two(x: torch.Tensor, pad: int) -> torch.Tensor:
    f, a = _peak(x, pad=pad)
    return torch.stack([f, a / 2])


def _bins(x: torch.Tensor, pad: int) -> torch.Tensor:
    T = x.shape[-1]
    s = torch.fft.rfft(x, n=pad * T).abs()
    k = s.argmax(-1)
    return torch.stack([k.double(), 2 * s.gather(-1, k[:, None])[:, 0] / T])


def periodogram_peak(fn) -> str:
    """Exercise 13b: ``fn(x, pad)`` returns ``(frequency, amplitude)`` of each row of x (n, T), eq.
    (ch13-c-periodogram): the maximiser f̂ over the grid k/pad of the mean-removed zero-padded DFT's
    magnitude, in cycles per sequence, and 2|X(f̂)|/T."""
    name = "periodogram_peak"
    learners(fn, name)
    mistakes = {"the peak of the spectrum without removing each sequence's mean (the peak sits at f = 0)":
                _with_mean,
                "|X(f̂)|/T without the factor 2 (half the sinusoid's amplitude)": _no_two,
                "the peak's FFT bin index, not its frequency in cycles per sequence (divide by pad)": _bins}

    def as_pair(x: torch.Tensor, pad: int) -> torch.Tensor:
        out = fn(x, pad)
        if isinstance(out, (tuple, list)) and len(out) == 2:
            return torch.stack([torch.as_tensor(v, dtype=torch.float64) for v in out])
        return out

    as_pair.__module__ = getattr(fn, "__module__", "__main__")
    return compare(as_pair, _reference, _cases(), name=name, arg_names=("x", "pad"), atol=1e-8, rtol=1e-6,
                   mistakes=mistakes)


__all__ = ["periodogram_peak"]
