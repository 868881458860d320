"""Train the feature classifier of chapter 15 and write its state dict into the package.

    python -m ganbook.metrics.train_classifier                    # 8 × 8 digits, seconds on a CPU
    python -m ganbook.metrics.train_classifier --dataset mnist    # needs torchvision and MNIST data

Digits: the "train" half of :func:`~ganbook.metrics.features.digits_split` (896 images), each also
shifted by one pixel in the 8 directions (9 × 896 images), 12 epochs of Adam; the test accuracy is
measured on the held-out half (901 images, never seen). MNIST: the official 60k/10k split.
The run is a function of ``--seed`` (one CPU thread makes it bit-for-bit repeatable).
"""
from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from .. import _validate as V
from . import _common as C
from .features import SmallCNN, digits_split, weights_path


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


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("digits", "mnist"), default="digits")
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
