"""Checks for the exercises of chapter 4 (integral probability metrics).

* :func:`gradient_penalty` — a learner's WGAN-GP penalty (‖∇D(x̂)‖ − 1)² at random interpolates.
  The penalty is random (it draws ε), so its value cannot be compared with a reference directly.
  The check hands the learner's function a critic that *records every batch it is evaluated on*,
  recovers from those points where the learner took the penalty (the εᵢ with
  x̂ᵢ = εᵢxᵢ + (1 − εᵢ)x̃ᵢ), judges the εᵢ (one per sample? uniform on [0, 1]? not all 1, i.e. at
  the real points?) and then compares the returned value with the exact penalty at those points.
* :func:`mmd2_unbiased` — the unbiased MMD² with a Gaussian kernel, eq. (ch4-mmd-unbiased).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ..divergences import mmd2 as _mmd2
from ._core import CheckFailed, compare, learners, passed, raised, returned


class _RecordingCritic(nn.Module):
    """A smooth critic D(x) = Σ_k a_k tanh(w_kᵀ vec(x) + b_k) whose gradient norm varies with x,
    and which keeps a copy of every batch it sees."""

    def __init__(self, dim: int, seed: int, hidden: int = 8):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = nn.Parameter(torch.randn(dim, hidden, generator=g, dtype=torch.float64) / math.sqrt(dim))
        self.b = nn.Parameter(torch.randn(hidden, generator=g, dtype=torch.float64) * 0.3)
        self.a = nn.Parameter(torch.rand(hidden, generator=g, dtype=torch.float64) * 0.8 + 0.2)
        self.calls: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(x.detach().clone())
        return torch.tanh(x.flatten(1) @ self.w + self.b) @ self.a          # (n,)

    def grad_norms(self, x: torch.Tensor) -> torch.Tensor:
        """‖∇D(xᵢ)‖ per row, computed in closed form (no autograd, nothing recorded)."""
        h = x.flatten(1) @ self.w + self.b                                  # (n, hidden)
        grad = ((1 - torch.tanh(h) ** 2) * self.a) @ self.w.T               # (n, dim)
        return grad.norm(dim=1).detach()


def _segment_fit(points: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, float]:
    """For each row, the ε that best writes it as ε·real + (1 − ε)·fake, and the largest residual."""
    p, r, f = points.flatten(1), real.flatten(1), fake.flatten(1)
    d = r - f
    eps = ((p - f) * d).sum(1) / (d * d).sum(1)
    resid = (p - (f + eps[:, None] * d)).norm(dim=1) / (1 + d.norm(dim=1))
    return eps, float(resid.max())


def _coordinatewise(points: torch.Tensor, real: torch.Tensor, fake: torch.Tensor) -> bool:
    """True if every coordinate lies between its real and fake value (ε drawn per coordinate)."""
    lo, hi = torch.minimum(real, fake), torch.maximum(real, fake)
    return bool(((points >= lo - 1e-9) & (points <= hi + 1e-9)).all())


def _gp_cases() -> list[tuple[int, tuple[int, ...], int]]:
    return [(512, (2,), 41), (256, (5,), 42), (128, (1, 3, 3), 43)]


def gradient_penalty(fn: Callable, quiet: bool = False) -> str:
    """Exercise 4.x: ``fn(D, real, fake)`` returns the WGAN-GP penalty E (‖∇D(x̂)‖ − 1)² (no weight
    λ) at x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1] drawn once per sample, for batches of shape (n, ...),
    eq. (ch4-gp). It must stay differentiable with respect to D's parameters."""
    name = "gradient_penalty"
    learners(fn, name)
    for n, shape, seed in _gp_cases():
        g = torch.Generator().manual_seed(seed)
        real = torch.randn((n, *shape), generator=g, dtype=torch.float64) * 0.5 + 1.0
        fake = torch.randn((n, *shape), generator=g, dtype=torch.float64) * 1.5 - 0.5
        where = f"n = {n} samples of shape {shape}"
        D = _RecordingCritic(int(torch.tensor(shape).prod()), seed)
        try:
            value = returned(fn(D, real.clone(), fake.clone()), name)
        except CheckFailed:
            raise
        except NotImplementedError as err:
            raise raised(err, name, where) from err
        except Exception as err:
            hint = ""
            if len(shape) > 1:
                hint = ("\n  Hint: for samples of shape (n, c, h, w) draw ε with shape (n, 1, 1, 1), e.g. "
                        "torch.rand(real.shape[0], *[1] * (real.dim() - 1)), and take the norm over all "
                        "axes but the first (grad.flatten(1).norm(dim=1)).")
            raise CheckFailed(f"{name}: your function raised {type(err).__name__}: {err}\n  on {where}{hint}") from err
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise CheckFailed(f"{name}: return one number as a 0-dim tensor (the mean over the batch), got {got}")
        value = value.reshape(())
        # 1. differentiable with respect to D's parameters (create_graph=True)
        if not value.requires_grad:
            raise CheckFailed(f"{name}: the penalty does not depend on D's parameters in the autograd graph, so "
                              f"it cannot train the critic.\n  Hint: call torch.autograd.grad(..., create_graph=True).")
        grads = torch.autograd.grad(value, list(D.parameters()), allow_unused=True)
        if all(gr is None or float(gr.abs().max()) == 0 for gr in grads):
            raise CheckFailed(f"{name}: the penalty's gradient with respect to D's parameters is zero.\n  Hint: "
                              f"call torch.autograd.grad(..., create_graph=True) so the gradient norm stays differentiable.")
        # 2. where was D evaluated? Split every recorded batch into blocks of n rows.
        blocks = [blk for call in D.calls if call.shape[1:] == real.shape[1:] and call.shape[0] % n == 0
                  for blk in call.split(n)]
        on_segments = []
        for blk in blocks:
            eps, resid = _segment_fit(blk, real, fake)
            if resid < 1e-6:
                on_segments.append(eps)
        inner = [e for e in on_segments if not (bool(torch.allclose(e, torch.ones_like(e), atol=1e-9))
                                               or bool(torch.allclose(e, torch.zeros_like(e), atol=1e-9)))]
        if not inner:
            if any(bool(torch.allclose(e, torch.ones_like(e), atol=1e-9)) for e in on_segments):
                raise CheckFailed(f"{name}: D's gradient was only taken at the real samples (ε = 1 for every "
                                  f"sample). WGAN-GP penalises the gradient at random points *between* real and "
                                  f"generated samples.\n  Hint: x_hat = eps * real + (1 - eps) * fake with "
                                  f"eps ~ U[0, 1], one per sample.")
            if any(bool(torch.allclose(e, torch.zeros_like(e), atol=1e-9)) for e in on_segments):
                raise CheckFailed(f"{name}: D's gradient was only taken at the generated samples (ε = 0). "
                                  f"WGAN-GP takes it at random interpolates x_hat = eps * real + (1 - eps) * fake.")
            if any(_coordinatewise(blk, real, fake) for blk in blocks):
                raise CheckFailed(f"{name}: the points where you took the gradient are not on the segments between "
                                  f"paired real and generated samples: every coordinate got its own ε.\n  Hint: draw "
                                  f"one ε per sample, shape (n, 1, ..., 1), not torch.rand_like(real).")
            raise CheckFailed(f"{name}: D was never evaluated at points x_hat = eps * real + (1 - eps) * fake between "
                              f"the paired rows of real and fake (on {where}).")
        eps = inner[-1]
        if float(eps.std()) < 1e-9:
            raise CheckFailed(f"{name}: every sample used the same ε = {float(eps[0]):.4f}: one ε for the whole batch "
                              f"puts all interpolates at the same relative position.\n  Hint: draw one ε per sample, "
                              f"e.g. torch.rand(n, 1) for samples of shape (n, d).")
        if float(eps.min()) < -1e-9 or float(eps.max()) > 1 + 1e-9:
            raise CheckFailed(f"{name}: some ε lie outside [0, 1] (range {float(eps.min()):.3f} to "
                              f"{float(eps.max()):.3f}): x_hat must lie between the real and the generated sample.\n"
                              f"  Hint: torch.rand (uniform), not torch.randn (normal).")
        if n >= 256 and not (0.4 < float(eps.mean()) < 0.6 and float(eps.min()) < 0.05 and float(eps.max()) > 0.95):
            raise CheckFailed(f"{name}: the ε of {n} samples do not look uniform on [0, 1] (mean {float(eps.mean()):.3f}, "
                              f"range {float(eps.min()):.3f} to {float(eps.max()):.3f}).")
        # 3. the value at those very points
        x_hat = fake + eps.reshape(-1, *[1] * len(shape)) * (real - fake)
        norms = D.grad_norms(x_hat)
        expected = ((norms - 1) ** 2).mean()
        got = value.detach()
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-7):
            alternatives = {
                "(‖∇D‖² − 1)²: the norm is squared before subtracting 1": ((norms ** 2 - 1) ** 2).mean(),
                "the mean of ‖∇D‖ − 1 without the square": (norms - 1).mean(),
                "a sum over the batch instead of the mean": ((norms - 1) ** 2).sum(),
                "the penalty of D(x_hat).mean(): its gradient is divided by n — differentiate the sum, or pass "
                "grad_outputs=torch.ones_like(scores)": ((norms / n - 1) ** 2).mean(),
                "(‖∇D‖ − 1)² with a norm that also runs over the batch axis": (norms.norm() - 1) ** 2,
            }
            msg = (f"{name}: wrong value at the interpolates your function used: expected {float(expected):.6g}, "
                   f"got {float(got):.6g}\n  on {where}")
            for label, alt in alternatives.items():
                if torch.allclose(got, alt.reshape(()), rtol=1e-4, atol=1e-7):
                    msg += f"\n  Hint: your result equals {label}."
                    break
            raise CheckFailed(msg)
    return passed(f"✓ {name}: one uniform ε per sample, correct penalty on {len(_gp_cases())} batches", quiet)


