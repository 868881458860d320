"""Trainer checks at construction, on one sample batch, that the samplers, the latent size, the data
size, the dtypes and the device fit the networks, and says which does not (issue 23, item 6)."""
import copy

import pytest
import torch
from torch import nn

import ganbook
from ganbook import data, nets, train


def _nets(latent=2, data_dim=2):
    ganbook.seed(0)
    return nets.mlp(latent, data_dim, (16,)), nets.mlp(data_dim, 1, (16,), squeeze=True)


def _make(G=None, D=None, real=None, z=None, **kw):
    G0, D0 = _nets()
    kw.setdefault("batch_size", 8)
    return train.Trainer(G or G0, D or D0, "nonsaturating", real or data.ring().sample, z or data.latent(2), **kw)


def test_a_good_setup_passes():
    _make()


def test_sampler_with_the_wrong_signature():
    with pytest.raises(TypeError, match=r"sample_real must have the signature sample\(n, generator\)"):
        _make(real=lambda n: torch.randn(n, 2))
    with pytest.raises(TypeError, match=r"sample_z must have the signature .* but it is sample_z\(\)"):
        _make(z=lambda: torch.randn(8, 2))


def test_latent_size_mismatch_names_the_latent_size():
    G, D = _nets(latent=2)
    with pytest.raises(ValueError, match=r"G does not accept the latent batch from sample_z, of shape \(8, 3\) "
                                         r"\(its first layer, Linear, takes 2 input features\): the latent size"):
        _make(G, D, z=data.latent(3))


def test_data_size_mismatch_names_the_data_size():
    G, D = _nets(latent=2, data_dim=2)
    with pytest.raises(ValueError, match=r"G makes samples of shape \(2,\) but sample_real gives samples of "
                                         r"shape \(3,\)"):
        _make(G, D, real=lambda n, g: torch.randn(n, 3, generator=g))
    G, D3 = nets.mlp(2, 3, (16,)), nets.mlp(2, 1, (16,), squeeze=True)     # G fits the data, D does not
    with pytest.raises(ValueError, match=r"D does not accept the real batch from sample_real, of shape \(8, 3\) "
                                         r"\(its first layer, Linear, takes 2 input features\): the data size"):
        _make(G, D3, real=lambda n, g: torch.randn(n, 3, generator=g))


def test_batched_members_report_their_input_size():
    G = nets.BatchedMLP(2, 2, (8,), members=2)
    with pytest.raises(ValueError, match=r"takes 2 input features"):
        _make(G, z=data.latent(5))


def test_dtype_mismatch_names_both_dtypes():
    with pytest.raises(TypeError, match=r"sample_real gives torch.float64 tensors but D's parameters are "
                                        r"torch.float32"):
        _make(real=lambda n, g: torch.randn(n, 2, generator=g, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"sample_z gives torch.float64 tensors but G's parameters"):
        _make(z=lambda n, g: torch.randn(n, 2, generator=g, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"must be a floating-point tensor"):
        _make(real=lambda n, g: torch.randint(0, 5, (n, 2), generator=g))


def test_sampler_must_return_n_rows():
    with pytest.raises(ValueError, match=r"must return n rows: asked for n = 8, got shape \(4, 2\)"):
        _make(real=lambda n, g: torch.randn(4, 2, generator=g))


def test_networks_without_parameters():
    with pytest.raises(ValueError, match="D has no parameters"):
        _make(D=nn.Identity())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine_explains_itself():
    with pytest.raises(ValueError, match="device='cuda': CUDA is not available on this machine"):
        _make(device="cuda")
    with pytest.raises(ValueError, match="not available"):
        _make(device=torch.device("cuda:0"))


def test_the_check_changes_no_training_result():
    """The first step uses the checked batches and moves the stream on as drawing them would have:
    compared with a hand-written loop over the same stream (an independent reference), the losses
    and parameters are equal, and a BatchNorm's running statistics did not move during the check."""
    ganbook.seed(0)
    G = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    D = nets.mlp(2, 1, (16,), squeeze=True)
    G_ref, D_ref = copy.deepcopy(G), copy.deepcopy(D)
    calls = {"real": 0}

    def real(n, g):
        calls["real"] += 1
        return data.ring().sample(n, g)

    sgd = lambda net: torch.optim.SGD(net.parameters(), lr=0.05)   # Adam would magnify rounding near 0
    t = train.Trainer(G, D, "nonsaturating", real, data.latent(2), batch_size=16, seed=5,
                      opt_g=sgd(G), opt_d=sgd(D))
    assert torch.equal(t.G[1].running_mean, torch.zeros(16)) and calls["real"] == 1
    t.run(3, progress=False)
    assert calls["real"] == 3                         # one call per critic step, the check's included

    rng = torch.Generator().manual_seed(5)
    opt_g, opt_d = sgd(G_ref), sgd(D_ref)
    bce = nn.functional.binary_cross_entropy_with_logits
    for _ in range(3):
        x, z = data.ring().sample(16, rng), data.latent(2)(16, rng)
        with torch.no_grad():
            fake = G_ref(z)
        r, f = D_ref(x), D_ref(fake)
        loss = bce(r, torch.ones_like(r)) + bce(f, torch.zeros_like(f))
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        z = data.latent(2)(16, rng)
        f = D_ref(G_ref(z))
        g_loss = bce(f, torch.ones_like(f))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    for a, b in zip([*t.G.parameters(), *t.D.parameters(), *t.G.buffers()],
                    [*G_ref.parameters(), *D_ref.parameters(), *G_ref.buffers()]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
