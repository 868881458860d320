"""Chapter 14a's semi-supervised losses against independent references: a brute-force softmax over K + 1
logits with a zero fake logit, hand-computed cross-entropies and entropies, autograd of the feature
matching distance, and Triple-GAN's optimal discriminator found by direct maximisation."""
import math

import pytest
import torch
import torch.nn.functional as F

from ganbook import semi_supervised as ss


def _brute_k_plus_one(logits):
    """p(y | x) over K + 1 classes, the last logit fixed to 0, by an explicit softmax."""
    full = torch.cat([logits, torch.zeros(*logits.shape[:-1], 1, dtype=logits.dtype)], -1)
    e = torch.exp(full - full.max(-1, keepdim=True).values)
    return e / e.sum(-1, keepdim=True)


def test_logit_trick_matches_the_softmax_over_k_plus_one_classes():
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(4, 7, 10, generator=g, dtype=torch.float64)
    p = _brute_k_plus_one(logits)
    torch.testing.assert_close(ss.real_probability(logits), 1 - p[..., -1])          # D = 1 − p(K+1|x)
    Z = torch.exp(logits).sum(-1)
    torch.testing.assert_close(ss.real_probability(logits), Z / (Z + 1))             # D = Z/(Z+1)
    # the conditional over the real classes does not depend on the fake logit
    torch.testing.assert_close(torch.softmax(logits, -1), p[..., :-1] / p[..., :-1].sum(-1, keepdim=True))


def test_fixing_the_fake_logit_loses_nothing():
    """Subtracting the fake logit from all K + 1 logits leaves the softmax unchanged."""
    g = torch.Generator().manual_seed(1)
    full = torch.randn(5, 11, generator=g, dtype=torch.float64)
    shifted = full[:, :-1] - full[:, -1:]
    torch.testing.assert_close(_brute_k_plus_one(shifted), torch.softmax(full, -1))


def test_real_probability_is_stable_for_large_logits():
    logits = torch.tensor([[800.0, -5.0], [-800.0, -900.0]], dtype=torch.float64)
    d = ss.real_probability(logits)
    assert torch.isfinite(d).all() and d[0] == 1.0 and d[1] == 0.0


def test_supervised_and_unsupervised_losses_by_hand():
    logits = torch.tensor([[[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]], dtype=torch.float64)   # (1, 2, 3)
    labels = torch.tensor([[1, 2]])
    want = (-(2 - math.log(math.e + math.e ** 2 + 1)) - math.log(1 / 3)) / 2
    assert abs(float(ss.class_cross_entropy(logits, labels)) - want) < 1e-12
    real = torch.tensor([[0.0, 0.0]], dtype=torch.float64)                             # Z = 2, D = 2/3
    fake = torch.tensor([[math.log(0.5), -1e9]], dtype=torch.float64)                  # Z = 1/2, D = 1/3
    want = -math.log(2 / 3) - math.log(1 - 1 / 3)
    assert abs(float(ss.k_plus_one_d_loss(real, fake)) - want) < 1e-9


def test_unsupervised_loss_equals_the_k_plus_one_cross_entropy():
    g = torch.Generator().manual_seed(2)
    real, fake = torch.randn(2, 9, 6, generator=g, dtype=torch.float64).unbind(0)
    p_r, p_f = _brute_k_plus_one(real), _brute_k_plus_one(fake)
    want = -torch.log(1 - p_r[:, -1]).mean() - torch.log(p_f[:, -1]).mean()
    torch.testing.assert_close(ss.k_plus_one_d_loss(real, fake), want)


def test_feature_matching_and_its_gradient():
    g = torch.Generator().manual_seed(3)
    real = torch.randn(2, 8, 4, generator=g, dtype=torch.float64)
    fake = torch.randn(2, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    loss = ss.feature_matching_g_loss(fake, real=real)
    want = sum(float(((real[m].mean(0) - fake.detach()[m].mean(0)) ** 2).sum()) for m in range(2)) / 2
    assert abs(float(loss.detach()) - want) < 1e-12
    loss.backward()
    expect = -(real.mean(1, keepdim=True) - fake.detach().mean(1, keepdim=True)) * 2 / 5 / 2
    torch.testing.assert_close(fake.grad, expect.expand_as(fake))


def test_catgan_losses_by_hand():
    # real: two confident samples of different classes; fake: uniform predictions
    real = torch.tensor([[50.0, 0.0], [0.0, 50.0]], dtype=torch.float64)
    fake = torch.zeros(3, 2, dtype=torch.float64)
    # H[marginal real] = log 2, E H[real] ≈ 0, E H[fake] = log 2
    assert abs(float(ss.catgan_d_loss(real, fake)) - (-math.log(2) + 0 - math.log(2))) < 1e-9
    assert abs(float(ss.catgan_g_loss(fake)) - (-math.log(2) + math.log(2))) < 1e-12
    assert abs(float(ss.catgan_g_loss(real)) - (-math.log(2))) < 1e-9                 # = −I(x; y) = −log 2
    assert abs(ss.chance_log_k(2) - math.log(2)) < 1e-15


def test_entropy_against_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    p = torch.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]], dtype=torch.float64)
    want = torch.tensor([scipy_stats.entropy(row) for row in p.numpy()], dtype=torch.float64)
    torch.testing.assert_close(ss.entropy(p), want)


