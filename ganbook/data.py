"""Data for the book: toy distributions with known densities, and small real images.

Everything returns tensors on the requested device. Nothing here touches the network, except
:func:`mnist`, a clearly labelled optional loader that fails fast when offline.

The 2D mixtures follow the published mode-coverage protocol (VEEGAN / PacGAN):

* ring: 8 components, means (cos 2πk/8, sin 2πk/8), standard deviation 0.01;
* grid: 25 components, means {−4, −2, 0, 2, 4}², standard deviation 0.05.

:func:`shapes` (from :mod:`ganbook.shapes`) generates coloured images of one shape each with their
factors (class, position, scale, rotation, colour) and coverage masks, at any size, offline.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from . import _validate as V
from .shapes import shapes  # noqa: F401  (re-exported: ganbook.data.shapes)


def _draw(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
          kind: str = "normal") -> torch.Tensor:
    """Draw noise on the generator's device (so a seed gives the same numbers on any device),
    then move it to ``device``."""
    where = generator.device if generator is not None else device
    if kind == "normal":
        out = torch.randn(shape, generator=generator, device=where)
    else:
        out = torch.rand(shape, generator=generator, device=where)
    return out.to(device)


@dataclass(frozen=True)
class GaussianMixture:
    """A mixture of isotropic Gaussians, p(x) = Σ_k w_k N(x; μ_k, σ_k² I).

    ``means`` has shape (K, d); ``stds`` shape (K,); ``weights`` shape (K,) and sums to one.
    It can sample, evaluate its density exactly, and say which component a point is nearest to.
    """

    means: torch.Tensor
    stds: torch.Tensor
    weights: torch.Tensor

    def __post_init__(self) -> None:
        V.tensor(self.means, "means", ndim=2)
        V.tensor(self.stds, "stds", ndim=1)
        V.tensor(self.weights, "weights", ndim=1)
        k = self.means.shape[0]
        if self.stds.shape[0] != k or self.weights.shape[0] != k:
            raise ValueError(f"means has {k} components but stds has {self.stds.shape[0]} and "
                             f"weights has {self.weights.shape[0]}")
        if bool((self.stds <= 0).any()):
            raise ValueError("stds must all be > 0")
        if bool((self.weights < 0).any()) or abs(float(self.weights.sum()) - 1.0) > 1e-5:
            raise ValueError("weights must be non-negative and sum to 1")

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def device(self) -> torch.device:
        return self.means.device

    def to(self, device: torch.device | str) -> "GaussianMixture":
        device = V.device_arg(device)
        return GaussianMixture(self.means.to(device), self.stds.to(device), self.weights.to(device))

    def sample(self, n: int, generator: torch.Generator | None = None,
               return_labels: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Draw ``n`` points, shape (n, d); with ``return_labels`` also the component of each."""
        V.positive_int(n, "n")
        V.generator(generator)
        where = generator.device if generator is not None else self.device
        labels = torch.multinomial(self.weights.to(where), n, replacement=True, generator=generator)
        noise = torch.randn((n, self.dim), generator=generator, device=where)
        labels, noise = labels.to(self.device), noise.to(self.device)
        x = self.means[labels] + self.stds[labels, None] * noise
        return (x, labels) if return_labels else x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) for x of shape (n, d), computed with log-sum-exp; returns shape (n,)."""
        V.tensor(x, "x", ndim=2, last_dim=self.dim)
        means, stds, w = (t.to(device=x.device, dtype=x.dtype) for t in (self.means, self.stds, self.weights))
        sq = torch.cdist(x, means).pow(2)                                  # (n, K)
        d = self.dim
        log_comp = -0.5 * sq / stds**2 - d * torch.log(stds) - 0.5 * d * math.log(2 * math.pi)
        return torch.logsumexp(log_comp + torch.log(w), dim=1)

    def pdf(self, x: torch.Tensor) -> torch.Tensor:
        """p(x), shape (n,)."""
        return self.log_prob(x).exp()

    def nearest(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For each row of x: the index of the component with the smallest standardized distance
        ‖x − μ_k‖/σ_k, and that distance. Shapes (n,), (n,)."""
        V.tensor(x, "x", ndim=2, last_dim=self.dim)
        means, stds = self.means.to(x), self.stds.to(x)
        z = torch.cdist(x, means) / stds                                    # (n, K)
        dist, idx = z.min(dim=1)
        return idx, dist


def mixture(means: Sequence[float] | Sequence[Sequence[float]] | torch.Tensor,
            stds: float | Sequence[float] | torch.Tensor,
            weights: Sequence[float] | torch.Tensor | None = None,
            device: torch.device | str | None = None,
            dtype: torch.dtype = torch.float32) -> GaussianMixture:
    """Build a :class:`GaussianMixture`. 1D means may be given as a flat list."""
    device = V.device_arg(device)
    m = torch.as_tensor(means, dtype=dtype, device=device)
    if m.dim() == 1:
        m = m[:, None]
    if m.dim() != 2 or m.shape[0] == 0:
        raise ValueError(f"means must be a non-empty list of numbers or of points, got shape {tuple(m.shape)}")
    k = m.shape[0]
    s = torch.as_tensor(stds, dtype=dtype, device=device)
    s = s.expand(k).clone() if s.dim() == 0 else s
    if weights is None:
        w = torch.full((k,), 1.0 / k, dtype=dtype, device=device)
    else:
        w = torch.as_tensor(weights, dtype=dtype, device=device)
    return GaussianMixture(m, s, w)


