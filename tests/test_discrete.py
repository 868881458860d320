"""ganbook.discrete (chapter 10b): MaliGAN/BSGAN weights against the exact density ratio, the estimator
against the exact KL gradient, ARAE codes, Langevin and PPGN steps against closed forms."""
from __future__ import annotations

import math

import pytest
import torch


from ganbook import discrete


def _tables(seed: int, k: int = 8):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(k, generator=g, dtype=torch.float64) + 0.05
    q = torch.rand(k, generator=g, dtype=torch.float64) + 0.05
    return p / p.sum(), q / q.sum()


def test_weights_at_the_optimal_discriminator_are_the_density_ratio():
    p, q = _tables(0)
    d_star = p / (p + q)                                       # chapter 2's optimum, written independently
    logits = torch.log(d_star) - torch.log1p(-d_star)
    torch.testing.assert_close(discrete.importance_weights(logits), p / q)
    idx = torch.tensor([1, 1, 4, 6])
    torch.testing.assert_close(discrete.normalized_weights(logits[idx]), (p / q)[idx] / (p / q)[idx].sum())
    big = torch.tensor([800.0, 799.0])                         # no overflow in the normalised form
    torch.testing.assert_close(discrete.normalized_weights(big), torch.softmax(torch.tensor([1.0, 0.0]), 0))


def test_the_estimator_is_the_maximum_likelihood_gradient_in_expectation():
    """Sum over ALL categories weighted by q (the expectation of the batch estimator with m → ∞ and exact
    weights): −Σ_x q(x) (p/q)(x) ∇ log q_θ(x) = ∇ KL(p ‖ q_θ); compared with autograd on the exact KL."""
    p, _ = _tables(1)
    theta = torch.randn(8, generator=torch.Generator().manual_seed(2), dtype=torch.float64, requires_grad=True)
    q = torch.softmax(theta, 0)
    kl = (p * (p.log() - torch.log_softmax(theta, 0))).sum()
    (want,) = torch.autograd.grad(kl, theta)
    # a huge "batch" holding each category with multiplicity proportional to q: weights ∝ q · p/q = p
    counts = torch.round(q.detach() * 1e6)
    logits = torch.log(p / q.detach())
    log_prob = torch.log_softmax(theta, 0)
    lp = torch.repeat_interleave(log_prob, counts.long())
    lg = torch.repeat_interleave(logits, counts.long())
    (got,) = torch.autograd.grad(discrete.importance_surrogate(lp, lg, baseline=False), theta, retain_graph=True)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-3)
    # the baseline changes nothing in expectation: Σ_x q ∇ log q = 0
    (got_b,) = torch.autograd.grad(discrete.importance_surrogate(lp, lg, baseline=True), theta)
    torch.testing.assert_close(got_b, want, atol=1e-4, rtol=1e-3)
    with pytest.raises(ValueError, match="shape"):
        discrete.importance_surrogate(lp, lg[:3])


def test_the_surrogate_trains_a_categorical_generator():
    p, _ = _tables(3)
    g = torch.Generator().manual_seed(4)
    theta = torch.zeros(8, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.05)
    start = float((p * (p.log() - torch.log_softmax(theta.detach(), 0))).sum())
    for _ in range(300):
        q = torch.softmax(theta, 0).detach()
        x = torch.multinomial(q, 256, replacement=True, generator=g)
        logits = torch.log(p / q)[x]                            # the optimal discriminator's logits
        loss = discrete.importance_surrogate(torch.log_softmax(theta, 0)[x], logits)
        opt.zero_grad(); loss.backward(); opt.step()
    end = float((p * (p.log() - torch.log_softmax(theta.detach(), 0))).sum())
    assert end < 0.05 * start


def test_unit_code():
    h = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    out = discrete.unit_code(h)
    torch.testing.assert_close(out[0], torch.tensor([0.6, 0.8]))
    assert torch.isfinite(out).all()


def test_langevin_samples_a_gaussian_and_gradient_ascent_does_not():
    """Target N(2, 0.5²); the exact stationary variance of the unadjusted chain is s²/(1 − ε/(2s²))."""
    s2, eps = 0.25, 0.01
    score = lambda x: -(x - 2.0) / s2
    g = torch.Generator().manual_seed(5)
    x = torch.zeros(20_000, 1, dtype=torch.float64)
    y = torch.zeros(20_000, 1, dtype=torch.float64) + torch.randn(20_000, 1, generator=g, dtype=torch.float64)
    for _ in range(400):
        x = discrete.langevin_step(x, score, step=eps, generator=g)
        y = discrete.langevin_step(y, score, step=eps, noise=False)
    assert abs(float(x.mean()) - 2.0) < 0.02
    assert float(x.var()) == pytest.approx(s2 / (1 - eps / (2 * s2)), rel=0.05)
    assert float(y.var()) < 1e-10 and abs(float(y.mean()) - 2.0) < 1e-6
    with pytest.raises(ValueError, match="step"):
        discrete.langevin_step(x, score, step=0.0)


def test_ppgn_step_with_langevin_step_sizes_is_a_langevin_step():
    sig2, eps = 0.2, 0.02
    x = torch.randn(30, 3, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    R = lambda h: h / (1 + sig2)                                   # the optimal DAE for a N(0, I) prior
    cls = lambda h: torch.ones_like(h) * 0.3
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    a = discrete.ppgn_step(x, R, cls, eps1=eps / sig2, eps2=eps, eps3=math.sqrt(2 * eps), generator=g1)
    b = discrete.langevin_step(x, lambda h: -h / (1 + sig2) + 0.3, step=eps, generator=g2)
    torch.testing.assert_close(a, b)
    no_noise = discrete.ppgn_step(x, R, cls, eps1=1.0, eps2=0.0, eps3=0.0)
    torch.testing.assert_close(no_noise, R(x))
    with pytest.raises(ValueError, match="eps3"):
        discrete.ppgn_step(x, R, cls, eps1=1.0, eps2=1.0, eps3=-1.0)


def test_bad_input():
    with pytest.raises(TypeError):
        discrete.importance_weights([0.0])
    with pytest.raises(ValueError):
        discrete.normalized_weights(torch.zeros(0, 0))
