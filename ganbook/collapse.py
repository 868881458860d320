"""Mechanisms against mode collapse (chapter 8), each a small piece that a notebook loop uses.

* :func:`feature_matching_loss` — Salimans et al.: match mean discriminator features, eq. (ch8-fm);
* :func:`minibatch_features`, :class:`MinibatchDiscrimination` — Salimans et al.: the tensor T, L1
  similarities across the batch (in groups of 64), eq. (ch8-mbd); :class:`MinibatchDiscriminator` puts it
  inside an MLP discriminator, and :mod:`ganbook.bench` inside its batched one (one T per seed);
* :func:`one_sided_smoothing_d_loss` — real labels α < 1, fake labels 0, eq. (ch8-ls); a loss, so it
  lives in :mod:`ganbook.objectives.smoothing` (re-exported here), registered as ``"one-sided-smoothing"``;
* :func:`unrolled_parameters`, :func:`unrolled_g_loss` — Unrolled GAN (Metz et al.): k
  discriminator steps on a functional copy, differentiated through, eq. (ch8-unrolled); the
  benchmark's ``step_unrolled`` calls :func:`unrolled_g_loss`;
* :func:`mrgan_regularizers` — MRGAN (Che et al.): encoder, geometric and mode regularisers,
  eq. (ch8-mrgan);
* :func:`veegan_d_loss`, :func:`veegan_g_loss` — VEEGAN (Srivastava et al.): reconstructor in z space and a discriminator
  on (z, x) pairs, eq. (ch8-veegan);
* :func:`madgan_losses` — MAD-GAN (Ghosh et al.): k generators, a (k + 1)-class discriminator,
  eq. (ch8-madgan);
* :func:`pack`, :class:`Packed` — PacGAN (Lin et al.): the discriminator judges m samples at once,
  eq. (ch8-pack);
* :func:`instance_noise` — Gaussian noise on both real and generated inputs, annealed, eq. (ch8-noise);
* :func:`rejection_sample` — discriminator rejection sampling (Azadi et al.): keep a generated sample
  with probability exp(D(x) − M), which turns p_g into p_data where D's logit is log p_data/p_g,
  eq. (ch8-drs).

DRAGAN's penalty is :func:`ganbook.objectives.penalties.dragan_penalty` (chapter 4), used as is.
All discriminators return logits, shape (n,) (or (n, k + 1) for MAD-GAN). The loss functions also
accept leading batch dimensions, (..., n, d) — e.g. independent seeds trained at once by
:mod:`ganbook.bench` — and then average over them as well.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from . import _validate as V
from .objectives.gan import minimax_d_loss
from .objectives.registry import Objective, get as get_objective
from .objectives.smoothing import one_sided_smoothing, one_sided_smoothing_d_loss, smoothed_d_loss

def _at_least_2d(x: object, name: str) -> torch.Tensor:
    V.tensor(x, name, min_rows=1)
    if x.dim() < 2 or x.shape[-2] == 0:
        raise ValueError(f"{name} must have shape (..., n, d) with n >= 1, got {tuple(x.shape)}")
    return x


# -- feature matching -----------------------------------------------------------------------------


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Feature matching, eq. (ch8-fm): ‖E f(x) − E f(G(z))‖²₂ over batches (n, k) and (m, k) of
    intermediate discriminator features (leading dimensions (..., n, k) are averaged over). The
    real features are a fixed target (detached)."""
    _at_least_2d(real_features, "real_features")
    _at_least_2d(fake_features, "fake_features")
    if real_features.shape[:-2] != fake_features.shape[:-2] or real_features.shape[-1] != fake_features.shape[-1]:
        raise ValueError(f"real_features and fake_features must have the same width (and leading dimensions), got "
                         f"{tuple(real_features.shape)} and {tuple(fake_features.shape)}")
    return (real_features.detach().mean(-2) - fake_features.mean(-2)).pow(2).sum(-1).mean()