def test_triple_gan_optimal_discriminator_maximises_the_value():
    """For fixed densities, D* = p/(p + p_α) maximises the pointwise value p log D + p_α log(1 − D)."""
    g = torch.Generator().manual_seed(4)
    p, p_g, p_c = (torch.rand(20, generator=g, dtype=torch.float64) for _ in range(3))
    alpha = 0.3
    grid = torch.linspace(1e-4, 1 - 1e-4, 20001, dtype=torch.float64)
    p_a = (1 - alpha) * p_g + alpha * p_c
    value = p[:, None] * torch.log(grid) + p_a[:, None] * torch.log(1 - grid)
    best = grid[value.argmax(1)]
    torch.testing.assert_close(ss.triple_gan_optimal_d(p, p_g, p_c, alpha=alpha), best, atol=1e-4, rtol=0)


def test_triple_gan_d_loss_by_hand():
    real, fake, fake_c = torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([-1.0])
    want = math.log(2) + 0.75 * math.log(1 + math.e) + 0.25 * math.log(1 + math.exp(-1))
    assert abs(float(ss.triple_gan_d_loss(real, fake, fake_c=fake_c, alpha=0.25)) - want) < 1e-6


def test_few_labels_and_accuracy():
    labels = torch.arange(10).repeat(7)
    idx = ss.few_labels(labels, 3, generator=torch.Generator().manual_seed(0))
    assert idx.numel() == 30 and len(set(idx.tolist())) == 30
    assert torch.equal(torch.bincount(labels[idx], minlength=10), torch.full((10,), 3))
    logits = F.one_hot(torch.tensor([0, 1, 1, 2]), 3).double()
    assert abs(float(ss.accuracy(logits, torch.tensor([0, 1, 2, 2]))) - 0.75) < 1e-12


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="logits"):
        ss.d_logit(torch.zeros(3))
    with pytest.raises(TypeError, match="labels"):
        ss.class_cross_entropy(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="labels"):
        ss.class_cross_entropy(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="fake and real"):
        ss.feature_matching_g_loss(torch.zeros(4, 3), real=torch.zeros(4, 5))
    with pytest.raises(ValueError, match="alpha"):
        ss.triple_gan_d_loss(torch.zeros(2), torch.zeros(2), fake_c=torch.zeros(2), alpha=1.5)
    with pytest.raises(ValueError, match="per_class"):
        ss.few_labels(torch.arange(10), 2)


