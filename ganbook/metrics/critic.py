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


_CHECK_EVERY = 100


def _check_finite(losses: torch.Tensor, step: int) -> None:
    """Raise TrainingDiverged if a loss of the block ending at ``step`` is NaN or infinite."""
    bad = ~torch.isfinite(losses)
    if bool(bad.any()):
        first = step - len(losses) + 1 + int(bad.nonzero()[0])
        raise TrainingDiverged(f"independent critic diverged at step {first}: loss {float(losses[bad][0])}")


def independent_critic(real_train: torch.Tensor, fake_train: torch.Tensor, real_test: torch.Tensor,
                       fake_test: torch.Tensor, hidden: Sequence[int] = (256, 256), steps: int = 1000,
                       batch_size: int = 128, lr: float = 1e-3, penalty: float = 10.0, seed: int = 0,
                       device: torch.device | str | None = None) -> CriticResult:
    """Train an independent critic on (real_train, fake_train) and report Ŵ on both pairs,
    eq. (ch15-critic). Inputs are (n, ...) tensors, flattened to vectors; the critic is an MLP.
    (:func:`independent_critics` with one generator.)"""
    return independent_critics(real_train, [fake_train], real_test, [fake_test], hidden=hidden, steps=steps,
                               batch_size=batch_size, lr=lr, penalty=penalty, seed=seed, device=device)[0]


def independent_critics(real_train: torch.Tensor, fakes_train: Sequence[torch.Tensor], real_test: torch.Tensor,
                        fakes_test: Sequence[torch.Tensor], hidden: Sequence[int] = (256, 256), steps: int = 1000,
                        batch_size: int = 128, lr: float = 1e-3, penalty: float = 10.0, seed: int = 0,
                        device: torch.device | str | None = None) -> list[CriticResult]:
    """One independent critic per generator e, eq. (ch15-critic), trained on (real_train, fakes_train[e])
    and read on (real_train, fakes_train[e]) and (real_test, fakes_test[e]).

    The E critics train side by side as the members of one :class:`ganbook.nets.BatchedMLP` (nothing
    couples them: the loss is the sum of the members' losses). All start from the same weights (the
    MLP that ``seed`` initialises) and see the same real minibatches and the same indices into their
    own fake samples, so they differ only through their data. The fake training samples of all
    generators must have the same number of rows."""
    from ..nets import BatchedMLP, mlp

    fakes_train, fakes_test = list(fakes_train), list(fakes_test)
    if not fakes_train or len(fakes_train) != len(fakes_test):
        raise ValueError(f"fakes_train and fakes_test must be non-empty lists of the same length, got "
                         f"{len(fakes_train)} and {len(fakes_test)}")
    rtr, rte = _flat(real_train, "real_train"), _flat(real_test, "real_test")
    ftr = [_flat(f, f"fakes_train[{e}]") for e, f in enumerate(fakes_train)]
    fte = [_flat(f, f"fakes_test[{e}]") for e, f in enumerate(fakes_test)]
    d = rtr.shape[1]
    for name, t in [("real_test", rte), *((f"fakes_train[{e}]", f) for e, f in enumerate(ftr)),
                    *((f"fakes_test[{e}]", f) for e, f in enumerate(fte))]:
        if t.shape[1] != d:
            raise ValueError(f"{name} has {t.shape[1]} values per sample but real_train has {d}")
    if len({f.shape[0] for f in ftr}) > 1:
        raise ValueError(f"every fakes_train[e] must have the same number of rows, got {[f.shape[0] for f in ftr]}")
    steps = V.positive_int(steps, "steps")
    batch_size = V.positive_int(batch_size, "batch_size")
    lr = V.positive_float(lr, "lr")
    penalty = V.positive_float(penalty, "penalty", allow_zero=True)
    seed = V.positive_int(seed, "seed", minimum=0)
    dev = V.device_arg(device) if device is not None else rtr.device
    E = len(ftr)
    rtr, rte = rtr.to(dev, torch.float32), rte.to(dev, torch.float32)
    ftr = torch.stack(ftr).to(dev, torch.float32)                               # (E, n_fake, d)
    fte = [f.to(dev, torch.float32) for f in fte]
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = mlp(d, 1, hidden=hidden, activation="leaky_relu", squeeze=True)
    critic = BatchedMLP.from_nets([net] * E, squeeze=True).to(dev)            # rows of member e: block e
    opt = torch.optim.Adam(critic.parameters(), lr=lr, betas=(0.5, 0.9))
    losses = torch.empty(min(steps, _CHECK_EVERY), device=dev)          # checked in one host sync per block
    for step in range(steps):
        ir = torch.randint(0, rtr.shape[0], (batch_size,), generator=gen).to(dev)
        jf = torch.randint(0, ftr.shape[1], (batch_size,), generator=gen).to(dev)
        real = rtr[ir].repeat(E, 1)                                             # (E·batch, d)
        fake = ftr[:, jf].reshape(E * batch_size, d)                            # (E·batch, d)
        # means over E·batch rows are 1/E × the sum of the members' means: E × them sums the losses
        loss = E * (critic(fake).mean() - critic(real).mean())
        if penalty > 0:
            loss = loss + E * lipschitz_penalty(critic, real, fake, weight=penalty, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[step % len(losses)] = loss.detach()
        if (step + 1) % len(losses) == 0 or step + 1 == steps:
            _check_finite(losses[: step % len(losses) + 1], step)
    out = []
    with torch.no_grad():
        for e in range(E):
            f = critic.member(e)
            w = lambda a, b: float(C.to_float64(f(a)).mean() - C.to_float64(f(b)).mean())   # noqa: E731
            out.append(CriticResult(train_estimate=w(rtr, ftr[e]), test_estimate=w(rte, fte[e]), critic=f))
    return out
