"""Tiny videos of moving shapes, VGAN's two-stream generator and MoCoGAN (chapter 13b).

Data: :func:`moving_shapes` renders one object of :func:`ganbook.data.shapes` per video (its class,
colour, scale and angle drawn by the shapes data set and held fixed) moving in a straight line at a
constant speed, eq. (ch13-v-trajectory), so that every frame's factors are known.

Models:

* VGAN {vondrick2016vgan}: a moving foreground f and a mask m from 3-D transposed convolutions, a
  static background b from 2-D ones, composed as v = m ⊙ f + (1 − m) ⊙ b, eq. (ch13-v-vgan)
  (:func:`vgan_compose`, :class:`VGANGenerator`);
* MoCoGAN {tulyakov2018mocogan}: a content code z_C drawn once per video and a motion code z_M^(t)
  per frame from a recurrent network fed with fresh noise, eq. (ch13-v-mocogan-codes); one image
  generator maps (z_C, z_M^(t)) to frame t; an image discriminator judges single frames and a video
  discriminator whole clips, eq. (ch13-v-mocogan) (:class:`MoCoGANGenerator`; :func:`video_discriminator`:
  3-D convolutions, :class:`VideoDiscriminator`, or — the ``cpu`` preset — a 2-D DCGAN discriminator on the
  frames stacked as channels, :func:`stack_frames`; the image networks are chapter 6a's :mod:`ganbook.dcgan`).

Measurement: :func:`frame_factors` reads every frame's class and position with the shipped shapes
classifier (``metrics.shapes_classifier()``); :func:`class_agreement` and :func:`spread`
summarise them (:func:`spread` for positions and colours) across frames, or across videos that share a
content or a motion code.

Members: as in :mod:`ganbook.dcgan`, ``members=E`` networks hold E independent copies (grouped
convolutions, per-member matrices), so several seeds train side by side; videos are then
(E, n, T, C, S, S).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import _validate as V
from . import dcgan
from . import shapes as S
from .crnngan import BatchedGRU


# ----------------------------------------------------------------------------------------------- data

@dataclass(frozen=True)
class VideoBatch:
    """``videos`` (n, T, 3, S, S) in [−1, 1]; ``masks`` (n, T, 1, S, S) the object's coverage; ``factors``:
    ``label`` (n,), ``color`` (n, 3), ``scale`` (n,), ``angle`` (n,) — fixed per video — and ``x``, ``y``
    (n, T), the centre in each frame (canvas units, as in :mod:`ganbook.shapes`)."""

    videos: torch.Tensor
    masks: torch.Tensor
    factors: dict[str, torch.Tensor]
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.videos.shape[0])


def trajectories(n: int, frames: int, *, speed: float = 0.15, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Straight-line paths p_t = p_0 + t·v, t = 0 … T − 1, eq. (ch13-v-trajectory): the direction of v uniform
    on the circle, |v| = ``speed`` (canvas units per frame), and p_0 uniform among the starts whose whole
    path stays in the shapes data set's square [−0.3, 0.3]². Returns x, y of shape (n, T), on the
    generator's device (the CPU by default)."""
    V.positive_int(n, "n")
    V.positive_int(frames, "frames", minimum=2)
    speed = V.positive_float(speed, "speed", allow_zero=True)
    V.generator(generator)
    if (frames - 1) * speed > 2 * S.POSITION:
        raise ValueError(f"speed·(frames − 1) must be at most {2 * S.POSITION} (the path must fit the canvas), "
                         f"got {speed}·{frames - 1}")
    where = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand((n, 3), generator=generator, device=where)
    theta = 2 * math.pi * u[:, 0]
    d = (frames - 1) * speed * torch.stack([torch.cos(theta), torch.sin(theta)], 1)     # total displacement
    lo, hi = -S.POSITION - d.clamp(max=0), S.POSITION - d.clamp(min=0)                # p_0 ∈ [lo, hi]
    p0 = lo + (hi - lo) * u[:, 1:]
    t = torch.arange(frames, device=where, dtype=torch.float32) / (frames - 1)
    path = p0[:, None, :] + t[None, :, None] * d[:, None, :]                           # (n, T, 2)
    return path[..., 0], path[..., 1]


