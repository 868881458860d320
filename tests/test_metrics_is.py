"""Inception Score, MODE score and class statistics against independent references: closed-form
cases, scipy's entropy, and torchmetrics with the same classifier."""
import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

from ganbook import metrics as M


def test_inception_score_closed_form_cases():
    c = 10
    onehot = torch.eye(c, dtype=torch.float64).repeat(50, 1)          # confident, every class equally often
    assert M.inception_score(onehot, splits=10, shuffle=False).mean == pytest.approx(c, rel=1e-12)
    same = torch.full((500, c), 1.0 / c, dtype=torch.float64)          # no information at all
    assert M.inception_score(same, splits=10).mean == pytest.approx(1.0, abs=1e-12)
    one_class = torch.zeros(500, c, dtype=torch.float64)
    one_class[:, 3] = 1.0                                                # total collapse onto one class
    assert M.inception_score(one_class).mean == pytest.approx(1.0, abs=1e-12)


def test_inception_score_equals_scipy_entropy_per_split():
    g = torch.Generator().manual_seed(0)
    p = torch.softmax(3 * torch.randn(600, 7, generator=g, dtype=torch.float64), 1)
    got = M.inception_score(p, splits=3, shuffle=False)
    ref = []
    for part in np.split(p.numpy(), 3):
        marginal = part.mean(0)
        ref.append(math.exp(np.mean([scipy.stats.entropy(row, marginal) for row in part])))
    assert got.values.numpy() == pytest.approx(ref, rel=1e-12)
    assert got.mean == pytest.approx(np.mean(ref), rel=1e-12)
    assert got.std == pytest.approx(np.std(ref), rel=1e-10)


class _Logits(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x).double()


def test_inception_score_matches_torchmetrics():
    """Same shuffle (torchmetrics calls ``torch.randperm`` on the global generator; we pass a generator
    with the same seed) and n divisible by the 10 splits: the means agree to rounding. torchmetrics
    reports the unbiased std (ddof = 1), we the ddof = 0 std of the original code: √(9/10) apart."""
    is_mod = pytest.importorskip("torchmetrics.image.inception", reason="torchmetrics is not installed")
    from ganbook.data import digits

    net = M.digits_classifier()
    x, _ = digits()
    g = torch.Generator().manual_seed(1)
    imgs = (x[:1000] + 0.4 * torch.randn(x[:1000].shape, generator=g)).clamp(-1, 1)
    metric = is_mod.InceptionScore(feature=_Logits(net), splits=10)
    metric.update(imgs)
    torch.manual_seed(5)
    tm_mean, tm_std = metric.compute()
    probs = M.extract(lambda z: net(z).double().softmax(1), imgs)   # softmax in float64, as torchmetrics
    ours = M.inception_score(probs, splits=10, generator=torch.Generator().manual_seed(5))
    assert ours.mean == pytest.approx(float(tm_mean), rel=1e-10)
    assert ours.std == pytest.approx(float(tm_std) * math.sqrt(9 / 10), rel=1e-8)
    assert 2.0 < ours.mean < 10.0


def test_mode_score_identity_and_penalty():
    g = torch.Generator().manual_seed(2)
    p = torch.softmax(4 * torch.randn(400, 10, generator=g, dtype=torch.float64), 1)
    # with p*(y) equal to the generated marginal, the penalty vanishes: MODE = IS of one split
    log_is = math.log(M.inception_score(p, splits=1, shuffle=False).mean)
    assert math.log(M.mode_score(p, p)) == pytest.approx(log_is, rel=1e-12)
    # otherwise MODE = IS · exp(−KL(p(y) ‖ p*(y))), with KL from scipy
    train = torch.softmax(torch.randn(300, 10, generator=g, dtype=torch.float64), 1)
    kl = scipy.stats.entropy(p.mean(0).numpy(), train.mean(0).numpy())
    assert math.log(M.mode_score(p, train)) == pytest.approx(log_is - kl, rel=1e-10)


def test_class_stats_reverse_kl():
    labels = torch.tensor([0, 0, 1, 1, 1, 3])
    st = M.class_stats(labels, 4)
    q = np.array([2, 3, 0, 1]) / 6
    assert st.modes == 3 and st.counts.tolist() == [2, 3, 0, 1]
    assert st.reverse_kl == pytest.approx(scipy.stats.entropy(q, np.full(4, 0.25)), rel=1e-12)
    assert M.class_stats(torch.arange(10), 10).reverse_kl == pytest.approx(0.0, abs=1e-15)
    assert M.class_stats(torch.zeros(5, dtype=torch.long), 10).reverse_kl == pytest.approx(math.log(10))


def test_scores_reject_bad_input():
    with pytest.raises(ValueError, match="softmax"):
        M.inception_score(torch.randn(100, 10))                         # logits, not probabilities
    with pytest.raises(ValueError, match="fewer than splits"):
        M.inception_score(torch.full((5, 2), 0.5), splits=10)
    p = torch.full((20, 4), 0.25)
    p[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        M.inception_score(p)
    with pytest.raises(ValueError, match="same number of classes"):
        M.mode_score(torch.full((5, 3), 1 / 3), torch.full((5, 4), 0.25))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 9\]"):
        M.class_stats(torch.tensor([0, 10]), 10)
    with pytest.raises(TypeError, match="integer"):
        M.class_stats(torch.tensor([0.0, 1.0]), 10)
