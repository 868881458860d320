"""Chapter 8a: what the discriminator sees or is asked.

* :func:`feature_matching_loss` — Salimans et al.: the generator matches mean discriminator
  features, eq. (ch8-fm);
* :func:`minibatch_projection`, :func:`minibatch_similarities`, :func:`minibatch_features`,
  :class:`MinibatchDiscrimination` — Salimans et al.: the tensor T, L1 similarities across the batch
  (in groups of 64), eq. (ch8-mbd); :class:`MinibatchDiscriminator` puts the layer inside an MLP
  discriminator, and :mod:`ganbook.bench` inside its batched one (one T per seed);
* :func:`pack`, :class:`Packed` — PacGAN (Lin et al.): the discriminator judges m samples at once,
  eq. (ch8-pack);
* :func:`instance_noise`, :func:`annealed_sigma` — Gaussian noise on both real and generated inputs,
  annealed towards 0, eq. (ch8-noise).

One-sided label smoothing, eq. (ch8-ls), is a loss: :mod:`ganbook.objectives.smoothing`.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import _validate as V
from .. import nets


# -- feature matching -----------------------------------------------------------------------------


def feature_matching_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Feature matching, eq. (ch8-fm): the generator's loss ‖E f(x) − E f(G(z))‖²₂, where ``real``
    (n, k) and ``fake`` (m, k) are the discriminator's intermediate features f on a real and a
    generated batch (leading dimensions (..., n, k) are averaged over). The real features are a
    fixed target (detached)."""
    V.rows(real, "real")
    V.rows(fake, "fake")
    if real.shape[:-2] != fake.shape[:-2] or real.shape[-1] != fake.shape[-1]:
        raise ValueError(f"real and fake must have the same width (and leading dimensions), got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    return (real.detach().mean(-2) - fake.mean(-2)).pow(2).sum(-1).mean()


# -- minibatch discrimination ---------------------------------------------------------------------


def minibatch_projection(f: torch.Tensor, T: torch.Tensor) -> torch.Tensor:
    """Mᵢ = f(xᵢ)·T ∈ ℝ^{B×C}, eq. (ch8-mbd), for features f (..., n, A) and the tensor T (..., A, B, C):
    one matrix product with T seen as (..., A, B·C). Leading dimensions (...) of f and T go together,
    e.g. one T per seed in :mod:`ganbook.bench`. Returns M, shape (..., n, B, C)."""
    V.tensor(f, "f", finite=False)
    V.tensor(T, "T", finite=False)
    if f.dim() < 2 or T.dim() < 3 or T.shape[-3] != f.shape[-1]:
        raise ValueError(f"f must have shape (..., n, A) and T (..., A, B, C) with the same A, got "
                         f"{tuple(f.shape)} and {tuple(T.shape)}")
    A, B, Cdim = T.shape[-3:]
    M = torch.matmul(f, T.reshape(*T.shape[:-3], A, B * Cdim))             # (..., n, B·C)
    return M.reshape(*M.shape[:-1], B, Cdim)                                # (..., n, B, C)


def minibatch_similarities(M: torch.Tensor) -> torch.Tensor:
    """c_b(xᵢ, xⱼ) = exp(−‖M_{i,b} − M_{j,b}‖₁) for all pairs of a batch, eq. (ch8-mbd):
    M (..., n, B, C) → (..., n, n, B)."""
    V.tensor(M, "M", min_rows=1)
    if M.dim() < 3:
        raise ValueError(f"M must have shape (..., n, B, C), got {tuple(M.shape)}")
    l1 = (M.unsqueeze(-3) - M.unsqueeze(-4)).abs().sum(-1)                # (..., n, n, B)
    return torch.exp(-l1)


def minibatch_features(f: torch.Tensor, T: torch.Tensor, group: int | None = 64) -> torch.Tensor:
    """o(xᵢ)_b = Σⱼ c_b(xᵢ, xⱼ), eq. (ch8-mbd), for features f (..., n, A) and the tensor
    T (..., A, B, C): the projections M of :func:`minibatch_projection`, then the similarities of
    :func:`minibatch_similarities` summed over j. With ``group`` = g dividing n, j runs over the g
    consecutive samples of i's group (n·g pairs instead of n²); otherwise (or with ``group=None``)
    over the whole batch. Returns o, shape (..., n, B)."""
    M = minibatch_projection(f, T)                                          # (..., n, B, C)
    *lead, n, B, Cdim = M.shape
    g = group if group is not None and n % group == 0 else n
    M = M.reshape(*lead, n // g, g, B, Cdim)                                # (..., n/g, g, B, C)
    return minibatch_similarities(M).sum(-2).reshape(*lead, n, B)           # (..., n, B)


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination, eq. (ch8-mbd) (Salimans et al. 2016).

    f(xᵢ) ∈ ℝᴬ is multiplied by a tensor T ∈ ℝ^{A×B×C}, giving Mᵢ ∈ ℝ^{B×C}. For each of the B rows,
    c_b(xᵢ, xⱼ) = exp(−‖M_{i,b} − M_{j,b}‖₁) is a similarity in (0, 1]: 1 for identical samples, → 0
    for samples far apart in that projection. o(xᵢ)_b = Σⱼ c_b(xᵢ, xⱼ), the sum over i's group of
    ``group`` samples (the whole batch if ``group`` is None or does not divide n; j = i included,
    which contributes exactly 1), is appended to f(xᵢ): f (..., n, A) → (..., n, A + B).

    T is drawn from N(0, init_std²). With ``generators`` (one ``torch.Generator`` per seed) the layer
    holds one T per seed, shape (S, A, B, C), seed s's drawn from ``generators[s]``, and expects
    f of shape (S, n, A): the batched discriminator of :mod:`ganbook.bench` is built this way.
    """

    def __init__(self, in_features: int, n_kernels: int = 16, kernel_dim: int = 8, init_std: float = 0.1,
                 group: int | None = 64, generators: list[torch.Generator] | None = None):
        super().__init__()
        self.A = V.positive_int(in_features, "in_features")
        self.B = V.positive_int(n_kernels, "n_kernels")
        self.C = V.positive_int(kernel_dim, "kernel_dim")
        V.positive_float(init_std, "init_std")
        self.group = None if group is None else V.positive_int(group, "group")
        shape = (self.A, self.B, self.C)
        if generators is None:
            T = init_std * torch.randn(shape)
        else:
            if not generators or not all(isinstance(g, torch.Generator) for g in generators):
                raise TypeError("generators must be a non-empty list of torch.Generator (one per seed)")
            T = torch.stack([init_std * torch.randn(shape, generator=g) for g in generators])
        self.T = nn.Parameter(T)                                            # (A, B, C) or (S, A, B, C)

    def similarities(self, f: torch.Tensor) -> torch.Tensor:
        """c_b(xᵢ, xⱼ) for all pairs of a whole batch f (n, A) of a single-seed layer, shape (n, n, B)."""
        V.tensor(f, "f", ndim=2, last_dim=self.A, min_rows=1)
        if self.T.dim() != 3:
            raise ValueError("similarities() is for a layer with one T (built without generators)")
        return minibatch_similarities(minibatch_projection(f, self.T))     # (n, n, B)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        V.tensor(f, "f", last_dim=self.A, finite=False)
        o = minibatch_features(f, self.T, self.group)                       # (..., n, B)
        return torch.cat([f, o], dim=-1)                                    # (..., n, A + B)


class MinibatchDiscriminator(nn.Module):
    """An MLP discriminator with a minibatch-discrimination layer before its last linear layer.
    Call it on a real batch and on a generated batch *separately*, as Salimans et al. do: the
    minibatch features then tell the discriminator how diverse each batch is. Logits (n,)."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...] = (128, 128), n_kernels: int = 16, kernel_dim: int = 8,
                 group: int | None = 64):
        super().__init__()
        if not hidden:
            raise ValueError("hidden must list at least one layer width")
        width = hidden[-1]                                                  # the trunk ends with a hidden layer
        self.trunk = nets.mlp(in_dim, width, hidden[:-1], activation="leaky_relu", out_activation="leaky_relu")
        self.mbd = MinibatchDiscrimination(width, n_kernels, kernel_dim, group=group)
        self.head = nn.Linear(width + n_kernels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mbd(self.trunk(x))).squeeze(-1)               # (n,)


# -- PacGAN ---------------------------------------------------------------------------------------


def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """PacGAN's packing, eq. (ch8-pack): (n, d) → (n/m, m·d); row j is the concatenation of samples
    jm, …, jm + m − 1 (leading dimensions (..., n, d) are kept). n must be a multiple of m (a silent
    drop of the remainder would bias the batch)."""
    V.tensor(x, "x", min_rows=1, finite=False)
    V.positive_int(m, "m")
    if x.dim() < 2:
        raise ValueError(f"x must have shape (..., n, d), got {tuple(x.shape)}")
    n, d = x.shape[-2], x.shape[-1]
    if n % m:
        raise ValueError(f"the batch size {n} is not a multiple of the packing degree m = {m}")
    return x.reshape(*x.shape[:-2], n // m, m * d)


class Packed(nn.Module):
    """A discriminator that judges m samples at once: ``Packed(D, m)(x)`` reshapes x (n, d) into
    (n/m, m·d) with :func:`pack` and returns D's logits for the packs, shape (n/m,). D must accept
    inputs of width m·d (e.g. ``nets.mlp(m * d, 1, squeeze=True)``)."""

    def __init__(self, D: nn.Module, m: int):
        super().__init__()
        if not isinstance(D, nn.Module):
            raise TypeError(f"D must be a torch.nn.Module, got {type(D).__name__}")
        self.D, self.m = D, V.positive_int(m, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.D(pack(x, self.m))


# -- instance noise -------------------------------------------------------------------------------


def instance_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """x + σε with ε ~ N(0, I), eq. (ch8-noise): applied to *both* real and generated samples before
    the discriminator, so that the two distributions overlap and D cannot become perfect. σ is
    annealed towards 0 during training (:func:`annealed_sigma`)."""
    V.tensor(x, "x", min_rows=1)
    V.positive_float(sigma, "sigma", allow_zero=True)
    V.generator(generator)
    if sigma == 0:
        return x
    where = generator.device if generator is not None else x.device
    return x + sigma * torch.randn(x.shape, generator=generator, device=where).to(x)


def annealed_sigma(step: int, total: int, sigma0: float) -> float:
    """Linear annealing σ(t) = σ₀ (1 − t/total), clipped at 0."""
    V.positive_int(step, "step", minimum=0)
    V.positive_int(total, "total")
    V.positive_float(sigma0, "sigma0", allow_zero=True)
    return sigma0 * max(0.0, 1.0 - step / total)


__all__ = ["feature_matching_loss", "minibatch_projection", "minibatch_similarities", "minibatch_features",
           "MinibatchDiscrimination", "MinibatchDiscriminator", "pack", "Packed", "instance_noise", "annealed_sigma"]
