"""What a benchmark run holds: the settings every method shares, the networks of S seeds and their
random streams (:class:`Run`), and the shared architecture (:func:`generator`, :func:`discriminator`,
:func:`encoder`). The methods (:mod:`ganbook.bench.methods`) build on it; the protocol
(:mod:`ganbook.bench.protocol`) builds, trains and evaluates runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..nets import BatchedMLP


@dataclass(frozen=True)
class Settings:
    """What every method shares: budget, batch, networks, optimiser and how the run is sampled. A
    method's own hyper-parameters are its knobs (:mod:`ganbook.bench.methods`); a row of the table
    may change some of these too (its budget, batch or learning rate)."""

    steps: int = 14_000
    batch: int = 256
    hidden: int = 64              # units per hidden layer, every network
    g_depth: int = 3              # hidden layers of the generator (and of an encoder x → z)
    d_depth: int = 3              # hidden layers of a discriminator
    z_dim: int = 2
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    decay: float = 0.3            # the last `decay` fraction of the steps: linear decay of the lr to 1 %
    ema: float = 0.0              # if > 0: evaluate an exponential moving average of G's weights with this decay
    rejection: bool = False       # evaluate with discriminator rejection sampling (unpacked discriminator)
    standardize: bool = True      # train on x / s (s = std of the training set), report s · G(z)


@dataclass
class Players:
    """A method's networks, S seeds each: the generator G, the discriminator D, and networks trained
    with G's optimiser (an encoder, a reconstructor) or with D's (a second discriminator)."""

    G: BatchedMLP
    D: nn.Module
    with_g: dict[str, nn.Module] = field(default_factory=dict)
    with_d: dict[str, nn.Module] = field(default_factory=dict)


@dataclass
class Run:
    """The state of S seeds training one method: networks, optimisers, per-seed random streams.
    ``knobs`` are the method's own hyper-parameters (e.g. ``PacGAN(m=4)``), ``settings`` the shared ones."""

    settings: Settings
    knobs: object
    rngs: list[torch.Generator]           # one per seed
    shared: torch.Generator               # noise that is drawn for all seeds at once (penalties, instance noise)
    train_x: torch.Tensor                 # (S, N_TRAIN, 2), divided by `scale`
    scale: torch.Tensor                   # (S, 1, 1): the standard deviation of each seed's training set (or 1)
    G: BatchedMLP
    D: nn.Module
    nets: dict[str, nn.Module] = field(default_factory=dict)   # the other networks, by name ("E", "F", "D1")
    G_ema: BatchedMLP | None = None       # the averaged generator (settings.ema > 0), used for evaluation
    opt_g: torch.optim.Optimizer | None = None
    opt_d: torch.optim.Optimizer | None = None

    @property
    def S(self) -> int:
        """The number of seeds trained at once (one random stream each)."""
        return len(self.rngs)

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def real(self) -> torch.Tensor:
        """A batch of training data per seed, (S, batch, 2), drawn from each seed's stream."""
        n_train = self.train_x.shape[1]
        idx = torch.stack([torch.randint(0, n_train, (self.settings.batch,), generator=g) for g in self.rngs])
        idx = idx.to(self.device)                                            # drawn on the CPU: same stream anywhere
        return torch.gather(self.train_x, 1, idx[..., None].expand(-1, -1, 2))       # (S, batch, 2)

    def z(self, n: int | None = None) -> torch.Tensor:
        """n codes per seed (default: a batch), (S, n, z_dim), drawn from each seed's stream."""
        n = n or self.settings.batch
        return torch.stack([torch.randn(n, self.settings.z_dim, generator=g) for g in self.rngs]).to(self.device)


# -- the shared architecture: MLPs of `hidden` units, one per seed ---------------------------------


def generator(s: Settings, rngs: list[torch.Generator], k: int = 1) -> BatchedMLP:
    """G: z → x, S·k MLPs with ``s.g_depth`` hidden layers; seed i's k networks (MAD-GAN's
    generators) are drawn from ``rngs[i]`` one after another and are rows i·k … i·k + k − 1."""
    return BatchedMLP(s.z_dim, 2, [s.hidden] * s.g_depth, generators=[g for g in rngs for _ in range(k)])


def discriminator(s: Settings, rngs: list[torch.Generator], in_dim: int = 2, out_dim: int = 1) -> BatchedMLP:
    """D: x → logit, one LeakyReLU(0.2) MLP with ``s.d_depth`` hidden layers per seed. With one
    output it returns scores (S, n); with several (MAD-GAN's k + 1 classes), (S, n, out_dim)."""
    return BatchedMLP(in_dim, out_dim, [s.hidden] * s.d_depth, generators=rngs, activation="leaky_relu",
                      squeeze=out_dim == 1)


def encoder(s: Settings, rngs: list[torch.Generator]) -> BatchedMLP:
    """x → z, shaped like the generator (MRGAN's encoder E, VEEGAN's reconstructor F)."""
    return BatchedMLP(2, s.z_dim, [s.hidden] * s.g_depth, generators=rngs)


def flat_critic(D: Callable[[torch.Tensor], torch.Tensor], S: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """View a batched critic (S, n, d) → (S, n) as a plain one, (S·n, d) → (S·n,), so that the
    penalties of :mod:`ganbook.objectives.penalties` apply unchanged (samples do not interact)."""
    return lambda x: D(x.reshape(S, -1, x.shape[-1])).reshape(-1)
