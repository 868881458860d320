"""Spectral normalisation (ganbook.spectral) against independent references: exact singular values
(torch.linalg.svdvals), torch's own spectral_norm parametrization, empirical Lipschitz ratios, and
the dense matrix of a convolution."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations, parametrize

from ganbook import dcgan
from ganbook.spectral import (SpectralNorm, apply_spectral_norm, as_matrix, conv_operator_norm, conv_operator_norms,
                              kernel_norm, kernel_norms, lipschitz_bound, lipschitz_bounds, power_iteration,
                              spectral_norm)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _unit(n: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    u = torch.randn(n, generator=_gen(seed), dtype=dtype)
    return u / u.norm()


def _top_sv(matrix: torch.Tensor) -> float:
    return float(torch.linalg.svdvals(matrix.detach().double())[0])


# --- power iteration -------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: nn.Linear(20, 12), lambda: nn.Conv2d(3, 8, 3)], ids=["linear", "conv2d"])
def test_power_iteration_converges_to_the_top_singular_value(make):
    torch.manual_seed(0)
    weight = make().weight.detach()
    matrix = weight.reshape(weight.shape[0], -1)
    sigma, u, v = power_iteration(weight, _unit(weight.shape[0], 1), n_iter=500)
    assert abs(float(sigma) - _top_sv(matrix)) <= 1e-4 * _top_sv(matrix)
    assert not u.requires_grad and not v.requires_grad
    torch.testing.assert_close(u.norm(), torch.tensor(1.0))
    torch.testing.assert_close(v.norm(), torch.tensor(1.0))


def test_one_step_underestimates():
    torch.manual_seed(1)
    weight = torch.randn(10, 6)
    exact = _top_sv(weight)
    for seed in range(20):
        sigma, _, _ = power_iteration(weight, _unit(10, seed), n_iter=1)
        assert float(sigma) <= exact * (1 + 1e-6)
        assert float(sigma) > 0


def test_sigma_is_differentiable_in_w_with_u_v_held_constant():
    torch.manual_seed(2)
    weight = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    sigma, u, v = power_iteration(weight, _unit(5, 3, torch.float64), n_iter=3)
    sigma.backward()
    torch.testing.assert_close(weight.grad, torch.outer(u, v))      # ∂(uᵀWv)/∂W = u vᵀ


def test_transposed_conv_reshapes_with_dim_1_first():
    w = torch.randn(4, 6, 3, 3)                                        # ConvTranspose2d(4, 6, 3): (in, out, kh, kw)
    assert as_matrix(w, 1).shape == (6, 36)
    torch.testing.assert_close(as_matrix(w, 1)[2], w[:, 2].reshape(-1))


# --- the parametrization, against torch's ----------------------------------------------------------

def test_matches_torch_spectral_norm_step_by_step_on_the_transpose():
    """torch keeps v and updates u first: it is the paper's iteration on Wᵀ. On Wᵀ, with torch's v set to
    our u, both give the same normalised weight at every training step."""
    torch.manual_seed(3)
    ours = spectral_norm(nn.Linear(7, 5), generator=_gen(4))
    sn = ours.parametrizations.weight[0]
    ref = nn.Linear(5, 7, bias=False)
    with torch.no_grad():
        ref.weight.copy_(ours.parametrizations.weight.original.t())
    parametrizations.spectral_norm(ref, n_power_iterations=1)
    ref_sn = ref.parametrizations.weight[0]
    with torch.no_grad():
        ref_sn._v.copy_(sn.u)
    for _ in range(6):
        torch.testing.assert_close(ours.weight, ref.weight.t())        # one training-mode forward each
        torch.testing.assert_close(sn.u, ref_sn._v)
        torch.testing.assert_close(sn.v, ref_sn._u)


@pytest.mark.parametrize("make", [lambda: nn.Linear(9, 6), lambda: nn.Conv2d(3, 5, 3),
                                  lambda: nn.ConvTranspose2d(4, 3, 3)], ids=["linear", "conv2d", "conv_transpose2d"])
def test_same_u_as_torch_and_same_weight_in_eval(make):
    """On W itself, started from torch's u, our u follows torch's u step for step (the same reshape,
    dim 1 first for a transposed conv); with the same (u, v), eval mode gives the same weight and
    updates nothing."""
    torch.manual_seed(5)
    ref = make()
    ours = copy.deepcopy(ref)
    parametrizations.spectral_norm(ref)                                # after its init, v = Wᵀu/‖Wᵀu‖
    spectral_norm(ours)
    sn, ref_sn = ours.parametrizations.weight[0], ref.parametrizations.weight[0]
    with torch.no_grad():
        sn.u.copy_(ref_sn._u)
    for _ in range(5):
        ours.weight, ref.weight                                        # noqa: B018 - one training step each
        torch.testing.assert_close(sn.u, ref_sn._u)
    with torch.no_grad():
        ref_sn._v.copy_(sn.v)
    ours.eval()
    ref.eval()
    u, v, w = sn.u.clone(), sn.v.clone(), ours.weight
    for _ in range(3):
        torch.testing.assert_close(ours.weight, ref.weight)
    assert torch.equal(sn.u, u) and torch.equal(sn.v, v) and torch.equal(ours.weight, w)


def test_normalised_weight_has_spectral_norm_one():
    torch.manual_seed(6)
    for layer in (nn.Linear(16, 10), nn.Conv2d(3, 6, 3), nn.ConvTranspose2d(6, 3, 4)):
        spectral_norm(layer, generator=_gen(7))
        for _ in range(300):
            weight = layer.weight
        dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0
        assert abs(_top_sv(as_matrix(weight, dim)) - 1.0) < 1e-4
        assert abs(kernel_norm(layer) - 1.0) < 1e-4


def test_u_comes_from_the_generator_and_persists():
    a = spectral_norm(nn.Linear(4, 6), generator=_gen(8))
    b = spectral_norm(nn.Linear(4, 6), generator=_gen(8))
    ua, ub = a.parametrizations.weight[0].u, b.parametrizations.weight[0].u
    assert torch.equal(ua, ub)
    torch.testing.assert_close(ua.norm(), torch.tensor(1.0))
    u = torch.randn(6, generator=_gen(8))
    torch.testing.assert_close(ua, u / u.norm())                      # the draw itself: no step at registration
    assert {"parametrizations.weight.0.u", "parametrizations.weight.0.v"} <= set(a.state_dict())


def test_gradient_flows_to_the_unnormalised_weight():
    torch.manual_seed(9)
    layer = spectral_norm(nn.Linear(3, 4), generator=_gen(10))
    layer(torch.randn(8, 3)).pow(2).sum().backward()
    assert layer.parametrizations.weight.original.grad is not None


def test_apply_spectral_norm_covers_every_layer():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 6 * 6, 1))
    apply_spectral_norm(net, generator=_gen(11))
    assert all(isinstance(net[i].parametrizations.weight[0], SpectralNorm) for i in (0, 3))
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 1)


# --- Lipschitz bound -------------------------------------------------------------------------------

def _empirical_lipschitz(net: nn.Module, dim: int, n: int = 2000) -> tuple[float, float]:
    """Two lower bounds of the Lipschitz constant: the largest ratio over random pairs (far and close),
    and the largest Jacobian spectral norm over random points."""
    g = _gen(12)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    y = torch.cat([torch.randn(n // 2, dim, generator=g, dtype=torch.float64),
                   x[n // 2:] + 1e-3 * torch.randn(n - n // 2, dim, generator=g, dtype=torch.float64)])
    with torch.no_grad():
        ratio = ((net(x) - net(y)).norm(dim=1) / (x - y).norm(dim=1)).max()
    jac = torch.func.vmap(torch.func.jacrev(net))(x).detach()        # (n, out, in)
    return float(ratio), float(torch.linalg.matrix_norm(jac, ord=2).max())


def test_lipschitz_bound_is_an_upper_bound():
    torch.manual_seed(13)
    net = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    ratio, grad = _empirical_lipschitz(net, 3)
    exact = _top_sv(net[0].weight) * _top_sv(net[2].weight) * _top_sv(net[4].weight)
    bound = lipschitz_bound(net)
    assert bound == pytest.approx(exact, rel=1e-10)
    assert bound >= ratio and bound >= grad * (1 - 1e-9)


def test_lipschitz_bound_is_loose_for_a_deep_net():
    torch.manual_seed(14)
    layers = []
    for _ in range(8):
        layers += [nn.Linear(16, 16), nn.ReLU()]
    net = nn.Sequential(*layers, nn.Linear(16, 4)).double()
    ratio, grad = _empirical_lipschitz(net, 16)
    assert lipschitz_bound(net) > 4 * max(ratio, grad)


def test_spectrally_normalised_mlp_is_1_lipschitz():
    torch.manual_seed(15)
    net = apply_spectral_norm(nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                                            nn.Linear(32, 1)), n_iter=200, generator=_gen(16))
    net(torch.zeros(1, 2))                                             # one forward: 200 steps per layer
    weights = [net[i].parametrizations.weight[0].u.clone() for i in (0, 2, 4)]
    assert lipschitz_bound(net) == pytest.approx(1.0, abs=1e-3)
    assert all(torch.equal(w, net[i].parametrizations.weight[0].u) for w, i in zip(weights, (0, 2, 4)))
    assert net.training                                                # bound read in eval, mode restored


# --- convolutions: the reshaped kernel is not the operator ----------------------------------------

def _dense(conv: nn.Module, shape: tuple[int, int, int]) -> torch.Tensor:
    """The matrix of x ↦ conv(x) − conv(0), column j = the image of the j-th basis input."""
    n = shape[0] * shape[1] * shape[2]
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    with torch.no_grad():
        images = conv(basis) - conv(torch.zeros(1, *shape, dtype=torch.float64))
    return images.reshape(n, -1).t()


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Conv2d(1, 2, 3, padding=1), (1, 5, 5)),
    (lambda: nn.Conv2d(2, 3, 3, stride=2), (2, 6, 6)),
    (lambda: nn.ConvTranspose2d(2, 1, 3, stride=2), (2, 3, 3)),
], ids=["conv", "strided", "transposed"])
def test_conv_operator_norm_matches_the_dense_matrix(make, shape):
    torch.manual_seed(17)
    conv = make().double()
    exact = _top_sv(_dense(conv, shape))
    assert conv_operator_norm(conv, shape, n_iter=500, generator=_gen(18)) == pytest.approx(exact, rel=1e-4)


def test_kernel_norm_is_not_the_operator_norm():
    box = nn.Conv2d(1, 1, 3, padding=1, bias=False).double()
    with torch.no_grad():
        box.weight.fill_(1.0)                                          # kernel norm 3, a blur of gain ≈ 9
    big = conv_operator_norm(box, (1, 5, 5), n_iter=500, generator=_gen(19))
    assert big == pytest.approx(_top_sv(_dense(box, (1, 5, 5))), rel=1e-6)
    assert kernel_norm(box) == pytest.approx(3.0) and big > 2 * kernel_norm(box)
    torch.manual_seed(20)
    conv = nn.Conv2d(1, 1, 3, padding=1).double()
    small = conv_operator_norm(conv, (1, 1, 1), n_iter=10)            # one pixel: only the centre tap acts
    assert small == pytest.approx(abs(float(conv.weight[0, 0, 1, 1].detach())), rel=1e-9)
    assert small < kernel_norm(conv)
    wide = nn.Conv2d(3, 4, 3, padding=1).double()                      # stride 1: ≤ √(kh·kw) · kernel norm
    assert conv_operator_norm(wide, (3, 8, 8), n_iter=300, generator=_gen(21)) <= 3 * kernel_norm(wide) * (1 + 1e-9)


# --- bad arguments ---------------------------------------------------------------------------------

def test_bad_arguments_raise():
    lin = nn.Linear(3, 5)
    with pytest.raises(TypeError, match="module"):
        spectral_norm(nn.BatchNorm1d(3))
    with pytest.raises(ValueError, match="n_iter"):
        spectral_norm(nn.Linear(3, 5), n_iter=0)
    with pytest.raises(TypeError, match="generator"):
        spectral_norm(nn.Linear(3, 5), generator=3)
    with pytest.raises(ValueError, match="name"):
        spectral_norm(nn.Linear(3, 5), name="nope")
    spectral_norm(lin)
    with pytest.raises(ValueError, match="already"):
        spectral_norm(lin)
    w = torch.randn(5, 3)
    with pytest.raises(ValueError, match="u must have shape"):
        power_iteration(w, torch.randn(3))
    with pytest.raises(ValueError, match="n_iter"):
        power_iteration(w, torch.randn(5), n_iter=0)
    with pytest.raises(TypeError, match="u"):
        power_iteration(w, torch.randn(5, dtype=torch.float64))
    with pytest.raises(ValueError, match="weight"):
        power_iteration(torch.randn(5), torch.randn(5))
    with pytest.raises(TypeError, match="net"):
        apply_spectral_norm("net")
    with pytest.raises(ValueError, match="no nn.Linear"):
        apply_spectral_norm(nn.ReLU())
    with pytest.raises(ValueError, match="BatchNorm1d"):
        lipschitz_bound(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)))
    conv = nn.Conv2d(2, 3, 3)
    with pytest.raises(ValueError, match="input_shape"):
        conv_operator_norm(conv, (5, 5))
    with pytest.raises(ValueError, match="channels"):
        conv_operator_norm(conv, (1, 5, 5))
    with pytest.raises(TypeError, match="conv"):
        conv_operator_norm(nn.Linear(2, 2), (2, 5, 5))


# --- CUDA ------------------------------------------------------------------------------------------

@pytest.mark.cuda
def test_spectral_norm_on_cuda():
    torch.manual_seed(22)
    net = apply_spectral_norm(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 1)),
                              generator=_gen(23)).to("cuda")
    sn = net[3].parametrizations.weight[0]
    assert sn.u.device.type == "cuda" and sn.v.device.type == "cuda"
    x = torch.randn(8, 1, 8, 8, device="cuda")
    for _ in range(200):
        net(x).sum().backward()
    assert abs(_top_sv(net[3].weight) - 1.0) < 1e-4
    assert lipschitz_bound(net) == pytest.approx(1.0, abs=1e-3)
    conv = nn.Conv2d(1, 2, 3, padding=1).double().cuda()
    exact = _top_sv(_dense(copy.deepcopy(conv).cpu(), (1, 5, 5)))
    assert conv_operator_norm(conv, (1, 5, 5), n_iter=500) == pytest.approx(exact, rel=1e-4)


# --- members: one σ per member of a grouped network ------------------------------------------------

def _member_blocks(layer: nn.Module, E: int) -> list[torch.Tensor]:
    """Each member's weight as its own matrix (out, −1), sliced by hand: a grouped conv's kernel
    chunked along dim 0 (a transposed conv's then read with its dim 1 first), a MemberLinear's W[e]ᵀ."""
    w = layer.weight.detach()
    if isinstance(layer, dcgan.MemberLinear):
        return [w[e].t() for e in range(E)]
    blocks = w.chunk(E, dim=0)
    if isinstance(layer, nn.ConvTranspose2d):
        return [b.transpose(0, 1).reshape(b.shape[1], -1) for b in blocks]
    return [b.reshape(b.shape[0], -1) for b in blocks]


_GROUPED = [lambda: nn.Conv2d(3 * 2, 3 * 5, 4, stride=2, padding=1, groups=3),
            lambda: nn.ConvTranspose2d(3 * 4, 3 * 2, 4, stride=2, padding=1, groups=3),
            lambda: dcgan.MemberLinear(3, 7, 4)]
_IDS = ["conv2d", "conv_transpose2d", "member_linear"]


@pytest.mark.parametrize("make", _GROUPED, ids=_IDS)
def test_member_power_iteration_converges_to_each_members_svd(make):
    torch.manual_seed(30)
    layer = make().double()
    with torch.no_grad():
        layer.weight.normal_()
    E = 3
    dim = 2 if isinstance(layer, dcgan.MemberLinear) else (1 if isinstance(layer, nn.ConvTranspose2d) else 0)
    blocks = _member_blocks(layer, E)
    u = torch.randn(E, blocks[0].shape[0], generator=_gen(31), dtype=torch.float64)
    u = u / u.norm(dim=1, keepdim=True)
    sigma, u_new, v_new = power_iteration(layer.weight.detach(), u, n_iter=2000, dim=dim, members=E)
    assert sigma.shape == (E,) and u_new.shape == u.shape and v_new.shape == (E, blocks[0].shape[1])
    for e in range(E):
        assert float(sigma[e]) == pytest.approx(_top_sv(blocks[e]), rel=1e-8)
        torch.testing.assert_close(as_matrix(layer.weight.detach(), dim, E)[e], blocks[e])
    torch.testing.assert_close(kernel_norms(layer, E), torch.stack([torch.tensor(_top_sv(b)) for b in blocks]).double())


@pytest.mark.parametrize("make", _GROUPED, ids=_IDS)
def test_members_follow_torch_spectral_norm_block_by_block(make):
    """Member e of a grouped layer, normalised with members=E, takes the same power steps as torch's
    parametrization on member e's block alone (as a layer of its own, started from the same u)."""
    torch.manual_seed(32)
    layer = make()
    E = 3
    ours = spectral_norm(copy.deepcopy(layer), members=E, generator=_gen(33))
    sn = ours.parametrizations.weight[0]
    refs = []
    for e, block in enumerate(_member_blocks(layer, E)):
        ref = nn.Linear(block.shape[1], block.shape[0], bias=False)       # torch's SN of W_e (out, −1)
        with torch.no_grad():
            ref.weight.copy_(block)
        parametrizations.spectral_norm(ref)
        with torch.no_grad():                                             # torch's state after its init:
            ref.parametrizations.weight[0]._u.copy_(sn.u[e])              # v = Wᵀu/‖Wᵀu‖ for its u
            v = block.t().mv(sn.u[e])
            ref.parametrizations.weight[0]._v.copy_(v / v.norm())
        refs.append(ref)
    for _ in range(5):
        ours.weight                                                       # noqa: B018 - one step, every member
        for e, ref in enumerate(refs):
            ref.weight                                                    # noqa: B018 - one step
            torch.testing.assert_close(sn.u[e], ref.parametrizations.weight[0]._u)
    with torch.no_grad():                                                 # eval: the same (u, v) → the same W̄
        for e, ref in enumerate(refs):
            ref.parametrizations.weight[0]._v.copy_(sn.v[e])
    ours.eval()
    matrices = as_matrix(ours.weight, _out(ours), E)
    for e, ref in enumerate(refs):
        ref.eval()
        torch.testing.assert_close(matrices[e], ref.weight)


def _out(layer: nn.Module) -> int:
    return 2 if isinstance(layer, dcgan.MemberLinear) else (1 if isinstance(layer, nn.ConvTranspose2d) else 0)


def test_member_discriminator_each_member_normalised():
    torch.manual_seed(34)
    E = 3
    D = dcgan.Discriminator(8, 1, 4, guidelines=dcgan.Guidelines(batch_norm=False), members=E).double()
    apply_spectral_norm(D, n_iter=300, members=E, generator=_gen(35))
    x = torch.randn(E, 5, 1, 8, 8, dtype=torch.float64)
    D(x)                                                                  # 300 steps per layer
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, dcgan.MemberLinear))]
    assert len(layers) == 3
    for layer in layers:
        with torch.no_grad():
            D.eval()
            for block in _member_blocks(layer, E):
                assert _top_sv(block) == pytest.approx(1.0, abs=1e-4)
            D.train()
    bounds = lipschitz_bounds(D, E)
    assert bounds.shape == (E,)
    torch.testing.assert_close(bounds, torch.ones(E, dtype=torch.float64), atol=1e-3, rtol=0)
    # a member's bound is the product of its own blocks' exact norms
    D.eval()
    by_hand = [math.prod(_top_sv(_member_blocks(layer, E)[e]) for layer in layers) for e in range(E)]
    torch.testing.assert_close(bounds, torch.tensor(by_hand, dtype=torch.float64))
    # gradient: each member's loss reaches only its own block
    D.train()
    D(x)[1].sum().backward()
    grad = layers[0].parametrizations.weight.original.grad.chunk(E, dim=0)
    assert float(grad[0].abs().max()) == 0 and float(grad[2].abs().max()) == 0 and float(grad[1].abs().max()) > 0


