"""The DCGAN guideline ablation of chapter 6a: train the full DCGAN and each variant with one guideline
removed, several seeds side by side, and score every seed with the book's FID, KID and class statistics.

    python -m ganbook.ablation --preset cpu --out DIR        # the chapter's live table, outside the notebook
    python -m ganbook.ablation --preset gpu --out DIR        # shapes 32×32, wider nets, longer (one GPU)

The step is the non-saturating GAN of chapter 2 with Adam, one D update per G update; E seeds are the
E members of one grouped network (:mod:`ganbook.dcgan`), so their losses are summed (each member gets
its own gradient). Scores use the classifier shipped for the preset's data: FID, eq. (ch15-fid), and
KID, eq. (ch15-kid), of a member's samples against held-out real images, and the classes its samples
fall into, eq. (ch15-reverse-kl).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Sequence

import torch

from . import _validate as V
from . import dcgan
from .dcgan import Guidelines, Preset
from .errors import TrainingDiverged
from .objectives.gan import minimax_d_loss, nonsaturating_g_loss

# One guideline removed per row (the full DCGAN first).
VARIANTS: dict[str, Guidelines] = {
    "DCGAN (all guidelines)": Guidelines(),
    "pooling / upsampling instead of strided convolutions": Guidelines(strided=False),
    "no batch norm": Guidelines(batch_norm=False),
    "batch norm also on G's output and D's input": Guidelines(batch_norm_ends=True),
    "ReLU instead of LeakyReLU in D": Guidelines(leaky_discriminator=False),
    "linear instead of tanh output in G": Guidelines(tanh_output=False),
    "fully connected hidden layers (256 units)": Guidelines(fc_hidden=256),
}


@dataclass
class Models:
    """E seeds' generators and discriminators (one grouped network each) and their optimisers."""

    G: dcgan.Generator
    D: dcgan.Discriminator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    G_avg: dcgan.Generator          # running average of G's weights, eq. (ch6-ema): the one scored


def build(p: Preset, guidelines: Guidelines, members: int, seed: int, device: torch.device) -> Models:
    """Networks for ``members`` seeds (initialised from ``seed``) and Adam with the preset's settings."""
    V.positive_int(members, "members")
    torch.manual_seed(seed)
    G = dcgan.Generator(p.z_dim, p.image_size, p.channels, p.width, guidelines=guidelines, members=members).to(device)
    D = dcgan.Discriminator(p.image_size, p.channels, p.width, guidelines=guidelines, members=members).to(device)
    return Models(G, D, torch.optim.Adam(G.parameters(), lr=p.lr, betas=p.betas),
                  torch.optim.Adam(D.parameters(), lr=p.lr, betas=p.betas), copy.deepcopy(G))


@torch.no_grad()
def average_weights(avg: torch.nn.Module, net: torch.nn.Module, decay: float) -> None:
    """θ̄ ← decay·θ̄ + (1 − decay)·θ for every parameter, eq. (ch6-ema) (batch-norm buffers are not
    averaged: samples are drawn with batch statistics)."""
    for a, p in zip(avg.parameters(), net.parameters()):
        a.lerp_(p, 1.0 - decay)


def gan_step(m: Models, real: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One D update then one G update, eqs. (ch2-value) and (ch2-g-ns). ``real`` (E, n, C, S, S),
    ``z`` (E, n, z_dim); the losses are means over (E, n), so E times them sums the members' losses."""
    E = m.G.members
    fake = m.G(z)                                                          # (E, n, C, S, S)
    d_loss = E * minimax_d_loss(m.D(real), m.D(fake.detach()))
    m.opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    m.opt_d.step()
    g_loss = E * nonsaturating_g_loss(m.D(fake))                           # D after its update
    m.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    m.opt_g.step()
    return d_loss.detach(), g_loss.detach()


def train(p: Preset, guidelines: Guidelines, data: torch.Tensor, *, members: int, seed: int,
          steps: int | None = None, check_every: int = 100) -> Models:
    """Train ``members`` seeds of one variant for ``steps`` (default: the preset's) on ``data``
    (N, C, S, S), each member drawing its own minibatches (with replacement)."""
    V.tensor(data, "data", ndim=4)
    steps = V.positive_int(p.steps if steps is None else steps, "steps")
    device = data.device
    m = build(p, guidelines, members, seed, device)
    gen = torch.Generator(device=device).manual_seed(seed)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=p.amp and device.type == "cuda")
    losses = torch.zeros(2, device=device)
    for step in range(1, steps + 1):
        idx = torch.randint(0, data.shape[0], (members, p.batch), generator=gen, device=device)
        z = torch.randn(members, p.batch, p.z_dim, generator=gen, device=device)
        with autocast:
            d_loss, g_loss = gan_step(m, data[idx], z)
        average_weights(m.G_avg, m.G, p.ema)
        losses += torch.stack([d_loss, g_loss])
        if step % check_every == 0 or step == steps:                       # one host sync per check
            if not bool(torch.isfinite(losses).all()):
                raise TrainingDiverged(f"a loss became NaN or infinite by step {step} ({guidelines})")
            losses.zero_()
    return m


