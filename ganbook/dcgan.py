"""DCGAN networks whose seeds train side by side, and the guidelines as switches (chapter 6a).

Radford, Metz and Chintala's guidelines {radford2016dcgan}, eq. (ch6-dcgan-guidelines) of the book:
strided convolutions instead of pooling (fractionally strided in G), batch norm in both networks except
G's output and D's input, ReLU in G with ``tanh`` at its output, LeakyReLU in D, no fully connected
hidden layers. :class:`Guidelines` turns each one into a switch so that chapter 6a can remove them one
at a time; everything else (depth, widths, initialisation) stays fixed.

Members. ``members=E`` builds E independent networks inside one: every convolution has ``groups=E``
and E times the channels, so member e owns channel block e of every feature map, and every batch norm
normalises each channel over the batch and the pixels — per member. The projection of z and D's last
layer are per-member matrix products (``torch.einsum``). A loss summing the members' losses gives each
member its own gradient; Adam acts entry by entry, so E seeds train exactly as E separate runs would
(up to floating-point order), at a fraction of the overhead on a CPU.

Shapes: a generator maps z of shape (n, z_dim) to images (n, C, S, S) in [−1, 1]; with members, z
(E, n, z_dim) → (E, n, C, S, S). A discriminator maps images to logits (n,), with members (E, n, C, S, S)
→ (E, n). Depth follows S: the feature map starts at 2×2 for S = 8 and at 4×4 for S ≥ 16 and doubles in
each (transposed) convolution; channels halve in G on the way up and double in D on the way down.
A layer followed by batch norm has no bias (the normalisation removes any constant).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V

SIZES = (8, 16, 32, 64)


@dataclass(frozen=True)
class Guidelines:
    """The DCGAN guidelines, eq. (ch6-dcgan-guidelines); the defaults follow all of them.

    ``strided``: strided convolutions in D and fractionally strided ones in G (False: max pooling after
    a stride-1 convolution in D, nearest-neighbour upsampling before a stride-1 convolution in G).
    ``batch_norm``: batch norm after every hidden layer of both networks. ``batch_norm_ends``: also
    on G's output layer and D's input layer (the guideline says not to). ``leaky_discriminator``:
    LeakyReLU(0.2) in D (False: ReLU). ``tanh_output``: G's output through ``tanh`` (False: linear).
    ``fc_hidden``: width of a fully connected hidden layer added after z in G and before the logit in
    D (0: none, as the guideline says)."""

    strided: bool = True
    batch_norm: bool = True
    batch_norm_ends: bool = False
    leaky_discriminator: bool = True
    tanh_output: bool = True
    fc_hidden: int = 0

    def __post_init__(self) -> None:
        for name in ("strided", "batch_norm", "batch_norm_ends", "leaky_discriminator", "tanh_output"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
        V.positive_int(self.fc_hidden, "fc_hidden", minimum=0)


def _levels(image_size: int) -> tuple[int, int]:
    """(base, blocks): the side of the first feature map and the number of doublings to reach S."""
    if image_size not in SIZES:
        raise ValueError(f"image_size must be one of {SIZES}, got {image_size!r}")
    base = 2 if image_size == 8 else 4
    return base, int(math.log2(image_size // base))


class MemberLinear(nn.Module):
    """E independent linear maps (E, n, a) → (E, n, b): weight (E, a, b), bias (E, 1, b) (none with
    ``bias=False``, before a batch norm, which removes any constant); initialised like DCGAN's layers,
    N(0, 0.02²) weights and zero biases."""

    def __init__(self, members: int, a: int, b: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(members, a, b) * 0.02)
        self.bias = nn.Parameter(torch.zeros(members, 1, b)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.bmm(x, self.weight) if self.bias is None else torch.baddbmm(self.bias, x, self.weight)


def _init(net: nn.Module) -> None:
    """DCGAN's initialisation: convolution weights N(0, 0.02²), batch-norm scales N(1, 0.02²), zero
    biases and shifts."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _to_channels(x: torch.Tensor) -> torch.Tensor:
    """(E, n, C, H, W) → (n, E·C, H, W): member e in channel block e."""
    e, n, c, h, w = x.shape
    return x.permute(1, 0, 2, 3, 4).reshape(n, e * c, h, w)


