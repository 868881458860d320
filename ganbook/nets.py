"""Networks for the book: an MLP builder and small DCGAN pairs sized to the data.

Generators map z of shape (n, z_dim) to samples; discriminators map samples to one real-valued
score per sample, shape (n,) — a logit, never a probability, so that losses can use ``softplus``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from . import _validate as V

_ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "tanh": lambda: nn.Tanh(),
    "elu": lambda: nn.ELU(),
    "softplus": lambda: nn.Softplus(),
    "sigmoid": lambda: nn.Sigmoid(),
}


def _activation(name: str | None, arg: str) -> nn.Module | None:
    if name is None:
        return None
    if name not in _ACTIVATIONS:
        raise ValueError(f"{arg}={name!r} is not one of {sorted(_ACTIVATIONS)} or None")
    return _ACTIVATIONS[name]()


class Squeeze(nn.Module):
    """Turn scores of shape (n, 1) into shape (n,)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.squeeze(-1)


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128), activation: str = "relu",
        out_activation: str | None = None, batch_norm: bool = False, squeeze: bool = False) -> nn.Sequential:
    """A multilayer perceptron in_dim → hidden… → out_dim.

    ``squeeze=True`` (with ``out_dim=1``) returns scores of shape (n,), the discriminator convention.
    """
    V.positive_int(in_dim, "in_dim")
    V.positive_int(out_dim, "out_dim")
    hidden = list(hidden)
    for i, h in enumerate(hidden):
        V.positive_int(h, f"hidden[{i}]")
    if squeeze and out_dim != 1:
        raise ValueError(f"squeeze=True needs out_dim=1, got out_dim={out_dim}")
    _activation(activation, "activation")
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(_activation(activation, "activation"))
        width = h
    layers.append(nn.Linear(width, out_dim))
    out = _activation(out_activation, "out_activation")
    if out is not None:
        layers.append(out)
    if squeeze:
        layers.append(Squeeze())
    return nn.Sequential(*layers)


class DCGANGenerator8(nn.Module):
    """A DCGAN-style generator for 1×8×8 images (the shipped digits), following the DCGAN
    guidelines at this scale: a linear projection to a 2×2 feature map, then two fractionally
    strided convolutions with batch norm and ReLU, and ``tanh`` at the output (range [−1, 1])."""

    def __init__(self, z_dim: int = 16, width: int = 64, channels: int = 1):
        super().__init__()
        self.z_dim = V.positive_int(z_dim, "z_dim")
        V.positive_int(width, "width")
        V.positive_int(channels, "channels")
        self.width = width
        self.project = nn.Sequential(nn.Linear(z_dim, 2 * width * 2 * 2), nn.BatchNorm1d(2 * width * 4), nn.ReLU())
        self.body = nn.Sequential(
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),   # 2×2 → 4×4
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1),    # 4×4 → 8×8
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        V.tensor(z, "z", ndim=2, last_dim=self.z_dim, finite=False)
        h = self.project(z).view(z.shape[0], 2 * self.width, 2, 2)        # (n, 2w, 2, 2)
        return self.body(h)                                                # (n, c, 8, 8)


class DCGANDiscriminator8(nn.Module):
    """A DCGAN-style discriminator for 1×8×8 images: strided convolutions (no pooling),
    LeakyReLU(0.2), no batch norm on the input layer, one logit per image, shape (n,)."""

    def __init__(self, width: int = 64, channels: int = 1, batch_norm: bool = True):
        super().__init__()
        V.positive_int(width, "width")
        self.channels = V.positive_int(channels, "channels")
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),             # 8×8 → 4×4
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1),            # 4×4 → 2×2
            nn.BatchNorm2d(2 * width) if batch_norm else nn.Identity(),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * 4, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        V.tensor(x, "x", ndim=4, finite=False)
        if x.shape[1:] != (self.channels, 8, 8):
            raise ValueError(f"x must have shape (n, {self.channels}, 8, 8), got {tuple(x.shape)}")
        return self.body(x).squeeze(-1)                                    # (n,)