def gaussian_1d(mean: float = 0.0, std: float = 1.0, device: torch.device | str | None = None) -> GaussianMixture:
    """A single 1D Gaussian N(mean, std²) as a one-component mixture."""
    V.finite_float(mean, "mean")
    V.positive_float(std, "std")
    return mixture([mean], [std], device=device)


def ring(n_modes: int = 8, radius: float = 1.0, std: float = 0.01,
         device: torch.device | str | None = None) -> GaussianMixture:
    """The 2D ring of the published protocol: means (r cos 2πk/K, r sin 2πk/K), std 0.01."""
    V.positive_int(n_modes, "n_modes")
    V.positive_float(radius, "radius")
    V.positive_float(std, "std")
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return mixture(means.float(), std, device=device)


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05,
         device: torch.device | str | None = None) -> GaussianMixture:
    """The 2D grid of the published protocol: means {−4, −2, 0, 2, 4}² (side 5, spacing 2), std 0.05."""
    V.positive_int(side, "side")
    V.positive_float(spacing, "spacing")
    V.positive_float(std, "std")
    ticks = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    gx, gy = torch.meshgrid(ticks, ticks, indexing="ij")
    means = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    return mixture(means, std, device=device)


def swiss_roll(n: int, noise: float = 0.25, scale: float = 7.5, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
    """2D swiss roll as in scikit-learn's ``make_swiss_roll`` (its x and z coordinates), divided
    by ``scale`` (7.5 in the WGAN-GP toy code). t ~ 1.5π(1 + 2U); x = (t cos t, t sin t) + noise."""
    V.positive_int(n, "n")
    V.positive_float(noise, "noise", allow_zero=True)
    V.positive_float(scale, "scale")
    device = V.device_arg(device)
    t = 1.5 * math.pi * (1 + 2 * _draw((n,), generator, device, "uniform"))
    x = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
    x = x + noise * _draw((n, 2), generator, device)
    return x / scale


def moons(n: int, noise: float = 0.05, generator: torch.Generator | None = None,
          device: torch.device | str | None = None) -> torch.Tensor:
    """Two interleaving half circles (scikit-learn's ``make_moons`` geometry), centred."""
    V.positive_int(n, "n")
    V.positive_float(noise, "noise", allow_zero=True)
    device = V.device_arg(device)
    t = math.pi * _draw((n,), generator, device, "uniform")
    upper = _draw((n,), generator, device, "uniform") < 0.5
    x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
    y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
    pts = torch.stack([x - 0.5, y - 0.25], dim=1)
    return pts + noise * _draw((n, 2), generator, device)


def digits(device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's shipped 8×8 digits (1,797 images, 10 classes), scaled from [0, 16] to [−1, 1].

    Returns images of shape (1797, 1, 8, 8) and integer labels of shape (1797,). Offline.
    """
    from sklearn.datasets import load_digits

    device = V.device_arg(device)
    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=dtype).reshape(-1, 1, 8, 8) / 8.0 - 1.0
    y = torch.as_tensor(bunch.target, dtype=torch.long)
    return x.to(device), y.to(device)


def sampler(x: torch.Tensor):
    """Turn a finite data set (n, ...) into a sampler ``f(batch_size, generator) -> batch`` that
    draws rows uniformly with replacement, as the training loop expects."""
    V.tensor(x, "x", min_rows=1)

    def sample(batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        V.positive_int(batch_size, "batch_size")
        where = generator.device if generator is not None else x.device
        idx = torch.randint(0, x.shape[0], (batch_size,), generator=generator, device=where)
        return x[idx.to(x.device)]

    return sample


def mnist(root: str = "~/.cache/ganbook", train: bool = True, fashion: bool = False,
          device: torch.device | str | None = None, timeout: float = 10.0
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """OPTIONAL, needs torchvision and the network on first use: MNIST (or Fashion-MNIST) as
    tensors (n, 1, 28, 28) in [−1, 1] and labels. Offline and without a cached copy it fails
    fast with a clear ``RuntimeError`` instead of hanging. Never used in CI."""
    import os
    import socket

    try:
        import torchvision
    except ImportError as err:
        raise RuntimeError("ganbook.data.mnist needs torchvision: pip install torchvision") from err
    root = os.path.expanduser(root)
    cls = torchvision.datasets.FashionMNIST if fashion else torchvision.datasets.MNIST
    try:
        ds = cls(root, train=train, download=False)
    except RuntimeError:
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(timeout)
        try:
            ds = cls(root, train=train, download=True)
        except Exception as err:  # network errors come in many types
            raise RuntimeError(f"could not download {'Fashion-MNIST' if fashion else 'MNIST'} into {root} "
                               f"(offline?): {err}. The book's chapters use data.digits() instead.") from err
        finally:
            socket.setdefaulttimeout(old)
    x = ds.data.to(torch.float32).unsqueeze(1) / 127.5 - 1.0
    device = V.device_arg(device)
    return x.to(device), ds.targets.to(device)


def latent(z_dim: int, kind: str = "normal"):
    """A latent sampler ``f(n, generator) -> z`` of shape (n, z_dim): N(0, I) or U[−1, 1]^z_dim."""
    V.positive_int(z_dim, "z_dim")
    if kind not in ("normal", "uniform"):
        raise ValueError(f"kind must be 'normal' or 'uniform', got {kind!r}")

    def sample(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        V.positive_int(n, "n")
        where = generator.device if generator is not None else torch.device("cpu")
        if kind == "normal":
            return torch.randn((n, z_dim), generator=generator, device=where)
        return 2 * torch.rand((n, z_dim), generator=generator, device=where) - 1

    return sample
