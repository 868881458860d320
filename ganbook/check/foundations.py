"""Checks for the exercises of chapters 1 (maximum likelihood) and 2 (the GAN game)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..divergences import kl_gaussian as _kl_gaussian
from ._core import compare, learners, returned

_LARGE = ("your function is right for moderate logits but wrong for large |logits| (a confident "
          "discriminator): a clamped sigmoid, or an ε inside the log, caps the loss there. Compute the loss "
          "from the logits with F.softplus / F.logsigmoid, which are exact for any logit.")


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def gaussian_mle(fn) -> str:
    """Exercise 1.x: ``fn(x)`` with x of shape (n,) returns the maximum-likelihood (mean, std) of a
    Gaussian — the std with 1/n, not 1/(n − 1)."""
    g = _rng(1)
    cases = [(torch.randn(n, generator=g, dtype=torch.float64) * s + m,)
             for n, m, s in ((10, 0.0, 1.0), (7, 3.0, 0.5), (200, -2.0, 4.0), (2, 1.0, 1.0))]

    def ref(x):
        mu = x.mean()
        return torch.stack([mu, ((x - mu) ** 2).mean().sqrt()])

    mistakes = {"the unbiased std (dividing by n − 1), which is not the maximum-likelihood estimate":
                lambda x: torch.stack([x.mean(), x.std(unbiased=True)]),
                "the variance instead of the standard deviation":
                lambda x: torch.stack([x.mean(), ((x - x.mean()) ** 2).mean()])}
    learners(fn, "gaussian_mle")
    return compare(lambda x: torch.stack([torch.as_tensor(v, dtype=torch.float64)
                                          for v in returned(fn(x), "gaussian_mle")]), ref, cases,
                   name="gaussian_mle", arg_names=("x",), atol=1e-6, rtol=1e-6, mistakes=mistakes)


def kl_gaussian(fn) -> str:
    """Exercise 1.x: ``fn(mu_p, sigma_p, mu_q, sigma_q)`` returns KL(N(μ_p, σ_p²) ‖ N(μ_q, σ_q²))."""
    cases = [(0.0, 1.0, 0.0, 1.0), (1.0, 1.0, 0.0, 1.0), (0.0, 0.5, 0.0, 2.0), (0.0, 2.0, 0.0, 0.5), (-1.0, 0.3, 2.0, 1.7)]
    mistakes = {"KL(q‖p), the divergence with its arguments swapped":
                lambda a, b, c, d: _kl_gaussian(c, d, a, b),
                "a formula with variances where standard deviations belong in the log term":
                lambda a, b, c, d: math.log(d**2 / b**2) + (b**2 + (a - c) ** 2) / (2 * d**2) - 0.5}
    return compare(fn, _kl_gaussian, cases, name="kl_gaussian",
                   arg_names=("mu_p", "sigma_p", "mu_q", "sigma_q"), atol=1e-6, rtol=1e-6, mistakes=mistakes)


def _logit_cases(seed: int, two: bool):
    g = _rng(seed)
    sizes = (5, 64, 3)
    cases = []
    for n in sizes:
        real = torch.randn(n, generator=g) * 3
        fake = torch.randn(n, generator=g) * 3
        cases.append((real, fake) if two else (fake,))
    extreme = torch.tensor([-120.0, -30.0, 0.0, 30.0, 120.0])   # stability: D certain either way
    cases.append((extreme, extreme.flip(0)) if two else (extreme,))
    return cases


def nonsaturating_g_loss(fn) -> str:
    """Exercise 2.x: ``fn(fake)`` returns the non-saturating generator loss −E[log D(G(z))] from the
    logits ``fake`` of a generated batch (D = σ(logit)), as a scalar, stable for large |logits|.
    ``fn`` is called positionally, so its argument may have any name."""
    mistakes = {"the saturating (minimax) loss E[log(1 − D(G(z)))]": lambda f: -F.softplus(f).mean(),
                "the loss with the wrong sign, +E[log D(G(z))]": lambda f: -F.softplus(-f).mean()}
    return compare(fn, lambda f: F.softplus(-f).mean(), _logit_cases(2, False), name="nonsaturating_g_loss",
                   arg_names=("fake",), mistakes=mistakes, large_hint=_LARGE)


def discriminator_loss(fn) -> str:
    """Exercise 2.x: ``fn(real, fake)`` returns −V(G, D), the discriminator's binary cross-entropy,
    from the logits of a real and a generated batch, as a scalar, stable for large |logits|.
    ``fn`` is called positionally, so its arguments may have any names."""
    ref = lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean()
    mistakes = {"V(G, D) itself — the discriminator maximises V, so it minimises −V": lambda r, f: -ref(r, f),
                "the loss with real and fake labels swapped": lambda r, f: F.softplus(r).mean() + F.softplus(-f).mean(),
                "one binary cross-entropy over the real and fake batches concatenated: a mean over all 2n "
                "scores, which is HALF of −V(G, D) = E[−log D(x)] + E[−log(1 − D(G(z)))]. Average each batch "
                "separately and add the two means": lambda r, f: torch.cat([F.softplus(-r), F.softplus(f)]).mean()}
    return compare(fn, ref, _logit_cases(3, True), name="discriminator_loss",
                   arg_names=("real", "fake"), mistakes=mistakes, large_hint=_LARGE)


def optimal_discriminator(fn) -> str:
    """Exercise 2.x: ``fn(p_data, p_g)`` (densities at the same points, shape (n,)) returns the
    optimal discriminator D*(x) = p_data(x) / (p_data(x) + p_g(x))."""
    g = _rng(4)
    cases = [(torch.rand(n, generator=g, dtype=torch.float64) * 2 + 1e-3,
              torch.rand(n, generator=g, dtype=torch.float64) * 2 + 1e-3) for n in (4, 50)]
    cases.append((torch.tensor([1.0, 0.0, 0.3], dtype=torch.float64), torch.tensor([0.0, 1.0, 0.3], dtype=torch.float64)))
    mistakes = {"p_g / (p_data + p_g): the arguments are swapped": lambda p, q: q / (p + q),
                "the density ratio p_data / p_g, which is D*/(1 − D*)": lambda p, q: p / q}
    return compare(fn, lambda p, q: p / (p + q), cases, name="optimal_discriminator",
                   arg_names=("p_data", "p_g"), atol=1e-9, rtol=1e-7, mistakes=mistakes)
