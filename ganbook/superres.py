"""Super-resolution with a known answer: SRGAN on shapes (chapter 12).

The low-resolution image is a *known* degradation of a shapes image, :func:`downsample` (the mean of
each r×r block), so every super-resolved output is scored against the true high-resolution image:

* :func:`psnr`, eq. (ch12-psnr), and the book's SSIM (:func:`ganbook.metrics.ssim`) — distortion;
* FID and KID with the shapes classifier's features (:func:`ganbook.translation.score`) — how
  much the outputs look like real images (the perception side of eq. (ch12-perception-distortion)).

:class:`SRGenerator` is SRGAN's generator {ledig2017srgan} sized to the data: a 3×3 head, residual
blocks at the low resolution, one sub-pixel block (a convolution to r² times the channels and a pixel
shuffle {shi2016subpixel} that multiplies the side by r), a 3×3 tail; ``members=E`` networks side by side
(grouped convolutions, as in :mod:`ganbook.dcgan`). The discriminator is chapter 6a's DCGAN
discriminator. :func:`sr_g_loss` is the generator's loss, eq. (ch12-srgan): pixel MSE, a feature
(perceptual) loss on a fixed network's maps, eq. (ch12-feature-loss), and the non-saturating
adversarial term, with one weight triple per member so that a whole trade-off curve trains at once.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V
from .dcgan import Discriminator, _from_channels, _to_channels
from .errors import check_finite
from .translation import _per_member, adversarial_d_loss, adversarial_g_loss

# ------------------------------------------------------------------------------------------ presets


@dataclass(frozen=True)
class Preset:
    """Sizes of the SRGAN experiment. ``cpu``: seconds on a laptop CPU; ``gpu``: 16×16 → 64×64, wider
    nets, more steps (minutes on one GPU)."""

    name: str
    low: int              # low-resolution side
    factor: int           # upscaling factor r (a power of 2); the high-resolution side is low·factor
    width: int            # channels of the generator (and of the discriminator's first layer)
    blocks: int           # residual blocks at the low resolution
    batch: int
    steps: int
    lr: float
    seeds: int
    adv_weights: tuple[float, ...]    # the trade-off curve's adversarial weights (0 first)
    feature_weight: float
    n_train: int
    n_test: int

    @property
    def high(self) -> int:
        return self.low * self.factor


PRESETS = {
    "cpu": Preset("cpu", 4, 4, 8, 1, 16, 200, 2e-3, 3, (0.0, 0.03, 0.1), 1.0, 2000, 500),
    "gpu": Preset("gpu", 16, 4, 64, 8, 64, 10_000, 2e-4, 5, (0.0, 1e-3, 1e-2, 0.1), 1.0, 20_000, 5000),
}


def preset(name: str) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


# ------------------------------------------------------------------------------------ degradation

def downsample(images: torch.Tensor, factor: int) -> torch.Tensor:
    """The known degradation: the mean of each factor×factor block, (..., C, H, W) → (..., C, H/r, W/r)."""
    V.tensor(images, "images")
    r = V.positive_int(factor, "factor")
    if images.ndim < 3 or images.shape[-1] % r or images.shape[-2] % r:
        raise ValueError(f"images must be (..., C, H, W) with H and W multiples of factor={r}, got "
                         f"{tuple(images.shape)}")
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:])
    return F.avg_pool2d(x, r).reshape(*lead, *x.shape[1:2], x.shape[-2] // r, x.shape[-1] // r)


def upsample(images: torch.Tensor, factor: int, mode: str = "bicubic") -> torch.Tensor:
    """Interpolate (..., C, h, w) → (..., C, r·h, r·w) (``mode``: "nearest", "bilinear" or "bicubic"),
    clamped to [−1, 1]: the classical baselines."""
    V.tensor(images, "images")
    r = V.positive_int(factor, "factor")
    if mode not in ("nearest", "bilinear", "bicubic"):
        raise ValueError(f"mode must be 'nearest', 'bilinear' or 'bicubic', got {mode!r}")
    if images.ndim < 3:
        raise ValueError(f"images must be (..., C, h, w), got {tuple(images.shape)}")
    lead = images.shape[:-3]
    x = images.reshape(-1, *images.shape[-3:])
    kw = {} if mode == "nearest" else {"align_corners": False}
    y = F.interpolate(x, scale_factor=r, mode=mode, **kw).clamp(-1, 1)
    return y.reshape(*lead, *y.shape[1:])


def psnr(x: torch.Tensor, y: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image pair, eq. (ch12-psnr): 10·log₁₀(L² / MSE) with L the
    width of ``value_range`` (2 for the book's images in [−1, 1]) and the MSE over one image's pixels
    and channels. x, y (..., C, H, W) → (...,) in decibels (+inf for identical images)."""
    V.tensor(x, "x")
    V.tensor(y, "y")
    if x.shape != y.shape or x.ndim < 3:
        raise ValueError(f"x and y must have the same shape (..., C, H, W), got {tuple(x.shape)} and {tuple(y.shape)}")
    if not (isinstance(value_range, (tuple, list)) and len(value_range) == 2):
        raise TypeError(f"value_range must be a pair (low, high), got {value_range!r}")
    L = float(value_range[1]) - float(value_range[0])
    if not L > 0:
        raise ValueError(f"value_range must satisfy low < high, got {value_range!r}")
    mse = ((x.double() - y.double()) ** 2).flatten(-3).mean(-1)
    return 10 * torch.log10(L ** 2 / mse)


