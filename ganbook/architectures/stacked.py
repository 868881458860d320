"""Stacked GAN's extra terms (Huang et al. 2017, "Stacked Generative Adversarial Networks"), chapter 6c.

A pre-trained bottom-up encoder maps data to representations h_0 = x → h_1 → … → h_N (e.g. a classifier's
layers, h_N the label). Stacked GAN trains one generator per level, top-down, G_i: (h_{i+1}, z_i) → ĥ_i,
with three losses per level, eq. (ch6-sgan):

* adversarial: a discriminator D_i tells real h_i = E_{i−1}(… x) from generated ĥ_i;
* conditional, :func:`sgan_conditional`: the encoder must map the generated ĥ_i back to the
  representation it was conditioned on, f(E_i(ĥ_i), h_{i+1}) (squared error for features, cross-entropy
  for labels);
* entropy, :func:`sgan_entropy`: an auxiliary network Q_i (sharing D_i's layers in the paper) predicts z_i
  from ĥ_i; since E[−log Q_i(z_i | ĥ_i)] ≥ H(z_i | ĥ_i), minimising it raises a lower bound on the
  information I(z_i; ĥ_i | h_{i+1}) = H(z_i) − H(z_i | ĥ_i, h_{i+1}) that the sample keeps about its noise,
  which keeps G_i from ignoring z_i. For a Gaussian Q with unit variance, −log Q_i(z_i | ĥ_i) is
  ½‖z_i − μ_i(ĥ_i)‖² plus a constant.

Both are functions of outputs, like the losses of :mod:`ganbook.objectives`, with the pair named for
what it is (as :func:`ganbook.collapse.veegan_reconstruction`).
"""
from __future__ import annotations

import torch

from .. import _validate as V


def _pair(a: object, b: object, na: str, nb: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Shape and device checks only (free): reading values would wait for the device at every step."""
    for x, name in ((a, na), (b, nb)):
        V.tensor(x, name, finite=False)
        if x.dim() < 2 or x.shape[-2] == 0:
            raise ValueError(f"{name} must have shape (..., n, d) with n >= 1, got {tuple(x.shape)}")
    if a.shape != b.shape:
        raise ValueError(f"{na} and {nb} must have one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    V.same_device(a, b, na, nb)
    return a, b


def sgan_conditional(h: torch.Tensor, h_of_fake: torch.Tensor) -> torch.Tensor:
    """Stacked GAN's conditional loss for feature representations, eq. (ch6-sgan): the mean over samples
    of ‖h − E(ĥ)‖², from the conditioning representation ``h`` (…, n, d) and the encoder's output on the
    generated sample ``h_of_fake`` (…, n, d)."""
    h, h_of_fake = _pair(h, h_of_fake, "h", "h_of_fake")
    return (h - h_of_fake).pow(2).sum(-1).mean()


def sgan_entropy(z: torch.Tensor, z_of_fake: torch.Tensor) -> torch.Tensor:
    """Stacked GAN's entropy loss, eq. (ch6-sgan): −log Q(z | ĥ) for a Gaussian Q with mean ``z_of_fake``
    (…, n, d) and unit variance, without its constant (d/2)·log 2π: the mean over samples of ½‖z − μ(ĥ)‖²."""
    z, z_of_fake = _pair(z, z_of_fake, "z", "z_of_fake")
    return 0.5 * (z - z_of_fake).pow(2).sum(-1).mean()


__all__ = ["sgan_conditional", "sgan_entropy"]
