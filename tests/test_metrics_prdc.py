"""Precision, recall, density and coverage against independent references: a brute-force
implementation with scipy's cdist, the exact expectations of density and coverage for identical
distributions, and the values the prdc package publishes for N(0, I)."""
import math

import numpy as np
import pytest
import scipy.spatial.distance
import torch

from ganbook import metrics as M


def _brute_force(real, fake, k):
    """Straight from the definitions, with scipy's pairwise distances and numpy sorting."""
    r, f = real.numpy(), fake.numpy()
    d_rr = scipy.spatial.distance.cdist(r, r)
    d_ff = scipy.spatial.distance.cdist(f, f)
    d_fr = scipy.spatial.distance.cdist(f, r)                     # (M, N)
    rad_r = np.sort(d_rr, axis=1)[:, k]                           # column 0 is the point itself
    rad_f = np.sort(d_ff, axis=1)[:, k]
    inside = d_fr < rad_r[None, :]
    precision = inside.any(1).mean()
    recall = (d_fr < rad_f[:, None]).any(0).mean()
    density = inside.sum() / (k * len(f))
    coverage = inside.any(0).mean()
    return precision, recall, density, coverage


@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_prdc_equals_brute_force(shift):
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 5, generator=g, dtype=torch.float64)
    fake = torch.randn(250, 5, generator=g, dtype=torch.float64) * 1.3 + shift
    for k in (1, 3, 5):
        got = M.prdc(real, fake, k=k)
        ref = _brute_force(real, fake, k)
        assert (got.precision, got.recall, got.density, got.coverage) == pytest.approx(ref, abs=1e-12)


def test_block_size_does_not_change_the_result():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(700, 4, generator=g), torch.randn(600, 4, generator=g) + 0.3
    results = {M.prdc(real, fake, k=4, block=b) for b in (17, 256, 5000)}
    assert len(results) == 1
    r = M.knn_radii(real, k=4, block=50)
    assert torch.allclose(r, M.knn_radii(real, k=4, block=4096), rtol=1e-12, atol=0)   # matmul blocking rounds differently


def test_density_and_coverage_expectations_for_identical_distributions():
    """For real and fake samples from one distribution, a fresh fake point falls in the k-NN ball of
    xᵢ with probability k/N (it is equally likely to take any of the N ranks among xᵢ's neighbours),
    so E[density] = 1 exactly; coverage misses xᵢ when all its k nearest among the N − 1 + M others are
    real: E[coverage] = 1 − Π_{t<k} (N − 1 − t)/(N + M − 1 − t) (Naeem et al. 2020). Both hold in any
    dimension; the mean over 40 repetitions must match within 4 standard errors of that mean."""
    n = m = 200
    k, reps = 5, 40
    g = torch.Generator().manual_seed(2)
    dens, cov = [], []
    for _ in range(reps):
        res = M.prdc(torch.randn(n, 16, generator=g), torch.randn(m, 16, generator=g), k=k)
        dens.append(res.density)
        cov.append(res.coverage)
    dens, cov = np.array(dens), np.array(cov)
    expected_cov = 1 - math.prod((n - 1 - t) / (n + m - 1 - t) for t in range(k))
    assert abs(dens.mean() - 1.0) < 4 * dens.std(ddof=1) / math.sqrt(reps)
    assert abs(cov.mean() - expected_cov) < 4 * cov.std(ddof=1) / math.sqrt(reps)


def test_published_prdc_values_for_standard_normal():
    """prdc's README: real and fake 10,000 × 1,000 from N(0, I), k = 5 → precision 0.4772, recall
    0.4705, density 1.0555, coverage 0.9735, from one random draw. The tolerance must cover the
    draw-to-draw spread. Eleven independent draws (seeds 0–10, 20 s each, run once while writing
    this test) spread with standard deviations 0.007 (precision), 0.011 (recall; precision and
    recall have the same distribution, as real and fake can be swapped), 0.072 (density) and 0.006
    (coverage). Tolerances ≈ 3 standard deviations: ±0.03, ±0.03, ±0.22, ±0.02. Density and
    coverage also have exact expectations (previous test): 1 and 0.96877 for N = M = 10,000."""
    g = torch.Generator().manual_seed(2020)
    real = torch.randn(10_000, 1_000, generator=g, dtype=torch.float64)
    fake = torch.randn(10_000, 1_000, generator=g, dtype=torch.float64)
    res = M.prdc(real, fake, k=5)
    assert res.precision == pytest.approx(0.4772, abs=0.03)
    assert res.recall == pytest.approx(0.4705, abs=0.03)
    assert res.density == pytest.approx(1.0555, abs=0.22)
    assert res.coverage == pytest.approx(0.9735, abs=0.02)
    expected_cov = 1 - math.prod((9_999 - t) / (19_999 - t) for t in range(5))
    assert res.coverage == pytest.approx(expected_cov, abs=0.02)


def test_prdc_separates_fidelity_from_diversity():
    """A narrower fake distribution N(0, 0.5² I) sits inside the real support (high precision, low
    recall); a wider one N(0, 2² I) spills out of it (low precision, high recall)."""
    g = torch.Generator().manual_seed(3)
    real = torch.randn(2000, 8, generator=g)
    narrow = M.prdc(real, 0.5 * torch.randn(2000, 8, generator=g))
    wide = M.prdc(real, 2.0 * torch.randn(2000, 8, generator=g))
    assert narrow.precision > 0.95 and narrow.recall < 0.3
    assert wide.precision < 0.3 and wide.recall > 0.95


def test_prdc_rejects_bad_input():
    x = torch.randn(20, 3)
    with pytest.raises(ValueError, match="same feature dimension"):
        M.prdc(x, torch.randn(20, 4))
    with pytest.raises(ValueError, match="k = 5 nearest neighbours need at least 6"):
        M.prdc(x, x[:5])
    bad = x.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        M.prdc(bad, x)
    with pytest.raises(TypeError, match="k must be an int"):
        M.prdc(x, x, k=2.0)
