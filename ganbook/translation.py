"""Image-to-image translation with known answers (chapter 11).

Every task of the chapter is built from :func:`ganbook.data.shapes`, so the true translation is known
and every method — even one trained *unpaired* — is scored against it:

* :func:`mask_pairs` — the silhouette of a shape (its coverage mask, one channel) → the rendered
  colour image. The shape is determined by the mask; the colour is not (one-to-many):
  the paired task of pix2pix {isola2017pix2pix}, eq. (ch11-pix2pix).
* :func:`warm_shapes` and :func:`permute_colors` — shapes whose hue lies in [0, ¼) and the same images
  with the colour channels cycled (R, G, B) → (B, R, G): a bijection (its inverse is
  :func:`unpermute_colors`), learned *unpaired* by CycleGAN {zhu2017cyclegan}, eq. (ch11-unpaired).
* :func:`whiten` — the same shapes drawn in white: a many-to-one map (the colour is lost), where cycle
  consistency can only be met by hiding the colour in the translated image {chu2017steganography};
  :func:`hide` and :func:`reveal` are such a hiding pair, built by hand, and :func:`quantise` the
  8-bit rounding that destroys it.

Networks carry E independent members side by side (``members=E``: grouped convolutions, as in
:mod:`ganbook.dcgan`): images (E, n, C, S, S). :class:`UNet` is a two-level U-Net
{ronneberger2015unet} without normalisation (each output pixel depends on its own input only);
:class:`PatchGAN` a fully convolutional discriminator whose logits form a map, each logit seeing one
patch of side :func:`receptive_field`, eq. (ch11-receptive-field).

Losses (the book's convention, :mod:`ganbook.objectives`): :func:`adversarial_d_loss`,
:func:`adversarial_g_loss` (non-saturating "ns", least squares "ls", Wasserstein "wgan"),
:func:`pix2pix_g_loss` (eq. ch11-pix2pix), :func:`cycle_loss`, :func:`distance_loss` and
:func:`unpaired_objective` (the weighted sum of eq. ch11-unpaired, with the weights of each paper in
:data:`UNPAIRED`), :func:`perceptual_adversarial_g_loss` / :func:`perceptual_adversarial_d_loss` (PAN,
eq. ch11-pan) and :func:`self_regularised_g_loss` (SimGAN's refiner, eq. ch11-simgan).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V
from .dcgan import _from_channels, _to_channels  # the members-as-channel-blocks layout of chapter 6a
from .errors import check_finite

# ------------------------------------------------------------------------------------------ presets


@dataclass(frozen=True)
class Preset:
    """Sizes of the chapter's experiments. ``cpu``: seconds on a laptop CPU; ``gpu``: larger images
    and nets, more steps (minutes on one GPU)."""

    name: str
    size: int            # image side (16 or 32: the shapes classifier reads multiples of 16)
    width: int           # channels of the U-Net's first level and of the PatchGAN's first layer
    batch: int
    steps: int           # pix2pix steps
    cycle_steps: int     # CycleGAN steps
    lr: float
    seeds: int
    n_test: int          # test pairs scored per member


PRESETS = {
    "cpu": Preset("cpu", 16, 8, 16, 300, 300, 2e-3, 3, 500),
    "gpu": Preset("gpu", 32, 64, 64, 5000, 5000, 2e-4, 5, 5000),
}


def preset(name: str) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]


# ------------------------------------------------------------------------------------------- tasks

def mask_pairs(n: int, size: int = 16, *, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The paired task: (mask, image, label). ``mask`` (n, 1, S, S) in [−1, 1] is the shape's
    coverage (white on black); ``image`` (n, 3, S, S) the rendered shape on a black background, so
    image = mask·colour exactly; ``label`` (n,) its class. The mask fixes the shape, not its colour:
    the translation is one-to-many, the colour drawn uniformly in hue."""
    from .shapes import shapes

    b = shapes(n, size, generator=generator, device=device)
    return 2 * b.masks - 1, b.images, b.factors["label"]


