"""Objectives from integral probability metrics (chapter 4).

An IPM is d_F(P, Q) = sup_{f ∈ F} E_P f − E_Q f, eq. (ch4-ipm). The critic f is trained to
approach the supremum, the generator to shrink the result. What differs between the methods is
the class F and how a network is kept inside it.

**Score-based objectives** (the uniform shape of :mod:`ganbook.objectives`: the critic returns one
score per sample, shape (n,)), registered by name:

* ``"wasserstein"`` — WGAN, eq. (ch4-kr); F = 1-Lipschitz functions, enforced by weight
  clipping or a gradient penalty (:mod:`.penalties`);
* ``"hinge"`` — Geometric GAN, eq. (ch4-hinge): the SVM's hinge loss for the critic;
* ``"mcgan"`` — mean and covariance feature matching, eq. (ch4-mcgan), on the scores of a
  :class:`McGANCritic` (see below);
* Fisher GAN, eq. (ch4-fisher-al), is *not* looked up by name: :func:`fisher` returns a
  :class:`FisherObjective` whose Lagrange multiplier is explicit state, updated by
  :meth:`FisherObjective.multiplier_step`; the caller holds that object (``get("fisher")`` refuses).

**Objectives that do not fit the score signature** (written into the notebook's loop, in plain sight).
Their losses still follow the package's convention — ``NAME_d_loss(real, fake, *, ...)`` and
``NAME_g_loss(fake, *, ...)`` of the critic's outputs, everything else keyword-only:

* loss-sensitive GAN, eq. (ch4-lsgan): its margin Δ(x, G(z)) is a distance between the *samples*
  of a real/generated pair, so the critic loss takes ``margin=`` next to the scores;
* GMMN, eq. (ch4-gmmn): no critic at all — the generator minimises MMD² between *samples*;
* MMD-GAN, eq. (ch4-mmdgan): MMD² between *embeddings* h(x) (n, m) of a learned encoder, so the
  generator's loss also takes the real embeddings, ``mmdgan_g_loss(fake, *, real)``;
* CramérGAN, eq. (ch4-cramer): energy distance between embeddings, with a second generated batch
  ``fake2=``.

McGAN's interface. The McGAN critic is f(x) = ⟨v, Φ(x)⟩ + ⟨Uᵀ Φ(x), Vᵀ Φ(x)⟩ on features
Φ(x) ∈ ℝᵐ, with ‖v‖_p ≤ 1 and U, V ∈ ℝ^{m×k} with orthonormal columns. Given Φ, the supremum over
v is the dual norm ‖μ_P − μ_Q‖_q and the supremum over U, V is the sum of the k largest singular
values of Σ_P − Σ_Q (:func:`mean_feature_distance`, :func:`covariance_feature_distance`). Rather than
plugging these closed forms into the loss (a loss on features, biased by the batch), the book
follows the paper: v, U, V are parameters of the critic, which returns ordinary scores, so McGAN
trains with the IPM losses of ``"wasserstein"``; its constraints are restored after each critic
step by :meth:`McGANCritic.project_` (pass it as ``d_post_step``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import _validate as V
from ..divergences import mmd2
from .registry import Objective, hold, register


def _features(x: object, name: str, min_rows: int = 1) -> torch.Tensor:
    V.tensor(x, name, ndim=2, min_rows=min_rows)
    return x


def _same_width(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{na} and {nb} must have the same number of columns, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    V.same_device(a, b, na, nb)


# -- WGAN ---------------------------------------------------------------------------------------
def wasserstein_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Critic loss of WGAN, eq. (ch4-kr): −(E_P f − E_Q f) = mean f(x̃) − mean f(x), from the critic
    values ``real`` = f(x) and ``fake`` = f(x̃), shape (n,). Minimising it pushes the batch estimate of
    the IPM up."""
    V.scores(real, "real")
    V.scores(fake, "fake")
    return fake.mean() - real.mean()


def wasserstein_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Generator loss of WGAN, eq. (ch4-kr): −E_Q f, from the critic values ``fake`` = f(G(z)), shape
    (n,) (E_P f does not depend on the generator)."""
    V.scores(fake, "fake")
    return -fake.mean()


def wasserstein() -> Objective:
    """WGAN's objective; F = 1-Lipschitz critics must be enforced separately (clipping or a penalty)."""
    return Objective("wasserstein", wasserstein_d_loss, wasserstein_g_loss)


