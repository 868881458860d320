"""IPM objectives (ganbook.objectives.ipm), energy objectives (ganbook.objectives.energy),
autoencoder discriminators (ganbook.nets_ae) and the chapter 4 exercise checks, against
definitions, closed forms and independent solvers (scipy.optimize.linprog, numpy's SVD, the
χ² divergence of chapter 3)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import linprog
from scipy.stats import norm

from ganbook import check, divergences, nets, nets_ae, objectives
from ganbook.objectives import energy, ipm


def _rng(seed):
    return torch.Generator().manual_seed(seed)


def test_registered_objectives_and_their_losses():
    r = torch.tensor([2.0, 0.5, -0.5], dtype=torch.float64)
    f = torch.tensor([-2.0, 0.0, 1.5], dtype=torch.float64)
    for name in ("wasserstein", "hinge", "mcgan"):
        assert objectives.get(name).name == name
    with pytest.raises(ValueError, match="not looked up by name.*ipm.fisher"):
        objectives.get("fisher")                          # its multiplier is state the caller holds
    w = objectives.get("wasserstein")
    assert float(w.d_loss(r, f)) == pytest.approx(f.mean() - r.mean())
    assert float(w.g_loss(f)) == pytest.approx(-float(f.mean()))
    # hinge: max(0, 1 − r) = [0, 0.5, 1.5], max(0, 1 + f) = [0, 1, 2.5]
    assert float(objectives.get("hinge").d_loss(r, f)) == pytest.approx(2.0 / 3 + 3.5 / 3)


def test_loss_sensitive_loss():
    r = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    f = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64)
    margin = torch.tensor([1.0, 0.2, 1.0], dtype=torch.float64)
    # Δ − f(x) + f(x̃) = [0.5, 0.7, −1.0]
    assert float(ipm.loss_sensitive_d_loss(r, f, margin=margin)) == pytest.approx((0.5 + 0.7) / 3)
    assert float(ipm.loss_sensitive_d_loss(r, f, margin=margin, slope=0.5)) == pytest.approx((0.5 + 0.7 - 0.5) / 3)
    # slope 1: the WGAN critic loss plus the mean margin
    assert float(ipm.loss_sensitive_d_loss(r, f, margin=margin, slope=1.0)) == pytest.approx(
        float(ipm.wasserstein_d_loss(r, f) + margin.mean()))
    x, y = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[3.0, -4.0], [1.0, 2.0]])
    assert ipm.ls_margin(x, y, scale=0.5).tolist() == pytest.approx([3.5, 0.5])
    assert ipm.ls_margin(x, y, p=2).tolist() == pytest.approx([5.0, 1.0])
    with pytest.raises(TypeError):                      # the margin is keyword-only (the loss convention)
        ipm.loss_sensitive_d_loss(r, f, margin)
    with pytest.raises(ValueError, match="margin must have shape"):
        ipm.loss_sensitive_d_loss(r, f, margin=margin[:2])


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, math.inf])
def test_mean_feature_distance_is_the_supremum_over_the_dual_ball(p):
    """sup_{‖v‖_p ≤ 1} ⟨v, Δ⟩ = ‖Δ‖_q: the maximiser v* = sign(Δ)|Δ|^{q−1}/‖Δ‖_q^{q−1} (Hölder) attains
    it; for p = ∞ and p = 1 a linear program over the ball confirms it independently."""
    g = _rng(1)
    a = torch.randn(50, 4, generator=g, dtype=torch.float64)
    b = torch.randn(40, 4, generator=g, dtype=torch.float64) + 0.3
    delta = (a.mean(0) - b.mean(0)).numpy()
    q = ipm.dual_exponent(p)
    got = float(ipm.mean_feature_distance(a, b, q=q))
    if math.isinf(p):                       # box |v_i| ≤ 1
        res = linprog(-delta, bounds=[(-1, 1)] * 4)
        assert got == pytest.approx(-res.fun, rel=1e-9)
    elif p == 1:                            # cross-polytope: v = v⁺ − v⁻, Σ(v⁺ + v⁻) ≤ 1
        res = linprog(np.concatenate([-delta, delta]), A_ub=np.ones((1, 8)), b_ub=[1], bounds=[(0, None)] * 8)
        assert got == pytest.approx(-res.fun, rel=1e-9)
    else:
        v = np.sign(delta) * np.abs(delta) ** (q - 1) / np.linalg.norm(delta, q) ** (q - 1)
        assert np.linalg.norm(v, p) == pytest.approx(1.0)
        assert got == pytest.approx(float(v @ delta), rel=1e-9)


def test_covariance_distance_and_the_mcgan_critic():
    """sup over orthonormal U, V (m × k) of Tr(Uᵀ M V) is the sum of the k largest singular values of
    M = Σ_P − Σ_Q; a McGAN critic with U, V = the top singular vectors attains it."""
    g = _rng(2)
    a = torch.randn(200, 5, generator=g, dtype=torch.float64)
    b = torch.randn(150, 5, generator=g, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5, 1.0, 1.0], dtype=torch.float64)
    M = (a.T @ a / 200 - b.T @ b / 150).numpy()
    u, s, vt = np.linalg.svd(M)
    k = 2
    assert float(ipm.covariance_feature_distance(a, b, k=k)) == pytest.approx(s[:k].sum(), rel=1e-10)
    critic = ipm.McGANCritic(torch.nn.Identity(), m=5, k=k, use_mean=False, clip=0).double()
    with torch.no_grad():
        critic.U[0].copy_(torch.as_tensor(u[:, :k]))
        critic.V[0].copy_(torch.as_tensor(vt[:k].T))
    ipm_value = float((critic(a).mean() - critic(b).mean()).detach())
    assert ipm_value == pytest.approx(s[:k].sum(), rel=1e-10)


def test_mcgan_projection_restores_the_constraints():
    feats = nets.mlp(2, 6, (8,))
    critic = ipm.McGANCritic(feats, m=6, k=2, p=2.0, clip=0.02)
    with torch.no_grad():
        critic.v.mul_(50)
        critic.U.add_(1.0)
        for p in feats.parameters():
            p.mul_(100)
    critic.project_()
    assert float(critic.v.detach().norm()) <= 1 + 1e-6
    eye = torch.eye(2)
    assert torch.allclose(critic.U[0].T @ critic.U[0], eye, atol=1e-5)
    assert torch.allclose(critic.V[0].T @ critic.V[0], eye, atol=1e-5)
    assert all(float(p.detach().abs().max()) <= 0.02 + 1e-7 for p in feats.parameters())
    assert critic(torch.randn(7, 2)).shape == (7,)


def test_mcgan_members_are_independent_critics():
    torch.manual_seed(0)
    feats = nets.BatchedMLP(2, 4, (8,), members=2).double()
    critic = ipm.McGANCritic(feats, m=4, k=2, members=2, clip=0).double()
    x = torch.randn(2 * 5, 2, dtype=torch.float64)
    out = critic(x)
    for e in range(2):
        phi = feats.member(e)(x[5 * e:5 * e + 5])
        ref = phi @ critic.v[e] + ((phi @ critic.U[e]) * (phi @ critic.V[e])).sum(1)
        assert torch.allclose(out[5 * e:5 * e + 5], ref, atol=1e-12)


def test_fisher_objective_and_multiplier():
    fisher = ipm.fisher(rho=0.5)
    r = torch.tensor([1.0, 2.0], dtype=torch.float64)
    f = torch.tensor([0.0, -1.0], dtype=torch.float64)
    e, omega = 1.5 + 0.5, 0.5 * (2.5 + 0.5)            # Ê = 2, Ω̂ = 1.5, 1 − Ω̂ = −0.5
    assert float(fisher.d_loss(r, f)) == pytest.approx(-(e + 0 * (1 - omega) - 0.25 * (1 - omega) ** 2))
    assert fisher.multiplier_step() == pytest.approx(0.25)     # λ ← 0 − 0.5 · (−0.5)
    assert float(fisher.d_loss(r, f)) == pytest.approx(-(e + 0.25 * (1 - omega) - 0.25 * (1 - omega) ** 2))
    assert ipm.fisher(rho=0.5).state.multiplier == 0.0       # a new object starts at λ = 0


def test_fisher_ipm_of_the_optimal_critic_is_a_chi2_distance():
    """For an unconstrained critic, sup_f Ê/√Ω̂ = ‖(p − q)/m‖_{L²(m)} = 2√χ²(P‖M) with M = (P + Q)/2,
    attained by f ∝ (p − q)/(p + q). Samples with counts exactly proportional to p and q make the
    batch means exact."""
    def fisher_ipm(real, fake):
        e, omega = ipm.fisher_terms(real, fake)
        return e / omega.sqrt()

    p = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    q = torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)
    f_star = (p - q) / (p + q)
    real = torch.repeat_interleave(f_star, (p * 10).round().long())
    fake = torch.repeat_interleave(f_star, (q * 10).round().long())
    chi2 = divergences.f_divergence_discrete(p, (p + q) / 2, "pearson")
    assert float(fisher_ipm(real, fake)) == pytest.approx(2 * math.sqrt(chi2), rel=1e-10)
    g = _rng(3)
    for _ in range(20):                     # any other critic does worse
        f = torch.randn(3, generator=g, dtype=torch.float64)
        rr = torch.repeat_interleave(f, (p * 10).round().long())
        ff = torch.repeat_interleave(f, (q * 10).round().long())
        assert float(fisher_ipm(rr, ff)) <= 2 * math.sqrt(chi2) + 1e-12


def test_gmmn_and_mmdgan_losses_are_mmd2():
    g = _rng(4)
    x, y = torch.randn(20, 3, generator=g), torch.randn(15, 3, generator=g) + 1
    assert float(ipm.gmmn_loss(x, y, bandwidths=(1.0, 2.0))) == pytest.approx(
        float(divergences.mmd2(x, y, bandwidths=(1.0, 2.0))))
    assert float(ipm.mmdgan_d_loss(x, y)) == pytest.approx(-float(ipm.mmdgan_g_loss(y, real=x)))
    assert float(ipm.mmdgan_g_loss(y, real=x)) == pytest.approx(
        float(divergences.mmd2(x, y, bandwidths=ipm.MMDGAN_BANDWIDTHS)))


def test_cramer_generator_loss_estimates_the_energy_distance():
    """With h = identity in 1D, X ~ N(0, 1), Y ~ N(μ, 1): E L_g = 2E|X − Y| − E|Y − Y'|, where
    E|Z| for Z ~ N(μ, 2) is √2·√(2/π)·exp(−μ²/4) + μ(1 − 2Φ(−μ/√2)) and E|Y − Y'| = 2/√π."""
    mu, n = 0.8, 400_000
    g = _rng(5)
    x = torch.randn(n, 1, generator=g, dtype=torch.float64)
    y1 = torch.randn(n, 1, generator=g, dtype=torch.float64) + mu
    y2 = torch.randn(n, 1, generator=g, dtype=torch.float64) + mu
    s = math.sqrt(2)
    e_xy = s * math.sqrt(2 / math.pi) * math.exp(-mu ** 2 / (2 * s * s)) + mu * (1 - 2 * norm.cdf(-mu / s))
    expected = 2 * e_xy - 2 / math.sqrt(math.pi)
    assert float(ipm.cramer_g_loss(y1, real=x, fake2=y2)) == pytest.approx(expected, abs=0.01)
    crit = ipm.cramer_critic(x[:5], y2[:5])
    assert torch.allclose(crit, (x[:5] - y2[:5]).abs()[:, 0] - x[:5].abs()[:, 0])
    assert float(ipm.cramer_d_loss(x[:9], y1[:9], fake2=y2[:9])) == pytest.approx(
        -float(ipm.cramer_critic(x[:9], y2[:9]).mean() - ipm.cramer_critic(y1[:9], y2[:9]).mean()))


