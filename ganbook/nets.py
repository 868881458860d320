"""Networks for the book: an MLP builder, one batched MLP (many independent copies in one pass) and
small DCGAN pairs sized to the data.

Generators map z of shape (n, z_dim) to samples; discriminators map samples to one real-valued
score per sample, shape (n,) — a logit, never a probability, so that losses can use ``softplus``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
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


_FUNCTIONAL = {"relu": F.relu, "leaky_relu": lambda h: F.leaky_relu(h, 0.2), "tanh": torch.tanh, "elu": F.elu}


class BatchedMLP(nn.Module):
    """``members`` independent MLPs in_dim → hidden… → out_dim evaluated as one network: layer i holds
    weights of shape (members, a, b) and biases (members, 1, b), applied with one ``torch.baddbmm``.

    On a CPU a tiny network spends its time in per-operation overhead, so S networks trained side by
    side (S seeds of the benchmark, E settings of a table, K divergences of chapter 3) cost little
    more than one. Nothing couples the members: each sample meets only its own member's weights, so a
    loss that sums the members' losses gives each member its own gradient, and per-sample penalties
    (gradient penalty, R1) work unchanged. Two input layouts:

    * stacked: x of shape (members, n, in_dim) → (members, n, out_dim);
    * rows: x of shape (members · n, in_dim), rows s·n … (s+1)·n − 1 for member s → (members · n, out_dim).

    ``squeeze=True`` (out_dim = 1) drops the last axis: scores (members, n) or (members · n,).

    Initialisation, layer by layer, like ``nn.Linear`` (weights and biases uniform in ±1/√fan_in):
    from the global torch stream (``members=E``), or member s from its own ``generators[s]``, so that a
    seed's networks do not depend on which other seeds train beside it. :meth:`from_nets` stacks
    existing ``nn.Sequential`` MLPs instead.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden: Sequence[int] = (64, 64), *, members: int | None = None,
                 generators: Sequence[torch.Generator] | None = None, activation: str = "relu", squeeze: bool = False):
        super().__init__()
        if (members is None) == (generators is None):
            raise ValueError("give exactly one of members (an int) and generators (one torch.Generator per member)")
        if generators is not None:
            generators = list(generators)
            if not generators or not all(isinstance(g, torch.Generator) for g in generators):
                raise TypeError("generators must be a non-empty list of torch.Generator")
        self.members = len(generators) if generators is not None else V.positive_int(members, "members")
        self.in_dim, self.out_dim = V.positive_int(in_dim, "in_dim"), V.positive_int(out_dim, "out_dim")
        if activation not in _FUNCTIONAL:
            raise ValueError(f"activation={activation!r} is not one of {sorted(_FUNCTIONAL)}")
        if squeeze and out_dim != 1:
            raise ValueError(f"squeeze=True needs out_dim=1, got out_dim={out_dim}")
        self.activation, self.squeeze = activation, squeeze
        self.sizes = [in_dim, *[V.positive_int(h, f"hidden[{i}]") for i, h in enumerate(hidden)], out_dim]
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            bound = 1.0 / math.sqrt(a)
            if generators is None:
                w = torch.empty(self.members, a, b).uniform_(-bound, bound)
                c = torch.empty(self.members, 1, b).uniform_(-bound, bound)
            else:
                w = torch.stack([(torch.rand(a, b, generator=g) * 2 - 1) * bound for g in generators])
                c = torch.stack([(torch.rand(1, b, generator=g) * 2 - 1) * bound for g in generators])
            self.weights.append(nn.Parameter(w))                             # (members, a, b)
            self.biases.append(nn.Parameter(c))                              # (members, 1, b)

    @classmethod
    def from_nets(cls, nets: Sequence[nn.Sequential], squeeze: bool = False) -> "BatchedMLP":
        """Stack MLPs of one shape (from :func:`mlp`: Linear layers with one activation between them)
        into one BatchedMLP whose member k starts from the weights of ``nets[k]``. It draws nothing from
        the global random stream (it is built on the meta device, without data, then given the nets'
        weights), so the networks created after it do not depend on it."""
        if not nets:
            raise ValueError("nets must be a non-empty list of nn.Sequential MLPs")
        linear = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
        kinds = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.ELU: "elu"}
        acts = [m for m in nets[0] if not isinstance(m, (nn.Linear, Squeeze))]
        if acts and isinstance(acts[0], nn.LeakyReLU) and acts[0].negative_slope == 0.2:
            activation = "leaky_relu"
        elif acts and type(acts[0]) in kinds:
            activation = kinds[type(acts[0])]
        elif acts:
            raise ValueError(f"nets[0] uses {type(acts[0]).__name__}; BatchedMLP supports {sorted(_FUNCTIONAL)}")
        else:
            activation = "relu"                                              # one layer: no activation
        shapes = [[tuple(m.weight.shape) for m in layers] for layers in linear]
        if any(sh != shapes[0] for sh in shapes) or not shapes[0]:
            raise ValueError(f"nets must be MLPs of one shape, got layer shapes {shapes}")
        sizes = [shapes[0][0][1]] + [out for out, _ in shapes[0]]
        with torch.device("meta"):                   # no data, so no initial draw: the weights are copied below
            net = cls(sizes[0], sizes[-1], sizes[1:-1], members=len(nets), activation=activation, squeeze=squeeze)
        first = linear[0][0].weight
        net = net.to_empty(device=first.device).to(first.dtype)             # the stacked nets' device and dtype
        with torch.no_grad():
            for i in range(len(sizes) - 1):
                net.weights[i].copy_(torch.stack([layers[i].weight.T for layers in linear]))
                net.biases[i].copy_(torch.stack([layers[i].bias[None] for layers in linear]))
        return net

    def _stacked(self, x: torch.Tensor) -> torch.Tensor:
        """Any input as (members, n, in_dim); checks only shapes (free)."""
        if x.dim() == 3 and x.shape[0] == self.members and x.shape[2] == self.in_dim:
            return x
        if x.dim() == 2 and x.shape[1] == self.in_dim and x.shape[0] % self.members == 0:
            return x.reshape(self.members, x.shape[0] // self.members, self.in_dim)
        raise ValueError(f"x must have shape ({self.members}, n, {self.in_dim}) or ({self.members}·n, {self.in_dim}), "
                         f"got {tuple(x.shape)}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer, stacked: (members, n, hidden[-1])."""
        h, act = self._stacked(x), _FUNCTIONAL[self.activation]
        for i in range(len(self.weights) - 1):       # indexing, not slicing: functional_call swaps entries
            h = act(torch.baddbmm(self.biases[i], h, self.weights[i]))     # (members, n, width)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        out = torch.baddbmm(self.biases[last], self.features(x), self.weights[last])   # (members, n, out_dim)
        if x.dim() == 2:
            out = out.reshape(x.shape[0], self.out_dim)                     # (members·n, out_dim)
        return out.squeeze(-1) if self.squeeze else out

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """View rows (members · n, …) as (members, n, …)."""
        if x.shape[0] % self.members:
            raise ValueError(f"the batch has {x.shape[0]} rows, not a multiple of members = {self.members}")
        return x.reshape(self.members, x.shape[0] // self.members, *x.shape[1:])

    def member(self, e: int) -> nn.Sequential:
        """A standalone ``nn.Sequential`` copy of member ``e`` (for plots and single-network tools)."""
        if not 0 <= e < self.members:
            raise ValueError(f"e must lie in [0, {self.members}), got {e}")
        net = mlp(self.in_dim, self.out_dim, self.sizes[1:-1], activation=self.activation, squeeze=self.squeeze)
        first = self.weights[0]
        net = net.to(first.device, first.dtype)
        with torch.no_grad():
            for lin, w, b in zip((m for m in net if isinstance(m, nn.Linear)), self.weights, self.biases):
                lin.weight.copy_(w[e].T)
                lin.bias.copy_(b[e, 0])
        return net


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
