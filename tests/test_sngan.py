"""ganbook.sngan: the three recipes against independent references — chapter 6a's own training loop, a
power step written out by hand, per-member gradients taken member by member, scipy's standard error."""
from __future__ import annotations

import copy
import dataclasses
import math
import os

import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from ganbook import ablation, dcgan, sngan, spectral
from ganbook.errors import TrainingDiverged
from ganbook.sngan import METHODS, Method

TINY = dataclasses.replace(sngan.preset("cpu"), width=4, batch=8, steps=3, seeds=2)


def _data(n: int = 40) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _params(net: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def test_dcgan_row_is_chapter_6a_training():
    """With 6a's optimiser, the DCGAN recipe trains exactly as ganbook.ablation.train does."""
    p = dataclasses.replace(TINY, steps=4)
    data = _data()
    ours = sngan.train(p, Method("DCGAN"), data, members=2, seed=3)
    ref = ablation.train(p, dcgan.Guidelines(), data, members=2, seed=3)
    for net_a, net_b in ((ours.G, ref.G), (ours.D, ref.D), (ours.G_avg, ref.G_avg)):
        for a, b in zip(net_a.parameters(), net_b.parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_every_method_starts_from_the_same_generator():
    gens = [sngan.build(TINY, name, 3, seed=5, device=torch.device("cpu")).G for name in METHODS]
    for G in gens[1:]:
        for a, b in zip(G.parameters(), gens[0].parameters()):
            assert torch.equal(a, b)


def test_sngan_takes_one_power_step_per_d_update_and_none_in_the_g_update():
    m = sngan.build(TINY, "SNGAN", 2, seed=7, device=torch.device("cpu"))
    layer = m.D.body[0]
    sn = layer.parametrizations.weight[0]
    w0 = layer.parametrizations.weight.original.detach().clone()
    u0 = sn.u.clone()
    real, z = _data(16).view(2, 8, 1, 8, 8), torch.randn(2, 8, TINY.z_dim)
    fake = m.G(z)
    sngan.d_step(m, METHODS["SNGAN"], real, fake)
    for e in range(2):                                      # by hand: v = Wᵀu/‖Wᵀu‖, u = Wv/‖Wv‖ on block e
        block = w0.chunk(2, dim=0)[e].reshape(w0.shape[0] // 2, -1)
        v = F.normalize(block.t() @ u0[e], dim=0)
        torch.testing.assert_close(sn.u[e], F.normalize(block @ v, dim=0))
    u1 = sn.u.clone()
    sngan.g_step(m, METHODS["SNGAN"], fake)
    assert torch.equal(sn.u, u1) and m.D.training


def test_sngan_discriminator_has_no_batch_norm_and_every_layer_normalised():
    m = sngan.build(TINY, "SNGAN", 2, seed=1, device=torch.device("cpu"))
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.D.modules())
    layers = [x for x in m.D.modules() if isinstance(x, (nn.Conv2d, dcgan.MemberLinear))]
    assert all(hasattr(x, "parametrizations") for x in layers) and len(layers) == 3
    assert any(isinstance(x, nn.BatchNorm2d) for x in sngan.build(TINY, "DCGAN", 2, 1, torch.device("cpu")).D.modules())


def test_member_critic_gives_each_member_its_own_gradient():
    torch.manual_seed(2)
    E, n = 3, 4
    D = dcgan.Discriminator(8, 1, 4, guidelines=dcgan.Guidelines(batch_norm=False), members=E).double()
    x = torch.randn(E, n, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    critic = sngan.member_critic(D, n)
    flat = x.detach().flatten(0, 1).requires_grad_(True)
    (g_flat,) = torch.autograd.grad(critic(flat).sum(), flat)
    for e in range(E):
        (g_e,) = torch.autograd.grad(D(x)[e].sum(), x)
        torch.testing.assert_close(g_flat.view(E, n, 1, 8, 8)[e], g_e[e])
        assert float(g_e[[i for i in range(E) if i != e]].abs().max()) == 0


def test_wgan_gp_loss_is_the_sum_of_the_members_losses():
    """E × (mean over all E·n) of the critic loss plus E × the penalty = Σ_e (member e's loss + penalty)."""
    torch.manual_seed(4)
    E, n = 2, 5
    m = sngan.build(TINY, "WGAN-GP", E, seed=4, device=torch.device("cpu"))
    real, fake = torch.randn(E, n, 1, 8, 8), torch.randn(E, n, 1, 8, 8)
    D0 = copy.deepcopy(m.D)
    m.opt_d = torch.optim.SGD(m.D.parameters(), lr=0.0)       # keep the weights: read the loss only
    loss = sngan.d_step(m, METHODS["WGAN-GP"], real, fake, generator=torch.Generator().manual_seed(9))
    eps = torch.rand(E * n, 1, 1, 1, generator=torch.Generator().manual_seed(9))
    x_hat = (eps * real.flatten(0, 1) + (1 - eps) * fake.flatten(0, 1)).view(E, n, 1, 8, 8).requires_grad_(True)
    total = 0.0
    for e in range(E):
        scores_r, scores_f = D0(real)[e], D0(fake)[e]
        (grad,) = torch.autograd.grad(D0(x_hat)[e].sum(), x_hat)
        gp = ((grad[e].flatten(1).norm(dim=1) - 1) ** 2).mean()
        total += float((scores_f.mean() - scores_r.mean() + 10.0 * gp).detach())
    assert float(loss) == pytest.approx(total, rel=1e-5)


def test_train_all_methods_finite_and_deterministic():
    data = _data()
    for name in METHODS:
        a = sngan.train(TINY, name, data, members=2, seed=11)
        b = sngan.train(TINY, name, data, members=2, seed=11)
        for x, y in zip(a.G_avg.parameters(), b.G_avg.parameters()):
            assert torch.equal(x, y)
            assert bool(torch.isfinite(x).all())


def test_n_critic_takes_that_many_d_updates():
    method = dataclasses.replace(METHODS["WGAN-GP"], n_critic=3)
    m = sngan.train(dataclasses.replace(TINY, steps=2), method, _data(), members=2, seed=0)
    assert int(m.opt_d.state[next(iter(m.D.parameters()))]["step"]) == 6
    assert int(m.opt_g.state[next(iter(m.G.parameters()))]["step"]) == 2


def test_ttur_learning_rates():
    m = sngan.build(TINY, "WGAN-GP", 2, seed=0, device=torch.device("cpu"))
    assert m.opt_d.param_groups[0]["lr"] == pytest.approx(3 * m.opt_g.param_groups[0]["lr"])
    assert m.opt_d.param_groups[0]["betas"] == (0.0, 0.9)


def test_divergence_stops_with_a_message():
    p = dataclasses.replace(TINY, lr=1e30, steps=20)
    with pytest.raises(TrainingDiverged, match="WGAN-GP"):
        sngan.train(p, "WGAN-GP", _data(), members=2, seed=0, check_every=1)


def test_sigma_errors_small_after_many_power_steps():
    m = sngan.build(TINY, "SNGAN", 2, seed=0, device=torch.device("cpu"))
    x = _data(8).view(2, 4, 1, 8, 8)
    for sn in (x for x in m.D.modules() if isinstance(x, spectral.SpectralNorm)):
        sn.n_iter = 500
    m.D(x)                                                   # 500 power steps in every layer
    err = sngan.sigma_errors(m.D)
    assert err.shape == (3, 2) and float(err.max()) < 1e-4
    with pytest.raises(ValueError, match="spectrally"):
        sngan.sigma_errors(sngan.build(TINY, "DCGAN", 2, 0, torch.device("cpu")).D)


def test_mean_se_and_paired_match_scipy():
    a = torch.tensor([1.0, 2.5, 0.3, 4.0, 2.2], dtype=torch.float64)
    b = torch.tensor([0.5, 2.0, 0.9, 3.1, 1.0], dtype=torch.float64)
    mu, se = ablation.mean_se(a)
    assert mu == pytest.approx(float(a.mean())) and se == pytest.approx(stats.sem(a.numpy()))
    d, se_d = sngan.paired(a, b)
    assert d == pytest.approx(float((a - b).mean())) and se_d == pytest.approx(stats.sem((a - b).numpy()))
    with pytest.raises(ValueError, match="same seeds"):
        sngan.paired(a, b[:3])


def test_verdict_words():
    assert sngan.verdict("A", "B", -2.0, 1.0) == "A beats B"                # lower is better: A − B < 0
    assert sngan.verdict("A", "B", 2.0, 1.0) == "B beats A"
    assert sngan.verdict("A", "B", 0.9, 1.0) == "no detectable effect"
    assert sngan.verdict("A", "B", -1.0, 1.0) == "no detectable effect"     # equal to its standard error
    assert sngan.verdict("A", "B", 3.0, 1.0, lower_is_better=False) == "A beats B"


def test_compare_table_and_record(tmp_path):
    p = dataclasses.replace(TINY, steps=2)
    net = ablation.feature_net(p, torch.device("cpu"))
    held = ablation.heldout(p, net, torch.device("cpu"))
    c = sngan.compare(p, _data(), held, net, seed=0, n_samples=100)
    assert list(c.scores) == list(METHODS) and all(s.fid.shape == (2,) for s in c.scores.values())
    assert all(math.isfinite(float(s.fid.sum())) for s in c.scores.values())
    text = sngan.table(c)
    assert "| SNGAN − WGAN-GP |" in text and text.count("\n| DCGAN |") == 1
    sngan.main(["--preset", "cpu", "--out", str(tmp_path), "--steps", "2", "--seeds", "2"])
    assert os.path.exists(tmp_path / "sngan_cpu.md") and os.path.exists(tmp_path / "sngan_cpu.png")
    assert "WGAN-GP: loss=wasserstein" in (tmp_path / "sngan_cpu.md").read_text()


def test_bad_arguments():
    with pytest.raises(ValueError, match="loss"):
        Method("x", loss="minimax")
    with pytest.raises(ValueError, match="batch norm"):
        Method("x", gp_weight=10.0)
    with pytest.raises(ValueError, match="batch norm"):
        Method("x", spectral=True)
    with pytest.raises(ValueError, match="betas"):
        Method("x", betas=(0.5, 1.0))
    with pytest.raises(ValueError, match="n_critic"):
        Method("x", n_critic=0)
    with pytest.raises(ValueError, match="method"):
        sngan.build(TINY, "BigGAN", 2, 0, torch.device("cpu"))
    with pytest.raises(TypeError, match="method"):
        sngan.build(TINY, 3, 2, 0, torch.device("cpu"))
    with pytest.raises(ValueError, match="preset"):
        sngan.preset("tpu")
    with pytest.raises(ValueError, match="data"):
        sngan.train(TINY, "SNGAN", torch.full((4, 1, 8, 8), float("nan")), members=2, seed=0)
    with pytest.raises(TypeError, match="c must be"):
        sngan.table("table")


@pytest.mark.cuda
def test_methods_on_cuda():
    data = _data().cuda()
    for name in METHODS:
        m = sngan.train(TINY, name, data, members=2, seed=0)
        assert next(m.G_avg.parameters()).device.type == "cuda"
    err = sngan.sigma_errors(sngan.train(TINY, "SNGAN", data, members=2, seed=0).D)
    assert err.device.type == "cuda"


def test_gpu_preset_runs_on_shapes_at_small_scale():
    """The gpu preset's path (shapes, 3 channels, the shapes classifier), shrunk to run on a CPU."""
    p = dataclasses.replace(sngan.preset("gpu"), width=4, batch=8, steps=2, seeds=2, amp=False)
    assert (p.dataset, p.image_size, p.channels) == ("shapes", 32, 3)
    net = ablation.feature_net(p, torch.device("cpu"))
    held = ablation.heldout(p, net, torch.device("cpu"))
    data = dcgan.real_images(p, 64, generator=torch.Generator().manual_seed(0))
    c = sngan.compare(p, data, held, net, seed=0, n_samples=200, methods=["SNGAN"])
    assert c.scores["SNGAN"].fid.shape == (2,) and bool(torch.isfinite(c.scores["SNGAN"].fid).all())
