"""Autoencoder discriminators (chapter 5: EBGAN, BEGAN, MAGAN; chapter 4: MMD-GAN's encoder).

An autoencoder discriminator scores a sample by how badly it reconstructs it, the *energy*

    D(x) = ‖x − Dec(Enc(x))‖   (per-sample mean of squared or absolute errors), eq. (ch5-energy),

low for data the autoencoder has learned, high elsewhere. :class:`AutoencoderDiscriminator` returns
that energy, one number per sample, shape (n,) — the same shape as any discriminator's scores, so
the energy-based losses of :mod:`ganbook.objectives.energy` take it directly. It also exposes the
encoder's code (EBGAN's pulling-away term, MMD-GAN's kernel) and the reconstruction.
"""
from __future__ import annotations

import torch
from torch import nn

from . import _validate as V

ENERGIES = ("mse", "l1")


class AutoencoderDiscriminator(nn.Module):
    """D(x) = per-sample mean of (x − Dec(Enc(x)))² (``energy="mse"``, EBGAN, MAGAN) or of
    |x − Dec(Enc(x))| (``energy="l1"``, BEGAN), eq. (ch5-energy). Shape (n,)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, energy: str = "mse"):
        super().__init__()
        for name, net in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(net, nn.Module):
                raise TypeError(f"{name} must be a torch.nn.Module, got {type(net).__name__}")
        if energy not in ENERGIES:
            raise ValueError(f"energy must be one of {ENERGIES}, got {energy!r}")
        self.encoder, self.decoder, self.energy = encoder, decoder, energy

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code Enc(x), shape (n, code_dim)."""
        return self.encoder(x)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Dec(Enc(x)), the same shape as x."""
        return self.decoder(self.encoder(x))

    def energy_and_code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(D(x) of shape (n,), Enc(x) of shape (n, code_dim)) from one pass."""
        V.tensor(x, "x", min_rows=1, finite=False)
        code = self.encoder(x)
        rec = self.decoder(code)
        if rec.shape != x.shape:
            raise ValueError(f"the decoder returned shape {tuple(rec.shape)} for an input of shape {tuple(x.shape)}")
        err = (x - rec).flatten(1)
        e = err.pow(2).mean(1) if self.energy == "mse" else err.abs().mean(1)
        return e, code

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy_and_code(x)[0]


class _Unflatten8(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.view(h.shape[0], self.channels, 2, 2)


def conv_autoencoder8(code_dim: int = 32, width: int = 32, channels: int = 1,
                      energy: str = "mse") -> AutoencoderDiscriminator:
    """A convolutional autoencoder discriminator for 8×8 images in [−1, 1] (the shipped digits):
    8×8 → 4×4 → 2×2 (strided convolutions, ELU as in BEGAN) → code → back by fractionally strided
    convolutions, ``tanh`` at the output. No batch norm: the energy of a sample must not depend on
    the other samples of its batch."""
    V.positive_int(code_dim, "code_dim")
    V.positive_int(width, "width")
    V.positive_int(channels, "channels")
    enc = nn.Sequential(
        nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.ELU(),               # 8×8 → 4×4
        nn.Conv2d(width, 2 * width, 4, stride=2, padding=1), nn.ELU(),              # 4×4 → 2×2
        nn.Flatten(), nn.Linear(2 * width * 4, code_dim),                           # → (n, code_dim)
    )
    dec = nn.Sequential(
        nn.Linear(code_dim, 2 * width * 4), nn.ELU(), _Unflatten8(2 * width),       # → (n, 2w, 2, 2)
        nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.ELU(),     # 2×2 → 4×4
        nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh(),     # 4×4 → 8×8
    )
    return AutoencoderDiscriminator(enc, dec, energy)


__all__ = ["AutoencoderDiscriminator", "conv_autoencoder8", "ENERGIES"]
