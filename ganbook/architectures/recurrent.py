"""GRAN, the generative recurrent adversarial network (Im et al. 2016), chapter 6c.

The generator draws on a canvas in T steps, eq. (ch6-gran): one code z per sample, embedded once,
h_z = tanh(W z + b); a decoder f writes an update ΔC_t = f([h_z, h_{c,t}]) from the embedding and a
read-back of the previous update, h_{c,t} = tanh(g(ΔC_{t−1})) (h_{c,1} = 0); the canvas accumulates,
C_t = C_{t−1} + ΔC_t, and the sample is tanh(C_T) (the paper: the logistic sigmoid, for images in
[0, 1]; tanh(c) = 2σ(2c) − 1 is the same model for images in [−1, 1]).

The paper's f and g are DCGAN-like (de)convolutional networks; here they are MLPs on flattened 8×8 or
16×16 images, each a :class:`ganbook.nets.BatchedMLP` of E independent members (seeds).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .. import _validate as V
from ..nets import BatchedMLP


class GRANGenerator(nn.Module):
    """The recurrent canvas generator of eq. (ch6-gran), ``members`` copies side by side.

    ``z`` (members, n, z_dim) → images (members, n, C, S, S) in [−1, 1]; :meth:`canvases` returns
    every C_t. ``code``: the width of h_z and h_c; ``hidden``: the hidden layers of f and g.
    """

    def __init__(self, image_size: int = 8, channels: int = 1, z_dim: int = 16, steps: int = 3, code: int = 32,
                 hidden: Sequence[int] = (128,), *, members: int | None = None,
                 generators: Sequence[torch.Generator] | None = None):
        super().__init__()
        self.image_size = V.positive_int(image_size, "image_size")
        self.channels = V.positive_int(channels, "channels")
        self.z_dim = V.positive_int(z_dim, "z_dim")
        self.steps = V.positive_int(steps, "steps")
        self.code = V.positive_int(code, "code")
        pixels = channels * image_size * image_size
        self.embed = BatchedMLP(z_dim, code, (), members=members, generators=generators)      # h_z = tanh(W z + b)
        self.write = BatchedMLP(2 * code, pixels, hidden, members=members, generators=generators)   # f
        self.read = BatchedMLP(pixels, code, hidden, members=members, generators=generators)        # g
        self.members = self.embed.members

    def canvases(self, z: torch.Tensor) -> torch.Tensor:
        """The canvases C_1, …, C_T of eq. (ch6-gran), stacked: (T, members, n, C, S, S). The sample is
        tanh(C_T); tanh(C_t) shows the drawing after t steps."""
        V.tensor(z, "z", ndim=3, finite=False)
        if z.shape[0] != self.members or z.shape[2] != self.z_dim:
            raise ValueError(f"z must have shape ({self.members}, n, {self.z_dim}), got {tuple(z.shape)}")
        h_z = torch.tanh(self.embed(z))                                    # (members, n, code)
        h_c = torch.zeros_like(h_z)                                        # nothing drawn yet
        canvas, out = None, []
        for _ in range(self.steps):
            delta = self.write(torch.cat([h_z, h_c], dim=-1))              # ΔC_t, (members, n, pixels)
            canvas = delta if canvas is None else canvas + delta           # C_t = C_{t−1} + ΔC_t
            h_c = torch.tanh(self.read(delta))                             # read back what was just drawn
            out.append(canvas)
        s = self.image_size
        return torch.stack(out).reshape(self.steps, *z.shape[:2], self.channels, s, s)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Samples tanh(C_T), (members, n, C, S, S)."""
        return torch.tanh(self.canvases(z)[-1])


__all__ = ["GRANGenerator"]
