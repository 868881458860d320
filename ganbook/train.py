"""The training loop every chapter shares (chapter 2, algorithm "alternating updates").

One :class:`Trainer` step is ``n_critic`` discriminator updates followed by one generator update:

* discriminator: minimise ``objective.d_loss(D(x), D(G(z)))`` (+ an optional regularizer
  ``d_regularizer(D, real, fake, generator=...)``, a penalty of :mod:`ganbook.objectives.penalties`),
  with G's output detached;
* generator: minimise ``objective.g_loss(D(G(z)))``.

Batches come from two samplers with the signature ``sample(n, generator) -> tensor``; the trainer
owns one CPU ``torch.Generator`` and hands it to the samplers and to the regularizer (the noise of a
gradient penalty or of DRAGAN), so that a run is a function of its seed, on any device, whatever
else draws from torch's global stream, and can be checkpointed and resumed exactly.

The steps never wait for the device: losses stay tensors, and every ``check_every`` steps (and at
the end of a run, and whenever :attr:`Trainer.history` is read) they are copied to the host in one
transfer, checked, and appended to the history; a NaN or infinite loss or parameter raises
:class:`~ganbook.errors.TrainingDiverged` there, naming the first step whose loss was not finite. A chapter whose algorithm does not fit this loop
writes its own loop in the notebook, in plain sight.
"""
from __future__ import annotations

import inspect
import math
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
Regularizer = Callable[..., torch.Tensor]   # (D, real, fake, *, generator) -> penalty, a 0-dim tensor


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


def _check_sampler_signature(fn: Sampler, name: str, rng: torch.Generator) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):             # a builtin without a signature: nothing to check
        return
    try:
        sig.bind(1, rng)
    except TypeError:
        raise TypeError(f"{name} must have the signature sample(n, generator) -> tensor (the trainer calls "
                        f"{name}(batch_size, generator)), but it is {name}{sig}") from None


def _param_dtype(net: nn.Module) -> torch.dtype | None:
    return next((p.dtype for p in net.parameters() if p.is_floating_point()), None)


def _input_size(net: nn.Module) -> str:
    """What the first layer of ``net`` takes, in words ("" when it cannot be told)."""
    for m in net.modules():
        for attr, what in (("in_features", "input features"), ("in_dim", "input features"),
                           ("in_channels", "input channels")):
            if isinstance(getattr(m, attr, None), int):
                return f" (its first layer, {type(m).__name__}, takes {getattr(m, attr)} {what})"
    return ""


def _apply(net: nn.Module, name: str, x: torch.Tensor, what: str, advice: str):
    try:
        return net(x)
    except (RuntimeError, ValueError, IndexError) as err:
        raise ValueError(f"{name} does not accept {what}, of shape {tuple(x.shape)}{_input_size(net)}: "
                         f"{advice}. ({type(err).__name__}: {err})") from err


