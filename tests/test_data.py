"""The data protocol, checked statistically against the published definitions."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganbook import data


def test_ring_centres_follow_the_protocol():
    r = data.ring()
    k = torch.arange(8, dtype=torch.float64)
    expected = torch.stack([torch.cos(2 * math.pi * k / 8), torch.sin(2 * math.pi * k / 8)], 1)
    assert torch.allclose(r.means.double(), expected, atol=1e-6)
    assert torch.allclose(r.stds, torch.full((8,), 0.01))


def test_grid_centres_follow_the_protocol():
    g = data.grid()
    got = {tuple(round(v, 6) for v in row) for row in g.means.tolist()}
    assert got == {(float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)}
    assert torch.allclose(g.stds, torch.full((25,), 0.05))


@pytest.mark.parametrize("target", [data.ring(), data.grid()], ids=["ring", "grid"])
def test_samples_have_the_protocol_statistics(target):
    x, labels = target.sample(100_000, torch.Generator().manual_seed(0), return_labels=True)
    # equal weights: a chi-square test of the component counts
    counts = torch.bincount(labels, minlength=target.n_components).numpy()
    assert stats.chisquare(counts).pvalue > 1e-4
    # every component: mean at its centre, per-coordinate std equal to the protocol's sigma
    resid = (x - target.means[labels]).numpy()
    sigma = float(target.stds[0])
    assert abs(resid.std(axis=0) / sigma - 1).max() < 0.02        # 100k draws: std error ≈ 0.2%
    assert np.abs(resid.mean(axis=0)).max() < 5 * sigma / math.sqrt(x.shape[0])
    # each point lies nearest to its own component (the modes are well separated)
    idx, _ = target.nearest(x)
    assert bool((idx == labels).all())


def test_log_prob_matches_scipy():
    m = data.mixture([[0.0, 0.0], [1.0, 2.0]], [0.5, 1.5], weights=[0.3, 0.7])
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    ref = np.log(0.3 * stats.multivariate_normal([0, 0], 0.25 * np.eye(2)).pdf(x.numpy())
                 + 0.7 * stats.multivariate_normal([1, 2], 2.25 * np.eye(2)).pdf(x.numpy()))
    got = m.log_prob(x.float()).double().numpy()
    assert np.allclose(got, ref, atol=1e-4)


def test_1d_mixture_density_integrates_to_one():
    m = data.mixture([-2.0, 2.0], [0.5, 0.8], weights=[0.4, 0.6])
    xs = torch.linspace(-10, 10, 20001)
    assert abs(float(torch.trapezoid(m.pdf(xs[:, None]), xs)) - 1) < 1e-4


def test_digits_are_the_shipped_set_scaled():
    x, y = data.digits()
    assert x.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert sorted(torch.unique(y).tolist()) == list(range(10))


def test_swiss_roll_and_moons_shapes_and_seeding():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(data.swiss_roll(100, generator=g1), data.swiss_roll(100, generator=g2))
    m = data.moons(1000, noise=0.0, generator=torch.Generator().manual_seed(0))
    assert m.shape == (1000, 2)
    # noiseless moons: upper arc has radius 1 around (−0.5, −0.25), the lower around (0.5, 0.25)
    r1 = (m - torch.tensor([-0.5, -0.25])).norm(dim=1)
    r2 = (m - torch.tensor([0.5, 0.25])).norm(dim=1)
    assert bool(((r1 - 1).abs() < 1e-5).logical_or((r2 - 1).abs() < 1e-5).all())


def test_sampler_and_latent():
    x = torch.arange(10.0)[:, None]
    s = data.sampler(x)
    b = s(64, torch.Generator().manual_seed(0))
    assert b.shape == (64, 1) and set(b.flatten().tolist()) <= set(range(10))
    z = data.latent(3, "uniform")(1000, torch.Generator().manual_seed(0))
    assert z.shape == (1000, 3) and float(z.abs().max()) <= 1


@pytest.mark.parametrize("call, match", [
    (lambda: data.ring(n_modes=0), "n_modes"),
    (lambda: data.ring(std=-1.0), "std"),
    (lambda: data.grid(side=2.5), "side"),
    (lambda: data.mixture([0.0, 1.0], [1.0, -1.0]), "stds"),
    (lambda: data.mixture([0.0, 1.0], 1.0, weights=[0.9, 0.3]), "weights"),
    (lambda: data.ring().sample(0), "n"),
    (lambda: data.ring().log_prob(torch.zeros(3, 3)), "x"),
    (lambda: data.ring().log_prob(torch.tensor([[float("nan"), 0.0]])), "NaN"),
    (lambda: data.swiss_roll(10, noise=-0.1), "noise"),
    (lambda: data.latent(2, "cauchy"), "kind"),
    (lambda: data.sampler(torch.zeros(0, 2)), "x"),
])
def test_bad_input_is_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
