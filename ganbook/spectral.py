"""Spectral normalisation (Miyato et al., 2018) and Lipschitz bounds, chapter 6b.

A layer's weight W is divided by its largest singular value σ(W), so that the normalised layer
W̄ = W / σ(W) has spectral norm 1, eq. (ch6-sn). σ(W) is not computed exactly at each step; one step
of the power iteration, started from the previous step's left vector u,

    v ← Wᵀu / ‖Wᵀu‖,    u ← Wv / ‖Wv‖,    σ(W) ≈ uᵀWv,

tracks it as W changes slowly during training, eq. (ch6-power-iteration). A network built of such
layers and of 1-Lipschitz activations is then at most 1-Lipschitz, because the Lipschitz constant of a
composition is at most the product of the layers' constants, eq. (ch6-lipschitz-bound)
(:func:`lipschitz_bound`).

A convolution's kernel of shape (out, in, kh, kw) is reshaped to the matrix (out, in·kh·kw), the
paper's convention; a transposed convolution's kernel, of shape (in, out, kh, kw), is reshaped with
its dimension 1 first, (out, in·kh·kw), as ``torch.nn.utils.parametrizations.spectral_norm`` does.
The norm of that matrix is not the operator norm of the convolution, eq. (ch6-conv-norm):
:func:`conv_operator_norm` computes the latter.

Members. The grouped networks of :mod:`ganbook.dcgan` hold E independent networks in one
(``members=E``): a convolution with ``groups=E`` whose kernel stacks the E members' kernels along its
dimension 0, and :class:`ganbook.dcgan.MemberLinear`, whose weight (E, a, b) holds E matrices. With
``members=E`` every function here treats the E blocks as E separate weights: E power iterations run
side by side (batched matrix products), each member's block is divided by its own σ, and the norms
come back as a tensor of shape (E,).
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
from .dcgan import MemberLinear

_LAYERS = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, MemberLinear)
_CONVS = (nn.Conv2d, nn.ConvTranspose2d)
_EPS = 1e-12


def _layer(module: object, name: str) -> nn.Module:
    if not isinstance(module, _LAYERS):
        raise TypeError(f"{name} must be an nn.Linear, nn.Conv2d, nn.ConvTranspose2d or dcgan.MemberLinear, "
                        f"got {type(module).__name__}")
    return module


def _out_dim(module: nn.Module) -> int:
    """The weight's dimension that indexes outputs (in one member's block, see :func:`as_matrix`): 1 for
    a transposed convolution (its kernel is (in, out, kh, kw)), 2 for a MemberLinear (y = xW with W of
    shape (E, a, b)), 0 otherwise."""
    if isinstance(module, MemberLinear):
        return 2
    return 1 if isinstance(module, nn.ConvTranspose2d) else 0


def _members_arg(members: object, name: str = "members") -> int | None:
    return None if members is None else V.positive_int(members, name)


def as_matrix(weight: torch.Tensor, dim: int = 0, members: int | None = None) -> torch.Tensor:
    """The weight as the matrix (out, −1) whose spectral norm is normalised: dimension ``dim`` first,
    the others flattened.

    With ``members=E``: the E matrices (E, out, −1) of the E blocks of ``weight`` along its dimension 0
    (member e owns rows e·n/E … (e+1)·n/E − 1 of a grouped kernel, entry e of a MemberLinear weight);
    ``dim`` then indexes the dimensions of one block, shape (n/E, *weight.shape[1:])."""
    weight = V.tensor(weight, "weight", finite=False)
    members = _members_arg(members)
    if weight.dim() < 2:
        raise ValueError(f"weight must have at least 2 dimensions, got shape {tuple(weight.shape)}")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 0 <= dim < weight.dim():
        raise ValueError(f"dim must be an int in [0, {weight.dim() - 1}], got {dim!r}")
    if members is None:
        return weight.movedim(dim, 0).reshape(weight.shape[dim], -1)
    if weight.shape[0] % members:
        raise ValueError(f"members={members} must divide the weight's dimension 0, got shape {tuple(weight.shape)}")
    blocks = weight.reshape(members, weight.shape[0] // members, *weight.shape[1:])
    return blocks.movedim(dim + 1, 1).reshape(members, blocks.shape[dim + 1], -1)


def _power_steps(matrix: torch.Tensor, u: torch.Tensor, n_iter: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_iter`` steps of the power iteration on a batch of matrices (E, m, n) from u (E, m), then
    σ = uᵀWv per matrix, shape (E,) (unchecked; see :func:`power_iteration`). In float32 or float64
    even under autocast: a bf16 power iteration would make σ wrong in its third digit."""
    with torch.autocast(matrix.device.type, enabled=False):
        with torch.no_grad():
            w = matrix.detach()
            for _ in range(n_iter):
                v = F.normalize(torch.bmm(w.transpose(1, 2), u.unsqueeze(2)).squeeze(2), dim=1, eps=_EPS)  # Wᵀu
                u = F.normalize(torch.bmm(w, v.unsqueeze(2)).squeeze(2), dim=1, eps=_EPS)                 # Wv
        sigma = (u * torch.bmm(matrix, v.unsqueeze(2)).squeeze(2)).sum(1)   # uᵀWv, a function of W only
    return sigma, u, v


