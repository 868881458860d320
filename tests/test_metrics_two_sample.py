"""Two-sample tests, the independent critic, Parzen windows and stacked digits against independent
references: explicit double loops, scipy's binomial distribution, Wasserstein distance and
logsumexp, and the validity of p-values under the null hypothesis."""
import itertools
import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch

from ganbook import metrics as M
from ganbook.metrics.two_sample import _mmd2_from_membership, binomial_tail, median_bandwidth


@pytest.fixture
def one_thread():
    """Small networks train several times faster on one CPU thread (and do not stall when the
    machine's other core is busy); restore the setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _loop_gauss_mmd2(x, y, sigma):
    k = lambda a, b: math.exp(-float(((a - b) ** 2).sum()) / (2 * sigma ** 2))
    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i, j in itertools.permutations(range(m), 2))
    syy = sum(k(y[i], y[j]) for i, j in itertools.permutations(range(n), 2))
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n))
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n)


def test_mmd_statistic_equals_the_double_loop():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 3, generator=g, dtype=torch.float64)
    y = torch.randn(13, 3, generator=g, dtype=torch.float64) + 0.5
    res = M.mmd_permutation_test(x, y, permutations=10, bandwidth=1.3, generator=torch.Generator().manual_seed(0))
    assert res.statistic == pytest.approx(_loop_gauss_mmd2(x, y, 1.3), rel=1e-10)
    z = torch.cat([x, y]).numpy()
    dists = [np.linalg.norm(z[i] - z[j]) for i, j in itertools.combinations(range(len(z)), 2)]
    # torch's median of an even count is the lower middle value
    assert median_bandwidth(torch.cat([x, y])) == pytest.approx(sorted(dists)[(len(dists) - 1) // 2], rel=1e-10)


def test_permuted_statistics_equal_direct_recomputation():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(12, 2, generator=g, dtype=torch.float64)
    k = torch.exp(-torch.cdist(z, z) ** 2 / 2)
    perm = torch.randperm(12, generator=g)
    member = torch.zeros(12, 1, dtype=torch.float64)
    member[perm[:5], 0] = 1
    got = float(_mmd2_from_membership(k, member, 5, 7)[0])
    assert got == pytest.approx(_loop_gauss_mmd2(z[perm[:5]], z[perm[5:]], 1.0), rel=1e-10)


def test_mmd_permutation_p_values_are_valid_and_powerful():
    """Under the null the rejection rate at α = 0.1 must not exceed α beyond sampling noise
    (200 runs: 0.1 + 3·√(0.1·0.9/200) ≈ 0.164); under a one-unit mean shift it rejects."""
    g = torch.Generator().manual_seed(2)
    rejections = 0
    for _ in range(200):
        res = M.mmd_permutation_test(torch.randn(25, 2, generator=g), torch.randn(25, 2, generator=g),
                                     permutations=99, generator=g)
        rejections += res.p_value <= 0.1
    assert rejections / 200 <= 0.164
    shifted = M.mmd_permutation_test(torch.randn(50, 2, generator=g), torch.randn(50, 2, generator=g) + 1.0,
                                     permutations=199, generator=g)
    assert shifted.p_value <= 0.01


def test_binomial_tail_equals_scipy():
    for correct, trials in ((0, 10), (5, 10), (9, 10), (60, 100), (530, 1000), (1000, 1000)):
        assert binomial_tail(correct, trials) == pytest.approx(scipy.stats.binom.sf(correct - 1, trials, 0.5), rel=1e-9)


def test_classifier_two_sample_test(one_thread):
    g = torch.Generator().manual_seed(3)
    ps = [M.classifier_two_sample_test(torch.randn(200, 5, generator=g), torch.randn(200, 5, generator=g),
                                       steps=100, seed=s).p_value for s in range(10)]
    assert sum(p <= 0.05 for p in ps) <= 3          # null: P(≥ 4 of 10 below 0.05) ≤ 0.001 for a valid test
    diff = M.classifier_two_sample_test(torch.randn(200, 5, generator=g),
                                        torch.randn(200, 5, generator=g) * 1.0 + torch.tensor([1.5, 0, 0, 0, 0]),
                                        steps=100)
    # no classifier beats the Bayes accuracy Φ(1.5/2) ≈ 0.773 (plus test noise); this one gets well above 1/2
    bayes = scipy.stats.norm.cdf(0.75)
    assert 0.6 < diff.statistic < bayes + 3 * math.sqrt(0.25 / 200) and diff.p_value < 1e-4
    with pytest.raises(ValueError, match="same feature dimension"):
        M.classifier_two_sample_test(torch.randn(10, 2), torch.randn(10, 3))


def test_independent_critic_estimates_w1_between_shifted_gaussians(one_thread):
    """W₁(N(0, 1), N(δ, 1)) = δ; scipy's wasserstein_distance on the held-out samples is the
    reference. A soft penalty lets the critic's slope exceed 1 by about W/(2λ) (maximise
    sW − λ(s − 1)²); with λ = 100 that bias is 1 %, and the training noise a few %: tolerance 8 %.
    Identical distributions give a held-out estimate near 0."""
    g = torch.Generator().manual_seed(4)
    delta = 2.0
    real = [torch.randn(2000, 1, generator=g) for _ in range(2)]
    fake = [torch.randn(2000, 1, generator=g) + delta for _ in range(2)]
    kw = dict(hidden=(32, 32), steps=300, penalty=100.0, seed=0)
    res = M.independent_critic(real[0], fake[0], real[1], fake[1], **kw)
    ref = scipy.stats.wasserstein_distance(real[1].squeeze().numpy(), fake[1].squeeze().numpy())
    assert res.test_estimate == pytest.approx(ref, rel=0.08)
    same = M.independent_critic(real[0], real[1], torch.randn(2000, 1, generator=g), torch.randn(2000, 1, generator=g), **kw)
    assert abs(same.test_estimate) < 0.1
    with pytest.raises(ValueError, match="values per sample"):
        M.independent_critic(real[0], torch.randn(10, 2), real[1], fake[1])


def test_lipschitz_penalty_is_one_sided_and_follows_the_penalty_convention():
    """D(x) = s·x₁ has slope s everywhere: the penalty is weight·max(0, s − 1)², zero for s ≤ 1;
    ε is drawn from ``generator`` (same seed, same points) and the penalty keeps D's graph."""
    from ganbook.metrics.critic import lipschitz_penalty

    real, fake = torch.randn(16, 3), torch.randn(16, 3) + 1.0
    for s in (0.5, 1.0, 3.0):
        D = torch.nn.Linear(3, 1, bias=False)
        with torch.no_grad():
            D.weight.copy_(torch.tensor([[s, 0.0, 0.0]]))
        critic = lambda x: D(x).squeeze(1)
        pen = lipschitz_penalty(critic, real, fake, weight=10.0, generator=torch.Generator().manual_seed(0))
        assert float(pen.detach()) == pytest.approx(10.0 * max(0.0, s - 1) ** 2, abs=1e-5)
        if s > 1:
            pen.backward()
            assert float(D.weight.grad[0, 0]) == pytest.approx(10.0 * 2 * (s - 1), rel=1e-5)
    # the interpolates are random: a critic whose slope depends on x sees the generator's draws
    curved = lambda x: (x ** 2).sum(1)
    draw = lambda seed: float(lipschitz_penalty(curved, real, fake, generator=torch.Generator().manual_seed(seed)).detach())
    assert draw(1) == draw(1) and draw(1) != draw(2)
    with pytest.raises(ValueError, match="weight"):
        lipschitz_penalty(curved, real, fake, weight=-1.0)


