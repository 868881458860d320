"""Critic regularizers (ganbook.objectives.penalties, chapter 4) against closed forms.

The gradient penalty must be taken at interpolates x̂ = εx + (1 − ε)x̃ with one ε ~ U[0, 1] per
sample. `_assert_interpolate_penalty` checks that property from the mathematics alone, and is
shown to reject a penalty taken at the real points and one with a single ε per batch.
"""
from __future__ import annotations

import functools
import math

import pytest
import torch
from scipy import stats
from torch import nn

from ganbook import data, nets, train
from ganbook.objectives import penalties as P


class Quadratic(nn.Module):
    """D(x) = (s/2)‖x‖², ∇D(x) = s·x; records the batches it sees."""

    def __init__(self, s: float = 1.0):
        super().__init__()
        self.s = nn.Parameter(torch.tensor(float(s), dtype=torch.float64))
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return 0.5 * self.s * x.flatten(1).pow(2).sum(1)


class Linear(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.as_tensor(a, dtype=torch.float64))

    def forward(self, x):
        return x @ self.a


def _assert_interpolate_penalty(penalty_fn, n: int = 20000, r: float = 3.0) -> None:
    """With real rows r·e₁, fake rows 0 and D = ½‖x‖², ‖∇D(x̂)‖ = εr, so the penalty of eq. (ch4-gp)
    has expectation E(εr − 1)² = r²/3 − r + 1 for ε ~ U[0, 1] (= 1 for r = 3), while a penalty at
    the real points gives (r − 1)² = 4. Its per-sample standard deviation is below 4, so the batch
    mean of n = 20000 samples lies within 0.1 of 1 with overwhelming probability. The points where D
    was evaluated must also give ε's that pass a Kolmogorov–Smirnov test for U[0, 1]."""
    real = torch.zeros(n, 2, dtype=torch.float64)
    real[:, 0] = r
    fake = torch.zeros(n, 2, dtype=torch.float64)
    D = Quadratic()
    value = float(penalty_fn(D, real, fake).detach())
    assert abs(value - (r * r / 3 - r + 1)) < 0.1, f"penalty {value:.4f}, expected ≈ {r * r / 3 - r + 1:.4f}"
    eps = D.seen[-1][:, 0] / r
    assert bool((D.seen[-1][:, 1] == 0).all())
    assert stats.kstest(eps.numpy(), "uniform").pvalue > 1e-4, "ε is not U[0, 1] per sample"


def test_gradient_penalty_is_taken_at_uniform_interpolates():
    _assert_interpolate_penalty(lambda D, real, fake: P.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(0)))


def _at_real_points(D, real, fake):
    x = real.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.norm(dim=1) - 1) ** 2).mean()


def _one_eps_per_batch(D, real, fake):
    eps = float(torch.rand(1, generator=torch.Generator().manual_seed(1)))
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.norm(dim=1) - 1) ** 2).mean()


@pytest.mark.parametrize("wrong", [_at_real_points, _one_eps_per_batch])
def test_the_interpolate_test_rejects_common_mistakes(wrong):
    with pytest.raises(AssertionError):
        _assert_interpolate_penalty(wrong)


def test_gradient_penalty_of_a_linear_critic():
    """∇D = a everywhere, so the penalty is (‖a‖ − 1)² times the weight, whatever ε is."""
    a = [0.6, 0.8, 1.2]                                  # ‖a‖ = √(0.36 + 0.64 + 1.44)
    D = Linear(a)
    real, fake = torch.randn(64, 3, dtype=torch.float64), torch.randn(64, 3, dtype=torch.float64)
    norm = math.sqrt(sum(v * v for v in a))
    assert float(P.gradient_penalty(D, real, fake, weight=10.0).detach()) == pytest.approx(10 * (norm - 1) ** 2, rel=1e-12)


def test_gradient_penalty_is_differentiable_in_the_critic():
    """For D = (s/2)‖x‖² the penalty is E(s‖x̂‖ − 1)², with derivative 2E[(s‖x̂‖ − 1)‖x̂‖] in s."""
    D = Quadratic(0.7)
    g = torch.Generator().manual_seed(3)
    real, fake = torch.randn(100, 2, dtype=torch.float64), torch.randn(100, 2, dtype=torch.float64)
    pen = P.gradient_penalty(D, real, fake, generator=g)
    pen.backward()
    xh = D.seen[-1]
    norms = xh.norm(dim=1)
    assert float(D.s.grad) == pytest.approx(float((2 * (0.7 * norms - 1) * norms).mean()), rel=1e-10)