def test_member_conv_operator_norms_match_each_members_dense_matrix():
    torch.manual_seed(36)
    E, shape = 3, (2, 6, 6)
    conv = nn.Conv2d(E * 2, E * 3, 4, stride=2, padding=1, groups=E).double()
    norms = conv_operator_norms(conv, shape, E, n_iter=500, generator=_gen(37))
    for e in range(E):
        single = nn.Conv2d(2, 3, 4, stride=2, padding=1).double()
        with torch.no_grad():
            single.weight.copy_(conv.weight.chunk(E, 0)[e])
            single.bias.copy_(conv.bias.chunk(E, 0)[e])
        assert float(norms[e]) == pytest.approx(_top_sv(_dense(single, shape)), rel=1e-4)
        # eq. (ch6-conv-norm): a receptive field fits inside 6×6, so ‖K‖ ≤ ‖A‖ ≤ √m ‖K‖ with m = (4/2)² = 4
        k = kernel_norm(single)
        assert k * (1 - 1e-6) <= float(norms[e]) <= 2 * k * (1 + 1e-6)


def test_power_iteration_under_autocast_stays_in_float32():
    torch.manual_seed(38)
    w = torch.randn(32, 48)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sigma, u, _ = power_iteration(w, _unit(32, 39), n_iter=1000)
    assert sigma.dtype == torch.float32 and u.dtype == torch.float32
    assert float(sigma) == pytest.approx(_top_sv(w), rel=1e-5)


