"""Spectral normalisation (ganbook.spectral) against independent references: exact singular values
(torch.linalg.svdvals), torch's own spectral_norm parametrization, empirical Lipschitz ratios, and
the dense matrix of a convolution."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations

from ganbook.spectral import (SpectralNorm, apply_spectral_norm, as_matrix, conv_operator_norm, kernel_norm,
                              lipschitz_bound, power_iteration, spectral_norm)


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