def power_iteration(weight: torch.Tensor, u: torch.Tensor, n_iter: int = 1, *, dim: int = 0,
                    members: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The power-iteration estimate of σ(W), eq. (ch6-power-iteration): the largest singular value of
    ``weight`` reshaped to the matrix W of shape (out, −1) (:func:`as_matrix`; ``dim`` names the output
    dimension).

    ``u`` (shape (out,)) is the left vector carried over from the previous call. Each of the
    ``n_iter`` steps sets v ← Wᵀu/‖Wᵀu‖, then u ← Wv/‖Wv‖ (Miyato et al., Algorithm 1). Returns
    ``(sigma, u, v)``: σ = uᵀWv, differentiable in ``weight`` with u and v held constant, as in the
    paper, and the updated u and v, detached. Since ‖u‖ = ‖v‖ = 1, σ = ‖Wv‖ never exceeds σ(W). When
    u is not orthogonal to the top left singular vector, the angle between v and the top right singular
    vector shrinks by the factor σ₂/σ₁ squared at each step, and the relative error of σ, which is
    quadratic in that angle, by (σ₂/σ₁)⁴, eq. (ch6-sn-rate).

    With ``members=E``: E weights side by side (:func:`as_matrix`), ``u`` of shape (E, out), and σ of
    shape (E,), one per member.
    """
    n_iter = V.positive_int(n_iter, "n_iter")
    members = _members_arg(members)
    matrix = as_matrix(weight, dim, members)
    u = V.tensor(u, "u", ndim=1 if members is None else 2, finite=False)
    want = tuple(matrix.shape[:-1])
    if tuple(u.shape) != want:
        raise ValueError(f"u must have shape {want} for a weight with {want[-1]} outputs"
                         f"{'' if members is None else f' per member ({members} members)'}, got {tuple(u.shape)}")
    if u.dtype != matrix.dtype:
        raise TypeError(f"u has dtype {u.dtype} but weight has dtype {matrix.dtype}")
    V.same_device(u, matrix, "u", "weight")
    if members is None:
        sigma, u, v = _power_steps(matrix.unsqueeze(0), u.unsqueeze(0), n_iter)
        return sigma[0], u[0], v[0]
    return _power_steps(matrix, u, n_iter)


def _random_units(shape: tuple[int, int], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Rows of uniformly random unit vectors (normalised Gaussians), shape ``shape``, with ``like``'s
    dtype and device, drawn from ``generator`` (on its device) or from the global CPU stream."""
    where = generator.device if generator is not None else torch.device("cpu")
    u = torch.randn(shape, generator=generator, device=where, dtype=like.dtype)
    return F.normalize(u, dim=-1, eps=_EPS).to(like.device)


class SpectralNorm(nn.Module):
    """The parametrization W ↦ W / σ(W), eq. (ch6-sn) (``torch.nn.utils.parametrize``), with σ(W)
    estimated by :func:`power_iteration`.

    The buffers ``u`` (shape (out,)) and ``v`` (shape (in·kh·kw,)) persist between calls, move with
    ``.to(device)`` and are saved in the state dict. ``u`` starts as a normalised Gaussian drawn from
    ``generator``, ``v`` as Wᵀu/‖Wᵀu‖. In training mode each forward runs ``n_iter`` power steps
    (one in the paper) and divides by the new σ = uᵀWv; in eval mode it runs none and divides by
    uᵀWv of the stored vectors, so the weight is the one of the last training step.

    With ``members=E`` the buffers have shapes (E, out) and (E, in·kh·kw) and member e's block of the
    weight (:func:`as_matrix`) is divided by its own σ_e.

    Each access to the parametrized ``module.weight`` in training mode is one forward; read it inside
    ``parametrize.cached()`` to take several looks at one step.

    ``torch.nn.utils.parametrizations.spectral_norm`` keeps v and updates u first (u ← Wv, then
    v ← Wᵀu): it is this iteration applied to Wᵀ, and its estimate after a step is ‖Wᵀu‖ where the
    paper's is ‖Wv‖. Both converge to σ(W).
    """

    def __init__(self, weight: torch.Tensor, *, n_iter: int = 1, dim: int = 0, members: int | None = None,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.n_iter = V.positive_int(n_iter, "n_iter")
        self.members = _members_arg(members)
        generator = V.generator(generator)
        matrix = as_matrix(weight, dim, self.members)
        self.dim = dim
        batch = matrix if self.members is not None else matrix.unsqueeze(0)
        with torch.no_grad():
            u = _random_units(tuple(batch.shape[:2]), generator, batch)
            v = F.normalize(torch.bmm(batch.transpose(1, 2), u.unsqueeze(2)).squeeze(2), dim=1, eps=_EPS)
        if self.members is None:
            u, v = u[0], v[0]
        self.register_buffer("u", u)
        self.register_buffer("v", v)

    def _sigma(self, weight: torch.Tensor) -> torch.Tensor:
        """σ of every member, shape (E,) (E = 1 without members); one power-iteration update in training."""
        matrix = as_matrix(weight, self.dim, self.members)
        if self.members is None:
            matrix = matrix.unsqueeze(0)
        u, v = (self.u, self.v) if self.members is not None else (self.u.unsqueeze(0), self.v.unsqueeze(0))
        if self.training:
            sigma, u_new, v_new = _power_steps(matrix, u, self.n_iter)
            with torch.no_grad():                 # in place, so that the buffers stay the module's
                self.u.copy_(u_new.view_as(self.u))
                self.v.copy_(v_new.view_as(self.v))
            return sigma
        with torch.autocast(matrix.device.type, enabled=False):
            return (u * torch.bmm(matrix, v.unsqueeze(2)).squeeze(2)).sum(1)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        sigma = self._sigma(weight)
        if self.members is None:
            return weight / sigma[0]
        return (weight.reshape(self.members, -1) / sigma.unsqueeze(1)).view_as(weight)

    def right_inverse(self, weight: torch.Tensor) -> torch.Tensor:
        """Assigning ``module.weight = w`` stores ``w`` as the unnormalised weight."""
        return weight


def _layer_members(module: nn.Module, members: int | None) -> int | None:
    """The members of a layer: a MemberLinear's E (``members`` must agree); for a convolution
    ``members`` itself, which must equal its ``groups``; an nn.Linear has none."""
    members = _members_arg(members)
    if isinstance(module, MemberLinear):
        e = module.weight.shape[0]
        if members is not None and members != e:
            raise ValueError(f"members={members} but the MemberLinear holds {e} members")
        return e
    if members is None:
        return None
    if isinstance(module, nn.Linear):
        raise ValueError("members must be None for an nn.Linear (it holds one matrix); use dcgan.MemberLinear")
    if module.groups != members:
        raise ValueError(f"members={members} but the {type(module).__name__} has groups={module.groups}: "
                         "each member must be one group")
    return members


def spectral_norm(module: nn.Module, n_iter: int = 1, generator: torch.Generator | None = None,
                  name: str = "weight", members: int | None = None) -> nn.Module:
    """Spectrally normalise ``module`` (an nn.Linear, nn.Conv2d, nn.ConvTranspose2d or
    dcgan.MemberLinear) in place: its ``name`` parameter becomes W / σ(W), eq. (ch6-sn)
    (:class:`SpectralNorm`; a transposed convolution's output dimension is its kernel's dimension 1,
    torch's convention). ``members=E`` for a convolution with ``groups=E`` of a grouped network: each
    group's kernel gets its own σ. A MemberLinear is always normalised member by member. Returns
    ``module``."""
    module = _layer(module, "module")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    members = _layer_members(module, members)
    if parametrize.is_parametrized(module, name):
        raise ValueError(f"module's {name!r} is already parametrized (spectral_norm applied twice?)")
    weight = getattr(module, name, None)
    if not isinstance(weight, nn.Parameter):
        raise ValueError(f"name={name!r}: {type(module).__name__} has no parameter of that name")
    sn = SpectralNorm(weight, n_iter=n_iter, dim=_out_dim(module), members=members, generator=generator)
    # unsafe=True skips register_parametrization's trial forward, which would take a power step
    # before the first training step (the parametrization keeps shape and dtype, what it checks).
    parametrize.register_parametrization(module, name, sn, unsafe=True)
    return module


def _layers(net: nn.Module) -> list[nn.Module]:
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be an nn.Module, got {type(net).__name__}")
    layers = [m for m in net.modules() if isinstance(m, _LAYERS)]
    if not layers:
        raise ValueError("net has no nn.Linear, nn.Conv2d, nn.ConvTranspose2d or MemberLinear layer")
    return layers


def apply_spectral_norm(net: nn.Module, n_iter: int = 1, generator: torch.Generator | None = None,
                        members: int | None = None) -> nn.Module:
    """Apply :func:`spectral_norm` to every nn.Linear, nn.Conv2d, nn.ConvTranspose2d and MemberLinear
    of ``net`` (in ``net.modules()`` order, which fixes the order of the draws from ``generator``).
    ``members=E`` for a grouped network of :mod:`ganbook.dcgan` (every convolution has ``groups=E``).
    Returns ``net``."""
    members = _members_arg(members)
    layers = _layers(net)
    for layer in layers:
        if members is None and isinstance(layer, MemberLinear) and layer.weight.shape[0] > 1:
            raise ValueError(f"net holds {layer.weight.shape[0]} members (a MemberLinear): pass members=")
        _layer_members(layer, members)                      # check every layer before changing any
    for layer in layers:
        spectral_norm(layer, n_iter=n_iter, generator=generator, members=members)
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
    if isinstance(layer, MemberLinear):
        raise TypeError("layer is a MemberLinear (one matrix per member): use kernel_norms(layer, members)")
    return float(kernel_norms(layer)[0])


def kernel_norms(layer: nn.Module, members: int | None = None) -> torch.Tensor:
    """The exact spectral norm (SVD, float64) of each member's weight block reshaped to (out, −1)
    (:func:`as_matrix`), shape (E,); (1,) without members. Read without a power step."""
    layer = _layer(layer, "layer")
    members = _layer_members(layer, members)
    with torch.no_grad(), _evaluating(layer):
        matrix = as_matrix(layer.weight, _out_dim(layer), members)
        if members is None:
            matrix = matrix.unsqueeze(0)
        return torch.linalg.matrix_norm(matrix.double(), ord=2)


def _check_chain(net: nn.Module) -> list[nn.Module]:
    layers = _layers(net)
    for m in net.modules():
        if (not isinstance(m, (*_LAYERS, parametrize.ParametrizationList))
                and next(m.parameters(recurse=False), None) is not None):
            raise ValueError(f"net contains a {type(m).__name__} with parameters: the product bound covers only "
                             "Linear/Conv2d/ConvTranspose2d/MemberLinear layers and parameter-free activations")
    return layers


def lipschitz_bound(net: nn.Module) -> float:
    """Eq. (ch6-lipschitz-bound): Π_l σ(W_l), the product of the spectral norms of ``net``'s
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
    depends on the input size, stride and padding, eq. (ch6-conv-norm): when some output's receptive
    field lies inside the input, the operator norm is at least the kernel's norm and at most √m times
    it, m the largest number of outputs that read one input pixel (m ≤ ⌈kh/sh⌉·⌈kw/sw⌉; 9 for a 3×3
    kernel with stride 1, 4 for DCGAN's 4×4 kernels with stride 2); on smaller inputs it can be
    smaller. For a convolutional network this product is the quantity spectral normalisation
    constrains, not a bound. Use :func:`conv_operator_norm` for the true norm of a convolution.
    """
    layers = _check_chain(net)
    if any(isinstance(m, MemberLinear) for m in layers):
        raise TypeError("net holds members (a MemberLinear): use lipschitz_bounds(net, members)")
    return math.prod(kernel_norm(m) for m in layers)


def lipschitz_bounds(net: nn.Module, members: int) -> torch.Tensor:
    """Eq. (ch6-lipschitz-bound) for each member of a grouped network (:mod:`ganbook.dcgan`,
    ``members=E``): the product over layers of the members' kernel norms (:func:`kernel_norms`),
    shape (E,). The caveats of :func:`lipschitz_bound` apply."""
    members = V.positive_int(members, "members")
    layers = _check_chain(net)
    return torch.stack([kernel_norms(m, members) for m in layers]).prod(0)


def _conv_power(conv: nn.Module, shape: tuple[int, int, int], members: int, n_iter: int,
                generator: torch.Generator | None) -> torch.Tensor:
    """Power iteration on AᵀA for the linear part A of ``conv``, E = ``members`` blocks of channels
    normalised separately (a grouped convolution is block-diagonal); ‖A_e‖ per block, shape (E,)."""
    weight = conv.weight
    x = _random_units((members, shape[0] * shape[1] * shape[2]), generator, weight)
    x = x.reshape(1, members * shape[0], shape[1], shape[2])
    block_norms = lambda t: t.reshape(members, -1).norm(dim=1)                  # noqa: E731
    with _evaluating(conv), torch.autocast(weight.device.type, enabled=False):
        with torch.no_grad():
            offset = conv(torch.zeros_like(x))                  # the bias, broadcast
        for _ in range(n_iter):
            x = x.detach().requires_grad_(True)
            out = conv(x)
            ax = (out - offset).detach()
            (atax,) = torch.autograd.grad(out, x, grad_outputs=ax)     # Aᵀ(Ax)
            scale = block_norms(atax).clamp_min(_EPS)
            x = (atax.reshape(members, -1) / scale.unsqueeze(1)).reshape_as(atax)
        with torch.no_grad():
            return block_norms(conv(x) - offset).double()


def _conv_args(conv: object, input_shape: object, channels: int) -> tuple[int, int, int]:
    conv = _layer(conv, "conv")
    if not isinstance(conv, _CONVS):
        raise TypeError("conv must be an nn.Conv2d or nn.ConvTranspose2d; an nn.Linear's norm is kernel_norm(layer)")
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list, torch.Size)) else None
    if (shape is None or len(shape) != 3 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape)):
        raise ValueError(f"input_shape must be (C, H, W) of positive ints, got {input_shape!r}")
    if shape[0] != channels:
        raise ValueError(f"input_shape has {shape[0]} channels but conv expects {channels}")
    return shape


