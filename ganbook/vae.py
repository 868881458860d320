"""Chapter 10a: the variational autoencoder and its GAN hybrids.

* :func:`reparameterize`, :func:`gaussian_kl_standard`, :func:`gaussian_log_density` — the pieces of the ELBO,
  eqs. (ch10-reparam), (ch10-kl-gauss), (ch10-decoder);
* :func:`elbo` — the evidence lower bound, eq. (ch10-elbo);
* :func:`log_importance_weights`, :func:`iwae_bound` — the importance-weighted bound of log p(x), eq. (ch10-iwae);
* :func:`linear_gaussian_log_marginal` — the exact log p(x) of a linear-Gaussian decoder (the reference);
* :func:`log_ratio_from_probability` — the density-ratio trick, log p/q = log D − log(1 − D), eq. (ch10-ratio);
* :func:`vaegan_d_loss`, :func:`feature_reconstruction` — VAE-GAN, eqs. (ch10-vaegan);
* :func:`density_ratio_g_loss` — α-GAN's ratio terms −E logit D, eq. (ch10-alpha).

Every function accepts leading (seed) axes: tensors (..., n, d), results (..., n) or scalars.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from . import _validate as V

__all__ = ["reparameterize", "gaussian_kl_standard", "gaussian_log_density", "elbo", "log_importance_weights",
           "iwae_bound", "linear_gaussian_log_marginal", "log_ratio_from_probability", "vaegan_d_loss",
           "feature_reconstruction", "density_ratio_g_loss"]

Encoder = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
Decoder = Callable[[torch.Tensor], torch.Tensor]
LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, *, noise: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-reparam): z = μ + σ ⊙ ε with σ = exp(½ log σ²) and ε ~ N(0, I) given as ``noise``; the
    sample is a differentiable function of (μ, log σ²)."""
    V.tensor(mu, "mu", finite=False)
    if logvar.shape != mu.shape or noise.shape[-mu.dim():] != mu.shape:
        raise ValueError(f"mu {tuple(mu.shape)}, logvar {tuple(logvar.shape)} and noise {tuple(noise.shape)} must "
                         "share one shape (noise may add leading axes)")
    return mu + (0.5 * logvar).exp() * noise


def gaussian_kl_standard(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-kl-gauss): KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_j (σ_j² + μ_j² − 1 − log σ_j²), one value per row."""
    V.tensor(mu, "mu", finite=False)
    if logvar.shape != mu.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have one shape")
    return 0.5 * (logvar.exp() + mu ** 2 - 1.0 - logvar).sum(-1)


def gaussian_log_density(x: torch.Tensor, mean: torch.Tensor, log_sigma: torch.Tensor | float) -> torch.Tensor:
    """Eq. (ch10-decoder): log N(x; mean, σ² I) summed over the last axis, one value per row;
    ``log_sigma`` a number or a tensor that broadcasts against ``mean``."""
    V.tensor(x, "x", finite=False)
    log_sigma = torch.as_tensor(log_sigma, dtype=mean.dtype, device=mean.device)
    d = x.shape[-1]
    if mean.shape[-1] != d:
        raise ValueError(f"x has {d} coordinates but mean has {mean.shape[-1]}")
    z = (x - mean) * torch.exp(-log_sigma)
    return -0.5 * (z ** 2).sum(-1) - (log_sigma * torch.ones_like(mean)).sum(-1) - 0.5 * d * LOG_2PI


def elbo(x: torch.Tensor, encode: Encoder, decode: Decoder, log_sigma: torch.Tensor | float, *,
         noise: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-elbo), one reparameterised sample: E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)), one value per row of
    ``x`` (..., n, d). ``encode(x)`` returns (μ, log σ²) of q(z|x); ``decode(z)`` the mean of the Gaussian
    p(x|z) with standard deviation exp(``log_sigma``); ``noise`` ε ~ N(0, I), shaped like μ."""
    mu, logvar = encode(x)
    z = reparameterize(mu, logvar, noise=noise)
    return gaussian_log_density(x, decode(z), log_sigma) - gaussian_kl_standard(mu, logvar)


