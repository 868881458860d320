"""Scores computed from a classifier's label probabilities p(y|x), chapter 15.

* :func:`inception_score` — IS = exp(E_x KL(p(y|x) ‖ p(y))), eq. (ch15-is) (the survey's eq. 32),
  with p(y) the mean of p(y|x) over the samples; 10 splits over shuffled samples, float64.
* :func:`mode_score` — IS penalised by KL(p(y) ‖ p*(y)), the distance of the generated label
  marginal from the training data's label marginal p*(y), eq. (ch15-mode-score).
* :func:`class_stats` — modes (classes) captured and the reverse KL KL(q ‖ p) of the histogram q
  of predicted classes against the reference class frequencies p (uniform by default).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import _validate as V
from . import _common as C


@dataclass(frozen=True)
class InceptionScore:
    """IS over splits: mean and standard deviation (ddof = 0, as in the original code) of the
    per-split scores, and the scores themselves."""

    mean: float
    std: float
    values: torch.Tensor

    def __str__(self) -> str:
        return f"IS {self.mean:.3f} ± {self.std:.3f} ({self.values.numel()} splits)"


def _probs(p: object, name: str, min_rows: int = 1) -> torch.Tensor:
    x = C.features(p, name, min_rows=min_rows)
    if bool((x < 0).any()):
        raise ValueError(f"{name} must hold probabilities (non-negative), found negative entries; "
                         f"pass softmax(logits), not logits")
    rows = x.sum(1)
    if not bool(torch.allclose(rows, torch.ones_like(rows), atol=1e-4)):
        worst = float((rows - 1).abs().max())
        raise ValueError(f"each row of {name} must sum to 1 (a distribution over classes); the largest "
                         f"deviation is {worst:.3g}. Pass softmax(logits)")
    return x / rows.unsqueeze(1)


def _xlogy_ratio(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """p log(p/q) with 0 log 0 = 0, elementwise."""
    return torch.where(p > 0, p * (torch.log(p.clamp(min=1e-300)) - torch.log(q.clamp(min=1e-300))), p.new_zeros(()))


def mean_kl_to_marginal(probs: torch.Tensor) -> float:
    """E_x KL(p(y|x) ‖ p(y)) with p(y) the mean row of ``probs`` (n, C): the log of the IS of one split."""
    p = _probs(probs, "probs")
    marginal = p.mean(0, keepdim=True)                  # (1, C)
    return float(_xlogy_ratio(p, marginal).sum(1).mean())


def inception_score(probs: torch.Tensor, splits: int = 10, shuffle: bool = True,
                    generator: torch.Generator | None = None) -> InceptionScore:
    """Inception Score, eq. (ch15-is), of class probabilities ``probs`` (n, C) (rows sum to 1).

    The samples are shuffled (``torch.randperm(n, generator=generator)``) and cut into ``splits``
    parts with boundaries ⌊i n / splits⌋ as in Salimans et al.'s code; IS is computed per part."""
    p = _probs(probs, "probs")
    splits = V.positive_int(splits, "splits")
    V.generator(generator)
    n = p.shape[0]
    if n < splits:
        raise ValueError(f"probs has {n} rows, fewer than splits = {splits}")
    if shuffle:
        idx = torch.randperm(n, generator=generator, device=C.generator_device(generator)).to(p.device)
        p = p[idx]
    scores = torch.empty(splits, dtype=torch.float64)
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        scores[i] = math.exp(mean_kl_to_marginal(part))
    return InceptionScore(mean=float(scores.mean()), std=float(scores.std(unbiased=False)), values=scores)


def kl_categorical(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p ‖ q) between two distributions over the same classes (vectors summing to 1)."""
    p = _probs(p.reshape(1, -1) if isinstance(p, torch.Tensor) and p.dim() == 1 else p, "p")[0]
    q = _probs(q.reshape(1, -1) if isinstance(q, torch.Tensor) and q.dim() == 1 else q, "q")[0]
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same number of classes, got {p.numel()} and {q.numel()}")
    if bool(((q == 0) & (p > 0)).any()):
        return math.inf
    return float(_xlogy_ratio(p, q).sum())


def mode_score(probs: torch.Tensor, train_probs: torch.Tensor) -> float:
    """MODE score, eq. (ch15-mode-score): exp(E_x KL(p(y|x) ‖ p(y)) − KL(p(y) ‖ p*(y))), where p(y) is
    the mean of ``probs`` (generated samples) and p*(y) the mean of ``train_probs`` (training data).

    It equals IS (one split) times exp(−KL(p(y) ‖ p*(y))): a generator whose class frequencies
    differ from the data's loses score even when each sample is confidently classified."""
    p = _probs(probs, "probs")
    pt = _probs(train_probs, "train_probs")
    if p.shape[1] != pt.shape[1]:
        raise ValueError(f"probs and train_probs must have the same number of classes, got {p.shape[1]} "
                         f"and {pt.shape[1]}")
    marginal = p.mean(0)
    return math.exp(mean_kl_to_marginal(p) - kl_categorical(marginal, pt.mean(0)))


@dataclass(frozen=True)
class ClassStats:
    """Result of :func:`class_stats`."""

    modes: int                # classes with at least ``min_count`` samples
    n_classes: int
    reverse_kl: float         # KL(q ‖ p): q the histogram of predicted classes, p the reference
    counts: torch.Tensor      # samples per class, shape (n_classes,)

    def __str__(self) -> str:
        return f"modes {self.modes}/{self.n_classes}, reverse KL {self.reverse_kl:.3f}"


def class_stats(labels: torch.Tensor, n_classes: int, reference: torch.Tensor | None = None,
                min_count: int = 1) -> ClassStats:
    """Modes captured and reverse KL over classes, eq. (ch15-reverse-kl): ``labels`` (n,) are the
    classes a classifier assigns to generated samples; ``reference`` (n_classes,) the class
    frequencies of the data (uniform by default, as for Stacked MNIST's 1,000 modes)."""
    n_classes = V.positive_int(n_classes, "n_classes")
    min_count = V.positive_int(min_count, "min_count")
    if not isinstance(labels, torch.Tensor) or labels.dim() != 1 or labels.numel() == 0:
        raise ValueError(f"labels must be a non-empty 1-D tensor of class indices, got "
                         f"{getattr(labels, 'shape', type(labels).__name__)}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    if int(labels.min()) < 0 or int(labels.max()) >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes - 1}], got values in "
                         f"[{int(labels.min())}, {int(labels.max())}]")
    counts = torch.bincount(labels.cpu(), minlength=n_classes).to(torch.float64)
    q = counts / counts.sum()
    if reference is None:
        p = torch.full((n_classes,), 1.0 / n_classes, dtype=torch.float64)
    else:
        V.tensor(reference, "reference", ndim=1, last_dim=n_classes)
        p = _probs(reference.reshape(1, -1).cpu(), "reference")[0]
    return ClassStats(modes=int((counts >= min_count).sum()), n_classes=n_classes,
                      reverse_kl=kl_categorical(q, p), counts=counts.long())