def _from_channels(x: torch.Tensor, members: int) -> torch.Tensor:
    """(n, E·C, H, W) → (E, n, C, H, W)."""
    n, ec, h, w = x.shape
    return x.view(n, members, ec // members, h, w).permute(1, 0, 2, 3, 4)


def _setup(net: nn.Module, image_size: int, channels: int, width: int, guidelines: Guidelines,
           members: int | None) -> tuple[int, Guidelines, int]:
    """Check and store the arguments shared by both networks; return (E, guidelines, blocks)."""
    if not isinstance(guidelines, Guidelines):
        raise TypeError(f"guidelines must be a Guidelines, got {type(guidelines).__name__}")
    net.channels = V.positive_int(channels, "channels")
    V.positive_int(width, "width")
    net.members, net.batched = (1, False) if members is None else (V.positive_int(members, "members"), True)
    net.image_size, net.guidelines = image_size, guidelines
    net.base, blocks = _levels(image_size)
    return net.members, guidelines, blocks


class Generator(nn.Module):
    """DCGAN generator: z → projection to a base map → (transposed) convolutions doubling the side →
    C channels through ``tanh``. ``members=E``: E independent generators (see the module docstring)."""

    def __init__(self, z_dim: int = 16, image_size: int = 8, channels: int = 1, width: int = 32, *,
                 guidelines: Guidelines = Guidelines(), members: int | None = None):
        super().__init__()
        self.z_dim = V.positive_int(z_dim, "z_dim")
        E, g, blocks = _setup(self, image_size, channels, width, guidelines, members)
        self.c0 = width * 2 ** (blocks - 1)
        project_in = z_dim
        self.hidden = None
        if g.fc_hidden:
            self.hidden = MemberLinear(E, z_dim, g.fc_hidden)
            project_in = g.fc_hidden
        self.project = MemberLinear(E, project_in, self.c0 * self.base ** 2, bias=not g.batch_norm)
        self.project_bn = nn.BatchNorm2d(E * self.c0) if g.batch_norm else nn.Identity()
        layers: list[nn.Module] = []
        c = self.c0
        for k in range(blocks):
            last = k == blocks - 1
            out = channels if last else c // 2
            norm = (g.batch_norm and not last) or (g.batch_norm_ends and last)
            if g.strided:                                                  # side × 2, eq. (ch6-conv-size)
                layers.append(nn.ConvTranspose2d(E * c, E * out, 4, stride=2, padding=1, groups=E, bias=not norm))
            else:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                           nn.Conv2d(E * c, E * out, 3, padding=1, groups=E, bias=not norm)]
            if norm:
                layers.append(nn.BatchNorm2d(E * out))
            if not last:
                layers.append(nn.ReLU())
            c = out
        if g.tanh_output:
            layers.append(nn.Tanh())
        self.body = nn.Sequential(*layers)
        _init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = V.tensor(z, "z", ndim=3 if self.batched else 2, finite=False)
        if not self.batched:
            z = z.unsqueeze(0)
        if z.shape[0] != self.members or z.shape[-1] != self.z_dim:
            raise ValueError(f"z must have shape ({self.members}, n, {self.z_dim}) with members, (n, {self.z_dim})"
                             f" without; got {tuple(z.shape) if self.batched else tuple(z.shape[1:])}")
        h = z
        if self.hidden is not None:
            h = F.relu(self.hidden(h))                                     # (E, n, fc_hidden)
        h = self.project(h)                                                # (E, n, c0·b·b)
        E, n, b = self.members, z.shape[1], self.base
        h = _to_channels(h.view(E, n, self.c0, b, b))                      # (n, E·c0, b, b)
        x = _from_channels(self.body(F.relu(self.project_bn(h))), E)       # (E, n, C, S, S)
        return x if self.batched else x[0]


