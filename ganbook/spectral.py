"""Spectral normalisation (Miyato et al., 2018), the building block of chapter 6 (coming).

A layer's weight W is divided by its largest singular value σ(W), so that the normalised layer
W̄ = W / σ(W) has spectral norm 1: the spectral-normalisation equation. σ(W) is not computed exactly
at each step; one step of the power iteration, started from the previous step's left vector u,

    v ← Wᵀu / ‖Wᵀu‖,    u ← Wv / ‖Wv‖,    σ(W) ≈ uᵀWv,

tracks it as W changes slowly during training (the power-iteration equation). A network built of
such layers and of 1-Lipschitz activations is then at most 1-Lipschitz, because the Lipschitz
constant of a composition is at most the product of the layers' constants (the Lipschitz-bound
equation, :func:`lipschitz_bound`).

Chapter 6 (coming) will number these three equations; its labels will be the chapter's prefix
followed by ``sn``, ``power-iteration`` and ``lipschitz-bound``. They are named in words here until
the chapter defines them, because the book's tests check that every label a docstring cites exists.

A convolution's kernel of shape (out, in, kh, kw) is reshaped to the matrix (out, in·kh·kw), the
paper's convention; a transposed convolution's kernel, of shape (in, out, kh, kw), is reshaped with
its dimension 1 first, (out, in·kh·kw), as ``torch.nn.utils.parametrizations.spectral_norm`` does.
The norm of that matrix is not the operator norm of the convolution: :func:`conv_operator_norm`
computes the latter.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from . import _validate as V

_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
_EPS = 1e-12


def _layer(module: object, name: str) -> nn.Module:
    if not isinstance(module, _LAYERS):
        raise TypeError(f"{name} must be an nn.Linear, nn.Conv2d or nn.ConvTranspose2d, got {type(module).__name__}")
    return module


def _out_dim(module: nn.Module) -> int:
    """The weight's dimension that indexes outputs: 1 for a transposed convolution (its kernel is
    (in, out, kh, kw)), 0 otherwise."""
    return 1 if isinstance(module, nn.ConvTranspose2d) else 0


def as_matrix(weight: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The weight as the matrix (out, −1) whose spectral norm is normalised: dimension ``dim`` first,
    the others flattened."""
    weight = V.tensor(weight, "weight", finite=False)
    if weight.dim() < 2:
        raise ValueError(f"weight must have at least 2 dimensions, got shape {tuple(weight.shape)}")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim < weight.dim():
        raise ValueError(f"dim must be an int in [0, {weight.dim() - 1}], got {dim!r}")
    return weight.movedim(dim, 0).reshape(weight.shape[dim], -1)