# -- Geometric GAN (hinge) ----------------------------------------------------------------------
def hinge_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Critic loss of Geometric GAN, eq. (ch4-hinge): E_P[max(0, 1 − f)] + E_Q[max(0, 1 + f)], the
    SVM hinge loss with labels +1 (real) and −1 (generated), from the critic values ``real`` = f(x)
    and ``fake`` = f(x̃), shape (n,)."""
    V.scores(real, "real")
    V.scores(fake, "fake")
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def hinge() -> Objective:
    """Geometric GAN: hinge loss for the critic, −E_Q f for the generator (same as WGAN's)."""
    return Objective("hinge", hinge_d_loss, wasserstein_g_loss)


# -- Loss-sensitive GAN -------------------------------------------------------------------------
def ls_margin(real: torch.Tensor, fake: torch.Tensor, scale: float = 1.0, p: float = 1.0) -> torch.Tensor:
    """The data-dependent margin of LS-GAN, Δ(xᵢ, x̃ᵢ) = scale · ‖xᵢ − x̃ᵢ‖_p for paired rows,
    shape (n,). Constant for the critic (no gradient flows through it)."""
    V.tensor(real, "real", min_rows=1)
    V.tensor(fake, "fake", min_rows=1)
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape (paired samples), got {tuple(real.shape)} "
                         f"and {tuple(fake.shape)}")
    V.positive_float(scale, "scale", allow_zero=True)
    V.positive_float(p, "p")
    return scale * (real.detach() - fake.detach()).flatten(1).norm(p=p, dim=1)


def loss_sensitive_d_loss(real: torch.Tensor, fake: torch.Tensor, *, margin: torch.Tensor | float,
                          slope: float = 0.0) -> torch.Tensor:
    """Critic loss of the (generalized) loss-sensitive GAN, eq. (ch4-lsgan), with the book's sign
    convention f = −L_θ (high for real data):

        E C(Δ(xᵢ, x̃ᵢ) − f(xᵢ) + f(x̃ᵢ)),  C(a) = max(a, slope·a).

    ``real`` = f(xᵢ) and ``fake`` = f(x̃ᵢ) are the critic values of paired rows, shape (n,);
    ``margin`` is Δ (:func:`ls_margin` of the samples), shape (n,) or a number.
    ``slope = 0`` is LS-GAN (a hinge: a real sample must beat its partner by the margin);
    ``slope = 1`` is the WGAN loss plus a constant."""
    V.scores(real, "real")
    V.scores(fake, "fake")
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must pair up, got shapes {tuple(real.shape)} and {tuple(fake.shape)}")
    slope = V.finite_float(slope, "slope")
    if not 0 <= slope <= 1:
        raise ValueError(f"slope must lie in [0, 1], got {slope}")
    if isinstance(margin, torch.Tensor):
        V.tensor(margin, "margin", ndim=(0, 1))
        if margin.dim() == 1 and margin.shape != real.shape:
            raise ValueError(f"margin must have shape {tuple(real.shape)} (one per pair), got {tuple(margin.shape)}")
    else:
        V.finite_float(margin, "margin")
    return F.leaky_relu(margin - real + fake, negative_slope=slope).mean()


# -- McGAN: mean and covariance feature matching -------------------------------------------------
def dual_exponent(p: float) -> float:
    """q with 1/p + 1/q = 1 (q = ∞ for p = 1, q = 1 for p = ∞)."""
    p = float(p)
    if not p >= 1:
        raise ValueError(f"p must be >= 1 (or math.inf), got {p}")
    if p == 1:
        return math.inf
    if math.isinf(p):
        return 1.0
    return p / (p - 1)


def mean_feature_distance(real_feats: torch.Tensor, fake_feats: torch.Tensor, q: float = 2.0) -> torch.Tensor:
    """‖μ_P − μ_Q‖_q from feature batches (n, m), eq. (ch4-dual-norm): the supremum of
    ⟨v, μ_P − μ_Q⟩ over ‖v‖_p ≤ 1, 1/p + 1/q = 1."""
    _features(real_feats, "real_feats")
    _features(fake_feats, "fake_feats")
    _same_width(real_feats, fake_feats, "real_feats", "fake_feats")
    dual_exponent(q)
    return torch.linalg.vector_norm(real_feats.mean(0) - fake_feats.mean(0), ord=q)


def second_moment(feats: torch.Tensor) -> torch.Tensor:
    """Σ = E Φ Φᵀ, the uncentred second-moment matrix McGAN calls the covariance, shape (m, m)."""
    _features(feats, "feats")
    return feats.T @ feats / feats.shape[0]