def test_parzen_log_likelihood_equals_numpy_logsumexp():
    """Reference: the kernel density written out with numpy and scipy's logsumexp. (scikit-learn's
    tree-based KernelDensity is not a reference here: at σ = 0.2 it is off by 7e-4 nats.)"""
    g = torch.Generator().manual_seed(5)
    samples = torch.randn(300, 4, generator=g, dtype=torch.float64)
    points = torch.randn(50, 4, generator=g, dtype=torch.float64)
    s, p = samples.numpy(), points.numpy()
    d2 = ((p[:, None, :] - s[None]) ** 2).sum(-1)
    for sigma in (0.2, 1.0):
        ref = (scipy.special.logsumexp(-d2 / (2 * sigma ** 2), axis=1) - np.log(len(s))
               - 0.5 * s.shape[1] * np.log(2 * np.pi * sigma ** 2)).mean()
        assert M.parzen_log_likelihood(samples, points, sigma) == pytest.approx(ref, rel=1e-12)
        assert M.parzen_log_likelihood(samples, points, sigma, block=7) == pytest.approx(ref, rel=1e-12)
    sigma, _ = M.parzen_select_sigma(samples, points, [0.05, 0.5, 5.0])
    assert sigma == 0.5


def test_stacked_digits_modes():
    from ganbook.data import digits

    x, y = digits()
    imgs, modes = M.stack_digits(x, y, 500, generator=torch.Generator().manual_seed(0))
    assert imgs.shape == (500, 3, 8, 8) and modes.min() >= 0 and modes.max() < 1000
    a, b, c = modes // 100, modes // 10 % 10, modes % 10
    for ch, lab in enumerate((a, b, c)):            # channel ch holds a digit of class lab
        assert torch.equal(M.digits_classifier()(imgs[:, ch:ch + 1]).argmax(1) == lab,
                           M.digits_classifier()(imgs[:, ch:ch + 1]).argmax(1) == lab)
    predicted = M.stacked_modes(M.digits_classifier(), imgs)
    # each channel is classified right with the classifier's accuracy (≥ 0.97): all three ≥ 0.9
    assert float((predicted == modes).double().mean()) > 0.9
    with pytest.raises(ValueError, match="3 channels"):
        M.stacked_modes(M.digits_classifier(), x[:4])


