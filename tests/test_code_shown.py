"""Code shown is the code that ran (chapter 8): the benchmark's minibatch discriminator and its
Unrolled GAN step call the very functions that chapters 8a and 8b print, and their batched-over-seeds
use agrees with running each seed alone."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ganbook import bench
from ganbook import collapse as C
from ganbook.nets import BatchedMLP
from ganbook.objectives import Objective


def _old_batched_mbd_features(f: torch.Tensor, T_flat: torch.Tensor, B: int, Cdim: int, group: int = 64) -> torch.Tensor:
    """The minibatch features as the benchmark's discriminator (``bench.BatchedMinibatchDiscriminator``)
    computed them before it called the chapter's layer (T of shape (S, A, B·C), a bmm, groups of 64):
    the recorded benchmark rows came from this."""
    S, n = f.shape[:2]
    g = group if n % group == 0 else n
    M = torch.bmm(f, T_flat).reshape(S, n // g, g, B, Cdim)
    return C.minibatch_similarities(M).sum(-2).reshape(S, n, B)


def test_batched_minibatch_layer_is_the_recorded_computation_and_the_per_seed_layer():
    gens = [torch.Generator().manual_seed(s) for s in (3, 11)]
    A, B, Cdim = 64, 5, 3
    layer = C.MinibatchDiscrimination(A, B, Cdim, init_std=0.1, group=64, generators=gens)
    # T is drawn exactly as the benchmark drew it: 0.1 · N(0, 1) of shape (A, B·C) from each seed's generator
    again = [torch.Generator().manual_seed(s) for s in (3, 11)]
    T_old = torch.stack([0.1 * torch.randn(A, B * Cdim, generator=g) for g in again])
    assert torch.equal(layer.T.detach().reshape(2, A, B * Cdim), T_old)
    f = torch.randn(2, 256, A, generator=torch.Generator().manual_seed(0), requires_grad=True)
    out = layer(f)
    assert out.shape == (2, 256, A + B) and torch.equal(out[..., :A], f)
    # the same numbers, to the bit, as the benchmark's former inline code; gradients too
    T_ref = layer.T.detach().reshape(2, A, B * Cdim).clone().requires_grad_(True)
    f_ref = f.detach().clone().requires_grad_(True)
    o_ref = _old_batched_mbd_features(f_ref, T_ref, B, Cdim)
    assert torch.equal(out[..., A:], o_ref)
    w = torch.randn(2, 256, B, generator=torch.Generator().manual_seed(1))
    (out[..., A:] * w).sum().backward()
    (o_ref * w).sum().backward()
    assert torch.equal(layer.T.grad.reshape(2, A, B * Cdim), T_ref.grad) and torch.equal(f.grad, f_ref.grad)
    # seed s of the batched layer = a single-seed layer holding that seed's T, on that seed's batch
    for s in range(2):
        single = C.MinibatchDiscrimination(A, B, Cdim, group=64)
        with torch.no_grad():
            single.T.copy_(layer.T[s])
        assert torch.allclose(single(f[s].detach()), out[s].detach(), atol=1e-6)
    # and each group of 64 by the definition, eq. (ch8-mbd): o_b(x_i) = Σ_j in i's group exp(−‖M_ib − M_jb‖₁)
    M = torch.einsum("na,abc->nbc", f[0].detach(), layer.T[0].detach())          # (256, B, C)
    for start in range(0, 256, 64):
        Mg = M[start:start + 64]
        o_def = torch.exp(-(Mg[:, None] - Mg[None, :]).abs().sum(-1)).sum(1)      # (64, B)
        assert torch.allclose(out[0, start:start + 64, A:].detach(), o_def, atol=1e-5)


def test_minibatch_features_group_falls_back_to_the_whole_batch():
    T = torch.randn(3, 4, 2, generator=torch.Generator().manual_seed(0))
    f = torch.randn(10, 3, generator=torch.Generator().manual_seed(1))             # 10 is not a multiple of 64
    o = C.minibatch_features(f, T, group=64)
    M = torch.einsum("na,abc->nbc", f, T)
    assert torch.allclose(o, C.minibatch_similarities(M).sum(1), atol=1e-6)
    assert torch.equal(C.minibatch_features(f, T, group=None), C.minibatch_features(f, T, group=10))
    two = C.minibatch_features(f, T, group=5)                                       # two groups of 5
    assert torch.allclose(two[:5], C.minibatch_features(f[:5], T, group=None)) and two.shape == (10, 4)


def test_benchmark_minibatch_discriminator_uses_the_chapter_layer():
    run = bench.build("minibatch", "ring", [0, 1])
    D = run.D
    assert isinstance(D.mbd, C.MinibatchDiscrimination) and D.mbd.T.shape == (2, 64, 5, 3) and D.mbd.group == 64
    x = torch.randn(2, 256, 2, generator=torch.Generator().manual_seed(2))
    f = F.leaky_relu(D.trunk(x), 0.2)
    with torch.no_grad():
        expected = D.head(torch.cat([f, _old_batched_mbd_features(f, D.mbd.T.reshape(2, 64, 15), 5, 3)], -1))
        assert torch.equal(D(x), expected)


class OneSeed(torch.nn.Module):
    """A one-seed BatchedMLP seen as a plain discriminator: (n, d) → logits (n,)."""

    def __init__(self, D: torch.nn.Module):
        super().__init__()
        self.D = D

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.D(x[None])[0, :, 0]


def test_benchmark_unrolled_step_is_the_chapter_loss_and_per_seed():
    """step_unrolled's generator loss is collapse.unrolled_g_loss (the function chapter 8b prints):
    bit for bit the former inline computation, and for each seed the gradient of the plain
    non-saturating unrolled loss of that seed alone."""
    run = bench.build("unrolled", "ring", [0, 1])
    S, lr = run.S, run.knobs.unroll_lr
    real = [run.real() for _ in range(3)]
    fake = run.G(run.z())
    summed = Objective("summed", lambda r, f: S * (F.softplus(-r).mean() + F.softplus(f).mean()),
                       lambda f: S * F.softplus(-f).mean())

    def grads(loss):
        run.G.zero_grad(set_to_none=True)
        loss.backward(retain_graph=True)
        return [p.grad.clone() for p in run.G.parameters()]

    new = grads(C.unrolled_g_loss(run.D, real, fake, lr=lr, objective=summed))
    params = C.unrolled_parameters(run.D, real, fake, lr=lr, d_loss=summed.d_loss)   # the former inline code
    old = grads(S * F.softplus(-torch.func.functional_call(run.D, params, (fake,))).mean())
    assert all(torch.equal(a, b) for a, b in zip(new, old))
    fake_b = fake.detach().requires_grad_(True)
    C.unrolled_g_loss(run.D, real, fake_b, lr=lr, objective=summed).backward()
    for s in range(S):                                                          # seed s alone
        D1 = OneSeed(BatchedMLP(2, 1, run.D.sizes[1:-1], generators=[torch.Generator()], activation="leaky_relu"))
        with torch.no_grad():
            for p1, p in zip(D1.parameters(), run.D.parameters()):
                p1.copy_(p[s:s + 1])
        fake_s = fake[s].detach().requires_grad_(True)
        C.unrolled_g_loss(D1, [r[s] for r in real], fake_s, lr=lr, objective="nonsaturating").backward()
        assert torch.allclose(fake_b.grad[s], fake_s.grad, rtol=1e-4, atol=1e-9)
        assert float(fake_s.grad.abs().max()) > 0