# ---------------------------------------------------------------------------------------- networks

class SRGenerator(nn.Module):
    """SRGAN's generator {ledig2017srgan}, sized to the data: (E, n, 3, h, h) → (E, n, 3, r·h, r·h).

    A 3×3 convolution to w channels, ``blocks`` residual blocks (3×3 conv, LeakyReLU, 3×3 conv, plus
    the input) at the low resolution — where a convolution is cheapest — then one sub-pixel block: a
    3×3 convolution to r²·w channels and a pixel shuffle that rearranges each group of r² channels into
    an r×r block of pixels {shi2016subpixel}, LeakyReLU (SRGAN stacks two ×2 blocks; one ×r block is
    ESPCN's choice and cheaper); a 3×3 convolution to 3 channels. As in VDSR, the network adds its output to the bicubic upsampling of the input, so it
    learns only the missing detail (the original SRGAN has no such global skip; at our budget it
    saves most of the steps). No batch norm (each output depends on its own input only). Linear
    output; clamp it for display (:func:`ganbook.translation.translate` applies it to a batch for every member). ``members=E``: grouped convolutions."""

    def __init__(self, factor: int = 4, width: int = 16, blocks: int = 1, *, members: int = 1):
        super().__init__()
        E = self.members = V.positive_int(members, "members")
        r = self.factor = V.positive_int(factor, "factor", minimum=2)
        w = V.positive_int(width, "width")
        V.positive_int(blocks, "blocks", minimum=0)
        self.head = nn.Conv2d(E * 3, E * w, 3, padding=1, groups=E)
        self.res = nn.ModuleList([nn.Sequential(nn.Conv2d(E * w, E * w, 3, padding=1, groups=E), nn.LeakyReLU(0.2),
                                                nn.Conv2d(E * w, E * w, 3, padding=1, groups=E))
                                  for _ in range(blocks)])
        self.up = nn.Conv2d(E * w, E * r * r * w, 3, padding=1, groups=E)
        self.tail = nn.Conv2d(E * w, E * 3, 3, padding=1, groups=E)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        V.tensor(lr, "lr", ndim=5)
        if lr.shape[0] != self.members or lr.shape[2] != 3:
            raise ValueError(f"lr must have shape ({self.members}, n, 3, h, w), got {tuple(lr.shape)}")
        E = self.members
        h = F.leaky_relu(self.head(_to_channels(lr)), 0.2)
        for block in self.res:
            h = h + block(h)
        # pixel_shuffle maps channels r²c … r²c + r² − 1 to channel c: member e's r²w channels stay member e's w
        h = F.leaky_relu(F.pixel_shuffle(self.up(h), self.factor), 0.2)
        return upsample(lr, self.factor, "bicubic") + _from_channels(self.tail(h), E)


# ------------------------------------------------------------------------------------------ losses

def _weights(w: object, name: str, members: int, device: torch.device) -> torch.Tensor:
    if isinstance(w, (int, float)) and not isinstance(w, bool):
        return torch.full((members,), float(w), device=device)
    V.tensor(w, name, ndim=1)
    if w.shape[0] != members:
        raise ValueError(f"{name} must have one weight per member ({members}), got {w.shape[0]}")
    return w.to(device)