def test_energy_objectives():
    r = torch.tensor([0.1, 0.3], dtype=torch.float64)
    f = torch.tensor([0.2, 1.5], dtype=torch.float64)
    assert float(energy.ebgan_d_loss(r, f, margin=1.0)) == pytest.approx(0.2 + (0.8 + 0.0) / 2)
    assert float(energy.ebgan_g_loss(f)) == pytest.approx(0.85)
    assert float(energy.began_d_loss(r, f, k=0.5)) == pytest.approx(0.2 - 0.5 * 0.85)
    with pytest.raises(TypeError):                      # hyper-parameters are keyword-only
        energy.ebgan_d_loss(r, f, 1.0)
    with pytest.raises(ValueError, match="real must have 1 dimension"):
        energy.ebgan_d_loss(r[:, None], f, margin=1.0)
    s = energy.BEGANState(gamma=0.5, lambda_k=0.1)
    assert s.update(1.0, 0.2) == pytest.approx(0.03)          # 0 + 0.1 (0.5 − 0.2)
    assert s.update(1.0, 5.0) == 0.0                           # clipped at 0
    assert s.convergence_history[0] == pytest.approx(1.0 + 0.3)
    with pytest.raises(ValueError, match="gamma"):
        energy.BEGANState(gamma=1.5)


