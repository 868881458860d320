"""Chapter 8b: changing the game.

* :func:`unrolled_parameters`, :func:`unrolled_g_loss` — Unrolled GAN (Metz et al.): k
  discriminator steps on a functional copy, differentiated through, eq. (ch8-unrolled); the
  benchmark's Unrolled GAN step calls :func:`unrolled_g_loss`;
* :func:`mrgan_geometric` — MRGAN (Che et al.): an encoder and the geometric regulariser; the mode
  regulariser is the non-saturating generator loss on the reconstructions, eq. (ch8-mrgan);
* :func:`veegan_d_loss`, :func:`veegan_g_loss`, :func:`veegan_reconstruction` — VEEGAN (Srivastava
  et al.): a reconstructor in z space and a discriminator on (z, x) pairs, eq. (ch8-veegan);
* :func:`madgan_d_loss`, :func:`madgan_g_loss` — MAD-GAN (Ghosh et al.): k generators, a (k + 1)-class
  discriminator, eq. (ch8-madgan).

DRAGAN's penalty is :func:`ganbook.objectives.penalties.dragan_penalty` (chapter 4), used as is.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from .. import _validate as V
from ..objectives.gan import minimax_d_loss
from ..objectives.registry import Objective, get as get_objective


# -- Unrolled GAN ---------------------------------------------------------------------------------


def unrolled_parameters(D: nn.Module, real_batches: list[torch.Tensor], fake: torch.Tensor, *, lr: float,
                        d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = minimax_d_loss
                        ) -> dict[str, torch.Tensor]:
    """Unrolled discriminator, eq. (ch8-unrolled): k = len(real_batches) gradient-descent steps of
    size ``lr`` on ``d_loss`` applied to a *functional copy* of D's parameters,
    ψ_{j+1} = ψ_j − lr ∇_ψ d_loss(D_ψj(x_j), D_ψj(fake)), with the graph kept (create_graph) so that
    the result is a differentiable function of ``fake`` (and hence of the generator).

    D itself is never modified: the copy starts from D's parameters *detached*, so no gradient
    reaches D.grad either. Returns the unrolled parameters by name, for
    :func:`torch.func.functional_call`."""
    if not isinstance(D, nn.Module):
        raise TypeError(f"D must be a torch.nn.Module, got {type(D).__name__}")
    if not isinstance(real_batches, (list, tuple)) or len(real_batches) == 0:
        raise ValueError("real_batches must be a non-empty list of batches (one per unrolled step)")
    V.tensor(fake, "fake", min_rows=1)
    V.positive_float(lr, "lr")
    params = {name: p.detach().requires_grad_(True) for name, p in D.named_parameters()}
    buffers = dict(D.named_buffers())
    for real in real_batches:
        V.tensor(real, "real_batches[j]", min_rows=1)
        state = {**params, **buffers}
        loss = d_loss(functional_call(D, state, (real,)), functional_call(D, state, (fake,)))
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        params = {name: p - lr * g for (name, p), g in zip(params.items(), grads)}
    return {**params, **buffers}


def unrolled_g_loss(D: nn.Module, real_batches: list[torch.Tensor], fake: torch.Tensor, *, lr: float,
                    objective: str | Objective = "nonsaturating") -> torch.Tensor:
    """The Unrolled GAN generator loss, eq. (ch8-unrolled): the objective's generator loss against
    the discriminator *after* k = len(real_batches) unrolled steps, f_K(θ_G) = g_loss(D_{ψ_K(θ_G)}(G(z))).
    It takes the critic D and samples (one real batch per step, the generated batch ``fake``), since it
    must look inside D. Gradients flow through the k steps into ``fake``; D's own parameters are
    untouched. The benchmark's Unrolled GAN step calls it with the non-saturating losses summed over
    its seeds."""
    obj = get_objective(objective)
    params = unrolled_parameters(D, real_batches, fake, lr=lr, d_loss=obj.d_loss)
    return obj.g_loss(functional_call(D, params, (fake,)))


# -- MRGAN ----------------------------------------------------------------------------------------


def mrgan_geometric(real: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """MRGAN's geometric regulariser, eq. (ch8-mrgan): E_x ‖x − G(E(x))‖²₂ for a real batch
    ``real`` = x (..., n, d) and its reconstruction G(E(x)) (..., n, d) — the generator's manifold must
    pass through the data.

    The mode regulariser of the same equation, E_x[−log D(G(E(x)))] (reconstructions of *every* data
    point, minor modes included, should be judged real), is the non-saturating generator loss on the
    reconstructions: :func:`ganbook.objectives.gan.nonsaturating_g_loss` of D(G(E(x))), i.e.
    softplus(−l).mean(). The encoder and the generator minimise λ₁·geometric + λ₂·mode."""
    V.rows(real, "real")
    V.tensor(reconstruction, "reconstruction")
    if real.shape != reconstruction.shape:
        raise ValueError(f"real and reconstruction must have the same shape, got {tuple(real.shape)} and "
                         f"{tuple(reconstruction.shape)}")
    return (real - reconstruction).pow(2).sum(-1).mean()


# -- VEEGAN ---------------------------------------------------------------------------------------


def veegan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """VEEGAN's discriminator loss, eq. (ch8-veegan-d): logistic regression of a discriminator
    D(z, x) on *pairs*. ``real`` (..., n): D's logits on data pairs (F(x), x), label 0, with F the
    reconstructor; ``fake`` (..., m): D's logits on generated pairs (z, G(z)), label 1. The caller
    builds the pairs from detached tensors: only D learns from this loss."""
    V.scores(real, "real", batched=True)
    V.scores(fake, "fake", batched=True)
    return F.softplus(-fake).mean() + F.softplus(real).mean()


def veegan_reconstruction(z: torch.Tensor, z_of_fake: torch.Tensor) -> torch.Tensor:
    """VEEGAN's reconstruction term, the second term of eq. (ch8-veegan): E‖z − F(G(z))‖²₂ for codes
    z (..., n, k) and their reconstructions ``z_of_fake`` = F(G(z)) (..., n, k)."""
    V.rows(z, "z")
    V.rows(z_of_fake, "z_of_fake")
    if z.shape != z_of_fake.shape:
        raise ValueError(f"z and z_of_fake must have the same shape, got {tuple(z.shape)} and {tuple(z_of_fake.shape)}")
    return (z - z_of_fake).pow(2).sum(-1).mean()


def veegan_g_loss(fake: torch.Tensor, *, z: torch.Tensor, z_of_fake: torch.Tensor) -> torch.Tensor:
    """VEEGAN's generator/reconstructor objective, eq. (ch8-veegan): E[D(z, G(z))] + E‖z − F(G(z))‖²₂.
    ``fake`` (..., n): D's logits on the generated pairs (z, G(z)); ``z_of_fake`` = F(G(z)). The
    generator minimises both terms, the reconstructor F the second (:func:`veegan_reconstruction`,
    the only one that depends on it), so one backward pass serves both networks."""
    V.scores(fake, "fake", batched=True)
    V.rows(z, "z")
    if fake.shape != z.shape[:-1]:
        raise ValueError(f"fake must hold one logit per code z, shape {tuple(z.shape[:-1])}, got {tuple(fake.shape)}")
    return fake.mean() + veegan_reconstruction(z, z_of_fake)


# -- MAD-GAN --------------------------------------------------------------------------------------


def _madgan_check(fake: torch.Tensor) -> int:
    V.tensor(fake, "fake")
    if fake.dim() < 3 or fake.shape[-2] == 0:
        raise ValueError(f"fake must have shape (..., k, m, k + 1), got {tuple(fake.shape)}")
    k = fake.shape[-3]
    if fake.shape[-1] != k + 1:
        raise ValueError(f"with {k} generators the discriminator needs {k + 1} outputs; got fake {tuple(fake.shape)}")
    return k


def madgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """MAD-GAN's discriminator loss, eq. (ch8-madgan), with k generators and a discriminator with
    k + 1 outputs (classes 0..k−1: "made by generator i", class k: "real"): the cross-entropy with
    labels k (real) and i (generator i). ``real`` (..., n, k+1): D's logits on data; ``fake``
    (..., k, m, k+1): row i holds D's logits on m samples of generator i. The loss is lower the better
    D can tell the generators *apart*."""
    V.rows(real, "real")
    k = _madgan_check(fake)
    if fake.dim() != real.dim() + 1 or real.shape[-1] != k + 1:
        raise ValueError(f"real must have shape (..., n, k + 1) = (..., n, {k + 1}) next to fake (..., k, m, k + 1), got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    log_real = torch.log_softmax(real, -1)                                 # (..., n, k + 1)
    log_fake = torch.log_softmax(fake, -1)                                 # (..., k, m, k + 1)
    own = torch.diagonal(log_fake[..., :k], dim1=-3, dim2=-1)              # (..., m, k): log D_i(G_i(z))
    return -log_real[..., k].mean() - own.mean()


def madgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """MAD-GAN's generators' loss, eq. (ch8-madgan): −E log D_k(G_i(z)) summed over the k generators
    (each wants its samples called real); ``fake`` (..., k, m, k+1) as in :func:`madgan_d_loss`.
    Against the optimal discriminator it depends only on the generators' mixture (1/k) Σᵢ p_{g_i}, so
    it does not reward them for taking different modes."""
    k = _madgan_check(fake)
    return -k * torch.log_softmax(fake, -1)[..., k].mean()


__all__ = ["unrolled_parameters", "unrolled_g_loss", "mrgan_geometric", "veegan_d_loss", "veegan_reconstruction",
           "veegan_g_loss", "madgan_d_loss", "madgan_g_loss"]