def test_the_exercise_check_accepts_the_stable_form_and_rejects_mistakes():
    from ganbook import check

    def stable(logits):
        return torch.sigmoid(torch.logsumexp(logits, -1))

    check.k_plus_one_probability(stable, quiet=True)
    mistakes = (lambda v: v.exp().sum(-1) / (v.exp().sum(-1) + 1),          # overflows at logits near 800
                lambda v: torch.softmax(v, -1).max(-1).values,
                lambda v: torch.sigmoid(-torch.logsumexp(v, -1)))
    for wrong in mistakes:
        with pytest.raises(check.CheckFailed):
            check.k_plus_one_probability(wrong, quiet=True)
    with pytest.raises(check.CheckFailed, match="ganbook's own"):
        check.k_plus_one_probability(ss.real_probability)


def _gens(n, seed=0):
    return [torch.Generator().manual_seed(seed + s) for s in range(n)]


def test_noisy_classifier_matches_an_explicit_weight_normalised_mlp():
    """Without noise, member s is the MLP x ↦ leaky_relu(x W_1 + b_1) … with W = g v/‖v‖ (torch's own
    weight_norm as the reference); ``members`` selects the same outputs as the full network."""
    net = ss.NoisyClassifier([5, 7, 6, 3], generators=_gens(4)).double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype))
    x = torch.randn(4, 9, 5, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    feat, logits = net(x, noise=None)
    for s in range(4):
        h = x[s]
        for i in range(3):
            lin = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(*net.v[i].shape[1:]).double(), dim=0)
            with torch.no_grad():
                lin.parametrizations.weight.original1.copy_(net.v[i][s].T)
                lin.parametrizations.weight.original0.copy_(net.g[i][s].T)
                lin.bias.copy_(net.b[i][s, 0])
            h = lin(h)
            if i < 2:
                h = F.leaky_relu(h, 0.2)
                if i == 1:
                    torch.testing.assert_close(feat[s], h)
        torch.testing.assert_close(logits[s], h)
    f2, l2 = net(x[1:3], noise=None, members=slice(1, 3))
    torch.testing.assert_close(l2, logits[1:3])
    torch.testing.assert_close(f2, feat[1:3])
    # the weight norm of every column is g (1 at initialisation)
    fresh = ss.NoisyClassifier([5, 7, 3], generators=_gens(2))
    torch.testing.assert_close(fresh.weight(0).norm(dim=1), torch.ones(2, 7))


def test_noisy_classifier_noise_has_the_stated_scale():
    """With zero features, the logits' variance is hidden_noise² · Σ_j w_j² (noise on the last hidden
    layer only reaches the output linearly), and with noise=None the output is deterministic."""
    net = ss.NoisyClassifier([4, 6, 2], generators=_gens(1), input_noise=0.0, hidden_noise=0.5).double()
    x = torch.zeros(1, 20000, 4, dtype=torch.float64)      # zero input, zero biases: the features are 0
    _, logits = net(x, noise=torch.Generator().manual_seed(0))
    w = net.weight(1)[0]                                    # (6, 2)
    expected = 0.25 * (w ** 2).sum(0)
    torch.testing.assert_close(logits[0].var(0), expected, rtol=0.05, atol=0)
    assert torch.equal(net(x[:, :5], noise=None)[1], net(x[:, :5], noise=None)[1])


def test_batch_norm_generator_normalises_each_member_over_its_batch():
    G = ss.BatchNormGenerator([3, 8, 2], generators=_gens(2)).double()
    z = torch.rand(2, 50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = G(z)
    assert out.shape == (2, 50, 2) and bool((out.abs() < 1).all())
    h = z[1] @ G.w[0][1] + G.b[0][1]
    h = F.softplus(torch.nn.functional.batch_norm(h, None, None, training=True, eps=1e-5))   # torch's batch norm
    torch.testing.assert_close(out[1], torch.tanh(h @ G.w[1][1] + G.b[1][1]))


def test_new_networks_reject_bad_input():
    with pytest.raises(ValueError, match="sizes"):
        ss.NoisyClassifier([4, 2], generators=_gens(1))
    with pytest.raises(ValueError, match="hidden_noise"):
        ss.NoisyClassifier([4, 3, 2], generators=_gens(1), hidden_noise=-1.0)
    with pytest.raises(TypeError, match="generators"):
        ss.BatchNormGenerator([4, 3, 2], generators=[0])