class Trainer:
    """Alternating GAN updates with history, snapshots, NaN checks and checkpoint/resume.

    ``d_regularizer`` is called as ``d_regularizer(D, real, fake, generator=self.rng)`` on the
    samples of each critic step (e.g. ``functools.partial(penalties.gradient_penalty, weight=10.0)``);
    any noise it draws must come from ``generator``, the run's own stream.

    At construction the trainer draws one real and one latent batch and checks, in evaluation mode
    without gradients, that the samplers' signatures, the latent size, the data size, the dtypes and
    the device fit G and D; a mismatch raises a ValueError/TypeError that names it. The batches are
    then used by the first step, so the check changes no training result."""

    def __init__(self, G: nn.Module, D: nn.Module, objective: str | Objective,
                 sample_real: Sampler, sample_z: Sampler, *, batch_size: int = 128,
                 opt_g: torch.optim.Optimizer | None = None, opt_d: torch.optim.Optimizer | None = None,
                 n_critic: int = 1, d_regularizer: Regularizer | None = None,
                 d_post_step: Callable[[nn.Module], None] | None = None,
                 seed: int = 0, device: torch.device | str | None = None, amp: bool = False, check_every: int = 50):
        if not isinstance(G, nn.Module):
            raise TypeError(f"G must be a torch.nn.Module, got {type(G).__name__}")
        if not isinstance(D, nn.Module):
            raise TypeError(f"D must be a torch.nn.Module, got {type(D).__name__}")
        for name, fn in (("sample_real", sample_real), ("sample_z", sample_z)):
            if not callable(fn):
                raise TypeError(f"{name} must be a callable sample(n, generator) -> tensor")
        if d_regularizer is not None and not callable(d_regularizer):
            raise TypeError("d_regularizer must be a callable (D, real, fake, *, generator) -> penalty, "
                            f"got {type(d_regularizer).__name__}")
        if d_post_step is not None and not callable(d_post_step):
            raise TypeError(f"d_post_step must be a callable D -> None, got {type(d_post_step).__name__}")
        for name, net in (("G", G), ("D", D)):
            if next(net.parameters(), None) is None:
                raise ValueError(f"{name} has no parameters: the trainer needs a network to train")
        self.device = V.available_device(device) if device is not None else next(G.parameters()).device
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
        self.check_every = V.positive_int(check_every, "check_every")
        self.steps_done = 0
        self._history = History()
        self._pending: list[torch.Tensor] = []        # (2,) tensors [mean d_loss, g_loss] not yet checked
        self._first: tuple | None = None              # the checked first batches, see _check_fit
        self._check_fit()

    @property
    def history(self) -> History:
        """What the run recorded, up to the last step (pending losses are checked and copied first)."""
        self._flush()
        return self._history

    # -- one update of each player -------------------------------------------------------------
    def _autocast(self):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.amp)

    def _batch(self, sampler: Sampler, name: str, rng: torch.Generator | None = None) -> torch.Tensor:
        x = sampler(self.batch_size, self.rng if rng is None else rng)
        V.tensor(x, f"{name}(batch_size, generator)", min_rows=1, finite=False)
        return x.to(self.device)

    # -- does the model fit the data? (once, at construction) ----------------------------------
    def _check_fit(self) -> None:
        """Draw the first real and latent batches and check, in evaluation mode and without
        gradients (so that no running statistic or power-iteration vector moves), that the samplers,
        the latent size, the data size and the dtypes fit G and D; raise a ValueError/TypeError
        that says which does not. The batches are drawn from a copy of the run's stream and kept
        for the first discriminator step, which then moves the stream on as drawing them would
        have: a run draws exactly what it drew without this check, and each sampler is called as
        often, in the same order (unless the stream moves before the first step: then the first
        step draws anew)."""
        for name, fn in (("sample_real", self.sample_real), ("sample_z", self.sample_z)):
            _check_sampler_signature(fn, name, self.rng)
        probe = torch.Generator().manual_seed(0)
        probe.set_state(self.rng.get_state())          # the run's stream, not advanced until the first step
        real = self._batch(self.sample_real, "sample_real", probe)
        z = self._batch(self.sample_z, "sample_z", probe)
        self._first = (self.rng.get_state(), probe.get_state(), real, z)
        for what, x, net, net_name in (("sample_real", real, self.D, "D"), ("sample_z", z, self.G, "G")):
            if x.shape[0] != self.batch_size:
                raise ValueError(f"{what}(n, generator) must return n rows: asked for n = {self.batch_size}, "
                                 f"got shape {tuple(x.shape)}")
            dtype = _param_dtype(net)
            if dtype is not None and x.dtype != dtype:
                raise TypeError(f"{what} gives {x.dtype} tensors but {net_name}'s parameters are {dtype}: "
                                f"convert one to the other (e.g. x.to({dtype}) in the sampler, or "
                                f"{net_name}.to({x.dtype}))")
        modes = self.G.training, self.D.training
        self.G.eval(), self.D.eval()
        try:
            with torch.no_grad():
                fake = _apply(self.G, "G", z, "the latent batch from sample_z",
                              "the latent size of sample_z must equal G's input size")
                if isinstance(fake, torch.Tensor) and fake.shape[1:] != real.shape[1:]:
                    raise ValueError(f"G makes samples of shape {tuple(fake.shape[1:])} but sample_real gives "
                                     f"samples of shape {tuple(real.shape[1:])}: G's output size must equal the "
                                     "data size")
                _apply(self.D, "D", real, "the real batch from sample_real",
                       "the data size must equal D's input size")
        finally:
            self.G.train(modes[0]), self.D.train(modes[1])

    def _take_first(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The batches drawn by the construction check, if the stream has not moved since."""
        first, self._first = self._first, None
        if first is None or not torch.equal(first[0], self.rng.get_state()):
            return None
        self.rng.set_state(first[1])                    # where drawing them would have left the stream
        return first[2], first[3]

    def d_step(self) -> torch.Tensor:
        """One discriminator update; returns its loss (regularizer included) as a 0-dim tensor on the
        device, detached (reading it with ``float()`` waits for the device)."""
        first = self._take_first()
        if first is not None:
            real, z = first
        else:
            real = self._batch(self.sample_real, "sample_real")
            z = self._batch(self.sample_z, "sample_z")
        with torch.no_grad():
            fake = self.G(z)
        with self._autocast():
            real_scores, fake_scores = self.D(real).float(), self.D(fake).float()
            loss = self.objective.d_loss(real_scores, fake_scores)
            if self.d_regularizer is not None:
                loss = loss + self.d_regularizer(self.D, real, fake, generator=self.rng)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        if self.d_post_step is not None:
            self.d_post_step(self.D)
        return loss.detach()

    def g_step(self) -> torch.Tensor:
        """One generator update; returns its loss as a 0-dim tensor on the device, detached."""
        z = self._batch(self.sample_z, "sample_z")
        with self._autocast():
            fake_scores = self.D(self.G(z)).float()
            loss = self.objective.g_loss(fake_scores)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.detach()

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """n_critic discriminator updates, then one generator update; returns the last discriminator
        loss and the generator loss (0-dim tensors: no host sync)."""
        d = [self.d_step() for _ in range(self.n_critic)]
        g = self.g_step()
        self.steps_done += 1
        self._pending.append(torch.stack([torch.stack(d).mean(), g]).float())
        if len(self._pending) >= self.check_every:
            self._flush()
        return d[-1], g

    def _flush(self) -> None:
        """Copy the pending losses to the host in one transfer, check them and the parameters, and
        append them to the history."""
        if not self._pending:
            return
        values = torch.stack(self._pending).tolist()       # [(d, g), ...] for the last len(pending) steps
        first = self.steps_done - len(values) + 1
        self._pending = []
        for i, (d, g) in enumerate(values):
            for which, value in (("discriminator", d), ("generator", g)):
                if not math.isfinite(value):
                    raise TrainingDiverged(
                        f"training diverged at step {first + i - 1}: the {which} loss is {value}. "
                        "Lower the learning rate, change the objective, or add a regularizer.")
        self._history.step.extend(range(first, self.steps_done + 1))
        self._history.d_loss.extend(d for d, _ in values)
        self._history.g_loss.extend(g for _, g in values)
        self._check_parameters()

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
                    if self.steps_done % 50 == 0:                   # a host sync, only for a visible bar
                        bar.set_postfix(d_loss=f"{float(d):.3f}", g_loss=f"{float(g):.3f}")
                if snapshot_every and self.steps_done % snapshot_every == 0:
                    self._snapshot(snapshot_z)
                if callback_every and self.steps_done % callback_every == 0:
                    self._record(callback(self))
        finally:
            if bar is not None:
                bar.close()
        self._flush()                                   # checks the losses and the parameters
        return self._history

    def _snapshot(self, z: torch.Tensor) -> None:
        self._history.snapshots.append(generate(self.G, z).float().cpu())
        self._history.snapshot_steps.append(self.steps_done)

    def _record(self, values: dict[str, float]) -> None:
        if not isinstance(values, dict):
            raise TypeError(f"callback must return a dict of numbers, got {type(values).__name__}")
        self._history.extra_steps.append(self.steps_done)
        for k, v in values.items():
            self._history.extras.setdefault(k, []).append(float(v))

    def _check_parameters(self) -> None:
        named = [(f"{name}.{pname}", p) for name, net in (("G", self.G), ("D", self.D))
                 for pname, p in net.named_parameters()]
        finite = torch.stack([torch.isfinite(p).all() for _, p in named]).tolist()   # one transfer
        for (pname, _), ok in zip(named, finite):
            if not ok:
                raise TrainingDiverged(f"training diverged: parameter {pname} holds NaN/inf "
                                       f"after step {self.steps_done}")

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to resume exactly: networks, optimisers, step count, random stream
        and history (plain tensors and numbers, loadable with ``weights_only=True``)."""
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "steps_done": self.steps_done,
                "rng": self.rng.get_state(), "history": self.history.state_dict()}   # history: flushed first

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
        self._pending, self._first = [], None
        self._history.load_state_dict(state["history"])

    def save(self, path: str | os.PathLike) -> None:
        torch.save(self.state_dict(), path)

    def load(self, path: str | os.PathLike) -> None:
        """Resume from :meth:`save`'s file, loaded with ``weights_only=True``.

        The file is read onto the CPU: the random stream is a CPU generator whose state stays
        there, and the networks' and optimisers' ``load_state_dict`` copy each tensor to the
        device of the parameter it belongs to."""
        self.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