def test_magan_margin_rule():
    m = energy.MAGANMargin.from_pretraining(1.0)
    assert not m.epoch_end(0.8, 0.9)          # the fake energy must rise since the last epoch (first: inf)
    assert m.epoch_end(0.7, 1.2) and m.margin == 0.7
    assert not m.epoch_end(0.9, 1.5)          # real energy above the margin: the margin never grows
    assert not m.epoch_end(0.5, 0.4)          # fake energy below real energy
    assert m.history == [1.0, 0.7, 0.7, 0.7]


def test_pulling_away_term():
    assert float(energy.pulling_away(torch.eye(4))) == pytest.approx(0.0)
    assert float(energy.pulling_away(torch.ones(3, 5))) == pytest.approx(1.0)
    c = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert float(energy.pulling_away(c)) == pytest.approx(0.5)  # cos² 45° = ½


def test_autoencoder_discriminators():
    ae = nets_ae.AutoencoderDiscriminator(nets.mlp(2, 3, (8,)), nets.mlp(3, 2, (8,)))
    x = torch.randn(5, 2)
    e, code = ae.energy_and_code(x)
    assert e.shape == (5,) and code.shape == (5, 3)
    assert torch.allclose(e, (x - ae.reconstruct(x)).pow(2).mean(1))
    conv = nets_ae.conv_autoencoder8(code_dim=4, width=8, energy="l1")
    imgs = torch.rand(6, 1, 8, 8) * 2 - 1
    assert torch.allclose(conv(imgs), (imgs - conv.reconstruct(imgs)).abs().flatten(1).mean(1))
    with pytest.raises(ValueError, match="energy"):
        nets_ae.AutoencoderDiscriminator(nets.mlp(2, 3, (8,)), nets.mlp(3, 2, (8,)), energy="l3")
    with pytest.raises(TypeError, match="decoder"):
        nets_ae.AutoencoderDiscriminator(nets.mlp(2, 3, (8,)), "decoder")


def test_exercise_checks_accept_the_solutions_and_reject_mistakes():
    from ganbook.objectives.penalties import gradient_penalty

    check.gradient_penalty(lambda D, r, f: gradient_penalty(D, r, f), quiet=True)

    def at_real(D, real, fake):
        x = real.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()

    with pytest.raises(check.CheckFailed, match="real samples"):
        check.gradient_penalty(at_real, quiet=True)
    def double_loop_mmd2(x, y, sigma):
        """The unbiased MMD² with a Gaussian kernel, pair by pair in plain Python (independent of the
        package's matrix code, which the check uses as its reference)."""
        k = lambda a, b: math.exp(-float(((a - b) ** 2).sum()) / (2 * sigma ** 2))
        m, n = len(x), len(y)
        kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
        return kxx + kyy - 2 * kxy

    check.mmd2_unbiased(double_loop_mmd2, quiet=True)
    with pytest.raises(check.CheckFailed, match="biased"):
        check.mmd2_unbiased(lambda x, y, s: divergences.mmd2(x, y, bandwidths=s, unbiased=False), quiet=True)
