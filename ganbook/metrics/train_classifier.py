"""Train the feature classifier of chapter 15 and write its state dict into the package.

    python -m ganbook.metrics.train_classifier                    # 8 × 8 digits, seconds on a CPU
    python -m ganbook.metrics.train_classifier --dataset shapes   # colour shapes, ~45 s of one core
    python -m ganbook.metrics.train_classifier --dataset mnist    # needs torchvision and MNIST data

Digits: the "train" half of :func:`~ganbook.metrics.features.digits_split` (896 images), each also
shifted by one pixel in the 8 directions (9 × 896 images), 12 epochs of Adam; the test accuracy is
measured on the held-out half (901 images, never seen). MNIST: the official 60k/10k split.
Shapes: every epoch 16,000 fresh images of :func:`ganbook.data.shapes` from one generator seeded
with ``--seed`` (half plain, half textured; 3/4 rendered at 16 × 16, 1/8 at 32 × 32 and 1/8 at
64 × 64, area-downsampled to 16 × 16), 12 epochs of Adam on cross-entropy + the factors' mean squared
error; the test accuracy and factor errors are measured on images from another seed
(:data:`HELDOUT_SEED`), at 16 × 16 and 64 × 64, both backgrounds.
The run is a function of ``--seed``; one CPU thread makes it repeat bit for bit on one machine (another
processor or torch version rounds differently, so the shipped files are one such run, not a checksum).
"""
from __future__ import annotations

import argparse
import math
import os
import time

import torch
import torch.nn.functional as F

from .. import _validate as V
from . import _common as C
from .. import shapes as S
from .features import ShapesCNN, SmallCNN, digits_split, factor_targets, weights_path

HELDOUT_SEED = 20_251_205        # the shapes test images' generator seed: never a training seed
SHAPES_MIX = ((16, 0.75), (32, 0.125), (64, 0.125))   # rendering size → share of each epoch
# Loss weights of x, y, scale, R, G, B. With equal weights the colour lags (held-out rmse 0.07 per
# channel against 0.04 with 4×); 10× cuts it to 0.03 but costs three points of class accuracy.
TARGET_WEIGHTS = (1.0, 1.0, 1.0, 4.0, 4.0, 4.0)


def shifted_copies(x: torch.Tensor) -> torch.Tensor:
    """x (n, 1, h, w) and its 8 one-pixel shifts (background −1 fills the border): (9n, 1, h, w)."""
    padded = F.pad(x, (1, 1, 1, 1), value=-1.0)
    h, w = x.shape[-2:]
    return torch.cat([padded[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)])


def accuracy(net: SmallCNN, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2000) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x[s:s + batch_size]).argmax(1) for s in range(0, x.shape[0], batch_size)])
    return int((pred == y).sum()) / y.shape[0]


def fit(net: SmallCNN, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int, batch_size: int = 128,
        lr: float = 1e-3) -> SmallCNN:
    """Plain cross-entropy training with Adam (the loss takes logits: no softmax before it)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(x.shape[0], generator=gen)
        for s in range(0, x.shape[0], batch_size):
            idx = order[s:s + batch_size]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    return net.eval()


def set_feature_scale(net: SmallCNN, x: torch.Tensor, batch_size: int = 2000) -> None:
    """Set ``net.feature_scale`` so that the mean of ‖f‖²/64 over the images x is 1."""
    with torch.no_grad():
        sq = torch.cat([C.to_float64(net.body(x[s:s + batch_size])).pow(2).sum(1) for s in range(0, x.shape[0], batch_size)])
        net.feature_scale.fill_(float((sq.mean() / net.num_features).sqrt()))


def train_digits(seed: int = 0, epochs: int = 12) -> tuple[SmallCNN, float]:
    """Train on the digits' "train" half (with shifts); return the net and its held-out accuracy."""
    from ..data import digits

    x, y = digits()
    split = digits_split(0)
    xtr, ytr = x[split["train"]], y[split["train"]]
    torch.manual_seed(seed)
    net = fit(SmallCNN(image_size=8), shifted_copies(xtr), ytr.repeat(9), epochs=epochs, seed=seed)
    set_feature_scale(net, xtr)
    return net, accuracy(net, x[split["heldout"]], y[split["heldout"]])


def train_mnist(seed: int = 0, epochs: int = 2) -> tuple[SmallCNN, float]:
    """Train on MNIST's training set; return the net and its test-set accuracy (needs the data)."""
    from ..data import mnist

    xtr, ytr = mnist(train=True)
    xte, yte = mnist(train=False)
    torch.manual_seed(seed)
    net = fit(SmallCNN(image_size=28), xtr, ytr, epochs=epochs, seed=seed)
    set_feature_scale(net, xtr[:10_000])
    return net, accuracy(net, xte, yte)