def _power_steps(matrix: torch.Tensor, u: torch.Tensor, n_iter: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_iter`` steps of the power iteration from ``u``, then σ = uᵀWv (unchecked; see
    :func:`power_iteration`)."""
    with torch.no_grad():
        w = matrix.detach()
        for _ in range(n_iter):
            v = F.normalize(w.t().mv(u), dim=0, eps=_EPS)      # v ← Wᵀu / ‖Wᵀu‖
            u = F.normalize(w.mv(v), dim=0, eps=_EPS)          # u ← Wv / ‖Wv‖
    sigma = torch.dot(u, matrix.mv(v))                          # σ = uᵀWv, a function of W only
    return sigma, u, v


def power_iteration(weight: torch.Tensor, u: torch.Tensor, n_iter: int = 1, *,
                    dim: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The power-iteration estimate of σ(W), the largest singular value of ``weight`` reshaped to the
    matrix W of shape (out, −1) (:func:`as_matrix`; ``dim`` names the output dimension).

    ``u`` (shape (out,)) is the left vector carried over from the previous call. Each of the
    ``n_iter`` steps sets v ← Wᵀu/‖Wᵀu‖, then u ← Wv/‖Wv‖ (Miyato et al., Algorithm 1). Returns
    ``(sigma, u, v)``: σ = uᵀWv, differentiable in ``weight`` with u and v held constant, as in the
    paper, and the updated u and v, detached. Since ‖u‖ = ‖v‖ = 1, σ = ‖Wv‖ never exceeds σ(W); it
    converges to σ(W) at the rate (σ₂/σ₁)² per step when u is not orthogonal to the top left
    singular vector.
    """
    n_iter = V.positive_int(n_iter, "n_iter")
    matrix = as_matrix(weight, dim)
    u = V.tensor(u, "u", ndim=1, finite=False)
    if u.shape[0] != matrix.shape[0]:
        raise ValueError(f"u must have shape ({matrix.shape[0]},) for a weight with {matrix.shape[0]} outputs, "
                         f"got {tuple(u.shape)}")
    if u.dtype != matrix.dtype:
        raise TypeError(f"u has dtype {u.dtype} but weight has dtype {matrix.dtype}")
    V.same_device(u, matrix, "u", "weight")
    return _power_steps(matrix, u, n_iter)


def _random_unit(n: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """A uniformly random unit vector of ℝⁿ (a normalised Gaussian) with ``like``'s dtype and device,
    drawn from ``generator`` (on its device) or from the global CPU stream."""
    where = generator.device if generator is not None else torch.device("cpu")
    u = torch.randn(n, generator=generator, device=where, dtype=like.dtype)
    return F.normalize(u, dim=0, eps=_EPS).to(like.device)


class SpectralNorm(nn.Module):
    """The parametrization W ↦ W / σ(W) (``torch.nn.utils.parametrize``), with σ(W) estimated by
    :func:`power_iteration`.

    The buffers ``u`` (shape (out,)) and ``v`` (shape (in·kh·kw,)) persist between calls, move with
    ``.to(device)`` and are saved in the state dict. ``u`` starts as a normalised Gaussian drawn from
    ``generator``, ``v`` as Wᵀu/‖Wᵀu‖. In training mode each forward runs ``n_iter`` power steps
    (one in the paper) and divides by the new σ = uᵀWv; in eval mode it runs none and divides by
    uᵀWv of the stored vectors, so the weight is the one of the last training step.

    Each access to the parametrized ``module.weight`` in training mode is one forward; read it inside
    ``parametrize.cached()`` to take several looks at one step.

    ``torch.nn.utils.parametrizations.spectral_norm`` keeps v and updates u first (u ← Wv, then
    v ← Wᵀu): it is this iteration applied to Wᵀ, and its estimate after a step is ‖Wᵀu‖ where the
    paper's is ‖Wv‖. Both converge to σ(W).
    """

    def __init__(self, weight: torch.Tensor, *, n_iter: int = 1, dim: int = 0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.n_iter = V.positive_int(n_iter, "n_iter")
        generator = V.generator(generator)
        matrix = as_matrix(weight, dim)
        self.dim = dim
        with torch.no_grad():
            u = _random_unit(matrix.shape[0], generator, matrix)
            v = F.normalize(matrix.t().mv(u), dim=0, eps=_EPS)
        self.register_buffer("u", u)
        self.register_buffer("v", v)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        matrix = as_matrix(weight, self.dim)
        if self.training:
            sigma, u, v = _power_steps(matrix, self.u, self.n_iter)
            with torch.no_grad():                 # in place, so that the buffers stay the module's
                self.u.copy_(u)
                self.v.copy_(v)
        else:
            sigma = torch.dot(self.u, matrix.mv(self.v))
        return weight / sigma

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        """Assigning ``module.weight = w`` stores ``w`` as the unnormalised weight."""
        return weight


def spectral_norm(module: nn.Module, n_iter: int = 1, generator: torch.Generator | None = None,
                  name: str = "weight") -> nn.Module:
    """Spectrally normalise ``module`` (an nn.Linear, nn.Conv2d or nn.ConvTranspose2d) in place: its
    ``name`` parameter becomes W / σ(W) (:class:`SpectralNorm`; a transposed convolution's output
    dimension is its kernel's dimension 1, torch's convention). Returns ``module``."""
    module = _layer(module, "module")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if parametrize.is_parametrized(module, name):
        raise ValueError(f"module's {name!r} is already parametrized (spectral_norm applied twice?)")
    weight = getattr(module, name, None)
    if not isinstance(weight, nn.Parameter):
        raise ValueError(f"name={name!r}: {type(module).__name__} has no parameter of that name")
    # unsafe=True skips register_parametrization's trial forward, which would take a power step
    # before the first training step (the parametrization keeps shape and dtype, what it checks).
    parametrize.register_parametrization(
        module, name, SpectralNorm(weight, n_iter=n_iter, dim=_out_dim(module), generator=generator), unsafe=True)
    return module


def apply_spectral_norm(net: nn.Module, n_iter: int = 1, generator: torch.Generator | None = None) -> nn.Module:
    """Apply :func:`spectral_norm` to every nn.Linear, nn.Conv2d and nn.ConvTranspose2d of ``net``
    (in ``net.modules()`` order, which fixes the order of the draws from ``generator``). Returns
    ``net``."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be an nn.Module, got {type(net).__name__}")
    layers = [m for m in net.modules() if isinstance(m, _LAYERS)]
    if not layers:
        raise ValueError("net has no nn.Linear, nn.Conv2d or nn.ConvTranspose2d layer to normalise")
    for layer in layers:
        spectral_norm(layer, n_iter=n_iter, generator=generator)
    return net


@contextlib.contextmanager
def _evaluating(module: nn.Module) -> Iterator[None]:
    """Eval mode inside the block (no power step, no batch-statistics update), then the modes restored."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.train(mode)


def kernel_norm(layer: nn.Module) -> float:
    """The spectral norm of ``layer``'s weight reshaped to (out, −1) (for a spectrally normalised
    layer, of the normalised weight, read without a power step). For an nn.Linear it is the exact
    operator norm; for a convolution it is what spectral normalisation controls, not the operator
    norm (:func:`conv_operator_norm`)."""
    layer = _layer(layer, "layer")
    with torch.no_grad(), _evaluating(layer):
        matrix = as_matrix(layer.weight, _out_dim(layer))
        return float(torch.linalg.matrix_norm(matrix.double(), ord=2))


def lipschitz_bound(net: nn.Module) -> float:
    """The Lipschitz-bound equation: Π_l σ(W_l), the product of the spectral norms of ``net``'s
    nn.Linear, nn.Conv2d and nn.ConvTranspose2d layers (:func:`kernel_norm`, exact SVD).

    For a chain of linear layers and 1-Lipschitz activations (ReLU, leaky ReLU with slope ≤ 1, tanh;
    parameter-free modules are taken to be such) it bounds the network's Lipschitz constant, since
    ‖f∘g‖_Lip ≤ ‖f‖_Lip ‖g‖_Lip. Residual connections, other activations, or layers with parameters of
    their own (normalisation layers raise an error) break it.

    The bound is loose, more so with depth: equality needs the top right singular vector of each
    layer to be the image, through the activation, of the previous layer's top left singular
    vector. The layers' top singular directions are not aligned (random or trained, they are nearly
    orthogonal in high dimension), and ReLU zeroes part of each vector besides.

    For a convolution the reshaped kernel's norm is NOT the operator norm of the convolution, which
    depends on the input size, stride and padding: it may be smaller or larger, up to √(kh·kw) times
    larger for an nn.Conv2d (its output is the reshaped kernel applied to kh·kw shifted copies of the
    input, each of norm at most ‖x‖). For a
    convolutional network this product is the quantity spectral normalisation constrains, not a
    bound. Use :func:`conv_operator_norm` for the true norm of a convolution.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be an nn.Module, got {type(net).__name__}")
    norms = []
    for m in net.modules():
        if isinstance(m, _LAYERS):
            norms.append(kernel_norm(m))
        elif not isinstance(m, parametrize.ParametrizationList) and next(m.parameters(recurse=False), None) is not None:
            raise ValueError(f"net contains a {type(m).__name__} with parameters: the product bound covers only "
                             "Linear/Conv2d/ConvTranspose2d layers and parameter-free activations")
    if not norms:
        raise ValueError("net has no nn.Linear, nn.Conv2d or nn.ConvTranspose2d layer")
    return math.prod(norms)


def conv_operator_norm(conv: nn.Module, input_shape: Sequence[int], n_iter: int = 200,
                       generator: torch.Generator | None = None) -> float:
    """The operator norm max_x ‖A x‖/‖x‖ of the linear part A of ``conv`` (an nn.Conv2d or
    nn.ConvTranspose2d, its bias left out) on inputs of shape ``input_shape`` = (C, H, W), by
    ``n_iter`` steps of the power iteration on AᵀA.

    A x = conv(x) − conv(0), and Aᵀy is the gradient of ⟨conv(x), y⟩ in x (autograd; the bias does
    not change it). A spectrally normalised conv is read in eval mode (no power step). The
    estimate ‖Ax‖ with ‖x‖ = 1 increases to the norm from below.
    """
    conv = _layer(conv, "conv")
    if isinstance(conv, nn.Linear):
        raise TypeError("conv must be an nn.Conv2d or nn.ConvTranspose2d; an nn.Linear's norm is kernel_norm(layer)")
    n_iter = V.positive_int(n_iter, "n_iter")
    generator = V.generator(generator)
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list, torch.Size)) else None
    if (shape is None or len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)):
        raise ValueError(f"input_shape must be (C, H, W) of positive ints, got {input_shape!r}")
    if shape[0] != conv.in_channels:
        raise ValueError(f"input_shape has {shape[0]} channels but conv expects {conv.in_channels}")
    weight = conv.weight
    x = _random_unit(shape[0] * shape[1] * shape[2], generator, weight).reshape(1, *shape)
    with _evaluating(conv):
        with torch.no_grad():
            offset = conv(torch.zeros_like(x))                  # the bias, broadcast
        for _ in range(n_iter):
            x = x.detach().requires_grad_(True)
            out = conv(x)
            ax = (out - offset).detach()
            (atax,) = torch.autograd.grad(out, x, grad_outputs=ax)     # Aᵀ(Ax)
            x = atax / atax.norm().clamp_min(_EPS)
        with torch.no_grad():
            return float((conv(x) - offset).norm())
