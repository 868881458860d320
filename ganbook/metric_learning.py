"""Chapter 10b: metric learning — Siamese and triplet objectives, Triplet GAN, and k-NN accuracy.

* :func:`contrastive` — the Siamese (contrastive) objective of Hadsell, Chopra and LeCun, eq. (ch10-siamese);
* :func:`triplet_distances` — Hoffer and Ailon's softmax of the two distances (d₊, d₋), eq. (ch10-triplet-d);
* :func:`triplet_hoffer` — their objective ‖(d₊, d₋ − 1)‖², eq. (ch10-triplet);
* :func:`triplet_nll` — −log d₋, the supervised term of Triplet GAN, eq. (ch10-tripletgan);
* :func:`knn_accuracy` — k-nearest-neighbour accuracy of embeddings (seeds side by side).
"""
from __future__ import annotations

import torch

from . import _validate as V

__all__ = ["contrastive", "triplet_distances", "triplet_hoffer", "triplet_nll", "knn_accuracy"]


def _three(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> None:
    V.rows(anchor, "anchor")
    for name, t in (("positive", positive), ("negative", negative)):
        if t.shape != anchor.shape:
            raise ValueError(f"{name} {tuple(t.shape)} must have the shape of anchor {tuple(anchor.shape)}")


def contrastive(a: torch.Tensor, b: torch.Tensor, *, same: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Eq. (ch10-siamese): mean over pairs of ½ d² for pairs of one class and ½ [m − d]₊² otherwise, with
    d = ‖f(a) − f(b)‖ the distance of the embeddings ``a``, ``b`` (..., n, k) and ``same`` (n,) boolean."""
    V.rows(a, "a")
    if b.shape != a.shape:
        raise ValueError(f"b {tuple(b.shape)} must have the shape of a {tuple(a.shape)}")
    margin = V.positive_float(margin, "margin")
    if same.dtype != torch.bool or same.shape != a.shape[-2:-1]:
        raise ValueError(f"same must be a boolean tensor of shape ({a.shape[-2]},), got {same.dtype} {tuple(same.shape)}")
    d = (a - b).pow(2).sum(-1).add(1e-12).sqrt()
    per_pair = torch.where(same, 0.5 * d ** 2, 0.5 * torch.relu(margin - d) ** 2)
    return per_pair.mean(-1).sum()


def triplet_distances(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. (ch10-triplet-d): d± = exp(‖f(x) − f(x±)‖) / (exp(‖f(x) − f(x₊)‖) + exp(‖f(x) − f(x₋)‖)), computed as a
    softmax of the two Euclidean distances; d₊ + d₋ = 1. Shapes (..., n, k) → two (..., n)."""
    _three(anchor, positive, negative)
    dp = (anchor - positive).pow(2).sum(-1).add(1e-12).sqrt()
    dn = (anchor - negative).pow(2).sum(-1).add(1e-12).sqrt()
    both = torch.softmax(torch.stack([dp, dn]), dim=0)
    return both[0], both[1]


def triplet_hoffer(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-triplet): Hoffer and Ailon's ‖(d₊, d₋ − 1)‖² = d₊² + (d₋ − 1)² = 2 d₊², mean over triplets
    (summed over leading seed axes)."""
    dp, dn = triplet_distances(anchor, positive, negative)
    return (dp ** 2 + (dn - 1) ** 2).mean(-1).sum()


def triplet_nll(anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-tripletgan): −log d₋, the negative log-probability that the positive is the nearer of the two
    under the softmax of eq. (ch10-triplet-d); mean over triplets (summed over leading seed axes)."""
    _three(anchor, positive, negative)
    dp = (anchor - positive).pow(2).sum(-1).add(1e-12).sqrt()
    dn = (anchor - negative).pow(2).sum(-1).add(1e-12).sqrt()
    return torch.nn.functional.softplus(dp - dn).mean(-1).sum()


def knn_accuracy(reference: torch.Tensor, reference_labels: torch.Tensor, query: torch.Tensor,
                 query_labels: torch.Tensor, *, k: int = 5) -> torch.Tensor:
    """Accuracy of the majority vote of the k nearest reference embeddings (Euclidean; ties to the smaller
    label). ``reference`` (..., n, d), ``query`` (..., m, d) with the same leading (seed) axes; returns (...,)."""
    V.rows(reference, "reference")
    V.rows(query, "query")
    k = V.positive_int(k, "k")
    if k > reference.shape[-2]:
        raise ValueError(f"k = {k} exceeds the {reference.shape[-2]} reference rows")
    for name, lab, x in (("reference_labels", reference_labels, reference), ("query_labels", query_labels, query)):
        V.tensor(lab, name, ndim=1, floating=False)
        if lab.shape[0] != x.shape[-2]:
            raise ValueError(f"{name} has {lab.shape[0]} entries for {x.shape[-2]} rows")
    d = torch.cdist(query.double(), reference.double())                       # (..., m, n)
    idx = d.topk(k, dim=-1, largest=False).indices                          # (..., m, k)
    votes = reference_labels.to(idx.device)[idx]
    n_classes = int(max(reference_labels.max(), query_labels.max())) + 1
    counts = torch.nn.functional.one_hot(votes, n_classes).sum(-2)          # (..., m, classes)
    pred = counts.argmax(-1)
    return (pred == query_labels.to(pred.device)).double().mean(-1)