class FeatureDiscriminator(nn.Module):
    """An MLP discriminator split into ``features`` (x → f(x), the last hidden layer) and ``head``
    (f → logit), so that feature matching can read f(x). ``forward`` returns logits, shape (n,)."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...] = (128, 128)):
        super().__init__()
        V.positive_int(in_dim, "in_dim")
        if not hidden:
            raise ValueError("hidden must list at least one layer width")
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, V.positive_int(h, "hidden[i]")), nn.LeakyReLU(0.2)]
            width = h
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)                      # (n,)


# -- minibatch discrimination ---------------------------------------------------------------------


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
    T (..., A, B, C): Mᵢ = f(xᵢ)·T ∈ ℝ^{B×C}, then the similarities of :func:`minibatch_similarities`
    summed over j. With ``group`` = g dividing n, j runs over the g consecutive samples of i's group
    (n·g pairs instead of n²); otherwise (or with ``group=None``) over the whole batch. Leading
    dimensions (...) of f and T go together, e.g. one T per seed in :mod:`ganbook.bench`.
    Returns o, shape (..., n, B)."""
    V.tensor(f, "f", finite=False)
    V.tensor(T, "T", finite=False)
    if f.dim() < 2 or T.dim() < 3 or T.shape[-3] != f.shape[-1]:
        raise ValueError(f"f must have shape (..., n, A) and T (..., A, B, C) with the same A, got "
                         f"{tuple(f.shape)} and {tuple(T.shape)}")
    n, (A, B, Cdim) = f.shape[-2], T.shape[-3:]
    g = group if group is not None and n % group == 0 else n
    M = torch.matmul(f, T.reshape(*T.shape[:-3], A, B * Cdim))             # (..., n, B·C)
    lead = M.shape[:-2]
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
        M = torch.einsum("na,abc->nbc", f, self.T)                          # (n, B, C)
        return minibatch_similarities(M)                                    # (n, n, B)

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
        self.trunk = FeatureDiscriminator(in_dim, hidden).features
        width = hidden[-1]
        self.mbd = MinibatchDiscrimination(width, n_kernels, kernel_dim, group=group)
        self.head = nn.Linear(width + n_kernels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.mbd(self.trunk(x))).squeeze(-1)               # (n,)


# -- one-sided label smoothing: a loss, so it lives in objectives.smoothing (imported above) ------

# -- Unrolled GAN ---------------------------------------------------------------------------------