def test_images_get_one_eps_per_image():
    D = Quadratic()
    real = torch.ones(50, 1, 3, 3, dtype=torch.float64)
    fake = torch.zeros(50, 1, 3, 3, dtype=torch.float64)
    P.gradient_penalty(D, real, fake)
    xh = D.seen[-1]
    assert bool((xh == xh[:, :1, :1, :1]).all())           # constant within an image
    assert float(xh[:, 0, 0, 0].std()) > 0.1                # but varying across images


def test_r1_r2_closed_form():
    """R1 = E_P‖∇D‖² = E‖x‖² for D = ½‖x‖² (and R2 the same at the generated points)."""
    real, fake = torch.randn(30, 4, dtype=torch.float64), 2 * torch.randn(30, 4, dtype=torch.float64)
    D = Quadratic()
    assert float(P.r1_penalty(D, real, fake, weight=0.5).detach()) == pytest.approx(
        0.5 * float(real.pow(2).sum(1).mean()), rel=1e-12)
    assert float(P.r2_penalty(D, real, fake).detach()) == pytest.approx(float(fake.pow(2).sum(1).mean()), rel=1e-12)


def test_dragan_penalty_points_lie_near_the_data():
    D = Quadratic()
    real = torch.randn(4000, 2, dtype=torch.float64) * 2
    P.dragan_penalty(D, real, None, noise=0.5, generator=torch.Generator().manual_seed(4))
    delta = D.seen[-1] - real
    c = 0.5 * float(real.std())
    assert float(delta.std()) == pytest.approx(c, rel=0.05)
    assert abs(float(delta.mean())) < 0.05 * c


def test_clip_weights():
    D = nets.mlp(2, 1, (8,), squeeze=True)
    with torch.no_grad():
        D[0].weight.mul_(10)
    P.clip_weights(D, 0.05)
    assert all(float(p.detach().abs().max()) <= 0.05 + 1e-7 for p in D.parameters())   # float32(0.05) > 0.05
    with pytest.raises(ValueError, match="c must be"):
        P.clip_weights(D, -1.0)


@pytest.mark.parametrize("penalty", [P.gradient_penalty, P.dragan_penalty, P.r1_penalty, P.r2_penalty])
def test_penalties_plug_into_the_trainer(penalty):
    """Every penalty fits ``d_regularizer``, which the Trainer calls as (D, real, fake, generator=...)."""
    ring = data.ring()
    G, D = nets.mlp(2, 2, (16,)), nets.mlp(2, 1, (16,), squeeze=True)
    tr = train.Trainer(G, D, "wasserstein", ring.sample, data.latent(2), batch_size=32, n_critic=2,
                       d_regularizer=functools.partial(penalty, weight=10.0),
                       d_post_step=functools.partial(P.clip_weights, c=0.5))
    tr.run(3, progress=False)
    assert len(tr.history.d_loss) == 3
    assert all(float(p.detach().abs().max()) <= 0.5 for p in D.parameters())


def test_the_generator_supplies_all_the_noise():
    """The same generator state gives the same penalty, whatever the global stream does."""
    D = nets.mlp(2, 1, (8,), squeeze=True).double()
    real, fake = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    for penalty in (P.gradient_penalty, P.dragan_penalty):
        torch.manual_seed(1)
        a = penalty(D, real, fake, weight=10.0, generator=torch.Generator().manual_seed(5))
        torch.manual_seed(2)
        b = penalty(D, real, fake, weight=10.0, generator=torch.Generator().manual_seed(5))
        assert torch.equal(a, b), penalty.__name__


def test_bad_inputs():
    D = Quadratic()
    with pytest.raises(ValueError, match="same shape"):
        P.gradient_penalty(D, torch.zeros(4, 2), torch.zeros(5, 2))
    with pytest.raises(TypeError, match="critic"):
        P.gradient_penalty("D", torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="one score per sample"):
        P.gradient_penalty(lambda x: x, torch.zeros(4, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="weight"):
        P.r1_penalty(D, torch.zeros(4, 2), None, weight=-1.0)
    with pytest.raises(TypeError, match="generator"):
        P.r2_penalty(D, None, torch.zeros(4, 2), generator=0)
    with pytest.raises(TypeError):                       # hyper-parameters are keyword-only
        P.gradient_penalty(D, torch.zeros(4, 2), torch.zeros(4, 2), 10.0)
    with pytest.raises(TypeError):
        P.interpolates(torch.zeros(4, 2), torch.zeros(4, 2), torch.Generator())
