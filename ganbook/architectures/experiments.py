"""The experiments of chapter 6c, each training E seeds side by side (batched networks), on any device.

* :func:`train_lapgan` — a Laplacian pyramid of conditional generators, eq. (ch6-lapgan-loss);
* :func:`train_gran` — the recurrent canvas generator, eq. (ch6-gran);
* :func:`train_lrgan` — the layered generator, eq. (ch6-lrgan), on shapes with textured backgrounds;
* :func:`train_gogan` — GoGAN's two stages on a 2D mixture, eq. (ch6-gogan-rank);
* :func:`train_stacked` — a two-level Stacked GAN on a 2D toy with a known encoder, eq. (ch6-sgan).

The image experiments use the non-saturating GAN loss (chapter 2) with batched logits (E, n): the loss is
a mean over all entries, times E, so each seed gets the gradient it would get alone. Nothing reads a value
back to the host inside a loop; the histories are stacked once at the end. :data:`PRESETS` holds the
``"cpu"`` settings (the chapter, within its CPU budget) and the ``"gpu"`` settings (larger images and
networks, more steps); ``python -m ganbook.architectures --preset gpu`` runs all of them.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from .. import _validate as V
from ..nets import BatchedMLP
from ..objectives.gan import minimax_d_loss, nonsaturating_g_loss
from ..objectives.ipm import wasserstein_g_loss
from ..objectives.penalties import interpolates
from .laplacian import LAPGANDiscriminator, LAPGANGenerator, gaussian_pyramid, upsample
from .layered import LayeredGenerator
from .ranking import gogan_d_loss, stage_margins
from .recurrent import GRANGenerator
from .stacked import sgan_conditional, sgan_entropy


@dataclass(frozen=True)
class Preset:
    """Settings of the chapter's experiments. ``pyramid_data``: "digits" (1×8×8) or "shapes" (3×S×S,
    plain background, S = ``pyramid_size``) for LAPGAN and GRAN; ``layered_size``: the side of the
    textured shapes for LR-GAN; ``hidden``: the width of the image networks' hidden layers (LR-GAN's:
    ``lrgan_hidden``); ``pool``: how
    many shapes images are rendered once and sampled from."""

    name: str
    pyramid_data: str = "digits"
    pyramid_size: int = 8
    levels: int = 2
    layered_size: int = 16
    seeds: int = 5
    hidden: int = 128
    batch: int = 64
    lapgan_steps: int = 500
    gran_steps: int = 500
    gran_canvas_steps: int = 3
    lrgan_steps: int = 300
    lrgan_batch: int = 32
    lrgan_hidden: int = 64
    gogan_steps: int = 100
    stacked_steps: int = 300
    pool: int = 4096
    lr: float = 1e-3
    betas: tuple[float, float] = field(default=(0.5, 0.999))


PRESETS = {
    "cpu": Preset("cpu"),
    "gpu": Preset("gpu", pyramid_data="shapes", pyramid_size=32, levels=4, layered_size=32, seeds=8, hidden=512,
                  batch=128, lapgan_steps=20_000, gran_steps=20_000, gran_canvas_steps=5, lrgan_steps=20_000,
                  lrgan_batch=128, lrgan_hidden=512, gogan_steps=5_000, stacked_steps=5_000, pool=16_384, lr=2e-4),
}


def generators_for(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU ``torch.Generator`` per seed, for :class:`ganbook.nets.BatchedMLP`'s per-member
    initialisation (a seed's networks do not depend on which other seeds train beside it)."""
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints, got {seeds}")
    return [torch.Generator().manual_seed(s) for s in seeds]


def _adam(params, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=betas)