def covariance_feature_distance(real_feats: torch.Tensor, fake_feats: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Σ_{j ≤ k} σ_j(Σ_P − Σ_Q), the sum of the k largest singular values, eq. (ch4-mcgan-cov):
    the supremum of Tr(Uᵀ(Σ_P − Σ_Q)V) over U, V ∈ ℝ^{m×k} with orthonormal columns."""
    _features(real_feats, "real_feats")
    _features(fake_feats, "fake_feats")
    _same_width(real_feats, fake_feats, "real_feats", "fake_feats")
    k = V.positive_int(k, "k")
    if k > real_feats.shape[1]:
        raise ValueError(f"k = {k} exceeds the feature dimension {real_feats.shape[1]}")
    return torch.linalg.svdvals(second_moment(real_feats) - second_moment(fake_feats))[:k].sum()


def _orthonormal_columns(a: torch.Tensor) -> torch.Tensor:
    """The Q factor of a = QR with the signs fixed so that diag(R) > 0 (batched over leading axes)."""
    q, r = torch.linalg.qr(a)
    sign = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    return q * torch.where(sign == 0, torch.ones_like(sign), sign).unsqueeze(-2)


class McGANCritic(nn.Module):
    """McGAN's critic, eq. (ch4-mcgan): f(x) = ⟨v, Φ(x)⟩ + Σ_j ⟨u_j, Φ(x)⟩⟨v_j, Φ(x)⟩.

    ``features`` maps a batch (N, ...) to Φ(x) of shape (N, m). ``k = 0`` keeps the mean term only.
    Call :meth:`project_` after every critic update: it puts v back in the ℓ_p ball, U and V on the
    set of matrices with orthonormal columns, and clips Φ's weights to [−c, c] (McGAN's Φ is a
    weight-clipped network, as in WGAN).

    ``members > 1`` holds that many independent critics for an ensemble of data sets (with
    ``features`` a :class:`ganbook.nets.BatchedMLP` of as many members, in the rows layout): rows
    ``e·n … (e+1)·n − 1`` use member e's v, U, V. Shapes: v (members, m), U and V (members, m, k)."""

    def __init__(self, features: nn.Module, m: int, k: int = 1, p: float = 2.0, clip: float = 0.01,
                 use_mean: bool = True, members: int = 1):
        super().__init__()
        if not isinstance(features, nn.Module):
            raise TypeError(f"features must be a torch.nn.Module, got {type(features).__name__}")
        self.features = features
        self.m = V.positive_int(m, "m")
        self.k = V.positive_int(k, "k", minimum=0)
        self.members = V.positive_int(members, "members")
        if self.k > self.m:
            raise ValueError(f"k = {k} exceeds the feature dimension m = {m}")
        self.q = dual_exponent(p)
        self.p = float(p)
        self.clip = V.positive_float(clip, "clip", allow_zero=True)
        if not use_mean and self.k == 0:
            raise ValueError("use_mean=False needs k >= 1: the critic would be identically zero")
        self.use_mean = bool(use_mean)
        e = self.members
        self.v = nn.Parameter(torch.randn(e, m) / math.sqrt(m)) if use_mean else None
        self.U = nn.Parameter(torch.randn(e, m, self.k)) if self.k else None
        self.V = nn.Parameter(torch.randn(e, m, self.k)) if self.k else None
        self.project_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phi = self.features(x)                                             # (N, m)
        if phi.dim() != 2 or phi.shape[1] != self.m:
            raise ValueError(f"features(x) must have shape (N, {self.m}), got {tuple(phi.shape)}")
        if phi.shape[0] % self.members:
            raise ValueError(f"{phi.shape[0]} rows cannot be split among members = {self.members}")
        phi = phi.reshape(self.members, -1, self.m)                        # (E, n, m)
        out = phi.new_zeros(phi.shape[:2])                                 # (E, n)
        if self.use_mean:
            out = out + torch.einsum("enm,em->en", phi, self.v)            # ⟨v, Φ⟩
        if self.k:
            out = out + ((phi @ self.U) * (phi @ self.V)).sum(-1)          # ⟨UᵀΦ, VᵀΦ⟩
        return out.reshape(-1)                                             # (N,)

    @torch.no_grad()
    def project_(self) -> None:
        """Restore the constraints: ‖v‖_p ≤ 1, UᵀU = VᵀV = I_k, Φ's weights in [−clip, clip]."""
        if self.use_mean:
            norm = torch.linalg.vector_norm(self.v, ord=self.p, dim=1, keepdim=True)   # (E, 1)
            self.v.div_(norm.clamp(min=1.0))
        if self.k:
            self.U.copy_(_orthonormal_columns(self.U))
            self.V.copy_(_orthonormal_columns(self.V))
        if self.clip > 0:
            for p in self.features.parameters():
                p.clamp_(-self.clip, self.clip)