@torch.no_grad()
def samples(G: dcgan.Generator, n: int, *, generator: torch.Generator) -> torch.Tensor:
    """n samples per member of ``G`` (members), (E, n, C, S, S), drawn with batch statistics (training
    mode, as in training)."""
    z = torch.randn(G.members, n, G.z_dim, generator=generator, device=generator.device)
    return G(z).float().clamp(-1, 1)


@dataclass(frozen=True)
class Scores:
    """Per-seed scores of one variant: FID, KID (×10³) and classes covered / reverse KL over classes."""

    fid: torch.Tensor           # (E,)
    kid: torch.Tensor           # (E,) × 10³
    modes: torch.Tensor         # (E,) classes with ≥ 1% of the samples
    reverse_kl: torch.Tensor    # (E,)


def feature_net(p: Preset, device: torch.device):
    """The preset's shipped classifier: digits or shapes."""
    from . import metrics

    return metrics.digits_classifier(device) if p.dataset == "digits" else metrics.shapes_classifier(device)


def score(fakes: torch.Tensor, real_features: torch.Tensor, real_labels: torch.Tensor, net, *,
          n_classes: int, generator: torch.Generator) -> Scores:
    """Score each member of ``fakes`` (E, n, C, S, S) against held-out real features (N, d) and labels."""
    from . import metrics

    fid, kid, modes, rkl = [], [], [], []
    reference = torch.bincount(real_labels.cpu(), minlength=n_classes).double()
    reference = reference / reference.sum()
    for x in fakes:
        f = metrics.extract(net.features, x)
        labels = metrics.extract(net.logits, x).argmax(1)
        fid.append(metrics.fid(real_features, f))
        size = min(len(real_features), len(f), 1000)
        kid.append(1e3 * metrics.kid(real_features, f, subsets=50, subset_size=size, generator=generator).mean)
        cs = metrics.class_stats(labels, n_classes, reference=reference, min_count=math.ceil(0.01 * len(x)))
        modes.append(cs.modes)
        rkl.append(cs.reverse_kl)
    t = lambda v: torch.tensor(v, dtype=torch.float64)                     # noqa: E731
    return Scores(t(fid), t(kid), t(modes), t(rkl))


def mean_se(x: torch.Tensor) -> tuple[float, float]:
    """Mean and standard error (sample standard deviation / √n) of ``x`` (n,) over n ≥ 2 seeds."""
    x = V.tensor(x, "x", ndim=1, min_rows=2).double()
    return float(x.mean()), float(x.std() / math.sqrt(len(x)))


@dataclass(frozen=True)
class Heldout:
    """Real images never trained on, their labels and classifier features, for scoring."""

    images: torch.Tensor
    labels: torch.Tensor
    features: torch.Tensor
    n_classes: int


def heldout(p: Preset, net, device: torch.device) -> Heldout:
    """The digits' held-out half (901 images), or 2,000 fresh shapes from a seed no training set uses."""
    from . import metrics

    if p.dataset == "digits":
        from .data import digits

        images, labels = digits()
        held = metrics.digits_split(0)["heldout"]
        x, y, k = images[held].to(device), labels[held], 10
    else:
        from .data import shapes

        batch = shapes(2000, p.image_size, generator=torch.Generator().manual_seed(2**31 - 1), device=device)
        x, y, k = batch.images, batch.factors["label"], 4
    return Heldout(x, y, metrics.extract(net.features, x), k)


def run(p: Preset, data: torch.Tensor, held: Heldout, net, *, seed: int, generator: torch.Generator,
        names: Sequence[str] | None = None) -> dict[str, tuple[Scores, Models]]:
    """Train ``p.seeds`` seeds of each variant (default: all of :data:`VARIANTS`) from ``seed`` and score
    their averaged generators on as many samples as ``held`` has images."""
    out = {}
    for name, guidelines in variants(names or list(VARIANTS)).items():
        m = train(p, guidelines, data, members=p.seeds, seed=seed)
        fakes = samples(m.G_avg, len(held.images), generator=generator)
        out[name] = (score(fakes, held.features, held.labels, net, n_classes=held.n_classes, generator=generator), m)
    return out


def verdict(diff: torch.Tensor) -> str:
    """Words for paired differences (variant − full DCGAN, one per seed): "hurts" / "helps" when the
    mean is more than twice its standard error from 0, else "no detectable effect"."""
    mean, se = mean_se(diff)
    if abs(mean) <= 2 * se:
        return "no detectable effect"
    return "hurts" if mean > 0 else "helps"


