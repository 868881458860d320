"""C-RNN-GAN on continuous sequences with known structure (chapter 13b).

Mogren's C-RNN-GAN {mogren2016crnngan} makes both players recurrent: the generator reads a fresh noise
vector and its own previous output at every step, eq. (ch13-c-generator); the discriminator reads the
whole sequence in both directions and averages a decision per step, eq. (ch13-c-discriminator). Here the
data are sums of sinusoids whose frequencies, amplitudes and phases are drawn from known ranges,
eq. (ch13-c-data), so what a generator learned can be read off: the periodogram peak of each sequence,
eq. (ch13-c-periodogram), gives its dominant frequency and amplitude, and the one-dimensional
Wasserstein distance (``ganbook.divergences.ipm.wasserstein1_1d``) compares their distributions with
the data's.

Members. Like ``nets.BatchedMLP``, every network holds ``members`` independent copies (weights of shape
(members, a, b), applied with ``torch.baddbmm``), so several seeds train side by side as one network; a
loss summing the members' losses gives each its own gradient. Sequences are (members, n, T) tensors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from . import _validate as V


# ----------------------------------------------------------------------------------------------- data

@dataclass(frozen=True)
class SinusoidBatch:
    """``x`` (n, T): the sequences; ``frequency``, ``amplitude``, ``phase`` (n, K): the K components'
    factors (frequency in cycles per sequence, phase in radians)."""

    x: torch.Tensor
    frequency: torch.Tensor
    amplitude: torch.Tensor
    phase: torch.Tensor


def _range(r: object, name: str) -> tuple[float, float]:
    if not isinstance(r, (tuple, list)) or len(r) != 2:
        raise TypeError(f"{name} must be a pair (low, high), got {r!r}")
    lo, hi = (V.finite_float(v, name) for v in r)
    if not 0 <= lo <= hi:
        raise ValueError(f"{name} must satisfy 0 <= low <= high, got {r!r}")
    return lo, hi


def sinusoids(n: int, length: int = 32, *, components: int = 1, frequency: tuple[float, float] = (2.0, 6.0),
              amplitude: tuple[float, float] = (0.3, 0.9), generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> SinusoidBatch:
    """``n`` sequences x_t = Σ_k a_k sin(2π f_k t / T + φ_k), t = 0 … T − 1, eq. (ch13-c-data): f_k uniform
    in ``frequency`` (cycles per sequence), a_k uniform in ``amplitude``, φ_k uniform in [0, 2π), drawn
    from ``generator`` on its device (the CPU by default) and moved to ``device``."""
    V.positive_int(n, "n")
    V.positive_int(length, "length", minimum=4)
    V.positive_int(components, "components")
    f_lo, f_hi = _range(frequency, "frequency")
    a_lo, a_hi = _range(amplitude, "amplitude")
    if f_hi >= length / 2:
        raise ValueError(f"frequency must stay below the Nyquist frequency length/2 = {length / 2}, got {frequency}")
    V.generator(generator)
    device = V.device_arg(device)
    where = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((3, n, components), generator=generator, device=where)
    f, a, phi = f_lo + (f_hi - f_lo) * u[0], a_lo + (a_hi - a_lo) * u[1], 2 * math.pi * u[2]
    t = torch.arange(length, device=where, dtype=torch.float32)
    x = (a[..., None] * torch.sin(2 * math.pi * f[..., None] * t / length + phi[..., None])).sum(1)
    return SinusoidBatch(x.to(device), f.to(device), a.to(device), phi.to(device))


def periodogram_peak(x: torch.Tensor, *, pad: int = 16, band: tuple[float, float] | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """The dominant frequency and its amplitude of each sequence of ``x`` (..., T), eq. (ch13-c-periodogram):
    the maximiser f̂ of |X(f)| = |Σ_t x_t e^{−2πi f t/T}| over the grid f = 0, 1/pad, 2/pad, … (cycles per
    sequence; the zero-padded FFT, of length pad·T), and â = 2|X(f̂)|/T. The sequence's mean is removed
    first (no peak at f = 0); ``band`` = (low, high) restricts the search. For one sinusoid in white
    noise f̂ is the maximum-likelihood frequency, up to the grid step 1/pad and the leakage of the
    negative frequency (small when f ≫ 1). Returns two tensors of shape (...)."""
    V.tensor(x, "x", ndim=None)
    if x.dim() < 1 or x.shape[-1] < 4:
        raise ValueError(f"x must have shape (..., T) with T >= 4, got {tuple(x.shape)}")
    V.positive_int(pad, "pad")
    T = x.shape[-1]
    spectrum = torch.fft.rfft(x - x.mean(-1, keepdim=True), n=pad * T).abs()       # (..., pad·T/2 + 1)
    freqs = torch.arange(spectrum.shape[-1], device=x.device, dtype=x.dtype) / pad
    if band is not None:
        lo, hi = _range(band, "band")
        outside = (freqs < lo) | (freqs > hi)
        if bool(outside.all()):
            raise ValueError(f"band {band} contains no frequency of the grid (0 to {T / 2})")
        spectrum = spectrum.masked_fill(outside, -1.0)
    peak = spectrum.argmax(-1)
    return freqs[peak], 2 * spectrum.gather(-1, peak[..., None])[..., 0] / T


# ------------------------------------------------------------------------------------ batched networks

class BatchedGRU(nn.Module):
    """``members`` independent GRUs (PyTorch's equations, those of ``nn.GRU``), eq. (ch13-c-gru):
    r = σ(W_ir x + b_ir + W_hr h + b_hr), u = σ(W_iz x + b_iz + W_hz h + b_hz),
    c = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − u) ⊙ c + u ⊙ h.
    Weights (members, in, 3H) and (members, H, 3H), gates in the order r, z, n as in ``nn.GRU``;
    initialised uniform in ±1/√H like ``nn.GRU``, member s from ``generators[s]``."""

    def __init__(self, input_size: int, hidden_size: int, generators: list[torch.Generator]):
        super().__init__()
        self.input_size, self.hidden_size = V.positive_int(input_size, "input_size"), V.positive_int(hidden_size, "hidden_size")
        if not isinstance(generators, (list, tuple)) or not generators or \
                not all(isinstance(g, torch.Generator) for g in generators):
            raise TypeError("generators must be a non-empty list of torch.Generator (one per member)")
        self.members = len(generators)
        b, H = 1 / math.sqrt(hidden_size), hidden_size

        def draw(*shape: int) -> nn.Parameter:
            return nn.Parameter(torch.stack([(2 * torch.rand(*shape, generator=g) - 1) * b for g in generators]))

        self.w_ih, self.w_hh = draw(input_size, 3 * H), draw(H, 3 * H)
        self.b_ih, self.b_hh = draw(1, 3 * H), draw(1, 3 * H)

    def input_gates(self, x: torch.Tensor) -> torch.Tensor:
        """W_i x + b_i for inputs x (members, n, in) → (members, n, 3H) (several steps at once: flatten them)."""
        return torch.baddbmm(self.b_ih, x, self.w_ih)

    def cell(self, gi: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step from the input gates ``gi`` (members, n, 3H) and the state h (members, n, H)."""
        gh = torch.baddbmm(self.b_hh, h, self.w_hh)
        H = self.hidden_size
        gi_ru, gi_n = gi.split([2 * H, H], -1)                   # split, not slices: a cheap backward
        gh_ru, gh_n = gh.split([2 * H, H], -1)
        r, u = torch.sigmoid(gi_ru + gh_ru).chunk(2, -1)
        c = torch.tanh(gi_n + r * gh_n)
        return c + u * (h - c)                                   # = (1 − u) ⊙ c + u ⊙ h

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """All states (members, n, T, H) for inputs x (members, n, T, in), from h (zero by default)."""
        V.tensor(x, "x", ndim=4, finite=False)
        E, n, T, d = x.shape
        if E != self.members or d != self.input_size:
            raise ValueError(f"x must have shape ({self.members}, n, T, {self.input_size}), got {tuple(x.shape)}")
        gi = self.input_gates(x.reshape(E, n * T, d)).view(E, n, T, -1)
        h = x.new_zeros(E, n, self.hidden_size) if h is None else h
        out = []
        for gi_t in gi.unbind(2):                                # unbind, not gi[:, :, t]: one backward copy
            h = self.cell(gi_t, h)
            out.append(h)
        return torch.stack(out, 2)