def warm_shapes(n: int, size: int = 16, *, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Shapes whose colour has a hue in [0, ¼) (reds to yellow-greens), saturation in [0.6, 1] and
    value in [0.7, 1]: (images (n, 3, S, S) in [−1, 1], labels (n,)). The hue range breaks the
    symmetry of the colour wheel, so that among the six channel permutations only one maps these
    images onto :func:`permute_colors` of them (the unpaired task has one answer)."""
    from .shapes import shapes

    b = shapes(n, size, generator=generator, device=device)
    where = b.images.device
    hsv = torch.rand((n, 3), generator=generator, device=generator.device if generator is not None else "cpu")
    h, s, v = (0.25 * hsv[:, 0]).to(where), (0.6 + 0.4 * hsv[:, 1]).to(where), (0.7 + 0.3 * hsv[:, 2]).to(where)
    t = (torch.tensor([5.0, 3.0, 1.0], device=where) + 6 * h[:, None]) % 6
    color = v[:, None] - (v * s)[:, None] * torch.minimum(t, 4 - t).clamp(0, 1)       # HSV → RGB
    return 2 * b.masks * color[..., None, None] - 1, b.factors["label"]


def permute_colors(images: torch.Tensor) -> torch.Tensor:
    """The true unpaired map: (R, G, B) → (B, R, G), i.e. a hue shift of one third."""
    V.tensor(images, "images")
    if images.ndim < 3 or images.shape[-3] != 3:
        raise ValueError(f"images must have 3 channels in dimension −3, got shape {tuple(images.shape)}")
    return images[..., [2, 0, 1], :, :]


def unpermute_colors(images: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`permute_colors`: (R, G, B) → (G, B, R)."""
    V.tensor(images, "images")
    if images.ndim < 3 or images.shape[-3] != 3:
        raise ValueError(f"images must have 3 channels in dimension −3, got shape {tuple(images.shape)}")
    return images[..., [1, 2, 0], :, :]


def whiten(images: torch.Tensor) -> torch.Tensor:
    """A many-to-one map: each pixel's brightest channel copied to all three (a shape of any colour
    with value 1 becomes white; the hue is lost). On a black background this is max_c x_c."""
    V.tensor(images, "images")
    if images.ndim < 3 or images.shape[-3] != 3:
        raise ValueError(f"images must have 3 channels in dimension −3, got shape {tuple(images.shape)}")
    return images.amax(dim=-3, keepdim=True).expand_as(images).contiguous()


def hide(images: torch.Tensor, eps: float = 0.01) -> torch.Tensor:
    """A steganographic "translation" to the white domain, eq. (ch11-stego): whiten(x) + ε·(x − whiten(x)).
    Within 2ε of the honest :func:`whiten` (invisible for small ε), yet it keeps the colour: since
    x_c ≤ whiten(x) channel by channel, whiten(hide(x)) = whiten(x), and :func:`reveal` inverts it."""
    e = V.positive_float(eps, "eps")
    w = whiten(images)
    return w + e * (images - w)


def reveal(images: torch.Tensor, eps: float = 0.01) -> torch.Tensor:
    """The inverse of :func:`hide`: whiten(y) + (y − whiten(y))/ε — a perfect cycle, reading a signal of
    amplitude ε that the target domain's images never carry."""
    e = V.positive_float(eps, "eps")
    w = whiten(images)
    return w + (images - w) / e


def quantise(images: torch.Tensor, levels: int = 256) -> torch.Tensor:
    """Round images in [−1, 1] to ``levels`` grey levels per channel (8-bit storage for 256)."""
    V.tensor(images, "images")
    n = V.positive_int(levels, "levels", minimum=2) - 1
    return torch.round((images.clamp(-1, 1) + 1) * n / 2) * 2 / n - 1


# ---------------------------------------------------------------------------------------- networks

def _cat(members: int, *xs: torch.Tensor) -> torch.Tensor:
    """Concatenate channel-stacked feature maps member by member (the U-Net's skip connections)."""
    n, _, h, w = xs[0].shape
    parts = [x.view(n, members, -1, h, w) for x in xs]
    return torch.cat(parts, 2).reshape(n, -1, h, w)


def _check_images(x: object, members: int, channels: int, name: str = "x") -> torch.Tensor:
    V.tensor(x, name, ndim=5)
    if x.shape[0] != members or x.shape[2] != channels or x.shape[3] != x.shape[4] or x.shape[3] % 4:
        raise ValueError(f"{name} must have shape ({members}, n, {channels}, S, S) with S a multiple of 4, "
                         f"got {tuple(x.shape)}")
    return x


class UNet(nn.Module):
    """A two-level U-Net {ronneberger2015unet}, as pix2pix's but shallower, for (E, n, C_in, S, S) →
    (E, n, C_out, S, S).

    Encoder: two 4×4 stride-2 convolutions (w channels at S/2, 2w at S/4); decoder: a 4×4 stride-2
    transposed convolution back to S/2 (w channels), the concatenation of the encoder map of the same
    size (the skip connection that lets fine detail bypass the bottleneck), and a 4×4 stride-2
    transposed convolution to C_out channels at S. LeakyReLU(0.2) inside, no normalisation (each
    output image depends on its own input only); the output is linear while training (a ``tanh``
    saturated at the black background stops L1 learning) and clamped to [−1, 1] by :func:`translate`.
    ``members=E``: E independent networks (grouped convolutions)."""

    def __init__(self, in_channels: int = 1, out_channels: int = 3, width: int = 16, *, members: int = 1):
        super().__init__()
        E = self.members = V.positive_int(members, "members")
        self.in_channels = V.positive_int(in_channels, "in_channels")
        self.out_channels = V.positive_int(out_channels, "out_channels")
        w = V.positive_int(width, "width")
        self.enc1 = nn.Conv2d(E * in_channels, E * w, 4, 2, 1, groups=E)
        self.enc2 = nn.Conv2d(E * w, E * 2 * w, 4, 2, 1, groups=E)
        self.dec2 = nn.ConvTranspose2d(E * 2 * w, E * w, 4, 2, 1, groups=E)
        self.dec1 = nn.ConvTranspose2d(E * 2 * w, E * out_channels, 4, 2, 1, groups=E)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        E = self.members
        h = _to_channels(_check_images(x, E, self.in_channels))
        a = F.leaky_relu(self.enc1(h), 0.2)                      # S/2
        b = F.leaky_relu(self.enc2(a), 0.2)                      # S/4
        u = F.leaky_relu(self.dec2(b), 0.2)                      # S/2
        return _from_channels(self.dec1(_cat(E, u, a)), E)       # S


class PixelNet(nn.Module):
    """A per-pixel network (E, n, C_in, S, S) → (E, n, C_out, S, S): three 1×1 convolutions (w hidden
    channels, LeakyReLU(0.2)), a generator sized to translations that act on each pixel alone (the
    colour maps of the unpaired tasks); linear output, clamped by :func:`translate`. ``members=E``."""

    def __init__(self, in_channels: int = 3, out_channels: int = 3, width: int = 16, *, members: int = 1):
        super().__init__()
        E = self.members = V.positive_int(members, "members")
        self.in_channels = V.positive_int(in_channels, "in_channels")
        self.out_channels = V.positive_int(out_channels, "out_channels")
        w = V.positive_int(width, "width")
        self.net = nn.Sequential(nn.Conv2d(E * in_channels, E * w, 1, groups=E), nn.LeakyReLU(0.2),
                                 nn.Conv2d(E * w, E * w, 1, groups=E), nn.LeakyReLU(0.2),
                                 nn.Conv2d(E * w, E * out_channels, 1, groups=E))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The 1×1 convolutions as one batched matrix product per layer over every pixel of every image,
        # (E, n·S·S, c_in) @ (E, c_in, c_out): the same weights, several times faster than grouped convolutions.
        E = self.members
        n, _, h, w = _check_images(x, E, self.in_channels).shape[1:]
        z = x.permute(0, 1, 3, 4, 2).reshape(E, -1, self.in_channels)
        for layer in self.net:
            if isinstance(layer, nn.Conv2d):
                weight = layer.weight.view(E, -1, layer.in_channels // E).transpose(1, 2)   # (E, c_in, c_out)
                z = torch.baddbmm(layer.bias.view(E, 1, -1), z, weight)
            else:
                z = layer(z)
        return z.view(E, n, h, w, self.out_channels).permute(0, 1, 4, 2, 3)


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """The side of the input patch that one output of a stack of convolutions sees, eq.
    (ch11-receptive-field): r = 1 + Σ_l (k_l − 1)·Π_{m<l} s_m for layers (kernel k_l, stride s_l)
    listed from the input to the output."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError("layers must be a non-empty sequence of (kernel, stride) pairs")
    r, jump = 1, 1
    for i, pair in enumerate(layers):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"layers[{i}] must be a (kernel, stride) pair, got {pair!r}")
        k, s = V.positive_int(pair[0], f"layers[{i}] kernel"), V.positive_int(pair[1], f"layers[{i}] stride")
        r += (k - 1) * jump
        jump *= s
    return r


class PatchGAN(nn.Module):
    """A conditional PatchGAN discriminator {isola2017pix2pix}: it reads the input and the output
    image stacked along the channels, (E, n, C, S, S), and returns a map of logits (E, n, S/4, S/4),
    one per patch of side :attr:`receptive_field` (10 pixels). Layers (kernel, stride): (4, 2), (4, 2)
    with padding 1, then a 1×1 convolution to the logit, LeakyReLU(0.2), no normalisation (so each logit depends on its patch only);
    :meth:`features` returns the hidden maps (PAN's perceptual features). ``members=E``."""

    LAYERS = ((4, 2), (4, 2), (1, 1))

    def __init__(self, in_channels: int = 4, width: int = 16, *, members: int = 1):
        super().__init__()
        E = self.members = V.positive_int(members, "members")
        self.in_channels = V.positive_int(in_channels, "in_channels")
        w = V.positive_int(width, "width")
        (k1, s1), (k2, s2), (k3, s3) = self.LAYERS
        self.convs = nn.ModuleList([nn.Conv2d(E * in_channels, E * w, k1, s1, 1, groups=E),
                                    nn.Conv2d(E * w, E * 2 * w, k2, s2, 1, groups=E),
                                    nn.Conv2d(E * 2 * w, E, k3, s3, 0, groups=E)])
        self.receptive_field = receptive_field(self.LAYERS)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The two hidden maps, each (E, n, c, h, w), and the logit map (E, n, 1, S/4, S/4) last."""
        E = self.members
        h = _to_channels(_check_images(x, E, self.in_channels))
        out = []
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.convs) - 1:
                h = F.leaky_relu(h, 0.2)
            out.append(_from_channels(h, E))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[-1].squeeze(2)


# ------------------------------------------------------------------------------------------ losses

ADVERSARIAL = ("ns", "ls", "wgan")


def _kind(kind: object) -> str:
    if kind not in ADVERSARIAL:
        raise ValueError(f"kind must be one of {ADVERSARIAL}, got {kind!r}")
    return kind


def _per_member(x: torch.Tensor) -> torch.Tensor:
    """Mean over every dimension but the first (the members): (E, ...) → (E,)."""
    return x.flatten(1).mean(1)


def adversarial_d_loss(real: torch.Tensor, fake: torch.Tensor, *, kind: str = "ns") -> torch.Tensor:
    """The discriminator's loss per member, (E,), from logit maps (E, n, ...) — every patch a sample:
    "ns" cross-entropy softplus(−D(y)) + softplus(D(ŷ)); "ls" least squares (D(y) − 1)² + D(ŷ)²
    (LSGAN's 0/1 targets {mao2017lsgan}, as CycleGAN); "wgan" the critic's −D(y) + D(ŷ)."""
    kind = _kind(kind)
    if kind == "ns":
        return _per_member(F.softplus(-real)) + _per_member(F.softplus(fake))
    if kind == "ls":
        return _per_member((real - 1) ** 2) + _per_member(fake ** 2)
    return _per_member(fake) - _per_member(real)


def adversarial_g_loss(fake: torch.Tensor, *, kind: str = "ns") -> torch.Tensor:
    """The generator's adversarial loss per member, (E,): "ns" softplus(−D(ŷ)) (non-saturating),
    "ls" (D(ŷ) − 1)², "wgan" −D(ŷ)."""
    kind = _kind(kind)
    if kind == "ns":
        return _per_member(F.softplus(-fake))
    if kind == "ls":
        return _per_member((fake - 1) ** 2)
    return -_per_member(fake)


def _weights(w: object, name: str, like: torch.Tensor) -> torch.Tensor:
    if isinstance(w, (int, float)) and not isinstance(w, bool):
        return torch.full((like.shape[0],), float(w), device=like.device)
    V.tensor(w, name, ndim=1)
    if w.shape[0] != like.shape[0]:
        raise ValueError(f"{name} must have one weight per member ({like.shape[0]}), got {w.shape[0]}")
    return w.to(like.device)


def pix2pix_g_loss(fake: torch.Tensor, *, output: torch.Tensor, target: torch.Tensor,
                   l1_weight: float | torch.Tensor = 100.0, adv_weight: float | torch.Tensor = 1.0) -> torch.Tensor:
    """pix2pix's generator loss per member, eq. (ch11-pix2pix): adv_weight·softplus(−D(x, G(x)))
    averaged over the patches, plus l1_weight·|y − G(x)| averaged over the pixels. ``fake``: D's logit
    map (E, n, h, w); ``output``, ``target``: (E, n, C, S, S); weights: numbers or (E,) tensors (one
    per member, so L1-only, cGAN-only and both train side by side)."""
    V.tensor(fake, "fake")
    V.tensor(output, "output")
    V.tensor(target, "target")
    if output.shape != target.shape:
        raise ValueError(f"output and target must have the same shape, got {tuple(output.shape)} and "
                         f"{tuple(target.shape)}")
    lam = _weights(l1_weight, "l1_weight", output)
    alpha = _weights(adv_weight, "adv_weight", output)
    return alpha * adversarial_g_loss(fake, kind="ns") + lam * _per_member((output - target).abs())


def cycle_loss(real: torch.Tensor, fake: torch.Tensor, *, norm: int = 1) -> torch.Tensor:
    """Cycle consistency per member, (E,): the mean |x − F(G(x))| (``norm=1``, CycleGAN, DualGAN) or
    the mean (x − F(G(x)))² (``norm=2``, DiscoGAN). ``real``: x; ``fake``: its round trip."""
    V.tensor(real, "real")
    V.tensor(fake, "fake")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if norm not in (1, 2):
        raise ValueError(f"norm must be 1 or 2, got {norm!r}")
    d = real - fake
    return _per_member(d.abs() if norm == 1 else d ** 2)


def distance_loss(real: torch.Tensor, fake: torch.Tensor, *, stats: tuple[float, float, float, float]) -> torch.Tensor:
    """DistanceGAN's distance-preserving term per member, eq. (ch11-distance) {benaim2017distancegan}:
    the mean over pairs i < j of a batch of |(‖x_i − x_j‖₁ − μ_X)/σ_X − (‖G(x_i) − G(x_j)‖₁ − μ_Y)/σ_Y|,
    with ‖·‖₁ the mean absolute difference over the pixels and (μ_X, σ_X, μ_Y, σ_Y) = ``stats``
    the mean and standard deviation of such distances in each domain (:func:`distance_stats`).
    ``real``: x (E, n, C, S, S); ``fake``: G(x), same shape; n ≥ 2."""
    V.tensor(real, "real", ndim=5)
    V.tensor(fake, "fake", ndim=5)
    if real.shape[:2] != fake.shape[:2] or real.shape[1] < 2:
        raise ValueError(f"real and fake must be (E, n, ...) with the same E and n ≥ 2, got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    if not isinstance(stats, (tuple, list)) or len(stats) != 4:
        raise TypeError("stats must be a tuple (mu_x, sigma_x, mu_y, sigma_y)")
    mx, sx, my, sy = (float(s) for s in stats)
    if sx <= 0 or sy <= 0:
        raise ValueError("stats' standard deviations must be positive")
    n = real.shape[1]
    i, j = torch.triu_indices(n, n, 1, device=real.device)
    dx = (real[:, i] - real[:, j]).abs().flatten(2).mean(2)
    dy = (fake[:, i] - fake[:, j]).abs().flatten(2).mean(2)
    return ((dx - mx) / sx - (dy - my) / sy).abs().mean(1)


def distance_stats(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float, float]:
    """(μ_X, σ_X, μ_Y, σ_Y): mean and standard deviation of the pairwise mean absolute differences
    within the image sets x (n, C, S, S) and y (m, C, S, S), for :func:`distance_loss`."""
    out = []
    for name, z in (("x", x), ("y", y)):
        V.tensor(z, name, ndim=4)
        if z.shape[0] < 3:
            raise ValueError(f"{name} must hold at least 3 images, got {z.shape[0]}")
        d = torch.cdist(z.flatten(1)[None], z.flatten(1)[None], p=1)[0] / z[0].numel()
        i, j = torch.triu_indices(z.shape[0], z.shape[0], 1, device=z.device)
        out += [float(d[i, j].mean()), float(d[i, j].std())]
    return tuple(out)


@dataclass(frozen=True)
class UnpairedWeights:
    """The weights of eq. (ch11-unpaired) and the two choices it hides: ``adversarial`` (the GAN
    loss: "ns", "ls" or "wgan") and ``norm`` (of the cycle term: 1 or 2)."""

    gan_x: float          # α_1x: G_XY's adversarial term (D_Y)
    gan_y: float          # α_1y: G_YX's adversarial term (D_X)
    cycle_x: float        # α_2x: x → G_XY → G_YX → x
    cycle_y: float        # α_2y: y → G_YX → G_XY → y
    distance_x: float     # α_3x: distances preserved by G_XY
    distance_y: float     # α_3y: distances preserved by G_YX
    adversarial: str = "ns"
    norm: int = 1

    def __post_init__(self) -> None:
        for name in ("gan_x", "gan_y", "cycle_x", "cycle_y", "distance_x", "distance_y"):
            V.positive_float(getattr(self, name), name, allow_zero=True)
        _kind(self.adversarial)
        if self.norm not in (1, 2):
            raise ValueError(f"norm must be 1 or 2, got {self.norm!r}")


# The weights of each paper (their defaults; see the chapter's erratum on the survey's table 4).
UNPAIRED = {
    "cyclegan": UnpairedWeights(1, 1, 10, 10, 0, 0, adversarial="ls", norm=1),
    "discogan": UnpairedWeights(1, 1, 1, 1, 0, 0, adversarial="ns", norm=2),
    "dualgan": UnpairedWeights(1, 1, 100, 100, 0, 0, adversarial="wgan", norm=1),
    "distancegan": UnpairedWeights(1, 0, 0, 0, 1, 0, adversarial="ns", norm=1),
}


def unpaired_objective(weights: UnpairedWeights, *, d_y_fake: torch.Tensor, d_x_fake: torch.Tensor,
                       x: torch.Tensor, y: torch.Tensor, x_cycle: torch.Tensor, y_cycle: torch.Tensor,
                       y_fake: torch.Tensor, x_fake: torch.Tensor,
                       stats: tuple[float, float, float, float] | None = None) -> torch.Tensor:
    """The generators' unpaired loss per member, eq. (ch11-unpaired): α_1x·GAN(D_Y(G_XY(x))) +
    α_1y·GAN(D_X(G_YX(y))) + α_2x·cycle(x, G_YX(G_XY(x))) + α_2y·cycle(y, G_XY(G_YX(y))) +
    α_3x·distance(x, G_XY(x)) + α_3y·distance(y, G_YX(y)). ``d_y_fake`` = D_Y(G_XY(x)) and
    ``d_x_fake`` = D_X(G_YX(y)) are logit maps; ``y_fake`` = G_XY(x), ``x_fake`` = G_YX(y); ``stats``
    (:func:`distance_stats`) is needed when a distance weight is non-zero. Terms of weight 0 are
    skipped (their inputs may then be anything of the right leading shape)."""
    if not isinstance(weights, UnpairedWeights):
        raise TypeError(f"weights must be an UnpairedWeights, got {type(weights).__name__}")
    w = weights
    total = torch.zeros(x.shape[0], device=x.device)
    if w.gan_x:
        total = total + w.gan_x * adversarial_g_loss(d_y_fake, kind=w.adversarial)
    if w.gan_y:
        total = total + w.gan_y * adversarial_g_loss(d_x_fake, kind=w.adversarial)
    if w.cycle_x:
        total = total + w.cycle_x * cycle_loss(x, x_cycle, norm=w.norm)
    if w.cycle_y:
        total = total + w.cycle_y * cycle_loss(y, y_cycle, norm=w.norm)
    if w.distance_x or w.distance_y:
        if stats is None:
            raise ValueError("stats must be given when a distance weight is non-zero")
        if w.distance_x:
            total = total + w.distance_x * distance_loss(x, y_fake, stats=stats)
        if w.distance_y:
            mx, sx, my, sy = stats
            total = total + w.distance_y * distance_loss(y, x_fake, stats=(my, sy, mx, sx))
    return total


def perceptual_adversarial_g_loss(fake: Sequence[torch.Tensor], *, real: Sequence[torch.Tensor],
                                  weights: Sequence[float]) -> torch.Tensor:
    """PAN's perceptual loss per member, eq. (ch11-pan) {wang2018pan}: Σ_j λ_j · mean |F_j(ŷ) − F_j(y)|,
    with F_j the discriminator's hidden maps (:meth:`PatchGAN.features`) on the output ŷ (``fake``)
    and on the target y (``real``); the generator minimises it."""
    if len(fake) != len(real) or len(weights) != len(fake) or not fake:
        raise ValueError("fake, real and weights must have the same non-zero length")
    return sum(float(lam) * _per_member((a - b).abs()) for lam, a, b in zip(weights, fake, real))


def perceptual_adversarial_d_loss(real: Sequence[torch.Tensor], fake: Sequence[torch.Tensor], *,
                                  weights: Sequence[float], margin: float = 1.0) -> torch.Tensor:
    """PAN's discriminator side of eq. (ch11-pan): max(0, m − Σ_j λ_j · mean |F_j(ŷ) − F_j(y)|) per
    member — the discriminator keeps the perceptual distance at least m (PAN adds it to the usual
    cross-entropy)."""
    m = V.positive_float(margin, "margin")
    return (m - perceptual_adversarial_g_loss(fake, real=real, weights=weights)).clamp(min=0)


def self_regularised_g_loss(fake: torch.Tensor, *, refined: torch.Tensor, synthetic: torch.Tensor,
                            weight: float = 1.0) -> torch.Tensor:
    """SimGAN's refiner loss per member, eq. (ch11-simgan) {shrivastava2017simgan}: the non-saturating
    adversarial loss of the (local, patch-wise) discriminator's logits ``fake`` on the refined images,
    plus ``weight``·mean |R(x) − x|, the self-regularisation that keeps the refined image
    close to the synthetic one x (so its annotation stays valid)."""
    V.tensor(refined, "refined")
    V.tensor(synthetic, "synthetic")
    if refined.shape != synthetic.shape:
        raise ValueError("refined and synthetic must have the same shape")
    lam = V.positive_float(weight, "weight", allow_zero=True)
    return adversarial_g_loss(fake, kind="ns") + lam * _per_member((refined - synthetic).abs())


# ---------------------------------------------------------------------------------------- training

def _draw(pool: torch.Tensor, members: int, batch: int, generator: torch.Generator) -> torch.Tensor:
    """A batch per member from a pool (N, ...): (E, batch, ...), indices drawn on the pool's device."""
    idx = torch.randint(0, pool.shape[0], (members, batch), generator=generator, device=pool.device)
    return pool[idx]


PAN_LAYERS = (1.0, 1.0)      # PAN's λ_j for the PatchGAN's two hidden maps, eq. (ch11-pan)


def train_pix2pix(a: torch.Tensor, b: torch.Tensor, *, l1_weight: torch.Tensor, adv_weight: torch.Tensor,
                  p: Preset, seed: int = 0, pan_weight: torch.Tensor | None = None,
                  pan_margin: float = 1.0) -> UNet:
    """Train E = len(l1_weight) pix2pix members side by side on pairs (a, b) ((N, C_a, S, S),
    (N, C_b, S, S)): member e minimises eq. (ch11-pix2pix) with its own weights; its PatchGAN learns with
    the cross-entropy. Each member draws its own batches. ``pan_weight`` (E,), if given, adds PAN,
    eq. (ch11-pan) {wang2018pan}: member e's generator adds pan_weight[e] × the perceptual distance
    between the PatchGAN's hidden maps (:data:`PAN_LAYERS`) of (x, G(x)) and of (x, y), and for members
    with pan_weight[e] > 0 the PatchGAN adds the hinge term with margin ``pan_margin``. Returns the U-Net
    (E members)."""
    if not isinstance(p, Preset):
        raise TypeError(f"p must be a Preset, got {type(p).__name__}")
    V.tensor(a, "a", ndim=4)
    V.tensor(b, "b", ndim=4)
    E = l1_weight.shape[0]
    dev = a.device
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    G = UNet(a.shape[1], b.shape[1], p.width, members=E).to(dev)
    D = PatchGAN(a.shape[1] + b.shape[1], p.width, members=E).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), p.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), p.lr, betas=(0.5, 0.999))
    l1_weight, adv_weight = l1_weight.to(dev), adv_weight.to(dev)
    if pan_weight is not None:
        pan_weight = _weights(pan_weight, "pan_weight", l1_weight)
        pan_on = (pan_weight > 0).to(l1_weight.dtype)
        V.positive_float(pan_margin, "pan_margin")
    pairs = torch.cat([a, b], 1)
    for _ in range(p.steps):
        batch = _draw(pairs, E, p.batch, g)
        x, y = batch[:, :, :a.shape[1]], batch[:, :, a.shape[1]:]
        fake = G(x)
        real_maps, fake_maps = D.features(torch.cat([x, y], 2)), D.features(torch.cat([x, fake.detach()], 2))
        d = adversarial_d_loss(real_maps[-1].squeeze(2), fake_maps[-1].squeeze(2))
        if pan_weight is not None:
            d = d + pan_on * perceptual_adversarial_d_loss(real_maps[:-1], fake_maps[:-1], weights=PAN_LAYERS,
                                                           margin=pan_margin)
        d = d.sum()
        opt_d.zero_grad(set_to_none=True)
        d.backward()
        opt_d.step()
        maps = D.features(torch.cat([x, fake], 2))
        loss = pix2pix_g_loss(maps[-1].squeeze(2), output=fake, target=y, l1_weight=l1_weight, adv_weight=adv_weight)
        if pan_weight is not None:
            with torch.no_grad():
                target_maps = D.features(torch.cat([x, y], 2))[:-1]
            loss = loss + pan_weight * perceptual_adversarial_g_loss(maps[:-1], real=target_maps, weights=PAN_LAYERS)
        loss = loss.sum()
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
    check_finite(loss, "the pix2pix loss")
    return G


def _member_groups(weights: object, members: int) -> list[tuple[slice, UnpairedWeights]]:
    """Runs of consecutive members sharing one :class:`UnpairedWeights`: [(slice of members, weights)].
    ``weights`` is one UnpairedWeights (every member) or a sequence of ``members`` of them."""
    if isinstance(weights, UnpairedWeights):
        return [(slice(0, members), weights)]
    if not isinstance(weights, (list, tuple)) or not all(isinstance(w, UnpairedWeights) for w in weights):
        raise TypeError(f"weights must be an UnpairedWeights or a sequence of them, got {type(weights).__name__}")
    if len(weights) != members:
        raise ValueError(f"weights must hold one UnpairedWeights per member ({members}), got {len(weights)}")
    groups, lo = [], 0
    for e in range(1, members + 1):
        if e == members or weights[e] != weights[lo]:
            groups.append((slice(lo, e), weights[lo]))
            lo = e
    return groups


@torch.no_grad()
def _clip_members(nets: Sequence[nn.Module], members: slice, E: int, bound: float = 0.01) -> None:
    """Clip to ±bound the weights of ``members`` only (DualGAN's critics among other members): every
    parameter of a grouped ``members=E`` network holds its members in E consecutive blocks of dimension 0."""
    for q in (q for net in nets for q in net.parameters()):
        block = q.view(E, -1)[members]
        q.view(E, -1)[members] = block.clamp(-bound, bound)


def train_unpaired(x: torch.Tensor, y: torch.Tensor, weights: UnpairedWeights | Sequence[UnpairedWeights], *,
                   members: int, p: Preset, seed: int = 0, x_pools: torch.Tensor | None = None,
                   y_pools: torch.Tensor | None = None, pixelwise: bool = True) -> tuple[nn.Module, nn.Module]:
    """Train ``members`` pairs of generators (G_XY, G_YX) side by side on *unpaired* sets x (N, C, S, S)
    and y (M, C, S, S) with the loss of eq. (ch11-unpaired) and ``weights`` — one :class:`UnpairedWeights`
    for every member, or a sequence with one per member (several methods side by side). Two PatchGANs per
    member learn with the member's adversarial loss; "wgan" critics have their weights clipped to ±0.01 as
    in DualGAN. ``x_pools``/``y_pools`` (E, N, C, S, S), if given, replace x/y with one pool per member
    (one task per member). The generators are :class:`PixelNet` (``pixelwise=True``, the chapter's tasks
    map each pixel alone) or :class:`UNet`. Returns (G_XY, G_YX)."""
    if not isinstance(p, Preset):
        raise TypeError(f"p must be a Preset, got {type(p).__name__}")
    E = V.positive_int(members, "members")
    groups = _member_groups(weights, E)
    xp = x_pools if x_pools is not None else x[None].expand(E, *x.shape)
    yp = y_pools if y_pools is not None else y[None].expand(E, *y.shape)
    dev, C = xp.device, xp.shape[2]
    torch.manual_seed(seed)
    g = torch.Generator(device=dev).manual_seed(seed)
    net = PixelNet if pixelwise else UNet
    G_xy, G_yx = net(C, C, 2 * p.width, members=E).to(dev), net(C, C, 2 * p.width, members=E).to(dev)
    D_x, D_y = PatchGAN(C, p.width, members=E).to(dev), PatchGAN(C, p.width, members=E).to(dev)
    opt_g = torch.optim.Adam([*G_xy.parameters(), *G_yx.parameters()], p.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam([*D_x.parameters(), *D_y.parameters()], p.lr, betas=(0.5, 0.999))
    stats = None
    if any(w.distance_x or w.distance_y for _, w in groups):
        stats = distance_stats(xp[0, :500], yp[0, :500])
    cycle_x, cycle_y = any(w.cycle_x for _, w in groups), any(w.cycle_y for _, w in groups)
    ar = torch.arange(E, device=dev)[:, None]
    for _ in range(p.cycle_steps):
        i = torch.randint(0, xp.shape[1], (E, p.batch), generator=g, device=dev)
        j = torch.randint(0, yp.shape[1], (E, p.batch), generator=g, device=dev)
        xb, yb = xp[ar, i], yp[ar, j]
        y_fake, x_fake = G_xy(xb), G_yx(yb)
        dy_real, dy_fake, dx_real, dx_fake = D_y(yb), D_y(y_fake.detach()), D_x(xb), D_x(x_fake.detach())
        d = sum((adversarial_d_loss(dy_real[m], dy_fake[m], kind=w.adversarial)
                 + adversarial_d_loss(dx_real[m], dx_fake[m], kind=w.adversarial)).sum() for m, w in groups)
        opt_d.zero_grad(set_to_none=True)
        d.backward()
        opt_d.step()
        for m, w in groups:
            if w.adversarial == "wgan":
                _clip_members((D_x, D_y), m, E)
        x_cycle = G_yx(y_fake) if cycle_x else xb
        y_cycle = G_xy(x_fake) if cycle_y else yb
        d_y_fake, d_x_fake = D_y(y_fake), D_x(x_fake)
        loss = sum(unpaired_objective(w, d_y_fake=d_y_fake[m], d_x_fake=d_x_fake[m], x=xb[m], y=yb[m],
                                      x_cycle=x_cycle[m], y_cycle=y_cycle[m], y_fake=y_fake[m],
                                      x_fake=x_fake[m], stats=stats).sum() for m, w in groups)
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        opt_g.step()
    check_finite(loss, "the unpaired loss")
    return G_xy, G_yx


@torch.no_grad()
def translate(G: nn.Module, a: torch.Tensor, chunk: int = 500) -> torch.Tensor:
    """G applied to the same inputs a (N, C, S, S) for every member: (E, N, C', S, S)."""
    V.tensor(a, "a", ndim=4)
    outs = [G(a[lo:lo + chunk][None].expand(G.members, -1, -1, -1, -1)).clamp(-1, 1) for lo in range(0, a.shape[0], chunk)]
    return torch.cat(outs, 1)


@dataclass(frozen=True)
class Scores:
    """Scores of E members' translations against the truth, each an (E,) tensor: ``l1`` the mean
    per-pixel |ŷ − y|, ``accuracy`` the shapes classifier's accuracy on ŷ against the true class,
    ``fid`` and ``kid`` between the classifier's features of ŷ and of real images."""

    l1: torch.Tensor
    accuracy: torch.Tensor
    fid: torch.Tensor
    kid: torch.Tensor


@torch.no_grad()
def score(outputs: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor,
          net=None) -> Scores:
    """Score translations ``outputs`` (E, N, 3, S, S) against the true ``targets`` (N, 3, S, S), their
    classes ``labels`` (N,), and ``reference`` real images (M, 3, S, S) of the target domain for FID
    and KID (features of :func:`ganbook.metrics.shapes_classifier`, or ``net``)."""
    from .metrics import fid, kid, shapes_classifier

    V.tensor(outputs, "outputs", ndim=5)
    net = net if net is not None else shapes_classifier(outputs.device)
    ref = net.features(reference).double()
    l1, acc, f, k = [], [], [], []
    for out in outputs:
        l1.append((out - targets).abs().mean())
        acc.append((net.logits(out).argmax(1) == labels).float().mean())
        feats = net.features(out).double()
        f.append(torch.tensor(fid(ref, feats)))
        n = min(ref.shape[0], feats.shape[0])
        k.append(torch.tensor(float(kid(ref, feats, subsets=20, subset_size=min(500, n),
                                     generator=torch.Generator().manual_seed(0)).mean)))
    return Scores(*(torch.stack(v).float().cpu() for v in (l1, acc, f, k)))


__all__ = ["Preset", "PRESETS", "preset", "mask_pairs", "warm_shapes", "permute_colors", "unpermute_colors",
           "whiten", "hide", "reveal", "quantise", "UNet", "PixelNet", "PatchGAN", "receptive_field", "ADVERSARIAL", "adversarial_d_loss",
           "adversarial_g_loss", "pix2pix_g_loss", "cycle_loss", "distance_loss", "distance_stats",
           "UnpairedWeights", "UNPAIRED", "unpaired_objective", "perceptual_adversarial_g_loss",
           "perceptual_adversarial_d_loss", "self_regularised_g_loss", "PAN_LAYERS", "train_pix2pix", "train_unpaired",
           "translate", "Scores", "score"]
