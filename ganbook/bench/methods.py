"""The benchmark's methods: one visible ``step_*`` function per method, each with its own knobs.

A method is two things. Its *knobs*, a frozen dataclass of its own hyper-parameters (``PacGAN(m=4)``,
``Unrolled(k=5)``; the plain ``GAN()`` has none), which also builds the networks the method trains
(:meth:`GAN.networks`). And its step, ``step_NAME(run, t, knobs)``: one update of the discriminator
and one of the generator, written with the losses of :mod:`ganbook.objectives` and the mechanisms of
:mod:`ganbook.collapse`. What every method shares — budget, batch, widths, optimiser — is
:class:`ganbook.bench.state.Settings`. :data:`METHODS` lists the rows of the table: a step, its
knobs, the legend, and the shared settings the row changes.

Every loss is the sum over the S seeds of that seed's mean, S times the mean over all seeds (the
losses of :mod:`ganbook.objectives.gan` average over a leading seed axis), so each seed follows
its own training run.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, get_type_hints

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from .. import collapse as C
from ..nets import BatchedMLP
from ..objectives import penalties as P
from ..objectives.gan import minimax_d_loss, nonsaturating_g_loss
from ..objectives.registry import Objective
from ..objectives.smoothing import one_sided_smoothing_d_loss
from .state import Players, Run, Settings, discriminator, encoder, flat_critic, generator


def _d_update(run: Run, loss: torch.Tensor) -> None:
    """One step of D's optimiser (D and the networks trained with it) on ``loss``."""
    run.opt_d.zero_grad(set_to_none=True)
    loss.backward()
    run.opt_d.step()


def _g_update(run: Run, loss: torch.Tensor) -> None:
    """One step of G's optimiser (G and the networks trained with it) on ``loss``. The backward pass
    computes the gradients of these networks only (``inputs``): D's would be discarded unused."""
    run.opt_g.zero_grad(set_to_none=True)
    loss.backward(inputs=[p for group in run.opt_g.param_groups for p in group["params"]])
    run.opt_g.step()


def _multiple_of(batch: int, unit: int, what: str) -> None:
    if batch % unit:
        raise ValueError(f"batch={batch} is not a multiple of {what} = {unit}; choose a batch that is")


# -- the non-saturating GAN, and what changes only D's input or loss ----------------------------------


@dataclass(frozen=True)
class GAN:
    """The non-saturating GAN: no knobs of its own. Its networks, G: z → x and D: x → logit (MLPs of
    the shared widths), are every method's starting point; a method with other networks overrides
    :meth:`networks`."""

    def networks(self, s: Settings, rngs: list[torch.Generator]) -> Players:
        """The networks this method trains, S seeds each, drawn from the seeds' streams in this order."""
        return Players(generator(s, rngs), discriminator(s, rngs))


def step_gan(run: Run, t: int, knobs: GAN) -> None:
    """The non-saturating GAN: D minimises the minimax loss −V(G, D), eq. (ch2-value), G the
    non-saturating loss, eq. (ch2-g-ns)."""
    S = run.S
    real, fake = run.real(), run.G(run.z())
    _d_update(run, S * minimax_d_loss(run.D(real), run.D(fake.detach())))
    _g_update(run, S * nonsaturating_g_loss(run.D(fake)))


@dataclass(frozen=True)
class PacGAN(GAN):
    """PacGAN (Lin et al., 2018): D judges packs of ``m`` samples, eq. (ch8-pack)."""

    m: int                        # samples per pack

    def __post_init__(self) -> None:
        V.positive_int(self.m, "m")

    def networks(self, s: Settings, rngs: list[torch.Generator]) -> Players:
        _multiple_of(s.batch, self.m, "PacGAN's m")
        return Players(generator(s, rngs), discriminator(s, rngs, in_dim=2 * self.m))


def step_pacgan(run: Run, t: int, knobs: PacGAN) -> None:
    """PacGAN, eq. (ch8-pack): the GAN's losses, with D judging packs of m samples laid side by side
    (:func:`ganbook.collapse.pack`)."""
    S, m = run.S, knobs.m
    real, fake = run.real(), run.G(run.z())
    judge = lambda x: run.D(C.pack(x, m))                                   # (S, batch/m): one logit per pack
    _d_update(run, S * minimax_d_loss(judge(real), judge(fake.detach())))
    _g_update(run, S * nonsaturating_g_loss(judge(fake)))


@dataclass(frozen=True)
class LabelSmoothing(GAN):
    """One-sided label smoothing (Salimans et al., 2016): real targets ``alpha`` < 1, eq. (ch8-ls)."""

    alpha: float = 0.9

    def __post_init__(self) -> None:
        V.probability(self.alpha, "alpha")