def mcgan() -> Objective:
    """McGAN's objective: the IPM losses of eq. (ch4-kr) on the scores of a :class:`McGANCritic`."""
    return Objective("mcgan", wasserstein_d_loss, wasserstein_g_loss)


# -- Fisher GAN ---------------------------------------------------------------------------------
@dataclass
class FisherState:
    """The Lagrange multiplier λ of Fisher GAN's constraint and the last constraint value."""

    multiplier: float = 0.0
    constraint: float = 0.0
    history: list[float] = field(default_factory=list)


@dataclass(frozen=True, repr=False)
class FisherObjective(Objective):
    """Fisher GAN, eq. (ch4-fisher-al), with an explicit multiplier ``state.multiplier`` = λ and
    penalty weight ``rho``. After each critic update call :meth:`multiplier_step` (for the Trainer:
    ``d_post_step=fisher.multiplier_step``)."""

    rho: float = 1e-6
    state: FisherState = field(default_factory=FisherState, compare=False)

    def multiplier_step(self, D: nn.Module | None = None) -> float:
        """λ ← λ − ρ (1 − Ω̂), a gradient step of the Lagrangian in λ (descent: the critic maximises,
        λ minimises), with the constraint 1 − Ω̂ of the last critic batch. ``D`` is ignored."""
        self.state.multiplier -= self.rho * self.state.constraint
        self.state.history.append(self.state.multiplier)
        return self.state.multiplier