def test_one_step_error_follows_the_closed_form():
    """eq. (ch6-sn-rate): after k steps from u₀ = Σ cᵢuᵢ, σ̃² = Σ cᵢ²σᵢ^{4k} / Σ cᵢ²σᵢ^{4k−2}."""
    g = _gen(40)
    U, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    Vt, _ = torch.linalg.qr(torch.randn(9, 9, generator=g, dtype=torch.float64))
    s = torch.tensor([2.0, 1.8, 1.0, 0.5, 0.3, 0.1], dtype=torch.float64)
    W = U @ torch.diag(s) @ Vt[:6]
    u = _unit(6, 41, torch.float64)
    c = U.t() @ u
    for k in (1, 2, 5, 20):
        sigma, _, _ = power_iteration(W, u, n_iter=k)
        closed = torch.sqrt((c**2 * s ** (4 * k)).sum() / (c**2 * s ** (4 * k - 2)).sum())
        assert float(sigma) == pytest.approx(float(closed), rel=1e-12)


def test_member_bad_arguments_raise():
    conv = nn.Conv2d(6, 9, 3, groups=3)
    with pytest.raises(ValueError, match="groups"):
        spectral_norm(copy.deepcopy(conv), members=2)
    with pytest.raises(ValueError, match="members"):
        spectral_norm(nn.Linear(3, 4), members=2)
    with pytest.raises(ValueError, match="members"):
        spectral_norm(dcgan.MemberLinear(3, 2, 2), members=2)
    D = dcgan.Discriminator(8, 1, 4, guidelines=dcgan.Guidelines(batch_norm=False), members=2)
    with pytest.raises(ValueError, match="members="):
        apply_spectral_norm(D)
    with pytest.raises(ValueError, match="groups"):
        apply_spectral_norm(copy.deepcopy(D), members=3)
    assert not any(parametrize.is_parametrized(m) for m in D.modules())   # nothing changed on failure
    with pytest.raises(ValueError, match="u must have shape"):
        power_iteration(torch.randn(6, 4), torch.randn(3, 3), members=3)
    with pytest.raises(ValueError, match="divide"):
        as_matrix(torch.randn(7, 4), members=3)
    with pytest.raises(TypeError, match="lipschitz_bounds"):
        lipschitz_bound(D)
    with pytest.raises(TypeError, match="kernel_norms"):
        kernel_norm(D.head)
    with pytest.raises(ValueError, match="channels"):
        conv_operator_norms(conv, (6, 5, 5), 3)
    with pytest.raises(TypeError, match="members"):
        conv_operator_norms(conv, (2, 5, 5), 3.0)


