"""KID (ganbook.metrics.kid) against independent references: a plain double loop over the pairs,
torchmetrics with the same feature extractor, and the unbiasedness the estimator promises."""
import itertools

import pytest
import torch

from ganbook import metrics as M
from ganbook.kernels import mmd2_from_kernels, polynomial_kernel
from ganbook.metrics.kid import mmd2_unbiased
from _digits_features import DigitsFeatures


def _loop_mmd2(x, y):
    """Unbiased MMD² with k(a, b) = (aᵀb/d + 1)³, by explicit loops over index pairs (numpy scalars)."""
    x, y = x.numpy(), y.numpy()
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** 3
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
    syy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


def test_mmd2_unbiased_equals_the_double_loop():
    g = torch.Generator().manual_seed(0)
    for m, n, d in ((5, 7, 3), (12, 9, 2), (20, 20, 6)):
        x = torch.randn(m, d, generator=g, dtype=torch.float64)
        y = torch.randn(n, d, generator=g, dtype=torch.float64) * 1.5 + 0.3
        ref = _loop_mmd2(x, y)
        assert mmd2_unbiased(x, y) == pytest.approx(ref, rel=1e-10, abs=1e-12)
        k = lambda a, b: polynomial_kernel(a, b)
        assert float(mmd2_from_kernels(k(x, x), k(y, y), k(x, y))) == pytest.approx(ref, rel=1e-10, abs=1e-12)


def test_block_size_does_not_change_the_value():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(300, 8, generator=g), torch.randn(250, 8, generator=g) + 0.1
    values = [mmd2_unbiased(x, y, block=b) for b in (1, 7, 64, 1000)]
    assert max(values) - min(values) < 1e-12 * max(1.0, abs(values[0])) + 1e-15


def test_kid_is_unbiased_for_identical_distributions():
    """Both samples from N(0, I): the population MMD² is 0, so the mean of many independent
    estimates must be 0 within its standard error (4 standard errors, computed from the spread)."""
    g = torch.Generator().manual_seed(2)
    est = torch.tensor([mmd2_unbiased(torch.randn(30, 4, generator=g), torch.randn(30, 4, generator=g))
                        for _ in range(400)], dtype=torch.float64)
    se = est.std() / len(est) ** 0.5
    assert abs(float(est.mean())) < 4 * float(se)
    # the biased estimate (diagonals kept) is systematically positive: the difference is real
    biased = []
    for _ in range(50):
        x, y = torch.randn(30, 4, generator=g), torch.randn(30, 4, generator=g)
        kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
        biased.append(float(kxx.mean() + kyy.mean() - 2 * kxy.mean()))
    assert min(biased) > 0


def test_kid_over_subsets_rejects_bad_input():
    x = torch.randn(50, 3)
    with pytest.raises(ValueError, match="subset_size"):
        M.kid(x, x, subset_size=51)
    with pytest.raises(ValueError, match="same feature dimension"):
        M.kid(x, torch.randn(50, 4), subset_size=10)
    bad = x.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinite"):
        M.kid(bad, x, subset_size=10)
    with pytest.raises(TypeError, match="subsets"):
        M.kid(x, x, subsets=2.5, subset_size=10)


def _sets():
    from ganbook.data import digits

    x, _ = digits()
    split = M.digits_split()
    g = torch.Generator().manual_seed(1)
    fake = (x[split["train"]] + 0.3 * torch.randn(x[split["train"]].shape, generator=g)).clamp(-1, 1)
    return x[split["heldout"]], fake


def test_kid_matches_torchmetrics_with_the_same_feature_extractor():
    """Same subsets: torchmetrics draws them with ``torch.randperm`` from the global generator, real
    first then fake for each subset; we draw them in that order from a generator with the same
    seed, so the 5 subset values must agree to float64 rounding (rel 1e-9). With subset_size equal
    to the sample size every subset is the whole set, and KID is the plain unbiased MMD²."""
    kid_mod = pytest.importorskip("torchmetrics.image.kid", reason="torchmetrics is not installed")
    net = M.digits_classifier()
    real, fake = _sets()
    fr, ff = M.extract(net.features, real), M.extract(net.features, fake)
    metric = kid_mod.KernelInceptionDistance(feature=DigitsFeatures(net), subsets=5, subset_size=300)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    torch.manual_seed(3)
    tm_mean, tm_std = metric.compute()
    ours = M.kid(fr, ff, subsets=5, subset_size=300, generator=torch.Generator().manual_seed(3))
    assert ours.mean == pytest.approx(float(tm_mean), rel=1e-9)
    assert ours.std == pytest.approx(float(tm_std), rel=1e-7)
    n = min(len(fr), len(ff))
    whole = kid_mod.KernelInceptionDistance(feature=DigitsFeatures(net), subsets=2, subset_size=n)
    whole.update(real[:n], real=True)
    whole.update(fake[:n], real=False)
    tm_whole, _ = whole.compute()
    assert mmd2_unbiased(fr[:n], ff[:n]) == pytest.approx(float(tm_whole), rel=1e-9)
    assert float(tm_mean) > 0.01                       # well above 0: the sets differ


def test_kid_over_the_whole_sample_is_one_mmd2_and_draws_the_same_permutations():
    """subset_size = both sample sizes: every subset is the whole sample reordered, so each value is the
    double loop's MMD², and the generator ends where 2 × subsets randperm draws leave it."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(9, 3, generator=g, dtype=torch.float64)
    y = torch.randn(9, 3, generator=g, dtype=torch.float64) + 0.5
    gen = torch.Generator().manual_seed(7)
    out = M.kid(x, y, subsets=4, subset_size=9, generator=gen)
    assert torch.allclose(out.values, torch.full((4,), _loop_mmd2(x, y), dtype=torch.float64), rtol=1e-10)
    ref = torch.Generator().manual_seed(7)
    for _ in range(8):
        torch.randperm(9, generator=ref)
    assert torch.equal(torch.randn(5, generator=gen), torch.randn(5, generator=ref))