def conv_operator_norm(conv: nn.Module, input_shape: Sequence[int], n_iter: int = 200,
                       generator: torch.Generator | None = None) -> float:
    """The operator norm max_x ‖A x‖/‖x‖ of the linear part A of ``conv`` (an nn.Conv2d or
    nn.ConvTranspose2d, its bias left out) on inputs of shape ``input_shape`` = (C, H, W), by
    ``n_iter`` steps of the power iteration on AᵀA; eq. (ch6-conv-norm) relates it to the kernel's norm.

    A x = conv(x) − conv(0), and Aᵀy is the gradient of ⟨conv(x), y⟩ in x (autograd; the bias does
    not change it). A spectrally normalised conv is read in eval mode (no power step). The
    estimate ‖Ax‖ with ‖x‖ = 1 increases to the norm from below.
    """
    shape = _conv_args(conv, input_shape, getattr(conv, "in_channels", 0))
    n_iter = V.positive_int(n_iter, "n_iter")
    generator = V.generator(generator)
    return float(_conv_power(conv, shape, 1, n_iter, generator)[0])


def conv_operator_norms(conv: nn.Module, input_shape: Sequence[int], members: int, n_iter: int = 200,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """:func:`conv_operator_norm` of each member of a grouped convolution (``groups=E`` =
    ``members``), shape (E,): ``input_shape`` = (C, H, W) is one member's input (C = in_channels / E).
    The E power iterations run side by side, each member's block of the input normalised separately."""
    members = V.positive_int(members, "members")
    conv = _layer(conv, "conv")
    if isinstance(conv, _CONVS):
        _layer_members(conv, members)
    shape = _conv_args(conv, input_shape, getattr(conv, "in_channels", 0) // members)
    n_iter = V.positive_int(n_iter, "n_iter")
    generator = V.generator(generator)
    return _conv_power(conv, shape, members, n_iter, generator)