def feature_loss(real: torch.Tensor, fake: torch.Tensor, *, phi: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """The feature (perceptual) loss per member, eq. (ch12-feature-loss): the mean of (φ(ŷ) − φ(y))² over a
    fixed network's feature maps φ. ``real``: the true images y, ``fake``: the outputs ŷ, both (E, n, C, H, W);
    ``phi`` maps (m, C, H, W) to (m, ...). SRGAN's φ is VGG19's 4th convolution before its 5th max-pooling
    {ledig2017srgan}."""
    V.tensor(real, "real", ndim=5)
    V.tensor(fake, "fake", ndim=5)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    E, n = fake.shape[:2]
    a = phi(fake.flatten(0, 1))
    with torch.no_grad():
        b = phi(real.flatten(0, 1))
    return _per_member(((a - b) ** 2).view(E, n, -1))


def sr_g_loss(fake: torch.Tensor, *, output: torch.Tensor, target: torch.Tensor,
              phi: Callable[[torch.Tensor], torch.Tensor] | None = None,
              mse_weight: float | torch.Tensor = 1.0, feature_weight: float | torch.Tensor = 0.0,
              adv_weight: float | torch.Tensor = 1e-3) -> torch.Tensor:
    """SRGAN's generator loss per member, eq. (ch12-srgan): mse_weight·mean (ŷ − y)² +
    feature_weight·:func:`feature_loss` + adv_weight·softplus(−D(ŷ)) (the non-saturating −log D(G(x))).
    ``fake``: D's logits on the outputs, (E, n); ``output`` ŷ and ``target`` y: (E, n, C, H, W);
    weights: numbers or (E,) tensors (one per member). ``phi`` is needed when a feature weight is non-zero."""
    V.tensor(fake, "fake")
    V.tensor(output, "output", ndim=5)
    V.tensor(target, "target", ndim=5)
    if output.shape != target.shape:
        raise ValueError(f"output and target must have the same shape, got {tuple(output.shape)} and {tuple(target.shape)}")
    E, dev = output.shape[0], output.device
    if fake.shape[0] != E:
        raise ValueError(f"fake must have one row per member ({E}), got shape {tuple(fake.shape)}")
    a = _weights(mse_weight, "mse_weight", E, dev)
    b = _weights(feature_weight, "feature_weight", E, dev)
    c = _weights(adv_weight, "adv_weight", E, dev)
    on = torch.nonzero(b).flatten()          # the members with a feature term (the others skip φ's cost)
    if on.numel() and phi is None:
        raise ValueError("phi must be given when a feature weight is non-zero")
    return _sr_loss(fake, output, target, phi, a, b, c, on)


def _sr_loss(fake, output, target, phi, a, b, c, on) -> torch.Tensor:
    """eq. (ch12-srgan) with checked weights and ``on``, the members with a feature term (found once, so
    that a training loop does not synchronise with the device at every step)."""
    loss = a * _per_member((output - target) ** 2) + c * adversarial_g_loss(fake, kind="ns")
    if on.numel():
        loss = loss.index_add(0, on, b[on] * feature_loss(target[on], output[on], phi=phi))
    return loss


def shapes_phi(net: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """A fixed feature map for :func:`feature_loss` (our VGG stand-in): the first block of the shapes
    classifier ``net`` (two 3×3 convolutions with batch norm in evaluation mode and ReLU, 16 channels at
    16×16) on area-downsampled images. A frozen copy: training through it never changes ``net``."""
    block = copy.deepcopy(net.full).eval().requires_grad_(False)
    return lambda x: block(net.prepare(x))


# ---------------------------------------------------------------------------------------- training

def train_srgan(hr: torch.Tensor, *, mse_weight: torch.Tensor, feature_weight: torch.Tensor,
                adv_weight: torch.Tensor, p: Preset, phi: Callable[[torch.Tensor], torch.Tensor] | None = None,
                seed: int = 0) -> SRGenerator:
    """Train E = len(adv_weight) SRGAN generators side by side on high-resolution images ``hr``
    (N, 3, H, H) with H = p.high; the inputs are their :func:`downsample`. Member e minimises eq.
    (ch12-srgan) with its own weights; the (DCGAN) discriminators learn with the cross-entropy (a member of
    adversarial weight 0 still trains its discriminator, which it ignores). Each member draws its own
    batches. Returns the generator (E members)."""
    if not isinstance(p, Preset):
        raise TypeError(f"p must be a Preset, got {type(p).__name__}")
    V.tensor(hr, "hr", ndim=4)
    if hr.shape[1:] != (3, p.high, p.high):
        raise ValueError(f"hr must have shape (N, 3, {p.high}, {p.high}) for preset {p.name!r}, got {tuple(hr.shape)}")
    E = adv_weight.shape[0]
    dev = hr.device
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    G = SRGenerator(p.factor, p.width, p.blocks, members=E).to(dev)
    D = Discriminator(p.high, 3, p.width, members=E).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), p.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), p.lr, betas=(0.5, 0.999))
    w = [_weights(t, name, E, dev) for t, name in ((mse_weight, "mse_weight"), (feature_weight, "feature_weight"),
                                                   (adv_weight, "adv_weight"))]
    on = torch.nonzero(w[1]).flatten()
    if on.numel() and phi is None:
        raise ValueError("phi must be given when a feature weight is non-zero")
    for _ in range(p.steps):
        y = hr[torch.randint(0, hr.shape[0], (E, p.batch), generator=g, device=dev)]
        fake = G(downsample(y, p.factor))
        d = adversarial_d_loss(D(y), D(fake.detach())).sum()
        opt_d.zero_grad(set_to_none=True)
        d.backward()
        opt_d.step()
        loss = _sr_loss(D(fake), fake, y, phi, *w, on).sum()
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
    check_finite(loss, "the SRGAN loss")
    return G


__all__ = ["Preset", "PRESETS", "preset", "downsample", "upsample", "psnr", "SRGenerator", "feature_loss",
           "sr_g_loss", "shapes_phi", "train_srgan"]