def log_importance_weights(x: torch.Tensor, encode: Encoder, decode: Decoder, log_sigma: torch.Tensor | float,
                           *, noise: torch.Tensor) -> torch.Tensor:
    """log w_i = log p(x|z_i) + log p(z_i) − log q(z_i|x) for z_i = μ + σ ε_i, eq. (ch10-iwae). ``noise`` has
    shape (k, ..., n, d_z) (k samples per row); ``decode`` must map z of shape (k, ..., n, d_z) to
    (k, ..., n, d); the result (k, ..., n)."""
    mu, logvar = encode(x)
    if noise.dim() != mu.dim() + 1 or noise.shape[1:] != mu.shape:
        raise ValueError(f"noise must have shape (k, {', '.join(map(str, mu.shape))}), got {tuple(noise.shape)}")
    z = reparameterize(mu, logvar, noise=noise)
    log_prior = gaussian_log_density(z, torch.zeros_like(z), 0.0)
    log_q = (-0.5 * noise ** 2 - 0.5 * logvar - 0.5 * LOG_2PI).sum(-1)
    k = noise.shape[0]
    x_mean = decode(z)                                        # (k, ..., n, d): decode maps any leading axes
    if x_mean.shape != (*z.shape[:-1], x.shape[-1]):
        raise ValueError(f"decode(z) must return shape {(*z.shape[:-1], x.shape[-1])} for z {tuple(z.shape)}, "
                         f"got {tuple(x_mean.shape)}")
    return gaussian_log_density(x.expand(k, *x.shape), x_mean, log_sigma) + log_prior - log_q


def iwae_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-iwae): log (1/k) Σ_i w_i from log-weights of shape (k, ...), computed stably; k = 1 is the ELBO
    estimate, and its expectation increases with k towards log p(x)."""
    V.tensor(log_weights, "log_weights", min_rows=1, finite=False)
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def linear_gaussian_log_marginal(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                                 log_sigma: float | torch.Tensor) -> torch.Tensor:
    """The exact log p(x) of the decoder x = W z + b + σ ε with z ~ N(0, I_k): x ~ N(b, W Wᵀ + σ² I).
    ``x`` (n, d), ``weight`` (d, k), ``bias`` (d,); one value per row (float64)."""
    V.tensor(x, "x", ndim=2)
    V.tensor(weight, "weight", ndim=2)
    if weight.shape[0] != x.shape[1] or bias.shape != (x.shape[1],):
        raise ValueError(f"weight must be ({x.shape[1]}, k) and bias ({x.shape[1]},), got {tuple(weight.shape)}, "
                         f"{tuple(bias.shape)}")
    w, b = weight.double(), bias.double()
    var = float(torch.as_tensor(log_sigma, dtype=torch.float64).mul(2).exp())
    cov = w @ w.T + var * torch.eye(x.shape[1], dtype=torch.float64, device=w.device)
    dist = torch.distributions.MultivariateNormal(b, covariance_matrix=cov)
    return dist.log_prob(x.double())


def log_ratio_from_probability(d: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-ratio): the density-ratio trick. A classifier's probability D(x) = P(y = 1 | x) of "from p"
    against "from q", with equal class priors, gives log p(x)/q(x) = log D(x) − log(1 − D(x)) (its logit)."""
    V.tensor(d, "d", finite=False)
    if bool(((d < 0) | (d > 1)).any()):
        raise ValueError("d must hold probabilities in [0, 1]")
    return torch.log(d) - torch.log1p(-d)


def vaegan_d_loss(real: torch.Tensor, fake: torch.Tensor, *, fake2: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-vaegan), the discriminator's loss of VAE-GAN from logits: real data labelled 1, decoded prior
    samples (``fake``) and reconstructions Dec(Enc(x)) (``fake2``) labelled 0, binary cross-entropy."""
    for name, t in (("real", real), ("fake", fake), ("fake2", fake2)):
        V.scores(t, name, batched=True)
    return F.softplus(-real).mean() + F.softplus(fake).mean() + F.softplus(fake2).mean()


def feature_reconstruction(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-vaegan): VAE-GAN's reconstruction error in the discriminator's feature space, −log N(Dis_l(x);
    Dis_l(x̃), I) up to a constant, i.e. ½‖Dis_l(x) − Dis_l(x̃)‖² summed over features, mean over the batch
    (summed over leading seed axes)."""
    if real_features.shape != fake_features.shape:
        raise ValueError(f"real_features {tuple(real_features.shape)} and fake_features "
                         f"{tuple(fake_features.shape)} must have one shape")
    V.rows(real_features, "real_features")
    return 0.5 * (real_features - fake_features).pow(2).sum(-1).mean(-1).sum()


def density_ratio_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Eq. (ch10-alpha): −E log(D/(1 − D)) = −E[logit] over the discriminator's logits on generated inputs. For
    α-GAN's code discriminator (prior = 1, encoder = 0) it estimates KL(q(z|x) ‖ p(z)); on the image
    discriminator it is the "synthetic likelihood" term. Mean over all entries, times the number of seeds."""
    V.scores(fake, "fake", batched=True)
    return -fake.mean(-1).sum()
