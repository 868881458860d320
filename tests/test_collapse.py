"""The defining mechanism of each method of chapter 8 (ganbook.collapse), checked from the
mathematics: shapes and contents of packs, similarity values, untouched discriminators, optimal
discriminators of smoothed losses, loss values recomputed by hand."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar
from torch import nn

from ganbook import collapse as C
from ganbook import nets, objectives


# -- PacGAN ---------------------------------------------------------------------------------------
class Recorder(nn.Module):
    """Records its inputs and returns the sum of each row (a linear 'discriminator')."""

    def __init__(self):
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.clone())
        return x.sum(1)


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_packing_puts_exactly_m_consecutive_samples_in_each_input(m):
    n, d = 12, 2
    x = torch.arange(n * d, dtype=torch.float32).reshape(n, d)          # sample i = (2i, 2i + 1)
    rec = Recorder()
    out = C.Packed(rec, m)(x)
    seen = rec.seen[0]
    assert seen.shape == (n // m, m * d)
    for j in range(n // m):
        # input j holds samples jm .. jm + m − 1, in order, and nothing else
        expected = torch.cat([x[j * m + i] for i in range(m)])
        assert torch.equal(seen[j], expected)
    assert out.shape == (n // m,)
    # every sample appears exactly once across the packs
    assert sorted(seen.reshape(-1).tolist()) == x.reshape(-1).tolist()


def test_packing_rejects_a_batch_that_is_not_a_multiple_of_m():
    with pytest.raises(ValueError, match="multiple"):
        C.pack(torch.zeros(10, 2), 4)
    with pytest.raises(ValueError, match="m"):
        C.pack(torch.zeros(10, 2), 0)
    with pytest.raises(TypeError, match="D"):
        C.Packed("not a module", 2)


# -- minibatch discrimination --------------------------------------------------------------------
def test_minibatch_similarities_far_apart_are_zero_and_duplicates_identical():
    torch.manual_seed(0)
    layer = C.MinibatchDiscrimination(3, n_kernels=5, kernel_dim=4)
    with torch.no_grad():
        layer.T.copy_(torch.randn(3, 5, 4).abs() + 0.5)                   # every projection sees every coordinate
    far = torch.tensor([[0.0, 0.0, 0.0], [1e3, 0.0, 0.0], [0.0, -1e3, 0.0], [0.0, 0.0, 1e3]])
    c = layer.similarities(far).detach()
    assert c.shape == (4, 4, 5)
    off = ~torch.eye(4, dtype=torch.bool)
    assert float(c[off].max()) == 0.0                                   # exp(−huge) underflows to 0
    assert torch.all(c[torch.arange(4), torch.arange(4)] == 1.0)        # c_b(x, x) = exp(0)
    o = layer(far)[:, 3:]
    assert torch.allclose(o, torch.ones(4, 5))                          # only the self term
    # duplicated samples: identical features; o counts the copies
    x = torch.tensor([[0.3, -0.2, 0.1]]).repeat(3, 1)
    x = torch.cat([x, far[1:2]])
    out = layer(x)
    assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])
    assert torch.allclose(out[:3, 3:], torch.full((3, 5), 3.0))
    # the value itself, for one pair, from the definition exp(−Σ_c |M_i,b,c − M_j,b,c|)
    y = torch.randn(2, 3, dtype=torch.float64)
    layer64 = layer.double()
    M = [torch.einsum("a,abc->bc", y[i], layer64.T) for i in range(2)]
    expected = torch.exp(-(M[0] - M[1]).abs().sum(-1))
    assert torch.allclose(layer64.similarities(y)[0, 1], expected)


def test_minibatch_discriminator_shapes():
    D = C.MinibatchDiscriminator(2, (16, 16), n_kernels=4, kernel_dim=3)
    assert D(torch.randn(7, 2)).shape == (7,)
    with pytest.raises(ValueError, match="hidden"):
        C.MinibatchDiscriminator(2, ())


def test_minibatch_projection_is_f_times_T():
    f = torch.randn(2, 5, 3, dtype=torch.float64)                       # two seeds' features
    T = torch.randn(2, 3, 4, 6, dtype=torch.float64)                    # one T per seed
    M = C.minibatch_projection(f, T)
    assert M.shape == (2, 5, 4, 6)
    assert torch.allclose(M, torch.einsum("sna,sabc->snbc", f, T))
    with pytest.raises(ValueError, match="same A"):
        C.minibatch_projection(f, T[:, :2])


def test_minibatch_features_of_a_collapsed_batch_are_n():
    """n copies of one point: o = n in every coordinate (the largest value), per group of 64 too."""
    torch.manual_seed(0)
    layer = C.MinibatchDiscrimination(2, n_kernels=6, kernel_dim=4, init_std=3.0)
    o = layer(torch.tensor([[0.3, -0.7]]).repeat(64, 1))[:, 2:]
    assert torch.allclose(o, torch.full((64, 6), 64.0), rtol=0, atol=1e-4)
    o = layer(torch.tensor([[0.3, -0.7]]).repeat(128, 1))[:, 2:]        # two groups of 64
    assert torch.allclose(o, torch.full((128, 6), 64.0), rtol=0, atol=1e-4)
    batched = C.MinibatchDiscrimination(2, 6, 4, generators=[torch.Generator().manual_seed(s) for s in (0, 1)])
    assert batched.T.shape == (2, 2, 6, 4) and not torch.equal(batched.T[0], batched.T[1])
    with pytest.raises(ValueError, match="one T"):
        batched.similarities(torch.zeros(3, 2))
    with pytest.raises(TypeError, match="generators"):
        C.MinibatchDiscrimination(2, 6, 4, generators=[0, 1])
    with pytest.raises(ValueError, match="same A"):
        C.minibatch_features(torch.zeros(5, 3), torch.zeros(2, 6, 4))


# -- one-sided label smoothing -------------------------------------------------------------------
@pytest.mark.parametrize("p,q", [(0.7, 0.3), (0.2, 0.9), (1.0, 0.0), (0.0, 1.0)])
def test_label_smoothing_optimal_discriminators(p, q):
    """Pointwise minimiser of p·BCE(D, α) + q·BCE(D, β), by scipy, vs (αp + βq)/(p + q)."""
    alpha, beta = 0.9, 0.1

    def risk(d, a, b):
        logit = torch.logit(torch.tensor([d], dtype=torch.float64))
        return float(p * F.binary_cross_entropy_with_logits(logit, torch.tensor([a], dtype=torch.float64))
                     + q * F.binary_cross_entropy_with_logits(logit, torch.tensor([b], dtype=torch.float64)))

    one = minimize_scalar(lambda d: risk(d, alpha, 0.0), bounds=(1e-9, 1 - 1e-9), method="bounded",
                          options={"xatol": 1e-10}).x
    two = minimize_scalar(lambda d: risk(d, alpha, beta), bounds=(1e-9, 1 - 1e-9), method="bounded",
                          options={"xatol": 1e-10}).x
    assert abs(one - alpha * p / (p + q)) < 1e-6
    assert abs(two - (alpha * p + beta * q) / (p + q)) < 1e-6


def test_one_sided_smoothing_loss_value_and_registration():
    r, f = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    s = torch.sigmoid
    expected = -(0.9 * torch.log(s(r)) + 0.1 * torch.log(1 - s(r))).mean() - torch.log(1 - s(f)).mean()
    assert torch.allclose(C.one_sided_smoothing_d_loss(r, f, alpha=0.9), expected, atol=1e-6)
    obj = objectives.get("one-sided-smoothing")
    assert torch.allclose(obj.d_loss(r, f), expected, atol=1e-6)
    assert torch.allclose(obj.g_loss(f), F.softplus(-f).mean())
    with pytest.raises(ValueError, match="alpha"):
        C.one_sided_smoothing_d_loss(r, f, alpha=1.5)


# -- Unrolled GAN ----------------------------------------------------------------------------------
def test_unrolled_steps_do_not_update_the_real_discriminator():
    torch.manual_seed(0)
    G = nets.mlp(2, 2, (16,))
    D = nets.mlp(2, 1, (16, 16), squeeze=True)
    before = {k: v.clone() for k, v in D.state_dict().items()}
    real = [torch.randn(32, 2) for _ in range(5)]
    z = torch.randn(32, 2)
    loss = C.unrolled_g_loss(D, real, G(z), lr=0.5)
    loss.backward()
    for k, v in D.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in D.parameters())
    assert all(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in G.parameters())


def test_unrolled_parameters_equal_k_explicit_sgd_steps():
    """The functional copy after k steps equals k plain SGD steps on a deep copy of D."""
    import copy

    torch.manual_seed(1)
    D = nets.mlp(2, 1, (8,), squeeze=True).double()
    real = [torch.randn(16, 2, dtype=torch.float64) for _ in range(3)]
    fake = torch.randn(16, 2, dtype=torch.float64)
    params = C.unrolled_parameters(D, real, fake, lr=0.1)
    D2 = copy.deepcopy(D)
    opt = torch.optim.SGD(D2.parameters(), lr=0.1)
    for x in real:
        opt.zero_grad()
        objectives.minimax_d_loss(D2(x), D2(fake)).backward()
        opt.step()
    for name, p in D2.named_parameters():
        assert torch.allclose(params[name], p, atol=1e-12), name


def test_unrolled_gradient_differs_from_plain_gradient_and_k0_limit():
    """With a tiny unrolling step the unrolled loss tends to the plain loss (k steps of size → 0)."""
    torch.manual_seed(2)
    D = nets.mlp(2, 1, (8,), squeeze=True).double()
    fake = torch.randn(16, 2, dtype=torch.float64, requires_grad=True)
    real = [torch.randn(16, 2, dtype=torch.float64) for _ in range(5)]
    plain = objectives.nonsaturating_g_loss(D(fake))
    tiny = C.unrolled_g_loss(D, real, fake, lr=1e-9)
    big = C.unrolled_g_loss(D, real, fake, lr=1.0)
    assert abs((plain - tiny).item()) < 1e-7
    assert abs((plain - big).item()) > 1e-3
    with pytest.raises(ValueError, match="real_batches"):
        C.unrolled_parameters(D, [], fake, lr=0.1)


# -- feature matching ------------------------------------------------------------------------------
def test_feature_matching_loss():
    r = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    f = torch.tensor([[0.0, 0.0], [0.0, 2.0], [0.0, 1.0]], requires_grad=True)
    loss = C.feature_matching_loss(r, f)
    assert torch.isclose(loss, torch.tensor((2.0 - 0.0) ** 2 + (3.0 - 1.0) ** 2))
    loss.backward()
    assert torch.allclose(f.grad, torch.tensor([[-4 / 3, -4 / 3]]).repeat(3, 1))
    assert float(C.feature_matching_loss(r, r.clone())) == 0.0
    with pytest.raises(ValueError, match="width"):
        C.feature_matching_loss(r, torch.zeros(2, 3))


# -- MRGAN -----------------------------------------------------------------------------------------
def test_mrgan_geometric_and_mode_terms():
    x = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    rec = torch.tensor([[3.0, 4.0], [1.0, 1.0]])
    logits = torch.tensor([0.0, 100.0])
    geo = C.mrgan_geometric(x, rec)
    mode = objectives.nonsaturating_g_loss(logits)                      # the mode term: −E log D(G(E(x)))
    assert math.isclose(float(geo), 25.0 / 2)
    assert math.isclose(float(mode), (math.log(2) + 0.0) / 2, rel_tol=1e-6)   # −log σ(0), −log σ(100) ≈ 0
    with pytest.raises(ValueError, match="reconstruction"):
        C.mrgan_geometric(x, rec[:1])


# -- VEEGAN ----------------------------------------------------------------------------------------
def test_veegan_losses():
    class Lin(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.tensor(1.0))

        def forward(self, z, x):
            return self.w * (z.sum(1) - x.sum(1))

    z = torch.tensor([[1.0], [0.0]], requires_grad=True)
    fake = torch.tensor([[0.5, 0.5], [2.0, 0.0]], requires_grad=True)
    z_of_fake = torch.tensor([[0.0], [1.0]])
    real = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    z_of_real = torch.tensor([[2.0], [0.0]])
    D = Lin()
    d_loss = C.veegan_d_loss(D(z_of_real, real), D(z.detach(), fake.detach()))   # the caller detaches the pairs
    g_loss = C.veegan_g_loss(D(z, fake), z=z, z_of_fake=z_of_fake)
    rec = C.veegan_reconstruction(z, z_of_fake)
    d_fake = torch.tensor([0.0, -2.0])          # z − Σx on (z, G(z))
    d_real = torch.tensor([1.0, 0.0])           # on (F(x), x)
    assert torch.isclose(d_loss, F.softplus(-d_fake).mean() + F.softplus(d_real).mean())
    assert torch.isclose(rec, torch.tensor(1.0))
    assert torch.isclose(g_loss, d_fake.mean() + 1.0)
    # the discriminator's loss does not reach the generator's inputs
    d_loss.backward()
    assert z.grad is None and fake.grad is None and D.w.grad is not None
    with pytest.raises(ValueError, match="z_of_fake"):
        C.veegan_g_loss(D(z, fake), z=z, z_of_fake=torch.zeros(2, 2))


# -- MAD-GAN ---------------------------------------------------------------------------------------
def test_madgan_d_and_g_losses():
    k, m = 3, 4
    torch.manual_seed(3)
    real = torch.randn(5, k + 1)
    fake = torch.randn(k, m, k + 1)
    d_loss, g_loss = C.madgan_d_loss(real, fake), C.madgan_g_loss(fake)
    logp_real = torch.log_softmax(real, 1)[:, k].mean()
    logp_fake = torch.stack([torch.log_softmax(fake[i], 1)[:, i] for i in range(k)]).mean()
    assert torch.isclose(d_loss, -logp_real - logp_fake, atol=1e-6)
    g_ref = -sum(torch.log_softmax(fake[i], 1)[:, k].mean() for i in range(k))
    assert torch.isclose(g_loss, g_ref, atol=1e-6)
    with pytest.raises(ValueError, match="outputs"):
        C.madgan_d_loss(real, torch.randn(2, m, k + 1))
    with pytest.raises(ValueError, match="outputs"):
        C.madgan_g_loss(torch.randn(2, m, k + 1))


# -- instance noise --------------------------------------------------------------------------------
def test_instance_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(20000, 2)
    y = C.instance_noise(x, 0.3, g)
    assert abs(float(y.std()) - 0.3) < 0.01 and abs(float(y.mean())) < 0.01
    assert torch.equal(C.instance_noise(x, 0.0), x)
    assert C.annealed_sigma(0, 100, 0.5) == 0.5 and C.annealed_sigma(50, 100, 0.5) == 0.25
    assert C.annealed_sigma(150, 100, 0.5) == 0.0
    with pytest.raises(ValueError, match="sigma"):
        C.instance_noise(x, -1.0)


# -- discriminator rejection sampling ---------------------------------------------------------------
def test_rejection_with_the_exact_log_ratio_samples_the_target():
    """Proposals from q = N(0, 2²), logits the exact log p/q for p = N(0, 1): log 2 − 3x²/8, largest
    (log 2) at 0. With M = log 2 the kept samples follow p (KS test against scipy's normal cdf) and
    the acceptance rate is E_q[p/q]/e^M = 1/2."""
    from scipy import stats

    g = torch.Generator().manual_seed(0)
    x = 2 * torch.randn(200_000, 1, generator=g, dtype=torch.float64)
    logits = math.log(2) - 3 * x[:, 0] ** 2 / 8
    kept, M = C.rejection_sample(x, logits, g, log_bound=math.log(2))
    assert M == math.log(2)
    rate = len(kept) / len(x)
    assert abs(rate - 0.5) < 4 * math.sqrt(0.25 / len(x))
    assert stats.kstest(kept[:, 0].numpy(), stats.norm.cdf).pvalue > 1e-3
    assert stats.kstest(x[:, 0].numpy(), stats.norm.cdf).pvalue < 1e-6          # the proposals do not


def test_rejection_keeps_everything_for_a_constant_logit_and_checks_its_arguments():
    x = torch.randn(100, 2)
    kept, M = C.rejection_sample(x, torch.full((100,), 0.3))
    assert torch.equal(kept, x) and M == pytest.approx(0.3)                    # exp(ℓ − M) = 1
    kept, _ = C.rejection_sample(x, torch.tensor([0.0] * 50 + [-1e4] * 50))
    assert torch.equal(kept, x[:50])                                           # exp(−10⁴) = 0
    with pytest.raises(ValueError, match="log_bound"):
        C.rejection_sample(x, torch.zeros(100), log_bound=-1.0)
    with pytest.raises(ValueError, match="logits"):
        C.rejection_sample(x, torch.zeros(99))
    with pytest.raises(ValueError, match="logits"):
        C.rejection_sample(x, torch.full((100,), float("nan")))


# -- exercise checks ------------------------------------------------------------------------------
def test_checks_accept_correct_and_reject_wrong_answers():
    from ganbook import check

    check.minibatch_features(lambda M: torch.exp(-(M[:, None] - M[None, :]).abs().sum(-1)).sum(1))
    check.pack(lambda x, m: x.reshape(x.shape[0] // m, m * x.shape[1]))
    wrong_mbd = [lambda M: torch.exp(-(M[:, None] - M[None, :]).abs().sum(-1)).sum(1) - 1,
                 lambda M: torch.exp(-(M[:, None] - M[None, :]).norm(dim=-1)).sum(1)]
    for fn in wrong_mbd:
        with pytest.raises(check.CheckFailed):
            check.minibatch_features(fn)
    with pytest.raises(check.CheckFailed, match="consecutive"):
        check.pack(lambda x, m: x.reshape(m, x.shape[0] // m, x.shape[1]).transpose(0, 1).reshape(x.shape[0] // m, -1))