def render_video(factors: dict[str, torch.Tensor], size: int = 16, *, classes: Sequence[str] = S.CLASSES
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Videos (n, T, 3, S, S) in [−1, 1] and masks (n, T, 1, S, S) of objects with fixed ``label``, ``scale``,
    ``angle``, ``color`` ((n,), (n, 3)) at positions ``x``, ``y`` (n, T), on a black background: each frame
    is the shapes data set's image 2·m·colour − 1 of its coverage m."""
    for key in ("label", "scale", "angle", "color", "x", "y"):
        if key not in factors:
            raise ValueError(f"factors must have the key {key!r}")
    x, y = V.tensor(factors["x"], "factors['x']", ndim=2), V.tensor(factors["y"], "factors['y']", ndim=2)
    if x.shape != y.shape or x.shape[0] != factors["label"].shape[0]:
        raise ValueError(f"factors['x'] and factors['y'] must both have shape (n, T) with n = "
                         f"{factors['label'].shape[0]}, got {tuple(x.shape)} and {tuple(y.shape)}")
    n, T = x.shape
    flat = {k: factors[k].repeat_interleave(T, 0) for k in ("label", "scale", "angle")}
    flat.update(x=x.reshape(-1), y=y.reshape(-1))
    masks = S.render_masks(flat, size, classes=classes).view(n, T, 1, size, size)
    videos = 2 * masks * factors["color"].view(n, 1, 3, 1, 1) - 1
    return videos, masks


def moving_shapes(n: int, frames: int = 4, size: int = 16, *, speed: float = 0.15,
                  classes: Sequence[str] = S.CLASSES, scale: float | None = None, angle: float | None = None,
                  generator: torch.Generator | None = None, device: torch.device | str | None = None) -> VideoBatch:
    """``n`` videos of ``frames`` frames, each one object of :func:`ganbook.data.shapes` (class, colour,
    scale, angle as that data set draws them; ``scale``/``angle`` given: that value for every video)
    moving along a path of :func:`trajectories`. All draws come from ``generator`` (factors first, then
    paths); the frames are rendered on ``device``."""
    V.positive_int(n, "n")
    V.generator(generator)
    device = V.device_arg(device)
    base = S.shapes(n, size, generator=generator, classes=classes)          # draws the fixed factors (CPU side)
    x, y = trajectories(n, frames, speed=speed, generator=generator)
    factors = {k: base.factors[k] for k in ("label", "scale", "angle", "color")}
    if scale is not None:
        scale = V.positive_float(scale, "scale")
        if not S.SCALE[0] <= scale <= S.SCALE[1]:
            raise ValueError(f"scale must lie in {S.SCALE} (the shapes data set's range), got {scale}")
        factors["scale"] = torch.full_like(factors["scale"], scale)
    if angle is not None:
        factors["angle"] = torch.full_like(factors["angle"], V.finite_float(angle, "angle"))
    factors.update(x=x, y=y)
    factors = {k: v.to(device) for k, v in factors.items()}
    videos, masks = render_video(factors, size, classes=base.classes)
    return VideoBatch(videos, masks, factors, base.classes)


# ------------------------------------------------------------------------------------------------ VGAN

def stack_frames(videos: torch.Tensor) -> torch.Tensor:
    """Videos (..., T, C, S, S) → (..., T·C, S, S): the frames as the channels of one image, the input of
    a 2-D convolutional video discriminator that sees the whole clip at once (the cheap stand-in for
    MoCoGAN's 3-D convolutions used by the ``cpu`` preset)."""
    V.tensor(videos, "videos", ndim=None, finite=False)
    if videos.dim() < 4:
        raise ValueError(f"videos must have shape (..., T, C, S, S), got {tuple(videos.shape)}")
    return videos.flatten(-4, -3)


def video_discriminator(p: "Preset") -> nn.Module:
    """The preset's video discriminator D_V with ``p.seeds`` members: :class:`VideoDiscriminator` (3-D
    convolutions) if ``p.video_d == "conv3d"``, else a DCGAN discriminator on :func:`stack_frames`."""
    if not isinstance(p, Preset):
        raise TypeError(f"p must be a Preset, got {type(p).__name__}")
    if p.video_d == "conv3d":
        return VideoDiscriminator(p.frames, p.size, 3, p.width, members=p.seeds)
    return _Stacked(dcgan.Discriminator(p.size, 3 * p.frames, p.width, members=p.seeds))


class _Stacked(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.net(stack_frames(v))


def vgan_compose(foreground: torch.Tensor, mask: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """VGAN's two-stream composition, eq. (ch13-v-vgan): v_t = m_t ⊙ f_t + (1 − m_t) ⊙ b for every frame t.
    ``foreground`` (n, T, C, H, W), ``mask`` (n, T, 1, H, W) in [0, 1], ``background`` (n, C, H, W), the
    same image for all frames → (n, T, C, H, W)."""
    V.tensor(foreground, "foreground", ndim=5, finite=False)
    V.tensor(mask, "mask", ndim=5, finite=False)
    V.tensor(background, "background", ndim=4, finite=False)
    n, T, C, H, W = foreground.shape
    if mask.shape != (n, T, 1, H, W):
        raise ValueError(f"mask must have shape ({n}, {T}, 1, {H}, {W}), got {tuple(mask.shape)}")
    if background.shape != (n, C, H, W):
        raise ValueError(f"background must have shape ({n}, {C}, {H}, {W}), got {tuple(background.shape)}")
    return mask * foreground + (1 - mask) * background[:, None]


def _levels(frames: int, size: int) -> int:
    if size not in (16, 32, 64):
        raise ValueError(f"size must be 16, 32 or 64, got {size!r}")
    blocks = int(math.log2(size // 4))
    if frames % 2 ** blocks and frames != 2 ** blocks:
        raise ValueError(f"frames must be a multiple of {2 ** blocks} for size {size}, got {frames}")
    return blocks


class VGANGenerator(nn.Module):
    """VGAN's two-stream generator {vondrick2016vgan}, eq. (ch13-v-vgan), scaled down: z → a (T/2^k) × 4 × 4
    volume → k transposed 3-D convolutions (each doubling time, height and width) → C + 1 channels, read
    as the foreground f (tanh) and the mask m (sigmoid); z → a 4 × 4 map → k transposed 2-D convolutions →
    the background b (tanh). :meth:`forward` composes them with :func:`vgan_compose`."""

    def __init__(self, z_dim: int = 16, frames: int = 4, size: int = 16, channels: int = 3, width: int = 16):
        super().__init__()
        self.z_dim, self.frames, self.size = V.positive_int(z_dim, "z_dim"), V.positive_int(frames, "frames"), size
        self.channels, width = V.positive_int(channels, "channels"), V.positive_int(width, "width")
        blocks = _levels(frames, size)
        self.t0, c0 = frames // 2 ** blocks, width * 2 ** (blocks - 1)
        self.c0 = c0
        self.fg_project = nn.Linear(z_dim, c0 * self.t0 * 16)
        self.bg_project = nn.Linear(z_dim, c0 * 16)
        fg: list[nn.Module] = []
        bg: list[nn.Module] = []
        c = c0
        for k in range(blocks):
            last = k == blocks - 1
            out_fg, out_bg = (channels + 1, channels) if last else (c // 2, c // 2)
            fg.append(nn.ConvTranspose3d(c, out_fg, 4, stride=2, padding=1))
            bg.append(nn.ConvTranspose2d(c, out_bg, 4, stride=2, padding=1))
            if not last:
                fg += [nn.BatchNorm3d(out_fg), nn.ReLU()]
                bg += [nn.BatchNorm2d(out_bg), nn.ReLU()]
            c = c // 2
        self.fg, self.bg = nn.Sequential(*fg), nn.Sequential(*bg)

    def streams(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The foreground (n, T, C, H, W), the mask (n, T, 1, H, W) and the background (n, C, H, W) for z (n, z_dim)."""
        V.tensor(z, "z", ndim=2, last_dim=self.z_dim, finite=False)
        n = z.shape[0]
        h = F.relu(self.fg_project(z)).view(n, self.c0, self.t0, 4, 4)
        out = self.fg(h).permute(0, 2, 1, 3, 4)                                # (n, T, C + 1, H, W)
        foreground, mask = torch.tanh(out[:, :, :self.channels]), torch.sigmoid(out[:, :, self.channels:])
        background = torch.tanh(self.bg(F.relu(self.bg_project(z)).view(n, self.c0, 4, 4)))
        return foreground, mask, background

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return vgan_compose(*self.streams(z))


# --------------------------------------------------------------------------------------------- MoCoGAN

class MoCoGANGenerator(nn.Module):
    """MoCoGAN's generator {tulyakov2018mocogan}, eq. (ch13-v-mocogan-codes): a content code z_C (one per
    video) and motion codes z_M^(t) = h_t, h_t = GRU(ε_t, h_{t−1}) with ε_t ~ N(0, I) fresh per frame
    (h_0 = 0); frame t = G_I([z_C, z_M^(t)]), G_I a DCGAN generator (:class:`ganbook.dcgan.Generator`).
    ``generators``: one torch.Generator per member (the recurrent net's initialisation; G_I's comes from
    the global stream, as in chapter 6a)."""

    def __init__(self, content_dim: int = 8, motion_dim: int = 4, frames: int = 4, size: int = 16, *,
                 width: int = 16, channels: int = 3, generators: list[torch.Generator]):
        super().__init__()
        self.content_dim = V.positive_int(content_dim, "content_dim")
        self.motion_dim = V.positive_int(motion_dim, "motion_dim")
        self.frames = V.positive_int(frames, "frames")
        self.motion = BatchedGRU(motion_dim, motion_dim, list(generators))
        self.members = self.motion.members
        self.image = dcgan.Generator(content_dim + motion_dim, size, channels, width, members=self.members)

    def codes(self, n: int, *, generator: torch.Generator | None = None, device: torch.device | str | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fresh z_C (E, n, content_dim) and motion noise ε (E, n, T, motion_dim), both N(0, I)."""
        V.positive_int(n, "n")
        device = V.device_arg(device)
        z_c = torch.randn((self.members, n, self.content_dim), generator=generator, device=device)
        eps = torch.randn((self.members, n, self.frames, self.motion_dim), generator=generator, device=device)
        return z_c, eps

    def motion_codes(self, eps: torch.Tensor) -> torch.Tensor:
        """z_M^(1…T) (E, n, T, motion_dim) from the noise ε (E, n, T, motion_dim)."""
        return self.motion(eps)

    def forward(self, z_content: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Videos (E, n, T, C, S, S) from z_C (E, n, content_dim) and ε (E, n, T, motion_dim)."""
        V.tensor(z_content, "z_content", ndim=3, last_dim=self.content_dim, finite=False)
        V.tensor(eps, "eps", ndim=4, last_dim=self.motion_dim, finite=False)
        E, n, T = eps.shape[:3]
        if z_content.shape[:2] != (E, n) or E != self.members:
            raise ValueError(f"z_content (E, n, ·) and eps (E, n, T, ·) must agree with E = {self.members}, "
                             f"got {tuple(z_content.shape)} and {tuple(eps.shape)}")
        z = torch.cat([z_content[:, :, None].expand(E, n, T, self.content_dim), self.motion_codes(eps)], -1)
        frames = self.image(z.reshape(E, n * T, -1))                             # (E, n·T, C, S, S)
        return frames.view(E, n, T, *frames.shape[2:])


class VideoDiscriminator(nn.Module):
    """MoCoGAN's video discriminator D_V, scaled down: 3-D convolutions over (time, height, width) —
    kernel 3 × 4 × 4, stride 1 × 2 × 2 (time kept, space halved), LeakyReLU(0.2), batch norm after the
    second — then a linear map to one logit per clip. ``members=E`` independent copies (grouped
    convolutions). Videos (E, n, T, C, S, S) → logits (E, n)."""

    def __init__(self, frames: int = 4, size: int = 16, channels: int = 3, width: int = 16, *, members: int = 1):
        super().__init__()
        self.members = E = V.positive_int(members, "members")
        self.frames, self.size, self.channels = V.positive_int(frames, "frames"), size, channels
        if size not in (16, 32, 64):
            raise ValueError(f"size must be 16, 32 or 64, got {size!r}")
        layers: list[nn.Module] = []
        c, side = channels, size
        k = 0
        while side > 4:
            out = width * 2 ** k
            layers.append(nn.Conv3d(E * c, E * out, (3, 4, 4), stride=(1, 2, 2), padding=(1, 1, 1), groups=E,
                                    bias=k == 0))
            if k > 0:
                layers.append(nn.BatchNorm3d(E * out))
            layers.append(nn.LeakyReLU(0.2))
            c, side, k = out, side // 2, k + 1
        self.body = nn.Sequential(*layers)
        self.head = dcgan.MemberLinear(E, c * frames * side * side, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        V.tensor(v, "v", ndim=6, finite=False)
        E, n, T, C, H, W = v.shape
        if (E, T, C, H, W) != (self.members, self.frames, self.channels, self.size, self.size):
            raise ValueError(f"v must have shape ({self.members}, n, {self.frames}, {self.channels}, {self.size}, "
                             f"{self.size}), got {tuple(v.shape)}")
        x = v.permute(1, 0, 3, 2, 4, 5).reshape(n, E * C, T, H, W)                # member e in channel block e
        h = self.body(x)                                                          # (n, E·c, T, s, s)
        h = h.view(n, E, -1).transpose(0, 1)                                      # (E, n, c·T·s·s)
        return self.head(h).squeeze(-1)


# -------------------------------------------------------------------------------------- measurement

@torch.no_grad()
def frame_factors(classifier: nn.Module, videos: torch.Tensor, batch_size: int = 2000) -> dict[str, torch.Tensor]:
    """Every frame's predicted factors by the shapes classifier (``metrics.shapes_classifier()``):
    ``videos`` (..., T, 3, S, S) → ``label`` (..., T), ``x``, ``y`` (..., T), ``color`` (..., T, 3)."""
    V.tensor(videos, "videos", ndim=None, finite=False)
    if videos.dim() < 5 or videos.shape[-3] != 3:
        raise ValueError(f"videos must have shape (..., T, 3, S, S), got {tuple(videos.shape)}")
    lead = videos.shape[:-3]
    frames = videos.reshape(-1, *videos.shape[-3:])
    parts = [classifier.factors(frames[i:i + batch_size]) for i in range(0, frames.shape[0], batch_size)]
    out = {}
    for key in ("label", "x", "y", "color"):
        value = torch.cat([p[key] for p in parts])
        out[key] = value.view(*lead, *value.shape[1:])
    return out


def class_agreement(labels: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """The fraction of pairs of entries along ``dim`` (e.g. the frames of a video) with the same label,
    eq. (ch13-v-agreement): (1/(K(K−1))) Σ_{i≠j} [ℓ_i = ℓ_j] for the K entries, computed for every other
    index; 1 when all agree, Σ_c p_c² for labels drawn independently with probabilities p."""
    V.tensor(labels, "labels", ndim=None, floating=False)
    x = labels.movedim(dim, -1)
    K = x.shape[-1]
    if K < 2:
        raise ValueError(f"labels needs at least two entries along dim {dim}, got shape {tuple(labels.shape)}")
    same = (x[..., :, None] == x[..., None, :]).double().sum((-1, -2)) - K
    return same / (K * (K - 1))


def spread(values: torch.Tensor, dim: int = -2) -> torch.Tensor:
    """The root-mean-square distance of the points ``values`` (..., d) along ``dim`` to their mean there,
    eq. (ch13-v-spread): √(Σ_c Var_dim v_c) (population variances), e.g. of the positions (x, y) or the
    colours (R, G, B) of the frames of a video (``dim`` indexes the points, not the last axis)."""
    V.tensor(values, "values", ndim=None)
    if values.dim() < 2:
        raise ValueError(f"values must have shape (..., d) with a points axis, got {tuple(values.shape)}")
    if dim % values.dim() == values.dim() - 1:
        raise ValueError("dim must index the points, not the coordinates (the last axis)")
    return values.var(dim, unbiased=False).sum(-1).sqrt()


def content_motion_scores(classifier: nn.Module, videos: torch.Tensor) -> dict[str, torch.Tensor]:
    """Frame-by-frame scores of a grid of videos (..., I, J, T, 3, S, S) in which video (i, j) has content
    code i and motion code j (for data: object i on path j). For three ways of comparing frames —
    ``"frames"``: the T frames of one video; ``"motion varies"``: frame t of the J videos that share content
    i; ``"content varies"``: frame t of the I videos that share motion j — the mean over the grid of the
    predicted class's agreement, eq. (ch13-v-agreement), and of the spread, eq. (ch13-v-spread), of the
    predicted position and colour. Keys ``"<way>: class agreement"``, ``"<way>: position spread"``,
    ``"<way>: colour spread"``; values of shape (...)."""
    V.tensor(videos, "videos", ndim=None, finite=False)
    if videos.dim() < 6:
        raise ValueError(f"videos must have shape (..., I, J, T, 3, S, S), got {tuple(videos.shape)}")
    f = frame_factors(classifier, videos)                                       # label (..., I, J, T)
    pos = torch.stack([f["x"], f["y"]], -1)                                     # (..., I, J, T, 2)
    out = {}
    for way, dim in (("frames", -1), ("motion varies", -2), ("content varies", -3)):
        out[f"{way}: class agreement"] = class_agreement(f["label"], dim).mean((-1, -2))
        out[f"{way}: position spread"] = spread(pos, dim - 1).mean((-1, -2))
        out[f"{way}: colour spread"] = spread(f["color"], dim - 1).mean((-1, -2))
    return out


# ------------------------------------------------------------------------------------------- presets

@dataclass(frozen=True)
class Preset:
    """Sizes of the video experiment. ``cpu``: seconds on a 2-core CPU; ``gpu``: larger frames, longer."""

    name: str
    size: int
    frames: int
    speed: float
    content_dim: int
    motion_dim: int
    g_width: int
    width: int                        # the discriminators'
    batch: int                        # videos per step and member
    steps: int
    seeds: int
    lr_g: float = 2e-3
    lr_d: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    classes: tuple[str, ...] = ("square", "circle", "triangle")
    scale: float | None = 0.4         # None: drawn by the shapes data set
    angle: float | None = 0.0
    video_d: str = "stacked"          # "stacked" (2-D convolutions on the frames as channels) or "conv3d"
    extra: dict = field(default_factory=dict)


PRESETS = {
    "cpu": Preset("cpu", size=16, frames=4, speed=0.15, content_dim=8, motion_dim=4, g_width=16, width=8, batch=16,
                  steps=250, seeds=3),
    "gpu": Preset("gpu", size=32, frames=8, speed=0.08, content_dim=16, motion_dim=8, g_width=64, width=32,
                  batch=64, steps=5000, seeds=5, lr_g=2e-4, lr_d=2e-4, classes=S.CLASSES, scale=None, angle=None,
                  video_d="conv3d"),
}
PRESET = "cpu"          # the default; chapters take theirs from their parameters cell


def preset(name: str = PRESET) -> Preset:
    """The preset called ``name`` (``"cpu"`` or ``"gpu"``)."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return PRESETS[name]
