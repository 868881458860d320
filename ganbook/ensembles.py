"""Independent copies of a small MLP evaluated in one batched pass (chapter 4's toy tables).

Training the same method on several data sets means several small, independent networks. On a CPU
each tiny network spends most of its time in per-operation overhead, so running E of them as *one*
batched network (``torch.baddbmm`` over a leading member axis) costs much less than E separate runs.

:class:`EnsembleMLP` keeps the interface of an ordinary network: it takes a batch of rows (N, d) and
returns (N, out) (or (N,) scores), where N = members · n and rows ``e·n … (e+1)·n − 1`` belong to member
``e``. Nothing couples the members: each row only meets its own member's weights, so any loss that is
a mean over rows equals the average of the members' losses, and each member follows its own gradient
(scaled by 1/E, which Adam and RMSProp normalise away). Per-sample penalties (gradient penalty, R1)
work unchanged, because the gradient of a row's score only involves that row.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from . import _validate as V

_ACTIVATIONS = {"relu": torch.relu, "leaky_relu": lambda h: torch.nn.functional.leaky_relu(h, 0.2),
                "tanh": torch.tanh, "elu": torch.nn.functional.elu}


class EnsembleMLP(nn.Module):
    """``members`` independent MLPs in_dim → hidden… → out_dim, each initialised like ``nn.Linear``
    (weights and biases uniform in ±1/√fan_in). Input (members · n, in_dim); output
    (members · n, out_dim), or (members · n,) with ``squeeze=True``."""

    def __init__(self, members: int, in_dim: int, out_dim: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "relu", squeeze: bool = False):
        super().__init__()
        self.members = V.positive_int(members, "members")
        self.in_dim = V.positive_int(in_dim, "in_dim")
        self.out_dim = V.positive_int(out_dim, "out_dim")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not one of {sorted(_ACTIVATIONS)}")
        if squeeze and out_dim != 1:
            raise ValueError(f"squeeze=True needs out_dim=1, got out_dim={out_dim}")
        self.activation, self.squeeze = activation, squeeze
        dims = [in_dim, *[V.positive_int(h, f"hidden[{i}]") for i, h in enumerate(hidden)], out_dim]
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for a, b in zip(dims[:-1], dims[1:]):
            bound = 1.0 / math.sqrt(a)
            self.weights.append(nn.Parameter(torch.empty(members, a, b).uniform_(-bound, bound)))   # (E, a, b)
            self.biases.append(nn.Parameter(torch.empty(members, 1, b).uniform_(-bound, bound)))    # (E, 1, b)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """View rows (members · n, …) as (members, n, …)."""
        if x.shape[0] % self.members:
            raise ValueError(f"the batch has {x.shape[0]} rows, not a multiple of members = {self.members}")
        return x.reshape(self.members, x.shape[0] // self.members, *x.shape[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        V.tensor(x, "x", ndim=2, last_dim=self.in_dim, finite=False)
        h = self.split(x)                                                   # (E, n, in_dim)
        act = _ACTIVATIONS[self.activation]
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)                                      # (E, n, width)
            if i < len(self.weights) - 1:
                h = act(h)
        out = h.reshape(x.shape[0], self.out_dim)                           # (E·n, out_dim)
        return out.squeeze(-1) if self.squeeze else out

    def member(self, e: int) -> nn.Sequential:
        """A standalone ``nn.Sequential`` copy of member ``e`` (for plots and single-network tools)."""
        if not 0 <= e < self.members:
            raise ValueError(f"e must lie in [0, {self.members}), got {e}")
        layers: list[nn.Module] = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            lin = nn.Linear(w.shape[1], w.shape[2]).to(w.device, w.dtype)
            with torch.no_grad():
                lin.weight.copy_(w[e].T)
                lin.bias.copy_(b[e, 0])
            layers.append(lin)
            if i < len(self.weights) - 1:
                layers.append({"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.2), "tanh": nn.Tanh(),
                               "elu": nn.ELU()}[self.activation])
        if self.squeeze:
            from .nets import Squeeze

            layers.append(Squeeze())
        return nn.Sequential(*layers)


__all__ = ["EnsembleMLP"]