def unrolled_parameters(D: nn.Module, real_batches: list[torch.Tensor], fake: torch.Tensor,
                        lr: float, d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = minimax_d_loss
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


def unrolled_g_loss(D: nn.Module, fake: torch.Tensor, real_batches: list[torch.Tensor], lr: float,
                    objective: str | Objective = "nonsaturating") -> torch.Tensor:
    """The Unrolled GAN generator loss, eq. (ch8-unrolled): the objective's generator loss against
    the discriminator *after* k unrolled steps, f_K(θ_G) = g_loss(D_{ψ_K(θ_G)}(G(z))). Gradients flow
    through the k steps into ``fake``; D's own parameters are untouched. The benchmark's
    ``ganbook.bench.step_unrolled`` calls it with the non-saturating losses summed over its seeds."""
    obj = get_objective(objective)
    params = unrolled_parameters(D, real_batches, fake, lr, obj.d_loss)
    return obj.g_loss(functional_call(D, params, (fake,)))


# -- MRGAN ----------------------------------------------------------------------------------------


def mrgan_regularizers(x: torch.Tensor, reconstruction: torch.Tensor, reconstruction_logits: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """MRGAN's two regularisers, eq. (ch8-mrgan), for a real batch x (n, d), its reconstruction
    G(E(x)) (n, d) and the discriminator's logits on it (n,):

    * geometric: E_x ‖x − G(E(x))‖²₂ — the generator's manifold must pass through the data;
    * mode: E_x[−log D(G(E(x)))] — reconstructions of *every* data point, minor modes included,
      should be judged real.

    Both the encoder and the generator minimise λ₁·geometric + λ₂·mode."""
    _at_least_2d(x, "x")
    V.tensor(reconstruction, "reconstruction")
    V.tensor(reconstruction_logits, "reconstruction_logits")
    if x.shape != reconstruction.shape:
        raise ValueError(f"x and reconstruction must have the same shape, got {tuple(x.shape)} and "
                         f"{tuple(reconstruction.shape)}")
    if reconstruction_logits.shape != x.shape[:-1]:
        raise ValueError(f"reconstruction_logits must have shape {tuple(x.shape[:-1])}, got {tuple(reconstruction_logits.shape)}")
    geometric = (x - reconstruction).pow(2).sum(-1).mean()
    mode = F.softplus(-reconstruction_logits).mean()
    return geometric, mode


# -- VEEGAN ---------------------------------------------------------------------------------------


def veegan_d_loss(z: torch.Tensor, fake: torch.Tensor, z_of_real: torch.Tensor, real: torch.Tensor,
                  D: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """VEEGAN's discriminator loss, eq. (ch8-veegan-d): D(z, x) → logits (..., n) judges *pairs*;
    label 1 for generated pairs (z, G(z)), label 0 for data pairs (F(x), x), with F the
    reconstructor. Shapes: z, z_of_real (..., n, k); fake, real (..., n, d). Inputs are detached:
    only D learns from this loss."""
    for name, t in (("z", z), ("fake", fake), ("z_of_real", z_of_real), ("real", real)):
        _at_least_2d(t, name)
    if z.shape[-1] != z_of_real.shape[-1]:
        raise ValueError(f"z and z_of_real must have the same width, got {tuple(z.shape)} and {tuple(z_of_real.shape)}")
    d_fake_pair = D(z.detach(), fake.detach())                               # (..., n), label 1
    d_real_pair = D(z_of_real.detach(), real.detach())                      # (..., n), label 0
    return F.softplus(-d_fake_pair).mean() + F.softplus(d_real_pair).mean()


def veegan_g_loss(z: torch.Tensor, fake: torch.Tensor, z_of_fake: torch.Tensor,
                  D: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """VEEGAN's generator/reconstructor objective, eq. (ch8-veegan): E[D(z, G(z))] + E‖z − F(G(z))‖²₂,
    with z_of_fake = F(G(z)). The generator minimises both terms, the reconstructor F the second
    (which is the only one that depends on it), so one backward pass serves both networks.
    Returns (loss, reconstruction term)."""
    for name, t in (("z", z), ("fake", fake), ("z_of_fake", z_of_fake)):
        _at_least_2d(t, name)
    if z.shape != z_of_fake.shape:
        raise ValueError(f"z and z_of_fake must have the same shape, got {tuple(z.shape)} and {tuple(z_of_fake.shape)}")
    reconstruction = (z - z_of_fake).pow(2).sum(-1).mean()
    return D(z, fake).mean() + reconstruction, reconstruction


# -- MAD-GAN --------------------------------------------------------------------------------------


def madgan_losses(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MAD-GAN, eq. (ch8-madgan), with k generators and a discriminator with k + 1 outputs
    (classes 0..k−1: "made by generator i", class k: "real").

    real_logits (..., n, k+1) on data; fake_logits (..., k, m, k+1): row i holds the logits of m samples of
    generator i. The discriminator's loss is the cross-entropy with labels k (real) and i (generator
    i); the generators' loss is −E log D_k(G_i(z)) summed over i (each wants its samples called
    real). The discriminator's loss is lower the better it can tell the generators *apart*; the
    generators' loss against the optimal discriminator depends only on their mixture (1/k) Σᵢ p_{g_i},
    so it does not reward them for taking different modes. Returns (d_loss, g_loss)."""
    _at_least_2d(real_logits, "real_logits")
    V.tensor(fake_logits, "fake_logits")
    if fake_logits.dim() != real_logits.dim() + 1 or fake_logits.shape[-2] == 0:
        raise ValueError(f"fake_logits must have shape (..., k, m, k + 1) next to real_logits (..., n, k + 1), got "
                         f"{tuple(fake_logits.shape)} and {tuple(real_logits.shape)}")
    k = fake_logits.shape[-3]
    if real_logits.shape[-1] != k + 1 or fake_logits.shape[-1] != k + 1:
        raise ValueError(f"with {k} generators the discriminator needs {k + 1} outputs; got real_logits "
                         f"{tuple(real_logits.shape)} and fake_logits {tuple(fake_logits.shape)}")
    log_real = torch.log_softmax(real_logits, -1)                          # (..., n, k + 1)
    log_fake = torch.log_softmax(fake_logits, -1)                          # (..., k, m, k + 1)
    own = torch.diagonal(log_fake[..., :k], dim1=-3, dim2=-1)              # (..., m, k): log D_i(G_i(z))
    d_loss = -log_real[..., k].mean() - own.mean()
    g_loss = -k * log_fake[..., k].mean()
    return d_loss, g_loss


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


# -- discriminator rejection sampling --------------------------------------------------------------


def rejection_mask(logits: torch.Tensor, generator: torch.Generator | None = None,
                   log_bound: float | None = None) -> tuple[torch.Tensor, float]:
    """Which proposals discriminator rejection sampling keeps, eq. (ch8-drs): proposal i with
    probability exp(ℓ_i − M), M = ``log_bound`` ≥ max ℓ (default: the largest logit). Returns the
    boolean mask, shape (n,), and M. logits: (n,)."""
    V.tensor(logits, "logits", ndim=1)
    V.generator(generator)
    M = float(logits.max()) if log_bound is None else float(log_bound)
    if log_bound is not None and M < float(logits.max()):
        raise ValueError(f"log_bound={log_bound} is below the largest logit {float(logits.max()):.4g}: "
                         "the acceptance probability exp(logit - log_bound) would exceed 1")
    where = generator.device if generator is not None else logits.device
    u = torch.rand(logits.shape, generator=generator, device=where).to(logits.device)
    return u < torch.exp(logits - M), M                                     # P(keep x_i) = exp(ℓ_i − M)


def rejection_sample(x: torch.Tensor, logits: torch.Tensor, generator: torch.Generator | None = None,
                     log_bound: float | None = None) -> tuple[torch.Tensor, float]:
    """Discriminator rejection sampling (Azadi et al., 2019), eq. (ch8-drs): keep proposal x_i ~ p_g
    with probability exp(ℓ_i − M), where ℓ_i is the discriminator's logit at x_i and M ≥ max ℓ.

    For the optimal discriminator of the GAN game ℓ(x) = log p_data(x)/p_g(x) (chapter 2), so the
    kept samples have density ∝ p_g · p_data/p_g = p_data wherever p_g > 0 and the ratio is at most
    e^M: rejection can reweight the modes the generator has and delete the mass it puts between
    them, but it cannot create a mode the generator misses. ``log_bound`` is M; by default the
    largest logit of this batch (the paper's estimate of M from a burn-in of proposals).
    Returns (the kept rows of ``x`` in their order, M).

    x: (n, d) proposals; logits: (n,)."""
    V.tensor(x, "x", ndim=2, min_rows=1)
    V.tensor(logits, "logits", ndim=1)
    if logits.shape[0] != x.shape[0]:
        raise ValueError(f"logits must have one entry per row of x ({x.shape[0]}), got shape {tuple(logits.shape)}")
    keep, M = rejection_mask(logits, generator, log_bound)
    return x[keep], M


__all__ = ["feature_matching_loss", "FeatureDiscriminator", "minibatch_similarities", "minibatch_features",
           "MinibatchDiscrimination", "MinibatchDiscriminator",
           "one_sided_smoothing_d_loss", "smoothed_d_loss", "one_sided_smoothing", "unrolled_parameters",
           "unrolled_g_loss", "mrgan_regularizers", "veegan_d_loss", "veegan_g_loss", "madgan_losses",
           "pack", "Packed", "instance_noise", "annealed_sigma", "rejection_mask", "rejection_sample"]
