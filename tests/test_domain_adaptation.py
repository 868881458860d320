"""Chapter 14b: the gradient reversal layer against autograd of the negated loss, DANN's domain loss by
hand, the tasks' geometry, and a short run of every method (shapes, finiteness, a ceiling that learns)."""
import math

import pytest
import torch
import torch.nn.functional as F

from ganbook import domain_adaptation as da


def test_gradient_reversal_is_minus_lambda_times_the_gradient():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, generator=g, dtype=torch.float64)
    lam = 0.7
    loss = lambda v: torch.sin(v @ w).pow(2).sum()
    out = da.grad_reverse(x, lam)
    torch.testing.assert_close(out, x)                                     # identity forward
    (grad_rev,) = torch.autograd.grad(loss(out), x)
    (grad_neg,) = torch.autograd.grad(-lam * loss(x), x)                   # autograd of the negated, scaled loss
    torch.testing.assert_close(grad_rev, grad_neg)


def test_gradient_reversal_in_a_dann_step_reverses_only_the_feature_gradient():
    """Through R_λ the domain classifier descends L_d while the features ascend λ · L_d."""
    g = torch.Generator().manual_seed(1)
    f = torch.nn.Linear(2, 4).double()
    d = torch.nn.Linear(4, 1).double()
    xs, xt = torch.randn(5, 2, generator=g, dtype=torch.float64), torch.randn(5, 2, generator=g, dtype=torch.float64)

    def domain_loss(rev):
        hs, ht = f(xs), f(xt)
        if rev:
            hs, ht = da.grad_reverse(hs, 2.0), da.grad_reverse(ht, 2.0)
        return da.dann_d_loss(d(hs).squeeze(1), d(ht).squeeze(1))

    g_rev = torch.autograd.grad(domain_loss(True), [*f.parameters(), *d.parameters()])
    g_plain = torch.autograd.grad(domain_loss(False), [*f.parameters(), *d.parameters()])
    for a, b in zip(g_rev[:2], g_plain[:2]):
        torch.testing.assert_close(a, -2.0 * b)
    for a, b in zip(g_rev[2:], g_plain[2:]):
        torch.testing.assert_close(a, b)


def test_dann_d_loss_is_binary_cross_entropy():
    real, fake = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([0.5, -0.1])
    want = (F.binary_cross_entropy_with_logits(real, torch.ones(3))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros(2)))
    torch.testing.assert_close(da.dann_d_loss(real, fake), want)
    assert abs(float(da.dann_d_loss(torch.zeros(4), torch.zeros(4))) - 2 * math.log(2)) < 1e-7


def test_dann_lambda_schedule():
    assert da.dann_lambda(0.0) == 0.0
    assert abs(da.dann_lambda(1.0) - (2 / (1 + math.exp(-10)) - 1)) < 1e-15
    assert abs(da.dann_lambda(0.5, gamma=2.0) - math.tanh(0.5)) < 1e-12         # 2σ(2u) − 1 = tanh(u)
    with pytest.raises(ValueError, match="progress"):
        da.dann_lambda(1.5)


def test_rotation_and_moons():
    x = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    torch.testing.assert_close(da.rotate(x, 90.0), torch.tensor([[0.0, 1.0], [-2.0, 0.0]]), atol=1e-6, rtol=0)
    xm, ym = da.labelled_moons(2000, noise=0.0, generator=torch.Generator().manual_seed(0))
    centre = torch.tensor([0.5, 0.25])
    upper = xm[ym == 0] + centre                                              # unit circle, y ≥ 0
    lower = xm[ym == 1] + centre - torch.tensor([1.0, 0.5])                   # unit circle about (1, 0.5), y ≤ 0
    torch.testing.assert_close(upper.norm(dim=1), torch.ones(len(upper)), atol=1e-5, rtol=0)
    torch.testing.assert_close(lower.norm(dim=1), torch.ones(len(lower)), atol=1e-5, rtol=0)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 1e-6).all()
    task = da.moons_task(30.0, n=50, generator=torch.Generator().manual_seed(1))
    assert task["xs"].shape == (50, 2) and task["xt_test"].shape == (1000, 2)


