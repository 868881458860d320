"""Chapter 9, section 9.4b: a convolutional conditional GAN on shapes, with class AND colour control.

The networks are chapter 6a's DCGAN pair (:mod:`ganbook.dcgan`, ``members=E`` seeds side by side as
grouped convolutions). The condition is the code c = [onehot(class), onehot(hue bin)] (4 + 4 values):

* G reads it by concatenation with z, eq. (ch9-cgan-value): G(z, c) = DCGAN-G([z, c]);
* D reads it through a projection term, eq. (ch9-projection) {miyato2018cgans}:
  D(x, c) = ψ(φ(x)) + cᵀ V φ(x), with φ(x) D's last feature map (flattened) and V a learned
  (c_dim × features) matrix — for a two-part one-hot code, cᵀV = e_class + e_colour, the sum of one
  embedding per factor.

Colour control is measured from the pixels, no classifier: the hue of the summed RGB of the object's
pixels (:func:`foreground_hue`) falls in the requested one of ``HUE_BINS`` equal hue bins. On real shapes
it is exact (every object pixel is the object's colour times its coverage, and hue ignores the scale).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch
from torch import nn

from . import _validate as V
from . import dcgan
from .ablation import average_weights
from .conditional import adam
from .errors import TrainingDiverged
from .objectives.gan import minimax_d_loss, nonsaturating_g_loss

N_CLASSES = 4          # the shapes' classes (square, circle, triangle, heart)
HUE_BINS = 4           # coarse colour: hue in [k/4, (k+1)/4), k = 0 red–yellow, 1 yellow–cyan-ish, …
FOREGROUND = 0.25      # a pixel is the object's when its brightest channel (in [0, 1]) exceeds this


# --- colour from pixels -----------------------------------------------------------------------------

def rgb_to_hue(rgb: torch.Tensor) -> torch.Tensor:
    """Hue in [0, 1) of RGB values (..., 3) ≥ 0 (the HSV hue; 0 for greys): the inverse of the shapes'
    HSV → RGB map (:mod:`ganbook.shapes`)."""
    V.tensor(rgb, "rgb", finite=False)
    if rgb.shape[-1] != 3:
        raise ValueError(f"rgb must have 3 values on its last axis, got shape {tuple(rgb.shape)}")
    r, g, b = rgb.unbind(-1)
    mx, arg = rgb.max(-1)
    delta = mx - rgb.min(-1).values
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.stack([((g - b) / safe) % 6, (b - r) / safe + 2, (r - g) / safe + 4], -1)
    h = h.gather(-1, arg[..., None]).squeeze(-1) / 6
    return torch.where(delta > 0, h % 1.0, torch.zeros_like(h))


def hue_bin(hue: torch.Tensor, bins: int = HUE_BINS) -> torch.Tensor:
    """The bin ⌊bins·hue⌋ mod bins (long) of hues in [0, 1]."""
    V.positive_int(bins, "bins")
    return (hue * bins).floor().long() % bins


def foreground_hue(images: torch.Tensor, threshold: float = FOREGROUND) -> tuple[torch.Tensor, torch.Tensor]:
    """Hue of each image's object and whether it has one: images (..., 3, S, S) in [−1, 1] → (hue (...,),
    found (...,) bool). The object's pixels are those whose brightest channel, in [0, 1], exceeds
    ``threshold``; the hue is that of their summed RGB."""
    V.tensor(images, "images", finite=False)
    if images.dim() < 3 or images.shape[-3] != 3:
        raise ValueError(f"images must have shape (..., 3, S, S), got {tuple(images.shape)}")
    x = (images.float() + 1) / 2
    fg = (x.max(-3, keepdim=True).values > threshold).to(x.dtype)         # (..., 1, S, S)
    rgb = (x * fg).sum((-2, -1))                                           # (..., 3)
    return rgb_to_hue(rgb), fg.sum((-3, -2, -1)) > 0


def condition(labels: torch.Tensor, bins: torch.Tensor, n_classes: int = N_CLASSES,
              n_bins: int = HUE_BINS) -> torch.Tensor:
    """The code c = [onehot(label), onehot(hue bin)] (..., n_classes + n_bins) of eq. (ch9-cgan-value)."""
    if labels.shape != bins.shape:
        raise ValueError(f"labels and bins must have one shape, got {tuple(labels.shape)} and {tuple(bins.shape)}")
    oh = nn.functional.one_hot
    return torch.cat([oh(labels, n_classes), oh(bins, n_bins)], -1).to(torch.get_default_dtype())


# --- networks ---------------------------------------------------------------------------------------

class CondGenerator(nn.Module):
    """G(z, c) = DCGAN-G([z, c]): the code concatenated to the noise, eq. (ch9-cgan-value); ``members``
    generators side by side. z (E, n, z_dim), c (E, n, c_dim) → (E, n, 3, S, S)."""

    def __init__(self, z_dim: int, c_dim: int, image_size: int, width: int, *, members: int):
        super().__init__()
        self.z_dim, self.c_dim = V.positive_int(z_dim, "z_dim"), V.positive_int(c_dim, "c_dim")
        self.members = V.positive_int(members, "members")
        self.net = dcgan.Generator(z_dim + c_dim, image_size, 3, width, members=members)

    def forward(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if c.shape[:-1] != z.shape[:-1] or c.shape[-1] != self.c_dim:
            raise ValueError(f"c must have shape {tuple(z.shape[:-1]) + (self.c_dim,)}, got {tuple(c.shape)}")
        return self.net(torch.cat([z, c], -1))


class CondProjectionD(nn.Module):
    """D(x, c) = ψ(φ(x)) + cᵀVφ(x), eq. (ch9-projection): φ the DCGAN discriminator's last feature map,
    ψ its linear head, V (E, c_dim, features) one matrix per member. x (E, n, 3, S, S), c (E, n, c_dim)
    → logits (E, n)."""

    def __init__(self, c_dim: int, image_size: int, width: int, *, members: int, stem: int = 0,
                 guidelines: dcgan.Guidelines = dcgan.Guidelines()):
        super().__init__()
        self.c_dim = V.positive_int(c_dim, "c_dim")
        self.members = V.positive_int(members, "members")
        V.positive_int(stem, "stem", minimum=0)
        self.stem = None
        if stem:                      # two 3×3 stride-1 convolutions at full resolution, per member
            E = members
            self.stem = nn.Sequential(nn.Conv2d(E * 3, E * stem, 3, padding=1, groups=E), nn.LeakyReLU(0.2),
                                      nn.Conv2d(E * stem, E * stem, 3, padding=1, groups=E), nn.LeakyReLU(0.2))
        self.net = dcgan.Discriminator(image_size, stem or 3, width, members=members, guidelines=guidelines)
        self.embed = nn.Parameter(torch.randn(members, c_dim, self.net.c_last) * 0.02)

    def pooled(self, phi: torch.Tensor) -> torch.Tensor:
        """The last feature map summed over positions, (E, n, c·b·b) → (E, n, c): what the projection
        reads (a class is a shape anywhere in the image)."""
        return phi.unflatten(-1, (self.net.c_last, -1)).sum(-1)

    def projection(self, phi: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """cᵀV pool(φ) per row: φ (E, n, c·b·b), c (E, n, c_dim) → (E, n)."""
        return (torch.bmm(c, self.embed) * self.pooled(phi)).sum(-1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """φ(x): the stem (if any), then the DCGAN discriminator's last feature map, (E, n, c·b·b)."""
        if self.stem is not None:
            x = dcgan._from_channels(self.stem(dcgan._to_channels(x)), self.members)
        return self.net.features(x)

    def score(self, phi: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """D's logit from features φ (E, n, c·b·b) and code c: ψ(φ) + cᵀV pool(φ), eq. (ch9-projection)."""
        return self.net.head(phi).squeeze(-1) + self.projection(phi, c)

    def class_logits(self, phi: torch.Tensor) -> torch.Tensor:
        """e_kᵀ pool(φ) for each class k (E, n, N_CLASSES): the class part of the projection read as a
        classifier's logits (the projection's implicit log p(y | x) up to a term free of y)."""
        return torch.bmm(self.pooled(phi), self.embed[:, :N_CLASSES].transpose(1, 2))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.score(self.features(x), c)


# --- presets and training ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Preset:
    """Sizes of the shapes run: image side, latent size, width, steps, batch per member, Adam, the
    generator's weight-average decay (eq. (ch6-ema)), the training-set size and ``position``, the range of the
    objects' centres as a fraction of the data set's (1: the full ±0.3; 0: every object centred); D's options: batch norm,
    learning-rate ratio to G's, the weights of the three optional terms of :func:`step` and ``stem``, the
    width of two 3×3 stride-1 convolutions before the DCGAN body (0: none)."""

    name: str
    image_size: int = 16
    z_dim: int = 16
    width: int = 16
    steps: int = 500
    batch: int = 64
    lr: float = 2e-3
    betas: tuple[float, float] = (0.5, 0.99)
    ema: float = 0.98
    data: int = 4096
    d_batch_norm: bool = True
    d_lr_ratio: float = 1.0
    mismatch: float = 0.0
    stem: int = 0
    real_class: float = 0.0
    position: float = 1.0
    fake_class: float = 0.0


PRESETS = {
    "cpu": Preset("cpu"),
    # gpu: not yet run on a GPU. On the CPU at 16×16, the plain projection D stayed at chance class accuracy
    # for 2,000 steps; the stem, the mismatch term and the real-image class term made D read the class (97 %
    # on real images after 2,500 steps, one seed), hence they are on here.
    "gpu": Preset("gpu", image_size=32, z_dim=64, width=64, steps=10_000, batch=128, lr=2e-4, betas=(0.5, 0.999),
                  ema=0.999, data=20_000, stem=32, mismatch=1.0, real_class=1.0),
    # cpu_long: the recorded CPU run (ganbook/benchmarks/cgan_shapes_cpu.md, written by `python -m
    # ganbook.conditional_conv`); the three terms of :func:`step` on, chosen on seed 0 at 600 and 2,500 steps.
    "cpu_long": Preset("cpu_long", steps=10_000, stem=16, mismatch=1.0, real_class=1.0, fake_class=1.0),
}


def preset(name: str, **overrides) -> Preset:
    """The named preset (``"cpu"`` or ``"gpu"``), with fields replaced by ``overrides``."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], **overrides)


@dataclass
class ShapesData:
    """Training shapes: images (N, 3, S, S), class labels (N,), hue bins (N,) from the drawn colours."""

    images: torch.Tensor
    labels: torch.Tensor
    bins: torch.Tensor


def shapes_data(p: Preset, *, generator: torch.Generator | None = None,
                device: torch.device | str | None = None) -> ShapesData:
    """``p.data`` plain-background shapes at ``p.image_size`` with their labels and hue bins (the hue of
    the drawn colour, ``factors["color"]``). With ``p.position`` < 1 the drawn centres are scaled by it
    and the scenes re-rendered (:func:`ganbook.shapes.render_masks`): a narrower data set, the other
    factors (class, size, rotation, colour) unchanged."""
    from .data import shapes
    from .shapes import render_masks

    V.positive_float(p.position, "position", allow_zero=True)
    if p.position > 1:
        raise ValueError(f"position must lie in [0, 1], got {p.position}")
    b = shapes(p.data, p.image_size, generator=generator, device=device)
    images, f = b.images, b.factors
    if p.position < 1:
        f = dict(f, x=p.position * f["x"], y=p.position * f["y"])
        images = 2 * render_masks(f, p.image_size) * f["color"][..., None, None] - 1
    return ShapesData(images, f["label"], hue_bin(rgb_to_hue(f["color"])))


@dataclass
class Run:
    """A trained conditional DCGAN pair: ``G`` the weight-averaged generator (sampled from), ``G_last``,
    ``D`` and the summed losses per step (steps, 2)."""

    G: CondGenerator
    G_last: CondGenerator
    D: CondProjectionD
    losses: torch.Tensor


def step(G: CondGenerator, D: CondProjectionD, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
         real: torch.Tensor, c_real: torch.Tensor, z: torch.Tensor, c_fake: torch.Tensor, *,
         c_wrong: torch.Tensor | None = None, mismatch: float = 0.0, real_class: float = 0.0,
         fake_class: float = 0.0) -> torch.Tensor:
    """One D then one G update of the conditional game, eq. (ch9-cgan-value), non-saturating G; losses
    are means over (E, n), so E times them sums the members' losses. Two optional terms of D's loss:
    ``mismatch`` × −log(1 − D(x_real, c_wrong)) (a real image with a wrong class is a negative, the
    matching-aware discriminator), and ``real_class`` × the class cross-entropy of the projection's class
    logits on REAL images (eq. (ch9-acgan-lc) on real data only). One optional term of G's loss:
    ``fake_class`` × the same cross-entropy on the GENERATED images for their requested class — AC-GAN's
    class term for G, eq. (ch9-acgan-lc), with the bias of section 9.3. Returns (d_loss, g_loss)."""
    E = G.members
    fake = G(z, c_fake)
    phi_real = D.features(real)
    d_loss = minimax_d_loss(D.score(phi_real, c_real), D(fake.detach(), c_fake))
    if mismatch:
        d_loss = d_loss + mismatch * nn.functional.softplus(D.score(phi_real, c_wrong)).mean()
    if real_class:
        y = c_real[..., :N_CLASSES].argmax(-1)
        d_loss = d_loss + real_class * nn.functional.cross_entropy(D.class_logits(phi_real).flatten(0, 1), y.flatten())
    opt_d.zero_grad(set_to_none=True)
    (E * d_loss).backward()
    opt_d.step()
    D.requires_grad_(False)                                # G's step: no gradient for D's weights (unused)
    phi_fake = D.features(fake)
    g_loss = nonsaturating_g_loss(D.score(phi_fake, c_fake))
    if fake_class:
        y_fake = c_fake[..., :N_CLASSES].argmax(-1)
        g_loss = g_loss + fake_class * nn.functional.cross_entropy(D.class_logits(phi_fake).flatten(0, 1),
                                                                   y_fake.flatten())
    opt_g.zero_grad(set_to_none=True)
    (E * g_loss).backward()
    opt_g.step()
    D.requires_grad_(True)
    return torch.stack([d_loss.detach(), g_loss.detach()])


def train(p: Preset, data: ShapesData, *, members: int, seed: int) -> Run:
    """Train ``members`` seeds side by side from ``seed`` (weights from torch's global stream after
    ``manual_seed(seed)``; batches, z and requested codes from a generator seeded with ``seed``). The
    requested codes of generated batches are those of random real images (so class and colour are drawn
    as in the data). Raises TrainingDiverged on a non-finite loss (checked once, at the end)."""
    members = V.positive_int(members, "members")
    dev = data.images.device
    torch.manual_seed(seed)
    c_dim = N_CLASSES + HUE_BINS
    G = CondGenerator(p.z_dim, c_dim, p.image_size, p.width, members=members).to(dev)
    D = CondProjectionD(c_dim, p.image_size, p.width, members=members, stem=p.stem,
                        guidelines=dcgan.Guidelines(batch_norm=p.d_batch_norm)).to(dev)
    G_avg = copy.deepcopy(G).requires_grad_(False)
    opt_g = adam(G.parameters(), p)
    opt_d = adam(D.parameters(), replace(p, lr=p.lr * p.d_lr_ratio))
    gen = torch.Generator(device=dev).manual_seed(seed)
    codes = condition(data.labels, data.bins)
    losses = torch.empty(p.steps, 2, device=dev)
    n = data.images.shape[0]
    for t in range(p.steps):
        idx = torch.randint(0, n, (2, members, p.batch), generator=gen, device=dev)
        z = torch.randn(members, p.batch, p.z_dim, generator=gen, device=dev)
        lab, bn = data.labels[idx[0]], data.bins[idx[0]]
        shift = torch.randint(1, N_CLASSES, lab.shape, generator=gen, device=dev)
        c_wrong = condition((lab + shift) % N_CLASSES, bn)
        losses[t] = step(G, D, opt_g, opt_d, data.images[idx[0]], codes[idx[0]], z, codes[idx[1]],
                         c_wrong=c_wrong, mismatch=p.mismatch, real_class=p.real_class,
                         fake_class=p.fake_class)
        average_weights(G_avg, G, p.ema)                                   # eq. (ch6-ema)
    if not bool(torch.isfinite(losses).all()):
        raise TrainingDiverged("conditional shapes GAN: a loss became NaN or infinite during training")
    return Run(G_avg, G, D, losses)


@torch.no_grad()
def sample_grid(G: CondGenerator, per_cell: int, *, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``per_cell`` samples of every (class, hue bin) pair for every member, drawn in training mode (batch
    statistics): images (E, K·B·per_cell, 3, S, S), requested labels and bins (K·B·per_cell,), ordered
    class-major, then bin, then sample."""
    V.positive_int(per_cell, "per_cell")
    dev = generator.device
    cells = torch.arange(N_CLASSES * HUE_BINS, device=dev).repeat_interleave(per_cell)
    labels, bins = cells // HUE_BINS, cells % HUE_BINS
    c = condition(labels, bins).expand(G.members, -1, -1)
    z = torch.randn(G.members, cells.shape[0], G.z_dim, generator=generator, device=dev)
    return G(z, c).float().clamp(-1, 1), labels, bins


@torch.no_grad()
def accuracies(images: torch.Tensor, labels: torch.Tensor, bins: torch.Tensor, net) -> tuple[torch.Tensor, torch.Tensor]:
    """Per member: the fraction of samples the shapes classifier ``net`` puts in the requested class, and
    the fraction whose foreground hue (:func:`foreground_hue`) lies in the requested bin. images
    (E, n, 3, S, S) → two (E,) float64 tensors."""
    E, n = images.shape[:2]
    pred = net.logits(images.flatten(0, 1)).argmax(1).view(E, n)
    hue, found = foreground_hue(images)
    ok_colour = found & (hue_bin(hue) == bins)
    return (pred == labels).double().mean(1), ok_colour.double().mean(1)


# --- a recorded run -----------------------------------------------------------------------------------

def record(p: Preset, device: torch.device | str, out: str, *, members: int = 3, seed_start: int = 100,
           name: str = "cgan_shapes_cpu", command: str = "") -> str:
    """Train ``members`` seeds (from ``seed_start``, never used for tuning) with preset ``p``, score 64
    samples of every (class, hue bin) with the shapes classifier and the pixels' hue, and write
    ``out/name.md``: the command, the preset, then one row per seed (requested-class and requested-colour
    accuracy of the averaged generator), and the instrument's own accuracies on real images. Returns the text."""
    import os
    import time

    from .metrics import shapes_classifier

    dev = torch.device(device)
    t0 = time.perf_counter()
    data = shapes_data(p, generator=torch.Generator().manual_seed(seed_start), device=dev)
    net = shapes_classifier(dev)
    n_real = min(2000, data.images.shape[0])
    real_cls, real_col = accuracies(data.images[None, :n_real], data.labels[:n_real], data.bins[:n_real], net)
    run = train(p, data, members=members, seed=seed_start)
    images, labels, bins = sample_grid(run.G, 64, generator=torch.Generator(device=dev).manual_seed(seed_start))
    cls, col = accuracies(images, labels, bins, net)
    seconds = time.perf_counter() - t0
    fields = ", ".join(f"{k}={getattr(p, k)}" for k in p.__dataclass_fields__)
    rows = "\n".join(f"| {seed_start + e} | {float(cls[e]):.3f} | {float(col[e]):.3f} |" for e in range(members))
    text = (f"`{command or 'python -m ganbook.conditional_conv'}`\n\n"
            f"Preset: {fields}; seeds {seed_start}–{seed_start + members - 1}; device {dev.type}; {seconds:.0f} s. "
            f"The instrument on {n_real:,} real training images: class {float(real_cls[0]):.3f}, "
            f"colour {float(real_col[0]):.3f}.\n\n"
            f"| seed | requested class | requested colour |\n|---|---|---|\n{rows}\n")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{name}.md"), "w", encoding="utf-8") as f:
        f.write(text)
    return text


def parse_record(text: str) -> dict[str, torch.Tensor]:
    """The numbers of a text written by :func:`record`: {"class", "colour"} per seed (float64 tensors)
    and {"real_class", "real_colour"}, the instrument's accuracies on real images (0-dim)."""
    import re

    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    real = re.search(r"real training images: class ([0-9]+\.[0-9]+), colour ([0-9]+\.[0-9]+)", text)
    rows = re.findall(r"^\| (\d+) \| ([0-9.]+) \| ([0-9.]+) \|$", text, flags=re.M)
    if real is None or not rows:
        raise ValueError("text is not a record written by conditional_conv.record")
    t = torch.tensor([[float(r[1]), float(r[2])] for r in rows], dtype=torch.float64)
    return {"class": t[:, 0], "colour": t[:, 1], "real_class": torch.tensor(float(real.group(1)), dtype=torch.float64),
            "real_colour": torch.tensor(float(real.group(2)), dtype=torch.float64)}


def main(argv: list[str] | None = None) -> None:
    import argparse
    import shlex
    import sys

    from . import device as pick

    parser = argparse.ArgumentParser(description="Record a long run of the conditional GAN on shapes.")
    parser.add_argument("--preset", default="cpu_long", choices=sorted(PRESETS))
    parser.add_argument("--out", default="ganbook/benchmarks")
    parser.add_argument("--name", default="cgan_shapes_cpu")
    parser.add_argument("--device", default=None)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--seed-start", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(V.positive_int(args.threads, "--threads"))
    command = "python -m ganbook.conditional_conv " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    print(record(preset(args.preset), pick(args.device), args.out, members=V.positive_int(args.members, "--members"),
                 seed_start=args.seed_start, name=args.name, command=command.strip()))


if __name__ == "__main__":
    main()