class Discriminator(nn.Module):
    """DCGAN discriminator: convolutions halving the side down to the base map, then one logit per image
    (a linear map of the last feature map: no hidden fully connected layer). ``members=E``: E independent
    discriminators (see the module docstring)."""

    def __init__(self, image_size: int = 8, channels: int = 1, width: int = 32, *,
                 guidelines: Guidelines = Guidelines(), members: int | None = None):
        super().__init__()
        E, g, blocks = _setup(self, image_size, channels, width, guidelines, members)
        act = (lambda: nn.LeakyReLU(0.2)) if g.leaky_discriminator else nn.ReLU
        layers: list[nn.Module] = []
        c = channels
        for k in range(blocks):
            out = width * 2 ** k
            norm = (g.batch_norm and k > 0) or (g.batch_norm_ends and k == 0)
            if g.strided:                                                  # side / 2, eq. (ch6-conv-size)
                layers.append(nn.Conv2d(E * c, E * out, 4, stride=2, padding=1, groups=E, bias=not norm))
            else:
                layers += [nn.Conv2d(E * c, E * out, 3, padding=1, groups=E, bias=not norm), nn.MaxPool2d(2)]
            if norm:
                layers.append(nn.BatchNorm2d(E * out))
            layers.append(act())
            c = out
        self.body = nn.Sequential(*layers)
        self.c_last = c
        flat = c * self.base ** 2
        self.hidden = MemberLinear(E, flat, g.fc_hidden) if g.fc_hidden else None
        self.hidden_act = act() if g.fc_hidden else None
        self.head = MemberLinear(E, g.fc_hidden or flat, 1)
        _init(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map, flattened per member: (E, n, c·b·b) (members) or (n, c·b·b)."""
        x = V.tensor(x, "x", ndim=5 if self.batched else 4, finite=False)
        if not self.batched:
            x = x.unsqueeze(0)
        want = (self.members, self.channels, self.image_size, self.image_size)
        if (x.shape[0], *x.shape[2:]) != want:
            raise ValueError(f"x must have shape ({want[0]}, n, {want[1]}, {want[2]}, {want[3]}) with members, "
                             f"(n, {want[1]}, {want[2]}, {want[3]}) without; got "
                             f"{tuple(x.shape) if self.batched else tuple(x.shape[1:])}")
        h = _from_channels(self.body(_to_channels(x)), self.members)       # (E, n, c, b, b)
        h = h.flatten(2)
        return h if self.batched else h[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        if not self.batched:
            h = h.unsqueeze(0)
        if self.hidden is not None:
            h = self.hidden_act(self.hidden(h))
        logits = self.head(h).squeeze(-1)                                  # (E, n)
        return logits if self.batched else logits[0]


# ----------------------------------------------------------------------------------------- presets

@dataclass(frozen=True)
class Preset:
    """Sizes of an image experiment. ``cpu``: the book's live default (seconds on a laptop CPU);
    ``gpu``: real sizes for one GPU (minutes), bf16 autocast there (``amp``)."""

    name: str
    dataset: str              # "digits" (1×8×8) or "shapes" (3×S×S, plain background)
    image_size: int
    channels: int
    z_dim: int
    width: int
    batch: int
    steps: int
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    amp: bool = False
    seeds: int = 3
    ema: float = 0.99         # decay of the running average of G's weights (the generator scored)
    extra: dict = field(default_factory=dict)


PRESETS = {
    "cpu": Preset("cpu", "digits", 8, 1, z_dim=16, width=16, batch=64, steps=320, lr=1e-3),
    "gpu": Preset("gpu", "shapes", 32, 3, z_dim=64, width=64, batch=128, steps=20_000, lr=2e-4, amp=True, seeds=5,
                  ema=0.999),
}


def preset(name: str) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


def real_images(p: Preset, n: int | None = None, *, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Training images of preset ``p``, (n, C, S, S) in [−1, 1]: the digits' training half
    (``metrics.digits_split``; all 896 images, or the first ``n`` of a permutation drawn from
    ``generator``) or ``n`` fresh shapes on a plain background (20,000 by default) drawn from
    ``generator``."""
    if not isinstance(p, Preset):
        raise TypeError(f"p must be a Preset, got {type(p).__name__}")
    if n is not None:
        V.positive_int(n, "n")
    device = V.device_arg(device)
    if p.dataset == "digits":
        from .data import digits
        from .metrics.features import digits_split

        x = digits()[0][digits_split(0)["train"]]
        if n is not None:
            if n > x.shape[0]:
                raise ValueError(f"n must be at most {x.shape[0]} (the digits' training half), got {n}")
            x = x[torch.randperm(x.shape[0], generator=generator)[:n]]
        return x.to(device)
    from .data import shapes

    return shapes(n or 20_000, p.image_size, generator=generator, device=device).images


def describe(p: Preset) -> str:
    """The preset's settings on one line."""
    return ", ".join(f"{k}={v}" for k, v in asdict(p).items() if k != "extra")
