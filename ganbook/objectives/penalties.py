"""Regularizers of the critic (chapter 4): penalties ``NAME_penalty(D, real, fake, *, weight,
generator)`` that the training loop adds to the discriminator's loss, and weight clipping, applied
after each critic update.

* :func:`gradient_penalty` — WGAN-GP, eq. (ch4-gp): (‖∇D(x̂)‖ − 1)² at random interpolates
  x̂ = εx + (1 − ε)x̃ between paired real and generated samples, ε ~ U[0, 1] drawn once per pair;
* :func:`dragan_penalty` — DRAGAN, eq. (ch4-dragan): the same penalty at points near the data only;
* :func:`r1_penalty`, :func:`r2_penalty` — zero-centred penalties ‖∇D‖² at real (R1) or generated
  (R2) points;
* :func:`clip_weights` — WGAN's weight clipping to [−c, c], eq. (ch4-clip).

A penalty takes the critic D and the SAMPLES ``real`` and ``fake`` (not the critic's outputs: it
looks inside D, at its gradient); every other argument is keyword-only. ``generator`` (a
``torch.Generator`` or None for the global stream) supplies any noise a penalty draws. All penalties
return the batch mean times ``weight`` (a 0-dim tensor that keeps the graph, so that
``loss.backward()`` differentiates through ∇D: a *second-order* derivative). With
``functools.partial(gradient_penalty, weight=10.0)`` they fit :class:`ganbook.train.Trainer`'s
``d_regularizer``, which it calls as ``d_regularizer(D, real, fake, generator=<its own stream>)``;
``functools.partial(clip_weights, c=0.01)`` fits its ``d_post_step(D)``.

Samples are the rows of ``real`` and ``fake``: shape (n, ...) — points (n, d) or images
(n, c, h, w). Gradient norms are taken over all the other axes, one norm per sample.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .. import _validate as V

Critic = Callable[[torch.Tensor], torch.Tensor]


def _check_critic(D: object) -> None:
    if not callable(D):
        raise TypeError(f"D must be a critic (an nn.Module or a callable x -> scores), got {type(D).__name__}")


def _pair(real: object, fake: object) -> tuple[torch.Tensor, torch.Tensor]:
    V.tensor(real, "real", min_rows=1)
    V.tensor(fake, "fake", min_rows=1)
    if real.dim() < 2:
        raise ValueError(f"real must have shape (n, ...) with one sample per row, got shape {tuple(real.shape)}")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape (paired samples), got {tuple(real.shape)} "
                         f"and {tuple(fake.shape)}")
    V.same_device(real, fake, "real", "fake")
    return real, fake


def _uniform_per_sample(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """ε ~ U[0, 1], one number per sample, shaped (n, 1, ..., 1) to broadcast over a sample."""
    V.generator(generator)
    where = generator.device if generator is not None else x.device
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    return torch.rand(shape, generator=generator, device=where).to(device=x.device, dtype=x.dtype)


def critic_gradient(D: Critic, x: torch.Tensor, *, create_graph: bool = True) -> torch.Tensor:
    """∇ₓD(x) for every sample, shape (n, ...) like ``x``. Because the samples of a batch do not
    interact inside D (no batch norm in a critic), the gradient of Σᵢ D(xᵢ) with respect to xᵢ is
    ∇D(xᵢ). ``create_graph=True`` keeps the graph so that a penalty on it can be differentiated
    with respect to D's parameters."""
    _check_critic(D)
    x = x.detach().requires_grad_(True)
    scores = D(x)
    if not isinstance(scores, torch.Tensor) or scores.shape != (x.shape[0],):
        got = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"D must return one score per sample, shape ({x.shape[0]},), got {got}")
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph)
    return grad


def _norms(grad: torch.Tensor) -> torch.Tensor:
    return grad.flatten(1).norm(dim=1)                                     # (n,)