def _batch(pool: torch.Tensor, members: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """(members, n, …) rows drawn with replacement from ``pool`` (on its device, by ``gen`` there)."""
    idx = torch.randint(0, pool.shape[0], (members, n), generator=gen, device=pool.device)
    return pool[idx]


def _check_pool(images: object, name: str = "images") -> torch.Tensor:
    V.tensor(images, name, ndim=4, min_rows=2)
    return images


@dataclass
class Run:
    """A trained experiment: the networks, the per-step losses (steps, members) and the settings."""

    G: nn.Module
    D: nn.Module
    history: dict[str, torch.Tensor]
    seeds: list[int]
    extra: dict = field(default_factory=dict)


def _stack(history: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack(v).detach().cpu() for k, v in history.items()}


# --- LAPGAN --------------------------------------------------------------------------------------------------


def lapgan_step(G: LAPGANGenerator, D: LAPGANDiscriminator, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of eq. (ch6-lapgan-loss) at every level at once, each level trained on the *real*
    coarser image: D_k tells the real band h_k = I_k − u(I_{k+1}) from G_k(z_k, u(I_{k+1})), both next to
    u(I_{k+1}); the coarsest level is an ordinary GAN on I_K. A discriminator step on the sum over levels
    of the non-saturating losses, then a generator step. ``real`` (E, n, C, S, S), ``z`` (E, n, levels,
    z_dim). Returns the two losses (summed over the members and levels)."""
    K, E = G.levels - 1, real.shape[0]
    images = gaussian_pyramid(real, G.levels)                          # [I_0, …, I_K]
    lows = [upsample(images[k + 1]) for k in range(K)]                 # l_k = u(I_{k+1})
    bands = [images[k] - lows[k] for k in range(K)] + [images[K]]      # [h_0, …, h_{K−1}, I_K]
    fakes = [G.band(k, z[:, :, k], lows[k]) for k in range(K)] + [G.coarse(z[:, :, K])]
    score = lambda k, x: D(k, x, lows[k] if k < K else None)
    d_loss = sum(E * minimax_d_loss(score(k, bands[k]), score(k, fakes[k].detach())) for k in range(K + 1))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward(inputs=list(D.parameters()))
    opt_d.step()
    g_loss = sum(E * nonsaturating_g_loss(score(k, fakes[k])) for k in range(K + 1))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward(inputs=list(G.parameters()))
    opt_g.step()
    return d_loss.detach(), g_loss.detach()


def train_lapgan(images: torch.Tensor, seeds: Sequence[int], *, steps: int, levels: int = 3, z_dim: int = 8,
                 hidden: int = 128, batch: int = 64, lr: float = 1e-3, betas: tuple[float, float] = (0.5, 0.999),
                 generator: torch.Generator | None = None) -> Run:
    """Train LAPGAN on ``images`` (N, C, S, S), one member per seed, every level at once (they are
    independent given the real coarser images) with :func:`lapgan_step`."""
    pool = _check_pool(images)
    V.positive_int(steps, "steps")
    gens = generators_for(seeds)
    C, S = pool.shape[1], pool.shape[-1]
    G = LAPGANGenerator(S, C, levels, z_dim, (hidden,), generators=gens).to(pool.device)
    D = LAPGANDiscriminator(S, C, levels, (hidden,), generators=gens).to(pool.device)
    return _fit(G, D, pool, seeds, steps=steps, batch=batch, z_shape=(levels, z_dim), lr=lr, betas=betas,
                generator=generator, step=lapgan_step)


# --- GRAN ----------------------------------------------------------------------------------------------------


def _gan_step(G: nn.Module, D: nn.Module, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """One non-saturating step of D then G on stacked batches: ``real`` (E, n, …), G(z) (E, n, …),
    D(x) logits (E, n)."""
    E = real.shape[0]
    fake = G(z)
    d_loss = E * minimax_d_loss(D(real), D(fake.detach()))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward(inputs=list(D.parameters()))
    opt_d.step()
    g_loss = E * nonsaturating_g_loss(D(fake))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward(inputs=list(G.parameters()))
    opt_g.step()
    return d_loss.detach(), g_loss.detach()


def _fit(G: nn.Module, D: nn.Module, pool: torch.Tensor, seeds: Sequence[int], *, steps: int, batch: int,
         z_shape: tuple[int, ...], lr: float, betas: tuple[float, float], generator: torch.Generator | None,
         step=_gan_step) -> Run:
    """Adam on both networks and ``steps`` calls of ``step``, each on a minibatch of ``pool`` per member and
    z of shape (E, batch, *z_shape), drawn in that order from ``generator``."""
    E = len(seeds)
    opt_g, opt_d = _adam(G.parameters(), lr, betas), _adam(D.parameters(), lr, betas)
    gen = generator if generator is not None else torch.Generator(pool.device).manual_seed(0)
    history: dict[str, list[torch.Tensor]] = {"d_loss": [], "g_loss": []}
    for _ in range(steps):
        real = _batch(pool, E, batch, gen)
        z = torch.randn((E, batch, *z_shape), generator=gen, device=pool.device)
        d_loss, g_loss = step(G, D, opt_g, opt_d, real, z)
        history["d_loss"].append(d_loss)
        history["g_loss"].append(g_loss)
    return Run(G, D, _stack(history), list(seeds))


class FlatDiscriminator(nn.Module):
    """An MLP discriminator on flattened images, E members: (E, n, C, H, W) → logits (E, n)."""

    def __init__(self, pixels: int, hidden: int, generators: Sequence[torch.Generator]):
        super().__init__()
        self.net = BatchedMLP(V.positive_int(pixels, "pixels"), 1, (hidden, hidden), generators=generators,
                              activation="leaky_relu", squeeze=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(2))


def train_gran(images: torch.Tensor, seeds: Sequence[int], *, steps: int, canvas_steps: int = 3, z_dim: int = 16,
               hidden: int = 128, batch: int = 64, lr: float = 1e-3, betas: tuple[float, float] = (0.5, 0.999),
               generator: torch.Generator | None = None) -> Run:
    """Train GRAN, eq. (ch6-gran), with an MLP discriminator, one member per seed."""
    pool = _check_pool(images)
    V.positive_int(steps, "steps")
    gens = generators_for(seeds)
    C, S = pool.shape[1], pool.shape[-1]
    G = GRANGenerator(S, C, z_dim, canvas_steps, code=32, hidden=(hidden,), generators=gens).to(pool.device)
    D = FlatDiscriminator(C * S * S, hidden, gens).to(pool.device)
    return _fit(G, D, pool, seeds, steps=steps, batch=batch, z_shape=(z_dim,), lr=lr, betas=betas,
                generator=generator)


# --- LR-GAN --------------------------------------------------------------------------------------------------


def train_lrgan(images: torch.Tensor, seeds: Sequence[int], *, steps: int, z_dim: int = 16, hidden: int = 128,
                batch: int = 64, lr: float = 1e-3, betas: tuple[float, float] = (0.5, 0.999),
                scale: tuple[float, float] = (0.25, 0.6), shift: float = 0.4,
                generator: torch.Generator | None = None) -> Run:
    """Train the layered generator, eq. (ch6-lrgan), against an MLP discriminator that sees only the
    composite images (no mask or background is ever supervised), one member per seed."""
    pool = _check_pool(images)
    V.positive_int(steps, "steps")
    gens = generators_for(seeds)
    C, S = pool.shape[1], pool.shape[-1]
    G = LayeredGenerator(S, C, z_dim, (hidden,), scale, shift, generators=gens).to(pool.device)
    D = FlatDiscriminator(C * S * S, hidden, gens).to(pool.device)
    return _fit(G, D, pool, seeds, steps=steps, batch=batch, z_shape=(2, z_dim), lr=lr, betas=betas,
                generator=generator)


# --- GoGAN ---------------------------------------------------------------------------------------------------


def _critic_gp(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """The gradient penalty (ch. 4) for stacked members: mean over members and samples of (‖∇D(x̂)‖ − 1)²
    at interpolates, summed over the members."""
    x = interpolates(real.flatten(0, 1), fake.flatten(0, 1), generator=gen).reshape(real.shape).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return real.shape[0] * (grad.norm(dim=-1) - 1).pow(2).mean()


def repeat_members(net: BatchedMLP, times: int) -> BatchedMLP:
    """A :class:`BatchedMLP` holding ``times`` copies of every member of ``net``, in blocks: members
    [0, E) are copy 1, [E, 2E) copy 2, … (independent parameters from then on)."""
    V.positive_int(times, "times")
    out = copy.deepcopy(net)
    with torch.no_grad():
        for plist in (out.weights, out.biases):
            for i, p in enumerate(plist):
                plist[i] = nn.Parameter(p.detach().repeat(times, 1, 1))
    out.members = net.members * times
    return out


def train_gogan(sample, seeds: Sequence[int], *, steps: int, margin: float = 2.0, rank_weight: float = 1.0,
                hidden: int = 64, batch: int = 64, lr: float = 1e-3, betas: tuple[float, float] = (0.5, 0.9),
                gp_weight: float = 1.0, n_critic: int = 3, device: torch.device | str | None = None,
                generator: torch.Generator | None = None) -> Run:
    """GoGAN's two stages on a 2D distribution (``sample(n, generator)`` → (n, 2)), eq. (ch6-gogan-rank).
    Stage 1: ``steps`` steps of the margin loss (ε, G_1 and D_1). Stage 2 starts from copies of G_1 and
    D_1, halves the margin and ranks the frozen G_1's samples below the data by 2ε_2 = ε. A *control*
    continues stage 1 unchanged for the same ``steps`` from the same copies, so that the two differ only in
    the stage-2 losses; both are trained side by side as 2E members (GoGAN first). Critics are kept near
    1-Lipschitz by a gradient penalty (the paper clips weights, as WGAN does); the generator loss is
    WGAN's. Returns G = the stage-2 generators (2E members: GoGAN, then control), D = their critics, and in
    ``extra`` the frozen G_1, D_1 and the margins."""
    V.positive_int(steps, "steps")
    device = V.device_arg(device)
    gens = generators_for(seeds)
    E = len(gens)
    G1 = BatchedMLP(2, 2, (hidden, hidden), generators=gens).to(device)
    D1 = BatchedMLP(2, 1, (hidden, hidden), generators=gens, activation="leaky_relu", squeeze=True).to(device)
    gen = generator if generator is not None else torch.Generator(device).manual_seed(0)
    eps1, eps2 = stage_margins(margin, 2)

    def stage(G, D, margins: list[float], previous: BatchedMLP | None = None) -> None:
        """``steps`` steps; members split into len(margins) blocks of E, block j with margin margins[j];
        with ``previous``, block 0 also gets the ranking term against previous's samples."""
        M = G.members
        opt_g, opt_d = _adam(G.parameters(), lr, betas), _adam(D.parameters(), lr, betas)
        for step in range(steps * n_critic):
            real = torch.stack([sample(batch, gen) for _ in range(E)]).to(device).repeat(M // E, 1, 1)
            z = torch.randn((E, batch, 2), generator=gen, device=device).repeat(M // E, 1, 1)
            fake = G(z).detach()
            d_real, d_fake = D(real), D(fake)
            loss = sum(E * gogan_d_loss(d_real[j * E:(j + 1) * E], d_fake[j * E:(j + 1) * E], margin=m)
                       for j, m in enumerate(margins))
            if previous is not None:                                   # eq. (ch6-gogan-rank), block 0 only
                with torch.no_grad():
                    old = previous(z[:E])
                d_old = D(torch.cat([old, old.new_zeros((M - E, batch, 2))]))[:E]
                loss = loss + rank_weight * E * gogan_d_loss(d_real[:E], d_old, margin=2 * margins[0])
            loss = loss + gp_weight * _critic_gp(D, real, fake, gen)
            opt_d.zero_grad(set_to_none=True)
            loss.backward(inputs=list(D.parameters()))
            opt_d.step()
            if (step + 1) % n_critic:
                continue
            g_loss = E * wasserstein_g_loss(D(G(z)).flatten()) * (M // E)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward(inputs=list(G.parameters()))
            opt_g.step()

    stage(G1, D1, [eps1])
    G1.requires_grad_(False)
    G2, D2 = repeat_members(G1, 2).requires_grad_(True), repeat_members(D1, 2)
    stage(G2, D2, [eps2, eps1], previous=G1)                           # block 0: GoGAN's stage 2; block 1: control
    return Run(G2, D2, {}, list(seeds), extra=dict(G1=G1, D1=D1, margins=(eps1, eps2)))


# --- Stacked GAN ---------------------------------------------------------------------------------------------


def stacked_toy(n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None
                ) -> torch.Tensor:
    """The Stacked GAN toy's data: x = (x₁, x₂) with x₁ from three equally likely modes N(μ, 0.05²),
    μ ∈ {−1, 0, 1}, and x₂ = 0.5 sin(3x₁) + N(0, 0.2²): a coarse factor x₁ (what the encoder sees) and a
    detail x₂ given x₁. Shape (n, 2)."""
    V.positive_int(n, "n")
    where = generator.device if generator is not None else torch.device("cpu")
    mode = torch.randint(0, 3, (n,), generator=generator, device=where).float() - 1
    x1 = mode + 0.05 * torch.randn(n, generator=generator, device=where)
    x2 = 0.5 * torch.sin(3 * x1) + 0.2 * torch.randn(n, generator=generator, device=where)
    return torch.stack([x1, x2], 1).to(V.device_arg(device))


def stacked_encoder(x: torch.Tensor) -> torch.Tensor:
    """The toy's fixed bottom-up encoder E: x ↦ h = x₁, shape (…, 1) (the coarse factor)."""
    return x[..., :1]


def train_stacked(seeds: Sequence[int], *, steps: int, hidden: int = 64, batch: int = 128, lr: float = 1e-3,
                  betas: tuple[float, float] = (0.5, 0.999), cond_weight: float = 1.0, ent_weight: float = 1.0,
                  device: torch.device | str | None = None, generator: torch.Generator | None = None) -> Run:
    """A two-level Stacked GAN, eq. (ch6-sgan), on :func:`stacked_toy` with the encoder
    :func:`stacked_encoder`, trained independently per level (the paper's first phase): the top level G_1:
    z_1 → ĥ (1D) against D_1 on real h = E(x); the bottom level G_0: (h, z_0) → x̂ (2D), fed the *real*
    h, against D_0 on x, with the conditional loss ‖h − E(x̂)‖² and the entropy loss through Q_0 (a head
    on D_0's features predicting z_0). Sampling the stack: x̂ = G_0(G_1(z_1), z_0). Returns G = G_0,
    D = D_0, and in ``extra`` G_1, D_1 and Q_0."""
    V.positive_int(steps, "steps")
    device = V.device_arg(device)
    gens = generators_for(seeds)
    E = len(gens)
    leaky = dict(activation="leaky_relu")
    G1 = BatchedMLP(1, 1, (hidden, hidden), generators=gens).to(device)
    D1 = BatchedMLP(1, 1, (hidden, hidden), generators=gens, squeeze=True, **leaky).to(device)
    G0 = BatchedMLP(1 + 1, 2, (hidden, hidden), generators=gens).to(device)
    D0 = BatchedMLP(2, 1 + 1, (hidden, hidden), generators=gens, **leaky).to(device)   # [logit, Q's mean of z_0]
    params_d = list(D1.parameters()) + list(D0.parameters())
    params_g = list(G1.parameters()) + list(G0.parameters())
    opt_d, opt_g = _adam(params_d, lr, betas), _adam(params_g, lr, betas)
    gen = generator if generator is not None else torch.Generator(device).manual_seed(0)
    history: dict[str, list[torch.Tensor]] = {"cond": [], "ent": []}
    for _ in range(steps):
        x = stacked_toy(E * batch, gen, device).reshape(E, batch, 2)
        h = stacked_encoder(x)
        z1 = torch.randn((E, batch, 1), generator=gen, device=device)
        z0 = torch.randn((E, batch, 1), generator=gen, device=device)
        h_fake = G1(z1)
        x_fake = G0(torch.cat([h, z0], -1))                            # fed the real h (independent training)
        out_real, out_fake = D0(x), D0(x_fake.detach())
        d_loss = E * (minimax_d_loss(D1(h), D1(h_fake.detach())) + minimax_d_loss(out_real[..., 0], out_fake[..., 0])
                      + ent_weight * sgan_entropy(z0, out_fake[..., 1:]))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward(inputs=params_d)
        opt_d.step()
        out = D0(x_fake)
        cond = sgan_conditional(h, stacked_encoder(x_fake))
        ent = sgan_entropy(z0, out[..., 1:])
        g_loss = E * (nonsaturating_g_loss(D1(h_fake)) + nonsaturating_g_loss(out[..., 0]) + cond_weight * cond
                      + ent_weight * ent)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward(inputs=params_g)
        opt_g.step()
        history["cond"].append(cond.detach())
        history["ent"].append(ent.detach())
    return Run(G0, D0, _stack(history), list(seeds), extra=dict(G1=G1, D1=D1))


__all__ = ["Preset", "PRESETS", "Run", "generators_for", "lapgan_step", "train_lapgan", "FlatDiscriminator",
           "train_gran", "train_lrgan", "repeat_members", "train_gogan", "stacked_toy", "stacked_encoder", "train_stacked"]
