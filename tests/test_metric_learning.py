"""ganbook.metric_learning (chapter 10b): contrastive and triplet objectives against hand-computed values,
k-NN accuracy against scikit-learn."""
from __future__ import annotations

import math

import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from ganbook import metric_learning as ml


def test_contrastive_by_hand():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[3.0, 4.0], [0.3, 0.4], [3.0, 4.0]])
    same = torch.tensor([True, False, False])
    # distances 5, 0.5, 5: ½·25, ½·(1 − 0.5)², ½·0
    assert float(ml.contrastive(a, b, same=same, margin=1.0)) == pytest.approx((12.5 + 0.125 + 0.0) / 3, rel=1e-6)
    with pytest.raises(ValueError, match="same"):
        ml.contrastive(a, b, same=torch.tensor([1, 0, 0]))
    with pytest.raises(ValueError, match="margin"):
        ml.contrastive(a, b, same=same, margin=0.0)


def test_triplet_distances_and_losses_by_hand():
    anchor = torch.zeros(1, 2, dtype=torch.float64)
    pos, neg = torch.tensor([[1.0, 0.0]], dtype=torch.float64), torch.tensor([[0.0, 3.0]], dtype=torch.float64)
    dp, dn = ml.triplet_distances(anchor, pos, neg)
    want_p = math.e / (math.e + math.e ** 3)
    assert float(dp) == pytest.approx(want_p) and float(dn) == pytest.approx(1 - want_p)
    assert float(ml.triplet_hoffer(anchor, pos, neg)) == pytest.approx(want_p ** 2 + (1 - want_p - 1) ** 2)
    assert float(ml.triplet_nll(anchor, pos, neg)) == pytest.approx(-math.log(1 - want_p))
    with pytest.raises(ValueError, match="shape"):
        ml.triplet_nll(anchor, pos, torch.zeros(2, 2, dtype=torch.float64))


def test_triplet_nll_is_stable_for_far_apart_points():
    anchor = torch.zeros(1, 2)
    value = ml.triplet_nll(anchor, torch.tensor([[500.0, 0.0]]), torch.tensor([[1.0, 0.0]]))
    assert float(value) == pytest.approx(499.0, rel=1e-5)


def test_knn_accuracy_matches_scikit_learn():
    g = torch.Generator().manual_seed(0)
    ref, query = torch.randn(60, 3, generator=g, dtype=torch.float64), torch.randn(40, 3, generator=g, dtype=torch.float64)
    ry, qy = torch.randint(0, 3, (60,), generator=g), torch.randint(0, 3, (40,), generator=g)
    for k in (1, 5):
        ours = float(ml.knn_accuracy(ref[None], ry, query[None], qy, k=k)[0])
        clf = KNeighborsClassifier(n_neighbors=k).fit(ref.numpy(), ry.numpy())
        assert ours == pytest.approx(float((clf.predict(query.numpy()) == qy.numpy()).mean()))
    two = ml.knn_accuracy(torch.stack([ref, ref]), ry, torch.stack([query, query]), qy, k=1)
    assert two.shape == (2,) and float(two[0]) == float(two[1])
    with pytest.raises(ValueError, match="exceeds"):
        ml.knn_accuracy(ref[None], ry, query[None], qy, k=61)
    with pytest.raises(ValueError, match="entries"):
        ml.knn_accuracy(ref[None], ry[:5], query[None], qy)
