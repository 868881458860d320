"""Objectives for autoencoder ("energy") discriminators, chapter 5.

The discriminator returns an energy D(x) ≥ 0 per sample (a reconstruction error,
:class:`ganbook.nets_ae.AutoencoderDiscriminator`): low for data, high for generated samples.

* EBGAN, eq. (ch5-ebgan): L_D = D(x) + [m − D(G(z))]₊, L_G = D(G(z)) (+ the pulling-away term);
* BEGAN, eq. (ch5-began): L_D = D(x) − k_t D(G(z)), L_G = D(G(z)), with the proportional control
  k_{t+1} = clip(k_t + λ_k(γ D(x) − D(G(z))), 0, 1) and the convergence measure
  M = D(x) + |γ D(x) − D(G(z))|, eq. (ch5-began-k);
* MAGAN, eq. (ch5-magan): EBGAN's losses with a margin that adapts downwards to the mean energy of
  the data, :class:`MAGANMargin`.

The losses take the discriminator's energies, ``real`` = D(x) and ``fake`` = D(G(z)), shape (n,)
(the convention of :mod:`ganbook.objectives`: ``NAME_d_loss(real, fake, *, ...)``,
``NAME_g_loss(fake)``); the state of BEGAN (k_t) and MAGAN (m) is explicit, in small dataclasses
that the training loop updates in plain sight.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .. import _validate as V


# -- EBGAN --------------------------------------------------------------------------------------
def ebgan_d_loss(real: torch.Tensor, fake: torch.Tensor, *, margin: float) -> torch.Tensor:
    """EBGAN's discriminator loss, eq. (ch5-ebgan): mean D(x) + mean [m − D(G(z))]₊, from the energies
    ``real`` = D(x) and ``fake`` = D(G(z)), shape (n,). Generated samples whose energy already exceeds
    the margin m no longer push the discriminator."""
    V.scores(real, "real")
    V.scores(fake, "fake")
    margin = V.positive_float(margin, "margin")
    return real.mean() + F.relu(margin - fake).mean()


def ebgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """EBGAN's (and BEGAN's, MAGAN's) generator loss: mean D(G(z)), the energy ``fake`` of its
    samples, shape (n,)."""
    V.scores(fake, "fake")
    return fake.mean()


def pulling_away(codes: torch.Tensor) -> torch.Tensor:
    """EBGAN's pulling-away term, eq. (ch5-pt): the mean squared cosine similarity between the codes
    of distinct generated samples, 1/(n(n−1)) Σ_{i≠j} (sᵢᵀsⱼ/(‖sᵢ‖‖sⱼ‖))². Added to the generator's
    loss (weight 0.1 in the paper), it pushes the codes of a batch apart, against mode collapse."""
    V.tensor(codes, "codes", min_rows=2)
    s = F.normalize(codes.flatten(1), dim=1)                              # (n, c), unit rows
    n = s.shape[0]
    cos2 = (s @ s.T).pow(2)                                               # (n, n)
    return (cos2.sum() - torch.diagonal(cos2).sum()) / (n * (n - 1))


# -- BEGAN --------------------------------------------------------------------------------------
@dataclass
class BEGANState:
    """BEGAN's equilibrium control: diversity ratio γ = E D(G(z)) / E D(x) to maintain, gain λ_k, and
    the current k_t ∈ [0, 1] (k_0 = 0, as in the paper)."""

    gamma: float = 0.5
    lambda_k: float = 1e-3
    k: float = 0.0
    k_history: list[float] = field(default_factory=list)
    convergence_history: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        V.probability(self.gamma, "gamma")
        V.positive_float(self.lambda_k, "lambda_k")
        V.probability(self.k, "k")

    def update(self, real_energy_mean: float, fake_energy_mean: float) -> float:
        """k ← clip(k + λ_k(γ D(x) − D(G(z))), 0, 1), eq. (ch5-began-k); records k and the convergence
        measure; returns the new k."""
        r, f = V.finite_float(real_energy_mean, "real_energy_mean"), V.finite_float(fake_energy_mean, "fake_energy_mean")
        self.k = min(1.0, max(0.0, self.k + self.lambda_k * (self.gamma * r - f)))
        self.k_history.append(self.k)
        self.convergence_history.append(began_convergence(r, f, self.gamma))
        return self.k


def began_d_loss(real: torch.Tensor, fake: torch.Tensor, *, k: float) -> torch.Tensor:
    """BEGAN's discriminator loss, eq. (ch5-began): mean D(x) − k_t · mean D(G(z)), from the energies
    ``real`` = D(x) and ``fake`` = D(G(z)), shape (n,), and the current ``k`` = k_t of
    :class:`BEGANState`."""
    V.scores(real, "real")
    V.scores(fake, "fake")
    k = V.probability(k, "k")
    return real.mean() - k * fake.mean()


def began_convergence(real_energy_mean: float, fake_energy_mean: float, gamma: float) -> float:
    """BEGAN's convergence measure, eq. (ch5-began-m): M = D(x) + |γ D(x) − D(G(z))| (batch means)."""
    r, f = float(real_energy_mean), float(fake_energy_mean)
    return r + abs(gamma * r - f)


# -- MAGAN --------------------------------------------------------------------------------------
@dataclass
class MAGANMargin:
    """MAGAN's adaptive margin, eq. (ch5-magan). Start from the mean energy of the data under an
    autoencoder pre-trained on it (:meth:`from_pretraining`); at the end of every epoch call
    :meth:`epoch_end` with the epoch's mean energies of real and generated samples. The margin moves
    down to the real energy when (a) the real energy is below the margin, (b) the generated energy is
    above the real one, and (c) the generated energy rose since the previous epoch — the rule of the
    authors' released code. It never increases."""

    margin: float
    previous_fake: float = math.inf
    history: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        V.positive_float(self.margin, "margin")

    @classmethod
    def from_pretraining(cls, real_energy_mean: float) -> "MAGANMargin":
        return cls(margin=V.positive_float(real_energy_mean, "real_energy_mean"))

    def epoch_end(self, real_energy_mean: float, fake_energy_mean: float) -> bool:
        """Apply the update rule; return whether the margin changed."""
        r, f = V.finite_float(real_energy_mean, "real_energy_mean"), V.finite_float(fake_energy_mean, "fake_energy_mean")
        changed = r < self.margin and r < f and self.previous_fake < f
        if changed:
            self.margin = r
        self.previous_fake = f
        self.history.append(self.margin)
        return changed


__all__ = ["ebgan_d_loss", "ebgan_g_loss", "pulling_away", "BEGANState", "began_d_loss", "began_convergence",
           "MAGANMargin"]