def _mmd_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    g = torch.Generator().manual_seed(44)
    cases = []
    for m, n, d, sigma in ((6, 6, 1, 1.0), (30, 20, 2, 0.7), (15, 40, 5, 2.5)):
        x = torch.randn(m, d, generator=g, dtype=torch.float64)
        y = torch.randn(n, d, generator=g, dtype=torch.float64) * 1.3 + 0.4
        cases.append((x, y, sigma))
    return cases


def _gram(a: torch.Tensor, b: torch.Tensor, sigma: float, two: bool = True) -> torch.Tensor:
    d2 = torch.cdist(a, b).pow(2)
    return torch.exp(-d2 / ((2.0 if two else 1.0) * sigma ** 2))


def mmd2_unbiased(fn: Callable, quiet: bool = False) -> str:
    """Exercise 4.x: ``fn(x, y, sigma)`` returns the unbiased estimate of MMD² between samples x (m, d)
    and y (n, d) with the Gaussian kernel k(a, b) = exp(−‖a − b‖²/(2σ²)), eq. (ch4-mmd-unbiased)."""
    ref = lambda x, y, s: _mmd2(x, y, kernel="gaussian", bandwidths=s, unbiased=True)

    def offdiag_mean(k: torch.Tensor) -> torch.Tensor:
        m = k.shape[0]
        return (k.sum() - torch.diagonal(k).sum()) / (m * (m - 1))

    mistakes = {
        "the biased estimate (the diagonal terms k(xᵢ, xᵢ) = 1 included, divided by m²)":
            lambda x, y, s: _mmd2(x, y, kernel="gaussian", bandwidths=s, unbiased=False),
        "the diagonal left out but the sums divided by m² instead of m(m − 1)":
            lambda x, y, s: ((_gram(x, x, s).sum() - x.shape[0]) / x.shape[0] ** 2
                             + (_gram(y, y, s).sum() - y.shape[0]) / y.shape[0] ** 2 - 2 * _gram(x, y, s).mean()),
        "the cross term without its factor 2":
            lambda x, y, s: offdiag_mean(_gram(x, x, s)) + offdiag_mean(_gram(y, y, s)) - _gram(x, y, s).mean(),
        "the kernel exp(−‖a − b‖²/σ²) (the factor 2 in 2σ² is missing)":
            lambda x, y, s: (offdiag_mean(_gram(x, x, s, False)) + offdiag_mean(_gram(y, y, s, False))
                             - 2 * _gram(x, y, s, False).mean()),
        "the MMD (a square root) instead of MMD²":
            lambda x, y, s: ref(x, y, s).clamp(min=0).sqrt(),
    }
    return compare(fn, ref, _mmd_cases(), name="mmd2_unbiased", arg_names=("x", "y", "sigma"),
                   atol=1e-8, rtol=1e-6, mistakes=mistakes, quiet=quiet)


__all__ = ["gradient_penalty", "mmd2_unbiased"]