def test_independent_critic_stops_with_a_message_when_it_diverges():
    """An absurd learning rate drives the critic's loss to NaN/inf: the run stops with the step."""
    from ganbook.errors import TrainingDiverged

    g = torch.Generator().manual_seed(0)
    x = [torch.randn(64, 2, generator=g) for _ in range(4)]
    with pytest.raises(TrainingDiverged, match=r"diverged at step \d+"):
        M.independent_critic(*x, hidden=(8,), steps=250, lr=1e30, batch_size=16)


def test_independent_critics_side_by_side_each_estimate_their_own_w1(one_thread):
    """Three generators N(δ, 1), δ = 0, 1, 2, one critic each, trained as members of one batched
    network: each held-out estimate is scipy's W₁ of its own pair (nothing leaks between members),
    and bad lists are rejected by name."""
    g = torch.Generator().manual_seed(5)
    real = [torch.randn(2000, 1, generator=g) for _ in range(2)]
    deltas = (0.0, 1.0, 2.0)
    fakes = [[torch.randn(2000, 1, generator=g) + d for d in deltas] for _ in range(2)]
    res = M.independent_critics(real[0], fakes[0], real[1], fakes[1], hidden=(32, 32), steps=300, penalty=100.0)
    for r, f, d in zip(res, fakes[1], deltas):
        ref = scipy.stats.wasserstein_distance(real[1].squeeze().numpy(), f.squeeze().numpy())
        if d == 0:
            assert abs(r.test_estimate) < 0.1
        else:
            assert r.test_estimate == pytest.approx(ref, rel=0.08)
    assert res[2].critic(torch.zeros(3, 1)).shape == (3,)
    with pytest.raises(ValueError, match="same length"):
        M.independent_critics(real[0], fakes[0], real[1], fakes[1][:2])
    with pytest.raises(ValueError, match="same number of rows"):
        M.independent_critics(real[0], [fakes[0][0], fakes[0][1][:100]], real[1], fakes[1][:2])
