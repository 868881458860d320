"""ganbook.nets.BatchedMLP: one batched pass equals independent networks (nn.Linear layers built by
hand from the same weights), in both layouts, with both initialisations, and from existing MLPs."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganbook import nets
from ganbook.objectives import ipm, penalties

ACT = {"relu": torch.relu, "tanh": torch.tanh, "leaky_relu": lambda h: nn.functional.leaky_relu(h, 0.2),
       "elu": nn.functional.elu}


def _independent(net: nets.BatchedMLP, s: int) -> list[nn.Linear]:
    """Member s as separate nn.Linear layers (weights copied from the stacked parameters)."""
    layers = []
    for w, b in zip(net.weights, net.biases):
        lin = nn.Linear(w.shape[1], w.shape[2]).double()
        with torch.no_grad():
            lin.weight.copy_(w[s].T)
            lin.bias.copy_(b[s, 0])
        layers.append(lin)
    return layers


def _apply(layers: list[nn.Linear], x: torch.Tensor, activation: str) -> torch.Tensor:
    for i, lin in enumerate(layers):
        x = lin(x)
        if i < len(layers) - 1:
            x = ACT[activation](x)
    return x


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "elu"])
def test_both_layouts_equal_independent_networks(activation):
    torch.manual_seed(0)
    net = nets.BatchedMLP(3, 2, (16, 8), members=4, activation=activation).double()
    x = torch.randn(4, 10, 3, dtype=torch.float64)
    stacked, rows = net(x), net(x.reshape(40, 3))
    assert stacked.shape == (4, 10, 2) and rows.shape == (40, 2)
    assert torch.equal(rows, stacked.reshape(40, 2))
    for s in range(4):
        ref = _apply(_independent(net, s), x[s], activation)
        assert torch.allclose(stacked[s], ref, atol=1e-12)
        assert torch.allclose(net.member(s)(x[s]), ref, atol=1e-12)
    assert net.features(x).shape == (4, 10, 8)
    assert net.sizes == [3, 16, 8, 2] and net.members == 4


def test_squeezed_scores_and_split():
    torch.manual_seed(1)
    net = nets.BatchedMLP(2, 1, (8,), members=3, squeeze=True).double()
    x = torch.randn(3 * 5, 2, dtype=torch.float64)
    out = net(x)
    assert out.shape == (15,) and net(net.split(x)).shape == (3, 5)
    for s in range(3):
        ref = _apply(_independent(net, s), x[5 * s:5 * s + 5], "relu")[:, 0]
        assert torch.allclose(out[5 * s:5 * s + 5], ref, atol=1e-12)
        assert net.member(s)(x[5 * s:5 * s + 5]).shape == (5,)


def test_global_init_is_nn_linear_s_law_drawn_layer_by_layer():
    """members=E draws every layer's weights (E, a, b), then its biases (E, 1, b), uniform in ±1/√a
    from the global stream, in this order (the order the book's recorded numbers depend on)."""
    torch.manual_seed(3)
    net = nets.BatchedMLP(2, 1, (64, 32), members=5)
    torch.manual_seed(3)
    for (a, b), w, c in zip([(2, 64), (64, 32), (32, 1)], net.weights, net.biases):
        bound = 1 / math.sqrt(a)
        assert torch.equal(w, torch.empty(5, a, b).uniform_(-bound, bound))
        assert torch.equal(c, torch.empty(5, 1, b).uniform_(-bound, bound))


def test_member_s_depends_on_its_own_generator_only():
    gens = lambda seeds: [torch.Generator().manual_seed(s) for s in seeds]
    many = nets.BatchedMLP(2, 2, (16, 16), generators=gens([10, 11, 12]), activation="leaky_relu")
    for s, seed in enumerate([10, 11, 12]):
        alone = nets.BatchedMLP(2, 2, (16, 16), generators=gens([seed]), activation="leaky_relu")
        for w, w1 in zip([*many.weights, *many.biases], [*alone.weights, *alone.biases]):
            assert torch.equal(w[s], w1[0])
    for w, (a, b) in zip(many.weights, [(2, 16), (16, 16), (16, 2)]):
        assert w.shape == (3, a, b) and float(w.detach().abs().max()) <= 1 / math.sqrt(a)


def test_from_nets_stacks_existing_mlps():
    torch.manual_seed(4)
    mlps = [nets.mlp(2, 1, (8, 8), activation="tanh", squeeze=True).double() for _ in range(3)]
    state = torch.get_rng_state()
    net = nets.BatchedMLP.from_nets(mlps, squeeze=True)
    assert torch.equal(torch.get_rng_state(), state)           # nothing drawn from the global stream
    assert net.weights[0].dtype == torch.float64 and all(p.requires_grad for p in net.parameters())
    assert net.activation == "tanh" and net.sizes == [2, 8, 8, 1]
    x = torch.randn(3, 6, 2, dtype=torch.float64)
    out = net(x)
    for s in range(3):
        assert torch.allclose(out[s], mlps[s](x[s]), atol=1e-12)
    leaky = nets.BatchedMLP.from_nets([nets.mlp(2, 2, (4,), activation="leaky_relu")])
    assert leaky.activation == "leaky_relu"


def test_per_row_gradients_and_mean_losses_are_the_members():
    """A row's gradient involves its own member only, and a loss that is a mean over rows is the
    average of the members' losses: each member follows its own gradient."""
    torch.manual_seed(5)
    net = nets.BatchedMLP(2, 1, (16, 16), members=3, squeeze=True).double()
    x = torch.randn(3 * 10, 2, dtype=torch.float64)
    grad = penalties.critic_gradient(net, x, create_graph=False)
    for s in range(3):
        ref = penalties.critic_gradient(net.member(s), x[10 * s:10 * (s + 1)], create_graph=False)
        assert torch.allclose(grad[10 * s:10 * (s + 1)], ref, atol=1e-12)
    real, fake = x, torch.randn(3 * 10, 2, dtype=torch.float64)
    flat = ipm.wasserstein_d_loss(net(real), net(fake))
    per = [ipm.wasserstein_d_loss(net.member(s)(real[10 * s:10 * s + 10]), net.member(s)(fake[10 * s:10 * s + 10]))
           for s in range(3)]
    assert float(flat.detach()) == pytest.approx(float(sum(per).detach()) / 3, rel=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="exactly one of members"):
        nets.BatchedMLP(2, 1)
    with pytest.raises(ValueError, match="exactly one of members"):
        nets.BatchedMLP(2, 1, members=2, generators=[torch.Generator()])
    with pytest.raises(TypeError, match="generators"):
        nets.BatchedMLP(2, 1, generators=[0, 1])
    with pytest.raises(ValueError, match="members"):
        nets.BatchedMLP(2, 1, members=0)
    with pytest.raises(ValueError, match="activation"):
        nets.BatchedMLP(2, 1, members=2, activation="gelu")
    with pytest.raises(ValueError, match="squeeze"):
        nets.BatchedMLP(2, 3, members=2, squeeze=True)
    with pytest.raises(ValueError, match=r"hidden\[1\]"):
        nets.BatchedMLP(2, 1, (8, 0), members=2)
    net = nets.BatchedMLP(2, 2, members=3)
    with pytest.raises(ValueError, match="x must have shape"):
        net(torch.randn(10, 2))                       # 10 rows do not split among 3 members
    with pytest.raises(ValueError, match="x must have shape"):
        net(torch.randn(9, 3))                        # wrong input width
    with pytest.raises(ValueError, match="x must have shape"):
        net(torch.randn(2, 4, 2))                     # 2 blocks for 3 members
    with pytest.raises(ValueError, match="multiple"):
        net.split(torch.randn(10, 2))
    with pytest.raises(ValueError, match="e must lie"):
        net.member(3)
    with pytest.raises(ValueError, match="non-empty"):
        nets.BatchedMLP.from_nets([])
    with pytest.raises(ValueError, match="one shape"):
        nets.BatchedMLP.from_nets([nets.mlp(2, 1, (8,)), nets.mlp(2, 1, (4,))])
    with pytest.raises(ValueError, match="Softplus"):
        nets.BatchedMLP.from_nets([nets.mlp(2, 1, (8,), activation="softplus")])