def interpolates(real: torch.Tensor, fake: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """x̂ᵢ = εᵢxᵢ + (1 − εᵢ)x̃ᵢ with εᵢ ~ U[0, 1] drawn once per pair (the same ε for every coordinate
    of a sample), eq. (ch4-gp). Shape (n, ...)."""
    real, fake = _pair(real, fake)
    eps = _uniform_per_sample(real, generator)                             # (n, 1, ..., 1)
    return eps * real.detach() + (1 - eps) * fake.detach()


def gradient_penalty(D: Critic, real: torch.Tensor, fake: torch.Tensor, *, weight: float = 1.0,
                     generator: torch.Generator | None = None, target: float = 1.0) -> torch.Tensor:
    """WGAN-GP's penalty, eq. (ch4-gp): weight · E_x̂ (‖∇D(x̂)‖ − target)², x̂ on random points of
    the segments between the paired rows of ``real`` and ``fake`` (:func:`interpolates`).
    Gulrajani et al. use weight λ = 10 and target 1."""
    V.positive_float(weight, "weight", allow_zero=True)
    V.finite_float(target, "target")
    x_hat = interpolates(real, fake, generator=generator)
    return weight * ((_norms(critic_gradient(D, x_hat)) - target) ** 2).mean()


def dragan_penalty(D: Critic, real: torch.Tensor, fake: torch.Tensor | None = None, *, weight: float = 1.0,
                   noise: float = 0.5, generator: torch.Generator | None = None,
                   target: float = 1.0, std: float | torch.Tensor | None = None) -> torch.Tensor:
    """DRAGAN's local penalty, eq. (ch4-dragan): weight · E (‖∇D(x + δ)‖ − target)² with
    δ ~ N(0, c²I), c = ``noise`` · σ, where σ is ``std`` or, by default, the standard deviation of the
    real batch over all its entries: the gradient is constrained only in a neighbourhood of the data.
    ``std`` may be a tensor that broadcasts against ``real`` (one σ per sample, for batches that mix data
    sets). ``fake`` is ignored (it is there so that the function fits the penalty shape ``(D, real, fake)``).
    Kodali et al. use weight 10 in paper and code; the perturbation here keeps the scale of their released
    code (0.5 · std) with the Gaussian shape of their paper: the code shifts by 0.5 · std · U[0, 1), the
    paper writes δ ~ N(0, cI) with c ≈ 10."""
    V.tensor(real, "real", min_rows=2)
    if real.dim() < 2:
        raise ValueError(f"real must have shape (n, ...) with one sample per row, got shape {tuple(real.shape)}")
    V.positive_float(weight, "weight", allow_zero=True)
    V.positive_float(noise, "noise")
    V.finite_float(target, "target")
    V.generator(generator)
    where = generator.device if generator is not None else real.device
    delta = torch.randn(real.shape, generator=generator, device=where).to(real)
    if std is None:
        sigma = real.detach().std()
    elif isinstance(std, torch.Tensor):
        sigma = V.tensor(std, "std").detach().to(real)
    else:
        sigma = V.positive_float(std, "std")
    scale = noise * sigma
    x = real.detach() + scale * delta                                      # (n, ...)
    return weight * ((_norms(critic_gradient(D, x)) - target) ** 2).mean()


def r1_penalty(D: Critic, real: torch.Tensor, fake: torch.Tensor | None = None, *, weight: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero-centred penalty at the data (Mescheder et al.'s R1): weight · E_P ‖∇D(x)‖².
    Their γ corresponds to weight = γ/2. ``fake`` is ignored; so is ``generator`` (R1 draws no noise:
    it is there so that the function fits the Trainer's ``d_regularizer``)."""
    V.tensor(real, "real", min_rows=1)
    V.positive_float(weight, "weight", allow_zero=True)
    V.generator(generator)
    return weight * (_norms(critic_gradient(D, real)) ** 2).mean()


def r2_penalty(D: Critic, real: torch.Tensor | None, fake: torch.Tensor, *, weight: float = 1.0,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero-centred penalty at generated samples (R2): weight · E_Q ‖∇D(x̃)‖². ``real`` and
    ``generator`` are ignored (R2 draws no noise)."""
    V.tensor(fake, "fake", min_rows=1)
    V.positive_float(weight, "weight", allow_zero=True)
    V.generator(generator)
    return weight * (_norms(critic_gradient(D, fake)) ** 2).mean()


@torch.no_grad()
def clip_weights(D: nn.Module, c: float = 0.01) -> None:
    """WGAN's weight clipping, eq. (ch4-clip): clamp every parameter of D to [−c, c] in place.
    Call it after every critic update (``Trainer(..., d_post_step=partial(clip_weights, c=0.01))``)."""
    if not isinstance(D, nn.Module):
        raise TypeError(f"D must be a torch.nn.Module, got {type(D).__name__}")
    c = V.positive_float(c, "c")
    for p in D.parameters():
        p.clamp_(-c, c)


__all__ = ["critic_gradient", "interpolates", "gradient_penalty", "dragan_penalty", "r1_penalty", "r2_penalty",
           "clip_weights"]