def step_label_smoothing(run: Run, t: int, knobs: LabelSmoothing) -> None:
    """One-sided label smoothing, eq. (ch8-ls): D's targets are α for real samples and 0 for generated
    ones (:func:`ganbook.objectives.smoothing.one_sided_smoothing_d_loss`); G's loss is the GAN's."""
    S = run.S
    real, fake = run.real(), run.G(run.z())
    _d_update(run, S * one_sided_smoothing_d_loss(run.D(real), run.D(fake.detach()), alpha=knobs.alpha))
    _g_update(run, S * nonsaturating_g_loss(run.D(fake)))


@dataclass(frozen=True)
class InstanceNoise(GAN):
    """Instance noise: N(0, σ²I) added to every input of D, σ annealed from ``sigma0``, eq. (ch8-noise)."""

    sigma0: float

    def __post_init__(self) -> None:
        V.positive_float(self.sigma0, "sigma0", allow_zero=True)


def step_instance_noise(run: Run, t: int, knobs: InstanceNoise) -> None:
    """Instance noise, eq. (ch8-noise): D sees real and generated samples plus Gaussian noise whose
    standard deviation σ falls linearly from σ₀ to 0 over the steps before the learning-rate decay
    (:func:`ganbook.collapse.annealed_sigma`); fresh noise at every call of D, from the shared stream."""
    s, S = run.settings, run.S
    real, fake = run.real(), run.G(run.z())
    sigma = C.annealed_sigma(t, max(1, int((1 - s.decay) * s.steps)), knobs.sigma0)
    judge = lambda x: run.D(C.instance_noise(x, sigma, run.shared))
    _d_update(run, S * minimax_d_loss(judge(real), judge(fake.detach())))
    _g_update(run, S * nonsaturating_g_loss(judge(fake)))


@dataclass(frozen=True)
class DRAGAN(GAN):
    """DRAGAN (Kodali et al., 2017): a gradient penalty of weight ``weight`` near the data, the
    perturbation N(0, c²I) with c = ``noise`` · data std, eq. (ch8-dragan)."""

    weight: float
    noise: float = 0.5

    def __post_init__(self) -> None:
        V.positive_float(self.weight, "weight", allow_zero=True)
        V.positive_float(self.noise, "noise")


def step_dragan(run: Run, t: int, knobs: DRAGAN) -> None:
    """DRAGAN, eq. (ch8-dragan): the GAN's losses, and D also pays chapter 4's local penalty
    (:func:`ganbook.objectives.penalties.dragan_penalty`) at perturbed real samples; the
    perturbation comes from the shared stream."""
    S = run.S
    real, fake = run.real(), run.G(run.z())
    d_loss = S * minimax_d_loss(run.D(real), run.D(fake.detach()))
    penalty = P.dragan_penalty(flat_critic(run.D, S), real.reshape(-1, 2), weight=knobs.weight, noise=knobs.noise,
                               generator=run.shared)
    _d_update(run, d_loss + S * penalty)
    _g_update(run, S * nonsaturating_g_loss(run.D(fake)))


# -- what changes D itself ----------------------------------------------------------------------------


