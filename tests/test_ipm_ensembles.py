"""ganbook.ensembles.EnsembleMLP: one batched pass equals independent networks."""
from __future__ import annotations

import pytest
import torch

from ganbook.ensembles import EnsembleMLP
from ganbook.objectives import ipm, penalties


def test_members_are_independent_networks():
    torch.manual_seed(0)
    ens = EnsembleMLP(3, 2, 1, (16, 16), squeeze=True).double()
    x = torch.randn(3 * 10, 2, dtype=torch.float64)
    out = ens(x)
    for e in range(3):
        assert torch.allclose(out[10 * e:10 * (e + 1)], ens.member(e)(x[10 * e:10 * (e + 1)]), atol=1e-12)
    # a row's gradient involves its own member only, so the per-row gradients of the flat batch are the
    # members' gradients
    grad = penalties.critic_gradient(ens, x, create_graph=False)
    for e in range(3):
        ref = penalties.critic_gradient(ens.member(e), x[10 * e:10 * (e + 1)], create_graph=False)
        assert torch.allclose(grad[10 * e:10 * (e + 1)], ref, atol=1e-12)


def test_a_mean_loss_is_the_average_of_the_members_losses():
    torch.manual_seed(1)
    ens = EnsembleMLP(2, 2, 1, (8,), squeeze=True).double()
    real, fake = torch.randn(2 * 6, 2, dtype=torch.float64), torch.randn(2 * 6, 2, dtype=torch.float64)
    flat = ipm.wasserstein_d_loss(ens(real), ens(fake))
    per = [ipm.wasserstein_d_loss(ens.member(e)(real[6 * e:6 * e + 6]), ens.member(e)(fake[6 * e:6 * e + 6]))
           for e in range(2)]
    assert float(flat.detach()) == pytest.approx(float(sum(per).detach()) / 2, rel=1e-12)


def test_bad_input():
    ens = EnsembleMLP(3, 2, 2)
    with pytest.raises(ValueError, match="multiple"):
        ens(torch.randn(10, 2))
    with pytest.raises(ValueError, match="last dimension"):
        ens(torch.randn(9, 3))
    with pytest.raises(ValueError, match="squeeze"):
        EnsembleMLP(2, 2, 3, squeeze=True)