def table(results: dict[str, tuple[Scores, Models]], baseline: str = "DCGAN (all guidelines)") -> str:
    """A markdown table: mean ± standard error over seeds, and the paired FID difference to ``baseline``
    with its verdict."""
    base = results[baseline][0].fid
    rows = ["| variant | FID | KID ×10³ | classes | reverse KL | ΔFID (paired) | verdict |",
            "|---|---|---|---|---|---|---|"]
    for name, (s, _) in results.items():
        cells = [f"{a:.3g} ± {b:.2g}" for a, b in map(mean_se, (s.fid, s.kid, s.modes, s.reverse_kl))]
        if name == baseline:
            cells += ["—", "—"]
        else:
            d = s.fid - base
            cells += ["{:+.3g} ± {:.2g}".format(*mean_se(d)), verdict(d)]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def real_vs_real_fid(p: Preset, held: Heldout, net, device: torch.device) -> float:
    """FID between two disjoint real samples: the digits' training half against the held-out half, or
    two fresh shapes samples of the held-out size."""
    from . import metrics

    if p.dataset == "digits":
        other = dcgan.real_images(p, device=device)
    else:
        from .data import shapes

        other = shapes(len(held.images), p.image_size, generator=torch.Generator().manual_seed(2**31 - 2),
                       device=device).images
    return metrics.fid(held.features, metrics.extract(net.features, other))


def record(p: Preset, device: torch.device, out: str, *, seed_start: int = 100,
           names: Sequence[str] | None = None, stem: str | None = None, command: str = "") -> str:
    """Run the variants ``names`` (default: all) at preset ``p`` on seeds seed_start … seed_start + p.seeds − 1
    and write ``<stem>.md`` (the command, the table) and ``<stem>.png`` (samples) to ``out``; ``stem``
    defaults to ``ablation_<preset>``."""
    stem = stem or f"ablation_{p.name}"
    from .plot import image_grid

    start = time.perf_counter()
    net = feature_net(p, device)
    held = heldout(p, net, device)
    data = dcgan.real_images(p, generator=torch.Generator().manual_seed(seed_start), device=device)
    gen = torch.Generator(device=device).manual_seed(seed_start)
    results = run(p, data, held, net, seed=seed_start, generator=gen, names=names)
    text = (f"`{command}`\n\n" if command else "") + (f"Preset: {dcgan.describe(p)}; seeds {seed_start}–{seed_start + p.seeds - 1}; device {device}; "
            f"{time.perf_counter() - start:.0f} s. Real-vs-real FID: {real_vs_real_fid(p, held, net, device):.3g}.\n\n"
            + table(results) + "\n")
    with open(os.path.join(out, f"{stem}.md"), "w") as f:
        f.write(text)
    ax = image_grid(torch.cat([m.G_avg(torch.randn(p.seeds, 8, p.z_dim, generator=gen, device=device))[0]
                                for _, m in results.values()]).detach().float().cpu(), nrow=8)
    ax.figure.savefig(os.path.join(out, f"{stem}.png"), dpi=120, bbox_inches="tight")
    return text


def recorded(name: str) -> str | None:
    """The text of a recorded table shipped in ``ganbook/benchmarks`` (None if not recorded yet)."""
    from importlib import resources

    if not isinstance(name, str) or "/" in name or not name.endswith(".md"):
        raise ValueError(f"name must be a file name ending in .md, got {name!r}")
    path = resources.files("ganbook").joinpath("benchmarks", name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


def parse_table(text: str) -> dict:
    """Means from a table written by :func:`record`: {variant: {"fid", "kid", "classes", "reverse_kl"}}
    and "floor", the real-vs-real FID."""
    import re

    out: dict = {}
    floor = re.search(r"Real-vs-real FID: ([0-9.eE+-]+)", text)
    if floor is None:
        raise ValueError("text has no 'Real-vs-real FID' line: not a table written by ablation.record")
    out["floor"] = float(floor.group(1).rstrip("."))
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and "±" in cells[1]:
            means = [float(c.split("±")[0]) for c in cells[1:5]]
            out[cells[0]] = dict(zip(("fid", "kid", "classes", "reverse_kl"), means))
    return out


def variants(names: Sequence[str]) -> dict[str, Guidelines]:
    """A sub-dictionary of :data:`VARIANTS`."""
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    return {n: VARIANTS[n] for n in names}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", choices=sorted(dcgan.PRESETS))
    parser.add_argument("--out", default="dcgan_ablation")
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed-start", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--batch", type=int, default=None, help="override the preset's batch size")
    parser.add_argument("--lr", type=float, default=None, help="override the preset's learning rate")
    parser.add_argument("--width", type=int, default=None, help="override the preset's network width")
    parser.add_argument("--ema", type=float, default=None, help="override the preset's weight-average decay")
    parser.add_argument("--variant", action="append", default=None, help="a row of VARIANTS (repeatable)")
    parser.add_argument("--name", default=None, help="file stem of the outputs (default ablation_<preset>)")
    args = parser.parse_args(argv)
    command = "python -m ganbook.ablation " + " ".join(
        f"'{a}'" if " " in a else a for a in (sys.argv[1:] if argv is None else argv))
    from . import device as pick

    torch.set_num_threads(V.positive_int(args.threads, "--threads"))
    os.makedirs(args.out, exist_ok=True)
    p = dcgan.preset(args.preset)
    changes = {k: v for k in ("steps", "batch", "lr", "width", "ema") if (v := getattr(args, k)) is not None}
    p = dataclasses.replace(p, **changes)
    print(record(p, pick(args.device), args.out, seed_start=args.seed_start, names=args.variant, stem=args.name,
                 command=command))


if __name__ == "__main__":
    main()

