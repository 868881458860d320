"""FID (ganbook.metrics.fid) against independent references: the closed form between two
Gaussians, scipy's matrix square root, and torchmetrics with the same feature extractor."""

import numpy as np
import pytest
import scipy.linalg
import torch

from ganbook import metrics as M
from ganbook.metrics.fid import frechet_distance, gaussian_stats, sqrtm_psd
from _digits_features import DigitsFeatures


def _random_spd(d, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return a @ a.T / d + 0.1 * torch.eye(d, dtype=torch.float64)


def _scipy_frechet(mu1, s1, mu2, s2):
    """The textbook formula with scipy's general matrix square root of the product Σ₁Σ₂."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    assert np.abs(np.imag(covmean)).max() < 1e-8          # well-conditioned inputs only
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(np.real(covmean)))


def test_frechet_distance_equals_scipy_on_random_gaussians():
    for d, seed in ((1, 0), (3, 1), (10, 2), (40, 3)):
        s1, s2 = _random_spd(d, seed), _random_spd(d, seed + 100)
        mu1 = torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        mu2 = torch.zeros(d, dtype=torch.float64)
        ref = _scipy_frechet(mu1.numpy(), s1.numpy(), mu2.numpy(), s2.numpy())
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-9, abs=1e-10)


def test_frechet_distance_closed_form_for_commuting_covariances():
    # diagonal Σ's commute: FID = ‖Δμ‖² + Σᵢ (√aᵢ − √bᵢ)²   (hand-derived closed form)
    a, b = torch.tensor([1.0, 4.0, 0.25], dtype=torch.float64), torch.tensor([9.0, 1.0, 0.25], dtype=torch.float64)
    mu1, mu2 = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64), torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64)
    expected = 1.0 + 9.0 + (1 - 3) ** 2 + (2 - 1) ** 2 + 0.0
    assert frechet_distance(mu1, torch.diag(a), mu2, torch.diag(b)) == pytest.approx(expected, abs=1e-12)
    # identical Gaussians are at distance 0; the distance is symmetric
    s = _random_spd(6, 7)
    mu = torch.ones(6, dtype=torch.float64)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-10
    s2 = _random_spd(6, 8)
    assert frechet_distance(mu, s, 0 * mu, s2) == pytest.approx(frechet_distance(0 * mu, s2, mu, s), rel=1e-10)


def test_fid_of_samples_converges_to_the_closed_form():
    """FID of samples from N(μ₁, Σ₁), N(μ₂, Σ₂) → the closed form of the true parameters.

    With n = 200,000 samples in d = 4 the sample means are off by ~√(2 tr Σ / n) ≈ 0.006, which moves
    ‖Δμ‖² (≈ 5) by ≈ 2·2.2·0.006 ≈ 0.03 at one standard deviation; the covariance terms move less.
    The bias of FID is about (tr Σ₁ + tr Σ₂)/n · O(d) ≈ 1e-4. Tolerance 0.12 ≈ 4 standard deviations."""
    d, n = 4, 200_000
    s1, s2 = _random_spd(d, 11), _random_spd(d, 12)
    mu1 = torch.tensor([1.0, -1.0, 0.5, 2.0], dtype=torch.float64)
    mu2 = torch.zeros(d, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s1).T + mu1
    y = torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(s2).T + mu2
    truth = _scipy_frechet(mu1.numpy(), s1.numpy(), mu2.numpy(), s2.numpy())
    assert M.fid(x, y) == pytest.approx(truth, abs=0.12)


def test_gaussian_stats_match_numpy():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(57, 5, generator=g, dtype=torch.float64) * 3 + 1
    st = gaussian_stats(x)
    assert torch.allclose(st.mean, torch.from_numpy(x.numpy().mean(0)))
    assert torch.allclose(st.cov, torch.from_numpy(np.cov(x.numpy(), rowvar=False, ddof=1)), atol=1e-12)
    assert st.n == 57 and st.cov.dtype == torch.float64
    # float32 input is promoted to float64
    assert gaussian_stats(x.float()).cov.dtype == torch.float64


def test_sqrtm_psd_of_a_singular_matrix_has_no_imaginary_part():
    v = torch.randn(5, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = v @ v.T                                              # rank 2, PSD
    r = sqrtm_psd(a)
    assert r.dtype == torch.float64 and torch.allclose(r @ r, a, atol=1e-10)
    # FID between identical rank-deficient covariances is 0 up to rounding: the zero eigenvalues come
    # out as ±ε‖a‖ (ε ≈ 2e-16) and their square roots as ~1e-8·√‖a‖ each, hence the tolerance 1e-6
    zero = torch.zeros(5, dtype=torch.float64)
    assert frechet_distance(zero, a, zero, a) == pytest.approx(0, abs=1e-6)


def test_fid_rejects_bad_input():
    x = torch.randn(10, 4)
    with pytest.raises(ValueError, match="full-rank covariance needs at least"):
        M.fid(torch.randn(4, 4), x)
    with pytest.raises(ValueError, match="same feature dimension"):
        M.fid(x, torch.randn(10, 5))
    bad = x.clone()
    bad[3, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        M.fid(x, bad)
    with pytest.raises(TypeError, match="torch.Tensor"):
        M.fid(x.numpy(), x)
    with pytest.raises(ValueError, match="dimension"):
        M.fid(torch.randn(10), x)
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(torch.zeros(3), torch.eye(2), torch.zeros(3), torch.eye(3))


def _digit_sets():
    from ganbook.data import digits

    x, _ = digits()
    split = M.digits_split()
    real = x[split["heldout"]]
    g = torch.Generator().manual_seed(1)
    fake = (x[split["train"]] + 0.3 * torch.randn(x[split["train"]].shape, generator=g)).clamp(-1, 1)
    return real, fake


def test_fid_matches_torchmetrics_with_the_same_feature_extractor():
    """torchmetrics computes Tr((Σ₁Σ₂)^{1/2}) from the eigenvalues of the non-symmetric product
    (``torch.linalg.eigvals``), we from a symmetric form: in float64 the two agree to ~1e-8 relative."""
    fid_mod = pytest.importorskip("torchmetrics.image.fid", reason="torchmetrics is not installed")
    net = M.digits_classifier()
    real, fake = _digit_sets()
    metric = fid_mod.FrechetInceptionDistance(feature=DigitsFeatures(net))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    expected = float(metric.compute())
    got = M.fid(M.extract(net.features, real), M.extract(net.features, fake))
    assert got == pytest.approx(expected, rel=1e-6)
    assert expected > 0.1      # the comparison is not between two zeros (real-vs-real FID here is ≈ 0.2 at n ≈ 450)