def shapes_training_images(n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """``n`` fresh training images (n, 3, 16, 16) with their labels, regression targets and angle
    masks (:func:`~ganbook.metrics.features.factor_targets`): half plain, half textured, each
    rendered at the sizes of :data:`SHAPES_MIX` and area-downsampled to 16 × 16."""
    parts = []
    for background in S.BACKGROUNDS:
        for size, share in SHAPES_MIX:
            b = S.shapes(round(n * share / 2), size, generator=generator, background=background)
            target, mask = factor_targets(b.factors)
            parts.append((F.avg_pool2d(b.images, size // 16), b.factors["label"], target, mask))
    return tuple(torch.cat(column) for column in zip(*parts))


def shapes_objective(net: ShapesCNN, x: torch.Tensor, label: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the class + the mean squared error of the six position/scale/colour targets
    weighted by :data:`TARGET_WEIGHTS` + that of (cos kθ, sin kθ) where the angle exists (x already
    16 × 16)."""
    f = net.body(x)
    err = (net.regress(f) - target) ** 2
    weight = torch.tensor(TARGET_WEIGHTS, device=err.device)
    return (F.cross_entropy(net.head(f), label) + (err[:, :6] * weight).mean()
            + (err[:, 6:].mean(1) * mask).mean())


def train_shapes(seed: int = 0, epochs: int = 12, n: int = 16_000, batch_size: int = 128,
                 lr: float = 5e-3) -> ShapesCNN:
    """Train :class:`~ganbook.metrics.features.ShapesCNN` on ``n`` fresh images per epoch from one
    generator seeded with ``seed`` (Adam, cosine learning rate); ``feature_scale`` is set on the
    last epoch's images."""
    V.positive_int(seed, "seed", minimum=0)
    epochs, n = V.positive_int(epochs, "epochs"), V.positive_int(n, "n", minimum=64)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = ShapesCNN()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    for _ in range(epochs):
        x, label, target, mask = shapes_training_images(n, gen)
        order = torch.randperm(x.shape[0], generator=gen)
        net.train()
        for s in range(0, x.shape[0], batch_size):
            idx = order[s:s + batch_size]
            loss = shapes_objective(net, x[idx], label[idx], target[idx], mask[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    set_feature_scale(net, x)
    return net


def shapes_report(net: ShapesCNN, n: int = 4000, seed: int = HELDOUT_SEED) -> dict[str, float]:
    """Held-out scores of a shapes classifier on ``n`` images per background from ``seed`` (plain)
    and ``seed + 1`` (textured), the same scenes rendered at 16 × 16 and at 64 × 64: accuracy per
    (background, size) and overall; root-mean-square errors of x, y, scale (canvas units) and colour
    (per channel, in [0, 1]) over all four sets; the median angle error modulo the true class's
    symmetry (degrees; correctly classified non-circles)."""
    out: dict[str, float] = {}
    sq: dict[str, list[torch.Tensor]] = {"x": [], "y": [], "scale": [], "color": []}
    angle_err, correct = [], []
    with torch.no_grad():
        for j, background in enumerate(S.BACKGROUNDS):          # a seed per background
            for size in (16, 64):
                b = S.shapes(n, size, generator=torch.Generator().manual_seed(seed + j), background=background)
                parts = [net.factors(b.images[s:s + 1000]) for s in range(0, n, 1000)]
                pred = {key: torch.cat([p[key] for p in parts]) for key in parts[0]}
                hit = pred["label"] == b.factors["label"]
                out[f"accuracy {background} {size}"] = float(hit.double().mean())
                correct.append(hit)
                for key in sq:
                    sq[key].append((pred[key] - b.factors[key]).double().pow(2).flatten())
                k = torch.tensor([S.SYMMETRY[c] for c in S.CLASSES])[b.factors["label"]]
                ok = hit & (k > 0)
                d = torch.remainder(k[ok] * (pred["angle"][ok] - b.factors["angle"][ok]) + math.pi, 2 * math.pi) - math.pi
                angle_err.append((d.abs() / k[ok]).double())
    out["accuracy"] = float(torch.cat(correct).double().mean())
    for key, v in sq.items():
        out[f"rmse {key}"] = float(torch.cat(v).mean().sqrt())
    out["median angle error (deg)"] = math.degrees(float(torch.cat(angle_err).median()))
    return out


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("digits", "mnist", "shapes"), default="digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", default=None, help="where to write the state dict (default: the package)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: bit-for-bit repeatable)")
    args = parser.parse_args(argv)
    V.positive_int(args.threads, "--threads")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    if args.dataset == "digits":
        net, acc = train_digits(args.seed, args.epochs or 12)
        where = f"held-out half of the digits ({len(digits_split(0)['heldout'])} images)"
    elif args.dataset == "shapes":
        net = train_shapes(args.seed, args.epochs or 12)
        report = shapes_report(net)
        acc = report["accuracy"]
        print(f"shapes classifier, held-out images (generator seeds {HELDOUT_SEED} plain, "
              f"{HELDOUT_SEED + 1} textured):\n" + "\n".join(f"  {k:28s} {v:.4f}" for k, v in report.items()))
        where = "held-out shapes (4 × 4,000 images: plain/textured × 16/64 pixels)"
    else:
        net, acc = train_mnist(args.seed, args.epochs or 2)
        where = "MNIST test set (10,000 images)"
    out = args.out or weights_path(args.dataset)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.save(net.state_dict(), out)
    print(f"{args.dataset} classifier: test accuracy {acc:.4f} on the {where}; "
          f"{sum(p.numel() for p in net.parameters()):,} parameters; {time.perf_counter() - start:.1f} s; "
          f"wrote {out} ({os.path.getsize(out) / 1024:.0f} KiB)")
    return acc


if __name__ == "__main__":
    main()
