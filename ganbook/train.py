"""The training loop every chapter shares (chapter 2, algorithm "alternating updates").

One :class:`Trainer` step is ``n_critic`` discriminator updates followed by one generator update:

* discriminator: minimise ``objective.d_loss(D(x), D(G(z)))`` (+ an optional regularizer
  ``d_regularizer(D, real, fake)``), with G's output detached;
* generator: minimise ``objective.g_loss(D(G(z)))``.

Batches come from two samplers with the signature ``sample(n, generator) -> tensor``; the trainer
owns one CPU ``torch.Generator`` so that a run is a function of its seed, on any device, and
can be checkpointed and resumed exactly. A chapter whose algorithm does not fit this loop
writes its own loop in the notebook, in plain sight.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from . import _validate as V
from .errors import TrainingDiverged
from .objectives import Objective, get as get_objective

Sampler = Callable[[int, torch.Generator], torch.Tensor]


@dataclass
class History:
    """What a run recorded: losses per step, extra metrics from callbacks, and snapshots of
    G(z_fixed) for animations."""

    step: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    extras: dict[str, list[float]] = field(default_factory=dict)
    extra_steps: list[int] = field(default_factory=list)
    snapshots: list[torch.Tensor] = field(default_factory=list)
    snapshot_steps: list[int] = field(default_factory=list)

    def state_dict(self) -> dict:
        return {"step": list(self.step), "d_loss": list(self.d_loss), "g_loss": list(self.g_loss),
                "extras": {k: list(v) for k, v in self.extras.items()}, "extra_steps": list(self.extra_steps),
                "snapshots": [s.clone() for s in self.snapshots], "snapshot_steps": list(self.snapshot_steps)}

    def load_state_dict(self, state: dict) -> None:
        self.step, self.d_loss, self.g_loss = list(state["step"]), list(state["d_loss"]), list(state["g_loss"])
        self.extras = {k: list(v) for k, v in state["extras"].items()}
        self.extra_steps = list(state["extra_steps"])
        self.snapshots, self.snapshot_steps = list(state["snapshots"]), list(state["snapshot_steps"])


def progress_enabled() -> bool:
    """Whether to draw a progress bar: not in CI, not when GANBOOK_QUIET is set, and only when
    someone can see it (a terminal or an interactive Jupyter kernel)."""
    if os.environ.get("CI") or os.environ.get("GANBOOK_QUIET"):
        return False
    return sys.stderr.isatty() or "ipykernel" in sys.modules


@torch.no_grad()
def generate(G: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """G(z) in evaluation mode (batch norm uses running statistics), without gradients."""
    was_training = G.training
    G.eval()
    try:
        return G(z)
    finally:
        G.train(was_training)


class Trainer:
    """Alternating GAN updates with history, snapshots, NaN checks and checkpoint/resume."""

    def __init__(self, G: nn.Module, D: nn.Module, objective: str | Objective,
                 sample_real: Sampler, sample_z: Sampler, *, batch_size: int = 128,
                 opt_g: torch.optim.Optimizer | None = None, opt_d: torch.optim.Optimizer | None = None,
                 n_critic: int = 1, d_regularizer: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                 d_post_step: Callable[[nn.Module], None] | None = None,
                 seed: int = 0, device: torch.device | str | None = None, amp: bool = False):
        if not isinstance(G, nn.Module):
            raise TypeError(f"G must be a torch.nn.Module, got {type(G).__name__}")
        if not isinstance(D, nn.Module):
            raise TypeError(f"D must be a torch.nn.Module, got {type(D).__name__}")
        for name, fn in (("sample_real", sample_real), ("sample_z", sample_z)):
            if not callable(fn):
                raise TypeError(f"{name} must be a callable sample(n, generator) -> tensor")
        self.device = V.device_arg(device) if device is not None else next(G.parameters()).device
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.objective = get_objective(objective)
        self.sample_real, self.sample_z = sample_real, sample_z
        self.batch_size = V.positive_int(batch_size, "batch_size")
        self.n_critic = V.positive_int(n_critic, "n_critic")
        self.d_regularizer, self.d_post_step = d_regularizer, d_post_step
        self.opt_g = opt_g or torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = opt_d or torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        if amp and self.device.type != "cuda":
            raise ValueError(f"amp=True needs a CUDA device, got {self.device}")
        self.amp = amp
        self.rng = torch.Generator().manual_seed(V.positive_int(seed, "seed", minimum=0))
        self.steps_done = 0
        self.history = History()

    # -- one update of each player -------------------------------------------------------------
    def _autocast(self):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.amp)

    def _batch(self, sampler: Sampler, name: str) -> torch.Tensor:
        x = sampler(self.batch_size, self.rng)
        V.tensor(x, f"{name}(batch_size, generator)", min_rows=1, finite=False)
        return x.to(self.device)

    def d_step(self) -> float:
        """One discriminator update; returns its loss (regularizer included)."""
        real = self._batch(self.sample_real, "sample_real")
        z = self._batch(self.sample_z, "sample_z")
        with torch.no_grad():
            fake = self.G(z)
        with self._autocast():
            real_scores, fake_scores = self.D(real).float(), self.D(fake).float()
            self._check(torch.cat([real_scores.flatten(), fake_scores.flatten()]), "discriminator output")
            loss = self.objective.d_loss(real_scores, fake_scores)
            if self.d_regularizer is not None:
                loss = loss + self.d_regularizer(self.D, real, fake)
        self._check(loss, "discriminator loss")
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if self.d_post_step is not None:
            self.d_post_step(self.D)
        return loss.item()

    def g_step(self) -> float:
        """One generator update; returns its loss."""
        z = self._batch(self.sample_z, "sample_z")
        with self._autocast():
            fake_scores = self.D(self.G(z)).float()
            self._check(fake_scores, "discriminator output on generated samples")
            loss = self.objective.g_loss(fake_scores)
        self._check(loss, "generator loss")
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.item()

    def _check(self, values: torch.Tensor, what: str) -> None:
        if not bool(torch.isfinite(values).all()):
            raise TrainingDiverged(
                f"training diverged at step {self.steps_done}: the {what} is not finite. "
                "Lower the learning rate, change the objective, or add a regularizer.")

    def step(self) -> tuple[float, float]:
        """n_critic discriminator updates, then one generator update."""
        d = [self.d_step() for _ in range(self.n_critic)]
        g = self.g_step()
        self.steps_done += 1
        self.history.step.append(self.steps_done)
        self.history.d_loss.append(sum(d) / len(d))
        self.history.g_loss.append(g)
        return d[-1], g

    # -- a run ---------------------------------------------------------------------------------
    def run(self, steps: int, *, snapshot_every: int = 0, snapshot_z: torch.Tensor | None = None,
            callback: Callable[["Trainer"], dict[str, float]] | None = None, callback_every: int = 0,
            progress: bool | None = None) -> History:
        """Train for ``steps`` more steps. Every ``snapshot_every`` steps store G(snapshot_z) on the
        CPU; every ``callback_every`` steps call ``callback(trainer)`` and record the numbers it
        returns in ``history.extras``."""
        V.positive_int(steps, "steps", minimum=0)
        V.positive_int(snapshot_every, "snapshot_every", minimum=0)
        V.positive_int(callback_every, "callback_every", minimum=0)
        if snapshot_every and snapshot_z is None:
            raise ValueError("snapshot_every > 0 needs snapshot_z, the fixed latent batch to render")
        if callback_every and callback is None:
            raise ValueError("callback_every > 0 needs a callback")
        if snapshot_z is not None:
            snapshot_z = V.tensor(snapshot_z, "snapshot_z").to(self.device)
        show = progress_enabled() if progress is None else bool(progress)
        bar = None
        if show:
            from tqdm import tqdm

            bar = tqdm(total=steps, desc="training", leave=False)
        try:
            if snapshot_every and self.steps_done == 0:
                self._snapshot(snapshot_z)
            for _ in range(steps):
                d, g = self.step()
                if bar is not None:
                    bar.update(1)
                    if self.steps_done % 50 == 0:
                        bar.set_postfix(d_loss=f"{d:.3f}", g_loss=f"{g:.3f}")
                if snapshot_every and self.steps_done % snapshot_every == 0:
                    self._snapshot(snapshot_z)
                if callback_every and self.steps_done % callback_every == 0:
                    self._record(callback(self))
        finally:
            if bar is not None:
                bar.close()
        self._check_parameters()
        return self.history

    def _snapshot(self, z: torch.Tensor) -> None:
        self.history.snapshots.append(generate(self.G, z).float().cpu())
        self.history.snapshot_steps.append(self.steps_done)

    def _record(self, values: dict[str, float]) -> None:
        if not isinstance(values, dict):
            raise TypeError(f"callback must return a dict of numbers, got {type(values).__name__}")
        self.history.extra_steps.append(self.steps_done)
        for k, v in values.items():
            self.history.extras.setdefault(k, []).append(float(v))

    def _check_parameters(self) -> None:
        for name, net in (("G", self.G), ("D", self.D)):
            for pname, p in net.named_parameters():
                if not bool(torch.isfinite(p).all()):
                    raise TrainingDiverged(f"training diverged: parameter {name}.{pname} holds NaN/inf "
                                           f"after step {self.steps_done}")

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to resume exactly: networks, optimisers, step count, random stream
        and history (plain tensors and numbers, loadable with ``weights_only=True``)."""
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "steps_done": self.steps_done,
                "rng": self.rng.get_state(), "history": self.history.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        missing = {"G", "D", "opt_g", "opt_d", "steps_done", "rng", "history"} - set(state)
        if missing:
            raise ValueError(f"state is not a Trainer checkpoint: missing {sorted(missing)}")
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.steps_done = int(state["steps_done"])
        self.rng.set_state(state["rng"].cpu())  # a CPU generator's state, wherever it was loaded
        self.history.load_state_dict(state["history"])

    def save(self, path: str | os.PathLike) -> None:
        torch.save(self.state_dict(), path)

    def load(self, path: str | os.PathLike) -> None:
        """Resume from :meth:`save`'s file, loaded with ``weights_only=True``.

        The file is read onto the CPU: the random stream is a CPU generator whose state stays
        there, and the networks' and optimisers' ``load_state_dict`` copy each tensor to the
        device of the parameter it belongs to."""
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