def fisher_terms(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ê = mean f(x) − mean f(x̃) and Ω̂ = ½(mean f(x)² + mean f(x̃)²), eq. (ch4-fisher), from the
    critic values ``real`` = f(x) and ``fake`` = f(x̃), shape (n,). The Fisher IPM of the critic is
    Ê / √Ω̂."""
    V.scores(real, "real")
    V.scores(fake, "fake")
    e = real.mean() - fake.mean()
    omega = 0.5 * (real.pow(2).mean() + fake.pow(2).mean())
    return e, omega


def fisher(rho: float = 1e-6) -> FisherObjective:
    """A Fisher GAN objective with its own multiplier λ = 0.

    Critic loss: −L_F with L_F = Ê + λ(1 − Ω̂) − (ρ/2)(1 − Ω̂)², the augmented Lagrangian of
    max Ê subject to Ω̂ = 1, eq. (ch4-fisher-al). Generator loss: −mean f(x̃). ``rho`` is both the
    penalty weight and the step size of λ (as in Mroueh and Sercu's code)."""
    rho = V.positive_float(rho, "rho")
    state = FisherState()

    def d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        e, omega = fisher_terms(real, fake)
        constraint = 1 - omega
        state.constraint = float(constraint.detach())
        return -(e + state.multiplier * constraint - 0.5 * rho * constraint ** 2)

    return FisherObjective("fisher", d_loss, wasserstein_g_loss, rho=rho, state=state)


# -- kernel methods: GMMN, MMD-GAN, CramérGAN -----------------------------------------------------
GMMN_BANDWIDTHS: tuple[float, ...] = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)
"""The bandwidths of Li, Swersky and Zemel's GMMN (for data scaled to their image range)."""

MMDGAN_BANDWIDTHS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
"""The bandwidths of Li et al.'s MMD-GAN, on the encoder's embeddings."""


def gmmn_loss(real: torch.Tensor, fake: torch.Tensor, *, bandwidths: Sequence[float] = GMMN_BANDWIDTHS,
              unbiased: bool = True) -> torch.Tensor:
    """GMMN's generator loss, eq. (ch4-gmmn): MMD² between the samples (n, d) and (m, d) with a
    mixture of Gaussian kernels. There is no critic: this is a loss on *samples*, so it does not fit
    the ``d_loss``/``g_loss`` shape; the notebook's loop calls it on G(z) directly."""

    return mmd2(real.flatten(1), fake.flatten(1), kernel="gaussian", bandwidths=bandwidths, unbiased=unbiased)


def mmdgan_g_loss(fake: torch.Tensor, *, real: torch.Tensor,
                  bandwidths: Sequence[float] = MMDGAN_BANDWIDTHS) -> torch.Tensor:
    """MMD-GAN's generator loss, eq. (ch4-mmdgan): the unbiased MMD² between the encoder's embeddings
    ``real`` = h(x) (n, m) and ``fake`` = h(G(z)) (n', m) with a Gaussian-mixture kernel (a loss on
    embeddings)."""

    _features(real, "real", 2)
    _features(fake, "fake", 2)
    return mmd2(real, fake, kernel="gaussian", bandwidths=bandwidths, unbiased=True)


def mmdgan_d_loss(real: torch.Tensor, fake: torch.Tensor, *,
                  bandwidths: Sequence[float] = MMDGAN_BANDWIDTHS) -> torch.Tensor:
    """MMD-GAN's critic loss, eq. (ch4-mmdgan): −MMD² of the embeddings ``real`` = h(x) (n, m) and
    ``fake`` = h(x̃) (n', m) (the encoder *maximises* the discrepancy; the autoencoder term that keeps
    it injective is added in the loop)."""
    return -mmdgan_g_loss(fake, real=real, bandwidths=bandwidths)


def cramer_critic(h_x: torch.Tensor, h_ref: torch.Tensor) -> torch.Tensor:
    """CramérGAN's critic, eq. (ch4-cramer-critic): f(x) = ‖h(x) − h(x̃')‖ − ‖h(x)‖ with a second,
    independent generated batch x̃'; rows pair up. Shape (n,)."""
    _features(h_x, "h_x")
    _features(h_ref, "h_ref")
    if h_x.shape != h_ref.shape:
        raise ValueError(f"h_x and h_ref must have the same shape (paired rows), got {tuple(h_x.shape)} "
                         f"and {tuple(h_ref.shape)}")
    return (h_x - h_ref).norm(dim=1) - h_x.norm(dim=1)


def cramer_g_loss(fake: torch.Tensor, *, real: torch.Tensor, fake2: torch.Tensor) -> torch.Tensor:
    """CramérGAN's generator loss, eq. (ch4-cramer): E‖h(x) − h(x̃)‖ + E‖h(x) − h(x̃')‖ − E‖h(x̃) − h(x̃')‖,
    the energy distance of the embeddings up to the term E‖h(x) − h(x')‖ that G cannot change.
    ``fake`` = h(x̃), ``real`` = h(x) and ``fake2`` = h(x̃') (a second, independent generated batch)
    are embeddings of shape (n, m) whose rows pair up."""
    for name, t in (("real", real), ("fake", fake), ("fake2", fake2)):
        _features(t, name)
    if not real.shape == fake.shape == fake2.shape:
        raise ValueError(f"real, fake, fake2 must have one shape, got {tuple(real.shape)}, "
                         f"{tuple(fake.shape)}, {tuple(fake2.shape)}")
    return ((real - fake).norm(dim=1) + (real - fake2).norm(dim=1)
            - (fake - fake2).norm(dim=1)).mean()


def cramer_d_loss(real: torch.Tensor, fake: torch.Tensor, *, fake2: torch.Tensor) -> torch.Tensor:
    """CramérGAN's critic loss (without its gradient penalty): −(mean f(x) − mean f(x̃)) with
    f = :func:`cramer_critic` (·, h(x̃')), from the embeddings ``real`` = h(x), ``fake`` = h(x̃) and
    ``fake2`` = h(x̃') of a second generated batch, shape (n, m)."""
    return -(cramer_critic(real, fake2).mean() - cramer_critic(fake, fake2).mean())


register("wasserstein", wasserstein)
register("hinge", hinge)
register("mcgan", mcgan)
hold("fisher", "its Lagrange multiplier is state that outlives a batch: create it with "
     "ganbook.objectives.ipm.fisher(rho) and keep the object (pass it to the Trainer, and its "
     "multiplier_step as d_post_step)")

__all__ = ["wasserstein", "wasserstein_d_loss", "wasserstein_g_loss", "hinge", "hinge_d_loss", "ls_margin",
           "loss_sensitive_d_loss", "dual_exponent", "mean_feature_distance", "second_moment",
           "covariance_feature_distance", "McGANCritic", "mcgan", "FisherState", "FisherObjective", "fisher",
           "fisher_terms", "gmmn_loss", "mmdgan_g_loss", "mmdgan_d_loss",
           "cramer_critic", "cramer_g_loss", "cramer_d_loss", "GMMN_BANDWIDTHS", "MMDGAN_BANDWIDTHS"]