# --- the exercise check ----------------------------------------------------------------------------

def test_check_power_step_accepts_a_correct_step_and_explains_mistakes():
    from ganbook.check import CheckFailed
    from ganbook.check.spectral import power_step

    def correct(W, u):                                                 # written from the equation, not the package
        v = W.t() @ u
        v = v / v.norm()
        u_new = W @ v
        u_new = u_new / u_new.norm()
        return u_new @ W @ v, u_new

    assert power_step(correct, quiet=True).startswith("✓")
    wrong = {
        "before u is updated": lambda W, u: ((W.t() @ u).norm(), correct(W, u)[1]),
        "unnormalised": lambda W, u: (correct(W, u)[0], W @ ((W.t() @ u) / (W.t() @ u).norm())),
        "Frobenius": lambda W, u: (torch.linalg.matrix_norm(W), correct(W, u)[1]),
    }
    for hint, fn in wrong.items():
        with pytest.raises(CheckFailed, match=hint):
            power_step(fn, quiet=True)
    with pytest.raises(CheckFailed, match="pair"):
        power_step(lambda W, u: correct(W, u)[0], quiet=True)
    with pytest.raises(CheckFailed, match="sigma should be a number"):
        power_step(lambda W, u: (u, u), quiet=True)
    with pytest.raises(TypeError, match="fn"):
        power_step("step")
