"""Stacked digits: the small-scale twin of Stacked MNIST (chapter 15).

Stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN) stacks three MNIST digits as the three colour
channels of one image: 10³ = 1,000 modes, each counted by classifying every channel. Here the
digits are scikit-learn's 8 × 8 ones, so an image is (3, 8, 8) and the mode of an image with
channel classes (a, b, c) is 100a + 10b + c.
"""
from __future__ import annotations

import torch

from .. import _validate as V
from .features import SmallCNN, extract


def stack_digits(images: torch.Tensor, labels: torch.Tensor, n: int,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` stacked images: three digits picked uniformly (with replacement) from ``images``
    (N, 1, 8, 8) as channels; returns images (n, 3, 8, 8) and modes (n,) = 100a + 10b + c."""
    V.tensor(images, "images", ndim=4, min_rows=1)
    if images.shape[1] != 1:
        raise ValueError(f"images must have one channel, got shape {tuple(images.shape)}")
    if not isinstance(labels, torch.Tensor) or labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {getattr(labels, 'shape', None)}")
    n = V.positive_int(n, "n")
    V.generator(generator)
    where = generator.device if generator is not None else torch.device("cpu")
    idx = torch.randint(0, images.shape[0], (n, 3), generator=generator, device=where).to(images.device)
    stacked = images[idx].squeeze(2)                                   # (n, 3, 8, 8)
    lab = labels.to(images.device)[idx]                                # (n, 3)
    return stacked, lab[:, 0] * 100 + lab[:, 1] * 10 + lab[:, 2]


def stacked_modes(classifier: SmallCNN, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """The mode 100a + 10b + c of each stacked image (n, 3, h, w), classifying each channel with
    ``classifier`` (a one-channel digit classifier); shape (n,), integers in [0, 1000)."""
    V.tensor(images, "images", ndim=4, min_rows=1)
    if images.shape[1] != 3:
        raise ValueError(f"images must have 3 channels (three stacked digits), got shape {tuple(images.shape)}")
    n = images.shape[0]
    flat = images.reshape(n * 3, 1, *images.shape[2:])                 # channels as separate digits
    pred = extract(classifier, flat, batch_size).argmax(1).reshape(n, 3)
    return pred[:, 0] * 100 + pred[:, 1] * 10 + pred[:, 2]
