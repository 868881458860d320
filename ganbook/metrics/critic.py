"""The independent Wasserstein critic (Danihelka et al. 2017), chapter 15, eq. (ch15-critic).

A fresh critic f, never seen by the generator, is trained on one pair of samples (real validation
data, generated samples) to maximise the Kantorovich–Rubinstein objective with a gradient penalty
at random interpolates x̂ = εx + (1 − ε)x̃ (Gulrajani et al. 2017), here the one-sided form
(Petzka et al. 2018) that only penalises slopes above 1,

    max_f  E_real f(x) − E_gen f(x̃) − λ E_x̂ max(0, ‖∇f(x̂)‖ − 1)²,

and its estimate Ŵ = mean f(real) − mean f(gen) is then read on a *second*, held-out pair. (The
two-sided penalty (‖∇f‖ − 1)² can trap a small critic with the wrong sign: from a nearly flat start
it pushes the slope to norm 1 in whatever direction it had, and turning round means crossing
slope 0, where that penalty is largest.) The
training-pair estimate is biased upward (f fits those very points); the held-out estimate is what
the survey calls a measure of overfitting: a generator that replays its training set produces
samples the critic can single out even on fresh real data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from .. import _validate as V
from ..errors import TrainingDiverged
from ..objectives.penalties import Critic, critic_gradient, interpolates
from . import _common as C


@dataclass
class CriticResult:
    """Ŵ on the critic's training pair and on the held-out pair, and the trained critic."""

    train_estimate: float
    test_estimate: float
    critic: nn.Module

    def __str__(self) -> str:
        return f"critic estimate: {self.train_estimate:.4f} on its training pair, {self.test_estimate:.4f} held out"


def _flat(x: object, name: str) -> torch.Tensor:
    V.tensor(x, name, min_rows=2)
    return C.features(x.reshape(x.shape[0], -1), name, min_rows=2)


def lipschitz_penalty(D: Critic, real: torch.Tensor, fake: torch.Tensor, *, weight: float = 1.0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """The one-sided penalty of eq. (ch15-critic) (Petzka et al. 2018): weight · E max(0, ‖∇D(x̂)‖ − 1)²
    at x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1] drawn once per pair from ``generator``
    (:func:`ganbook.objectives.penalties.interpolates`). ``real``, ``fake``: paired samples (n, ...)."""
    V.positive_float(weight, "weight", allow_zero=True)
    x_hat = interpolates(real, fake, generator=generator)
    slopes = critic_gradient(D, x_hat).flatten(1).norm(dim=1)                       # (n,)
    return weight * ((slopes - 1).clamp(min=0) ** 2).mean()


def independent_critic(real_train: torch.Tensor, fake_train: torch.Tensor, real_test: torch.Tensor,
                       fake_test: torch.Tensor, hidden: Sequence[int] = (256, 256), steps: int = 1000,
                       batch_size: int = 128, lr: float = 1e-3, penalty: float = 10.0, seed: int = 0,
                       device: torch.device | str | None = None) -> CriticResult:
    """Train an independent critic on (real_train, fake_train) and report Ŵ on both pairs,
    eq. (ch15-critic). Inputs are (n, ...) tensors, flattened to vectors; the critic is an MLP."""
    rtr, ftr = _flat(real_train, "real_train"), _flat(fake_train, "fake_train")
    rte, fte = _flat(real_test, "real_test"), _flat(fake_test, "fake_test")
    d = rtr.shape[1]
    for name, t in (("fake_train", ftr), ("real_test", rte), ("fake_test", fte)):
        if t.shape[1] != d:
            raise ValueError(f"{name} has {t.shape[1]} values per sample but real_train has {d}")
    steps = V.positive_int(steps, "steps")
    batch_size = V.positive_int(batch_size, "batch_size")
    lr = V.positive_float(lr, "lr")
    penalty = V.positive_float(penalty, "penalty", allow_zero=True)
    seed = V.positive_int(seed, "seed", minimum=0)
    dev = V.device_arg(device) if device is not None else rtr.device
    rtr, ftr, rte, fte = (t.to(dev, torch.float32) for t in (rtr, ftr, rte, fte))
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        from ..nets import mlp

        critic = mlp(d, 1, hidden=hidden, activation="leaky_relu", squeeze=True).to(dev)
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    for step in range(steps):
        ir = torch.randint(0, rtr.shape[0], (batch_size,), generator=gen).to(dev)
        jf = torch.randint(0, ftr.shape[0], (batch_size,), generator=gen).to(dev)
        real, fake = rtr[ir], ftr[jf]
        loss = critic(fake).mean() - critic(real).mean()
        if penalty > 0:
            loss = loss + lipschitz_penalty(critic, real, fake, weight=penalty, generator=gen)
        if not bool(torch.isfinite(loss)):

            raise TrainingDiverged(f"independent critic diverged at step {step}: loss {float(loss)}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        w_train = float(C.to_float64(critic(rtr)).mean() - C.to_float64(critic(ftr)).mean())
        w_test = float(C.to_float64(critic(rte)).mean() - C.to_float64(critic(fte)).mean())
    return CriticResult(train_estimate=w_train, test_estimate=w_test, critic=critic)