def test_transform_digits_is_the_identity_at_zero_and_rotates_a_quarter_turn():
    g = torch.Generator().manual_seed(2)
    img = torch.rand(3, 1, 8, 8, generator=g) * 2 - 1
    torch.testing.assert_close(da.transform_digits(img, 0.0, 1.0), img, atol=1e-5, rtol=0)
    quarter = da.transform_digits(img, 90.0, 1.0)
    # a quarter turn of the sampling grid is an exact permutation of the pixels of an 8×8 image
    assert any(torch.allclose(quarter, torch.rot90(img, k, dims=(2, 3)), atol=1e-5) for k in (1, 3))
    shrunk = da.transform_digits(torch.ones(1, 1, 8, 8), 0.0, 0.5)
    assert float(shrunk[0, 0, 0, 0]) == -1.0 and float(shrunk[0, 0, 4, 4]) > 0.9        # background fills the edge


def test_adapt_runs_every_method_and_the_ceiling_learns():
    task = da.moons_task(35.0, n=200, generator=torch.Generator().manual_seed(3))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                  # tiny batched nets: one thread is fastest
    try:
        acc = da.adapt(task, seed=0, seeds=2, steps=100, hidden=16, batch=32)
    finally:
        torch.set_num_threads(threads)
    assert list(acc) == list(da.METHODS)
    for v in acc.values():
        assert v.shape == (2,) and torch.isfinite(v).all()
    assert (acc["target labels"] > 0.85).all()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="methods"):
        da.adapt(da.moons_task(n=20), methods=["CycleGAN"])
    with pytest.raises(ValueError, match="task"):
        da.adapt({"xs": torch.zeros(3, 2)})
    with pytest.raises(ValueError, match="x"):
        da.rotate(torch.zeros(3, 3), 10.0)
    with pytest.raises(TypeError, match="x"):
        da.grad_reverse([1.0])


def test_moons_task_scale_multiplies_every_point_set_before_the_rotation():
    one = da.moons_task(35.0, n=40, noise=0.05, generator=torch.Generator().manual_seed(4))
    two = da.moons_task(35.0, n=40, noise=0.05, generator=torch.Generator().manual_seed(4), scale=2.0)
    for key in ("xs", "xt", "xt_test"):
        torch.testing.assert_close(two[key], 2 * one[key])
    for key in ("ys", "yt", "yt_test"):
        assert torch.equal(two[key], one[key])
    with pytest.raises(ValueError, match="scale"):
        da.moons_task(n=10, scale=0.0)


def test_annealed_lr_closed_form():
    assert da.annealed_lr(0.0, 2.0) == 2.0
    assert abs(da.annealed_lr(1.0, 1.0) - 11.0 ** -0.75) < 1e-15                   # μ₀ / (1 + 10)^0.75
    assert abs(da.annealed_lr(0.5, 3.0, alpha=2.0, beta=1.0) - 1.5) < 1e-15          # 3 / (1 + 1)
    with pytest.raises(ValueError, match="progress"):
        da.annealed_lr(-0.1, 1.0)
    with pytest.raises(ValueError, match="lr"):
        da.annealed_lr(0.5, 0.0)


def test_shallow_dann_with_zero_weight_is_source_only_and_the_ceiling_learns():
    """Paired members: with λ = 0 the reversed gradient is zero, so DANN trains exactly like source-only."""
    task = da.moons_task(35.0, n=100, noise=0.05, scale=2.0, generator=torch.Generator().manual_seed(5))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        acc = da.shallow_dann(task, seed=0, seeds=3, steps=300, weight=0.0)
        acc_dann = da.shallow_dann(task, seed=0, seeds=3, steps=300, weight=1.0, methods=["DANN"])
    finally:
        torch.set_num_threads(threads)
    assert list(acc) == list(da.SHALLOW_METHODS)
    assert (acc["DANN"] - acc["source only"]).abs().max() <= 0.002          # the same network, up to rounding
    assert (acc["target labels"] > 0.95).all()                             # the ceiling learns the rotated moons
    assert acc_dann["DANN"].shape == (3,) and torch.isfinite(acc_dann["DANN"]).all()
    assert (acc_dann["DANN"] - acc["DANN"]).abs().max() > 0                # with λ > 0 the domain term acts


def test_shallow_dann_bad_input_is_named():
    task = da.moons_task(n=20)
    with pytest.raises(ValueError, match="methods"):
        da.shallow_dann(task, methods=["ARDA"])
    with pytest.raises(ValueError, match="task"):
        da.shallow_dann({"xs": torch.zeros(3, 2)})
    with pytest.raises(ValueError, match="momentum"):
        da.shallow_dann(task, momentum=1.5)