class BatchedMinibatchDiscriminator(nn.Module):
    """A batched discriminator with minibatch features, eq. (ch8-mbd): trunk →
    :class:`ganbook.collapse.MinibatchDiscrimination` (the chapter's layer, built with one T per
    seed) → head, logits (S, n). The similarities are summed within groups of ``group`` samples of a
    batch (64: Salimans et al. used batches of 100), which costs (n/group)·group² pairs instead of n²."""

    def __init__(self, in_dim: int, hidden: int, depth: int, B: int, Cdim: int, gens: list[torch.Generator],
                 group: int = 64):
        super().__init__()
        self.trunk = BatchedMLP(in_dim, hidden, [hidden] * (depth - 1), generators=gens, activation="leaky_relu")
        self.mbd = C.MinibatchDiscrimination(hidden, B, Cdim, init_std=0.1, group=group, generators=gens)
        self.head = BatchedMLP(hidden + B, 1, [], generators=gens, squeeze=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = F.leaky_relu(self.trunk(x), 0.2)                                # (S, n, hidden)
        return self.head(self.mbd(f))                                       # (S, n, hidden + B) → (S, n)


@dataclass(frozen=True)
class Minibatch(GAN):
    """Minibatch discrimination (Salimans et al., 2016): B = ``kernels`` similarities of C =
    ``kernel_dim`` dimensions, within groups of ``group`` samples, inside D, eq. (ch8-mbd)."""

    kernels: int
    kernel_dim: int
    group: int = 64

    def __post_init__(self) -> None:
        for name in ("kernels", "kernel_dim", "group"):
            V.positive_int(getattr(self, name), name)

    def networks(self, s: Settings, rngs: list[torch.Generator]) -> Players:
        return Players(generator(s, rngs), BatchedMinibatchDiscriminator(2, s.hidden, s.d_depth - 1, self.kernels,
                                                                         self.kernel_dim, rngs, self.group))


def step_minibatch(run: Run, t: int, knobs: Minibatch) -> None:
    """Minibatch discrimination, eq. (ch8-mbd): the GAN's step (:func:`step_gan`). The method lives
    inside D (:class:`BatchedMinibatchDiscriminator`), which sees a real or a generated batch whole."""
    step_gan(run, t, knobs)


@dataclass(frozen=True)
class Dual(PacGAN):
    """The book's configuration: a packed D (``m`` samples per pack) and an unpacked D1; with ``r1`` > 0,
    D1 also pays a zero-centred gradient penalty at the data (Mescheder et al.'s R1)."""

    r1: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        V.positive_float(self.r1, "r1", allow_zero=True)

    def networks(self, s: Settings, rngs: list[torch.Generator]) -> Players:
        players = super().networks(s, rngs)                                 # G and the packed D
        players.with_d["D1"] = discriminator(s, rngs)                       # trained by D's optimiser
        return players


def step_dual(run: Run, t: int, knobs: Dual) -> None:
    """Two discriminators, D judging packs of m samples (PacGAN, eq. (ch8-pack)) and D1 judging single
    samples, both with the GAN's losses; the generator answers to both. The packed one sees the
    diversity of a batch, the single one can afford to be sharp about each sample."""
    S, m, D1 = run.S, knobs.m, run.nets["D1"]
    real, fake = run.real(), run.G(run.z())
    packed = lambda x: run.D(C.pack(x, m))                                  # (S, batch/m)
    d_loss = minimax_d_loss(packed(real), packed(fake.detach())) + minimax_d_loss(D1(real), D1(fake.detach()))
    if knobs.r1:
        d_loss = d_loss + P.r1_penalty(flat_critic(D1, S), real.reshape(-1, 2), weight=knobs.r1)
    _d_update(run, S * d_loss)
    _g_update(run, S * (nonsaturating_g_loss(packed(fake)) + nonsaturating_g_loss(D1(fake))))


# -- what changes the generator's objective ----------------------------------------------------------


@dataclass(frozen=True)
class FeatureMatching(GAN):
    """Feature matching (Salimans et al., 2016), eq. (ch8-fm): no knobs (D's last hidden layer)."""


def step_feature_matching(run: Run, t: int, knobs: FeatureMatching) -> None:
    """Feature matching, eq. (ch8-fm): D as in the GAN; G matches the mean of D's last hidden layer
    on real data (:func:`ganbook.collapse.feature_matching_loss`)."""
    S = run.S
    real, fake = run.real(), run.G(run.z())
    _d_update(run, S * minimax_d_loss(run.D(real), run.D(fake.detach())))
    _g_update(run, S * C.feature_matching_loss(run.D.features(real), run.D.features(fake)))


@dataclass(frozen=True)
class Unrolled(GAN):
    """The Unrolled GAN (Metz et al., 2017): G looks ``k`` steps of size ``unroll_lr`` of D ahead,
    eq. (ch8-unrolled)."""

    k: int
    unroll_lr: float = 1e-2

    def __post_init__(self) -> None:
        V.positive_int(self.k, "k")
        V.positive_float(self.unroll_lr, "unroll_lr")


def step_unrolled(run: Run, t: int, knobs: Unrolled) -> None:
    """Unrolled GAN: D as in the GAN; G's loss is :func:`ganbook.collapse.unrolled_g_loss`, eq.
    (ch8-unrolled), the non-saturating loss against k unrolled steps of a functional copy of D. Both
    losses of the objective are sums over seeds of each seed's mean, so each seed's copy of D takes
    its own steps."""
    S = run.S
    real, fake = run.real(), run.G(run.z())
    _d_update(run, S * minimax_d_loss(run.D(real), run.D(fake.detach())))
    summed = Objective("non-saturating, summed over seeds",
                       lambda r, f: S * minimax_d_loss(r, f), lambda f: S * nonsaturating_g_loss(f))
    batches = [real] + [run.real() for _ in range(knobs.k - 1)]
    _g_update(run, C.unrolled_g_loss(run.D, batches, fake, lr=knobs.unroll_lr, objective=summed))


@dataclass(frozen=True)
class VEEGAN(GAN):
    """VEEGAN (Srivastava et al., 2017): a reconstructor F: x → z and D on (z, x) pairs, eq.
    (ch8-veegan); no knobs."""

    def networks(self, s: Settings, rngs: list[torch.Generator]) -> Players:
        return Players(generator(s, rngs), discriminator(s, rngs, in_dim=2 + s.z_dim), with_g={"F": encoder(s, rngs)})


def step_veegan(run: Run, t: int, knobs: VEEGAN) -> None:
    """VEEGAN, eqs. (ch8-veegan-d) and (ch8-veegan): D tells data pairs (F(x), x) from generated pairs
    (z, G(z)); G and F minimise D's logit on the generated pairs plus ‖z − F(G(z))‖² (G's optimiser
    holds both: F minimises the only term that depends on it)."""
    S, reconstructor = run.S, run.nets["F"]
    z, real = run.z(), run.real()
    fake = run.G(z)
    pair = lambda codes, x: run.D(torch.cat([codes, x], -1))               # (S, n): one logit per pair (z, x)
    _d_update(run, S * C.veegan_d_loss(pair(reconstructor(real).detach(), real), pair(z, fake.detach())))
    _g_update(run, S * C.veegan_g_loss(pair(z, fake), z=z, z_of_fake=reconstructor(fake)))


@dataclass(frozen=True)
class MADGAN(GAN):
    """MAD-GAN (Ghosh et al., 2018): ``k`` generators and a (k + 1)-class D, eq. (ch8-madgan)."""

    k: int

    def __post_init__(self) -> None:
        V.positive_int(self.k, "k")

    def networks(self, s: Settings, rngs: list[torch.Generator]) -> Players:
        _multiple_of(s.batch, self.k, "MAD-GAN's k")
        return Players(generator(s, rngs, k=self.k), discriminator(s, rngs, out_dim=self.k + 1))


def step_madgan(run: Run, t: int, knobs: MADGAN) -> None:
    """MAD-GAN, eq. (ch8-madgan): k generators (a BatchedMLP of S·k MLPs), each making batch/k
    samples, and a (k + 1)-class discriminator (:func:`ganbook.collapse.madgan_d_loss`,
    :func:`ganbook.collapse.madgan_g_loss`)."""
    S, k = run.S, knobs.k
    m = run.settings.batch // k
    real = run.real()
    z = run.z(k * m).reshape(S * k, m, run.settings.z_dim)                 # generator i of seed s: row s·k + i
    fake = run.G(z).reshape(S, k * m, 2)
    by_generator = lambda x: run.D(x).reshape(S, k, m, k + 1)              # row i: the samples of generator i
    _d_update(run, S * C.madgan_d_loss(run.D(real), by_generator(fake.detach())))
    _g_update(run, S * C.madgan_g_loss(by_generator(fake)))


@dataclass(frozen=True)
class MRGAN(GAN):
    """MRGAN (Che et al., 2017): an encoder E: x → z, the geometric regulariser with weight ``lambda1``
    and the mode regulariser with weight ``lambda2``, eq. (ch8-mrgan)."""

    lambda1: float
    lambda2: float

    def __post_init__(self) -> None:
        V.positive_float(self.lambda1, "lambda1", allow_zero=True)
        V.positive_float(self.lambda2, "lambda2", allow_zero=True)

    def networks(self, s: Settings, rngs: list[torch.Generator]) -> Players:
        players = super().networks(s, rngs)                                 # G and D
        players.with_g["E"] = encoder(s, rngs)                              # trained by G's optimiser
        return players


def step_mrgan(run: Run, t: int, knobs: MRGAN) -> None:
    """MRGAN, eq. (ch8-mrgan): D as in the GAN; G and E minimise λ₁‖x − G(E(x))‖²
    (:func:`ganbook.collapse.mrgan_geometric`) + λ₂(−log D(G(E(x)))), the mode term being the
    non-saturating loss on reconstructions, and G also its own non-saturating loss."""
    S, E = run.S, run.nets["E"]
    real, fake = run.real(), run.G(run.z())
    _d_update(run, S * minimax_d_loss(run.D(real), run.D(fake.detach())))
    reconstruction = run.G(E(real))
    geometric = C.mrgan_geometric(real, reconstruction)
    mode = nonsaturating_g_loss(run.D(reconstruction))
    _g_update(run, S * (nonsaturating_g_loss(run.D(fake)) + knobs.lambda1 * geometric + knobs.lambda2 * mode))


# -- the table's rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Method:
    """A row of the benchmark: its step, the step's knobs, its legend, and the shared settings the row
    changes (its budget, batch, optimiser, or how it is sampled: ``ema``, ``rejection``)."""

    step: Callable[[Run, int, Any], None]
    knobs: GAN
    description: str
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        want = get_type_hints(self.step).get("knobs")
        if want is not None and not isinstance(self.knobs, want):
            raise TypeError(f"{self.step.__name__} takes {want.__name__} knobs, got {self.knobs!r}")
        shared = {f.name for f in fields(Settings)}
        if not set(self.settings) <= shared:
            raise ValueError(f"settings {sorted(set(self.settings) - shared)} are not shared settings {sorted(shared)}")
        object.__setattr__(self, "settings", dict(self.settings))           # each row its own copy


# The book's optimiser settings and budget (the ablations below share them): 9,000 iterations of batch
# 512 keep the book's configuration within 60 CPU seconds per run on a 2-core laptop-class CPU.
TUNED = {"batch": 512, "lr": 2e-3, "steps": 9000}

# Tune on some seeds, report on others: the book's configuration and its ablations were chosen on
# seeds 0..9 (TUNING_SEEDS), so their recorded rows come from seeds 10..19, which they never saw.
TUNING_SEEDS = range(0, 10)
REPORTING_SEED_START = 10

METHODS: dict[str, Method] = {
    "gan": Method(step_gan, GAN(), "non-saturating GAN"),
    "pacgan2": Method(step_pacgan, PacGAN(m=2), "PacGAN, m = 2"),
    "pacgan3": Method(step_pacgan, PacGAN(m=3), "PacGAN, m = 3 (batch 255)", {"batch": 255}),
    "pacgan4": Method(step_pacgan, PacGAN(m=4), "PacGAN, m = 4"),
    "minibatch": Method(step_minibatch, Minibatch(kernels=5, kernel_dim=3), "minibatch discrimination, B = 5, C = 3 "
                        "(groups of 64); 6,000 iterations (CPU budget)", {"steps": 6000}),
    "feature-matching": Method(step_feature_matching, FeatureMatching(), "feature matching (last hidden layer of D)"),
    "label-smoothing": Method(step_label_smoothing, LabelSmoothing(alpha=0.9), "one-sided label smoothing, α = 0.9"),
    "instance-noise": Method(step_instance_noise, InstanceNoise(sigma0=0.1), "instance noise, σ from 0.1 annealed to 0"),
    "dragan": Method(step_dragan, DRAGAN(weight=10.0), "DRAGAN, λ = 10 (the paper's and the released code's "
                     "weight); Gaussian perturbation with standard deviation 0.5 · data std"),
    "dragan1": Method(step_dragan, DRAGAN(weight=1.0), "DRAGAN, λ = 1 (ablation of the penalty's weight)"),
    "unrolled": Method(step_unrolled, Unrolled(k=5), "Unrolled GAN, k = 5; 3,000 iterations (CPU budget)",
                       {"steps": 3000}),
    "veegan": Method(step_veegan, VEEGAN(), "VEEGAN"),
    "mrgan": Method(step_mrgan, MRGAN(lambda1=1.0, lambda2=0.1), "MRGAN, λ₁ = 1 (geometric), λ₂ = 0.1 (mode)"),
    "madgan": Method(step_madgan, MADGAN(k=8), "MAD-GAN, k = 8 generators"),
    "gan-tuned": Method(step_gan, GAN(), "non-saturating GAN with the book's optimiser settings and budget "
                        "(ablation)", TUNED),
    "pacgan8-tuned": Method(step_pacgan, PacGAN(m=8), "PacGAN, m = 8, with the book's optimiser settings and "
                            "budget (ablation: no second discriminator)", TUNED),
    "pacgan8-dual-ema": Method(step_dual, Dual(m=8), "the book's configuration, evaluating an exponential moving "
                               "average of G's weights (decay 0.999) instead of the last iterate (ablation)",
                               {**TUNED, "ema": 0.999}),
    "gan-drs": Method(step_gan, GAN(), "the non-saturating GAN sampled with discriminator rejection sampling "
                      "(ablation: rejection without packing)", {"rejection": True}),
    "pacgan8-dual": Method(step_dual, Dual(m=8), "the book's configuration: PacGAN with m = 8 plus an unpacked "
                           "discriminator, batch 512, lr 2e-3; 9,000 iterations", TUNED),
    "pacgan8-dual-drs": Method(step_dual, Dual(m=8), "the book's configuration trained as pacgan8-dual, sampled "
                               "with discriminator rejection sampling by its unpacked discriminator (Azadi et al., "
                               "2019)", {**TUNED, "rejection": True}),
}
