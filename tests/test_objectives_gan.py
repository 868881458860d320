"""The GAN losses against their definitions in probabilities, computed independently in NumPy."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganbook import objectives


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    return torch.randn(100, generator=g, dtype=torch.float64) * 2, torch.randn(80, generator=g, dtype=torch.float64) * 2


def test_value_and_discriminator_loss_match_the_definition(logits):
    r, f = logits
    v = np.mean(np.log(_sigmoid(r.numpy()))) + np.mean(np.log(1 - _sigmoid(f.numpy())))   # eq. (2)
    assert np.isclose(float(objectives.value_function(r, f)), v, atol=1e-10)
    assert np.isclose(float(objectives.get("minimax").d_loss(r, f)), -v, atol=1e-10)
    assert np.isclose(float(objectives.get("nonsaturating").d_loss(r, f)), -v, atol=1e-10)


def test_generator_losses_match_the_definitions(logits):
    _, f = logits
    d = _sigmoid(f.numpy())
    assert np.isclose(float(objectives.get("minimax").g_loss(f)), np.mean(np.log(1 - d)), atol=1e-10)
    assert np.isclose(float(objectives.get("nonsaturating").g_loss(f)), -np.mean(np.log(d)), atol=1e-10)


def test_losses_are_stable_for_confident_discriminators():
    f = torch.tensor([-200.0, -50.0, 50.0, 200.0])
    ns = objectives.nonsaturating_g_loss(f)
    # −log σ(l) = log(1 + e^{−l}) ≈ −l for l ≪ 0 and ≈ 0 for l ≫ 0
    assert torch.isfinite(ns) and abs(float(ns) - (200 + 50) / 4) < 1e-6
    assert torch.isfinite(objectives.minimax_g_loss(f))
    assert torch.isfinite(objectives.minimax_d_loss(f, f))


def test_saturation_gradients():
    """d/dl log(1 − σ(l)) = −σ(l) → 0 when D rejects a fake (l → −∞); d/dl [−log σ(l)] = σ(l) − 1 → −1."""
    l = torch.tensor([-8.0, -2.0, 0.0, 2.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(objectives.minimax_g_loss(l) * l.numel(), l)
    (g_ns,) = torch.autograd.grad(objectives.nonsaturating_g_loss(l) * l.numel(), l)
    s = torch.sigmoid(l.detach())
    assert torch.allclose(g_sat, -s, atol=1e-7)
    assert torch.allclose(g_ns, s - 1, atol=1e-7)
    assert abs(float(g_sat[0])) < 4e-4 and abs(float(g_ns[0]) + 1) < 4e-4


def test_registry():
    assert {"minimax", "nonsaturating"} <= set(objectives.names())
    obj = objectives.get("nonsaturating")
    assert objectives.get(obj) is obj
    with pytest.raises(ValueError, match="unknown objective 'vanilla'"):
        objectives.get("vanilla")
    with pytest.raises(TypeError, match="name"):
        objectives.get(3)


@pytest.mark.parametrize("bad, match", [
    (torch.zeros(()), "at least 1"),             # a scalar is not a batch; (S, n) for S seeds is
    (torch.zeros(4, 0), "non-empty batch"),
    (torch.zeros(0), "at least 1"),
    (torch.zeros(3, dtype=torch.long), "floating"),
    ([0.0, 1.0], "torch.Tensor"),
])
def test_bad_scores_are_rejected(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        objectives.nonsaturating_g_loss(bad)


def test_losses_take_real_and_fake_and_name_them_in_errors():
    r, f = torch.zeros(3), torch.ones(3)
    assert torch.equal(objectives.minimax_d_loss(real=r, fake=f), objectives.minimax_d_loss(r, f))
    assert torch.equal(objectives.value_function(real=r, fake=f), -objectives.minimax_d_loss(r, f))
    assert torch.equal(objectives.nonsaturating_g_loss(fake=f), objectives.nonsaturating_g_loss(f))
    with pytest.raises(TypeError, match="real must be a torch.Tensor"):
        objectives.minimax_d_loss([0.0], f)
    with pytest.raises(TypeError, match="fake must be a torch.Tensor"):
        objectives.minimax_g_loss([0.0])


def test_a_leading_seed_axis_is_a_mean_over_all_entries():
    """Scores (S, n) of S seeds trained side by side: the loss is the mean over all S·n entries."""
    r, f = torch.randn(3, 5, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    assert torch.equal(objectives.minimax_d_loss(r, f), F.softplus(-r).mean() + F.softplus(f).mean())
    assert torch.equal(objectives.nonsaturating_g_loss(f), F.softplus(-f).mean())
    per_seed = sum(objectives.minimax_d_loss(r[s], f[s]) for s in range(3)) / 3
    assert torch.allclose(objectives.minimax_d_loss(r, f), per_seed, atol=1e-15)


def test_losses_do_not_read_values_and_nan_propagates():
    """A loss checks shapes only (reading values would wait for the device at every call); a NaN
    score gives a NaN loss, which the training loop's periodic check turns into TrainingDiverged."""
    assert torch.isnan(objectives.nonsaturating_g_loss(torch.tensor([0.0, float("nan")])))