def _linear(generators: list[torch.Generator], a: int, b: int) -> tuple[nn.Parameter, nn.Parameter]:
    bound = 1 / math.sqrt(a)
    w = torch.stack([(2 * torch.rand(a, b, generator=g) - 1) * bound for g in generators])
    c = torch.stack([(2 * torch.rand(1, b, generator=g) - 1) * bound for g in generators])
    return nn.Parameter(w), nn.Parameter(c)


class RecurrentGenerator(nn.Module):
    """C-RNN-GAN's generator, eq. (ch13-c-generator): h_t = GRU([ε_t, x_{t−1}], h_{t−1}), x_t = tanh(w·h_t + c),
    with ε_t ~ U[0, 1]^d fresh at every step and x_0 = 0 (Mogren uses LSTM cells; a GRU here). The initial
    state is h_0 = tanh(A(2ε_1 − 1) + b), read from the first noise vector (``initial=True``), or h_0 = 0 as
    in the paper (``initial=False``). ``members`` = len(generators) independent generators; :meth:`forward`
    maps noise (members, n, T, d) to sequences (members, n, T) in (−1, 1)."""

    def __init__(self, noise_dim: int = 4, hidden: int = 32, *, generators: list[torch.Generator],
                 initial: bool = True):
        super().__init__()
        self.noise_dim = V.positive_int(noise_dim, "noise_dim")
        self.gru = BatchedGRU(noise_dim + 1, hidden, generators)
        self.members = self.gru.members
        self.w_out, self.b_out = _linear(list(generators), hidden, 1)
        self.initial = initial
        if initial:
            self.w_h0, self.b_h0 = _linear(list(generators), noise_dim, hidden)

    def noise(self, n: int, length: int, *, generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
        """Uniform noise (members, n, T, d) for :meth:`forward`."""
        return torch.rand((self.members, V.positive_int(n, "n"), V.positive_int(length, "length"), self.noise_dim),
                          generator=generator, device=V.device_arg(device))

    def forward(self, eps: torch.Tensor) -> torch.Tensor:
        V.tensor(eps, "eps", ndim=4, finite=False)
        E, n, T, d = eps.shape
        if E != self.members or d != self.noise_dim:
            raise ValueError(f"eps must have shape ({self.members}, n, T, {self.noise_dim}), got {tuple(eps.shape)}")
        gi_eps = torch.bmm(eps.reshape(E, n * T, d), self.w_ih_eps()).view(E, n, T, -1).unbind(2)  # noise part
        if self.initial:
            h = torch.tanh(torch.baddbmm(self.b_h0, 2 * eps[:, :, 0] - 1, self.w_h0))
        else:
            h = eps.new_zeros(E, n, self.gru.hidden_size)
        x = eps.new_zeros(E, n, 1)
        w_x = self.gru.w_ih[:, d:]                                                           # reads x_{t−1}
        out = []
        for t in range(T):
            gi = gi_eps[t] + torch.baddbmm(self.gru.b_ih, x, w_x)                            # + previous output
            h = self.gru.cell(gi, h)
            x = torch.tanh(torch.baddbmm(self.b_out, h, self.w_out))                         # (E, n, 1)
            out.append(x)
        return torch.cat(out, 2)

    def w_ih_eps(self) -> torch.Tensor:
        """The input weights that read the noise (members, d, 3H)."""
        return self.gru.w_ih[:, :self.noise_dim]


class RecurrentDiscriminator(nn.Module):
    """C-RNN-GAN's discriminator, eq. (ch13-c-discriminator): a bidirectional GRU reads x_1 … x_T forwards
    and backwards; a linear map of the two states at step t gives a logit l_t; the sequence's logit is
    their mean (1/T) Σ_t l_t. The two directions are two members of one :class:`BatchedGRU` (the second
    reads the reversed sequence). Sequences (members, n, T) → logits (members, n)."""

    def __init__(self, hidden: int = 32, *, generators: list[torch.Generator]):
        super().__init__()
        generators = list(generators)
        self.members = len(generators)
        self.gru = BatchedGRU(1, hidden, generators + generators)     # members 0..E−1 forwards, E..2E−1 backwards
        self.w_out, self.b_out = _linear(generators, 2 * hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        V.tensor(x, "x", ndim=3, finite=False)
        E, n, T = x.shape
        if E != self.members:
            raise ValueError(f"x must have shape ({self.members}, n, T), got {tuple(x.shape)}")
        both = torch.cat([x, x.flip(-1)], 0)[..., None]                        # (2E, n, T, 1)
        h = self.gru(both)                                                      # (2E, n, T, H)
        h = torch.cat([h[:E], h[E:].flip(2)], -1)                               # (E, n, T, 2H), step-aligned
        logits = torch.baddbmm(self.b_out, h.reshape(E, n * T, -1), self.w_out)
        return logits.view(E, n, T).mean(-1)


# ------------------------------------------------------------------------------------------- presets

@dataclass(frozen=True)
class Preset:
    """Sizes of the sequence experiment: ``cpu`` (seconds on a 2-core CPU) or ``gpu`` (longer)."""

    name: str
    length: int
    frequency: tuple[float, float]
    hidden: int
    noise_dim: int
    batch: int
    steps: int
    seeds: int
    amplitude: tuple[float, float] = (0.3, 0.9)
    lr_g: float = 1e-2
    lr_d: float = 4e-2              # the discriminator learns four times faster (two time scales)
    betas: tuple[float, float] = (0.5, 0.9)
    ema: float = 0.98               # decay of the running average of G's weights (the generator scored)


PRESETS = {"cpu": Preset("cpu", length=16, frequency=(1.5, 4.0), hidden=16, noise_dim=4, batch=64, steps=250,
                         seeds=6),
           "gpu": Preset("gpu", length=32, frequency=(2.0, 8.0), hidden=64, noise_dim=8, batch=128, steps=3000,
                         seeds=8, lr_g=2e-3, lr_d=8e-3, ema=0.995)}


def preset(name: str) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]
