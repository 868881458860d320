"""Data-parallel training of the DCGAN (chapter 6d): PyTorch's DistributedDataParallel, batch norm
synchronised across ranks, one shard of a global batch per rank, checkpoints and logs from rank 0.

    torchrun --nproc_per_node=N -m ganbook.parallel --preset gpu    # N processes: NCCL on GPUs, gloo on CPUs
    python -m ganbook.parallel --preset cpu                          # one process, no torchrun

What is averaged, eq. (ch6-dp-grad): every rank computes the loss of its shard of the global batch and
its gradient; DDP all-reduces the gradients and divides by the number of ranks N, which for equal shards
is the gradient of the loss of the whole global batch. Adam then takes the same step on every rank, so
the parameters stay identical everywhere without ever being sent.

Batch norm, eq. (ch6-dp-syncbn): :class:`SyncBatchNorm` all-reduces the per-channel sum and sum of
squares, so every rank normalises with the statistics of the global batch; its backward all-reduces too
(:class:`AllReduceSum`, eq. (ch6-dp-bn-grad)). With it, N ranks compute what one process computes on
the concatenated batch.

Batch size and learning rate: the preset fixes the *global* batch B and the learning rate; each of the
N ranks takes a contiguous slice of B/N samples (:func:`shard`, eq. (ch6-dp-shard)). A run is then the
same function of its seed for every N (up to floating-point order), and no learning-rate rule is needed.
(Growing the global batch with N instead calls for the rules of eq. (ch6-dp-linear) and (ch6-dp-sqrt).)

Randomness: all ranks hold the same generator (:class:`GlobalBatches`) and draw the same global batch
(latent vectors and indices of real images); each then keeps its slice. Networks are initialised from
the seed on the CPU, so every rank (and every device) starts from the same parameters.

The steps never wait for the device: losses stay on it and are checked for NaN/inf every
``check_every`` steps in one transfer (averaged over the ranks first, so all ranks stop together).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import socket
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from . import _validate as V
from .dcgan import PRESETS, Discriminator, Generator, Preset, real_images
from .errors import TrainingDiverged
from .objectives.gan import minimax_d_loss, nonsaturating_g_loss

CHECKPOINT_FORMAT = "ganbook.parallel/1"


# ------------------------------------------------------------------------------------ the process group

def rank_and_world() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) when no process group is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class AllReduceSum(torch.autograd.Function):
    """y = Σ_r x_r, the same on every rank, with its gradient, eq. (ch6-dp-bn-grad): rank r's input
    reaches every rank's loss through y, so ∂(Σ_r' L_r')/∂x_r = Σ_r' ∂L_r'/∂y — an all-reduce of the
    incoming gradients. (What ``torch.distributed.nn.functional.all_reduce`` does; that function is
    deprecated in recent torch.)"""

    @staticmethod
    def forward(ctx, x: torch.Tensor, group) -> torch.Tensor:
        ctx.group = group
        y = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(y, op=dist.ReduceOp.SUM, group=group)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        g = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(g, op=dist.ReduceOp.SUM, group=ctx.group)
        return g, None


def all_reduce_sum(x: torch.Tensor, group=None) -> torch.Tensor:
    """Σ over the ranks of ``x`` (differentiable); ``x`` itself when no process group is initialised."""
    if rank_and_world()[1] == 1:
        return x
    return AllReduceSum.apply(x, group)


# --------------------------------------------------------------------------------------- batch norm

class SyncBatchNorm(_BatchNorm):
    """Batch norm over the global batch, eq. (ch6-dp-syncbn): one all-reduce of the per-channel
    [Σ(x − c), Σ(x − c)², count] over the ranks (c = the running mean, the same on every rank, so the
    subtraction E[d²] − E[d]² does not cancel catastrophically, eq. (ch6-dp-shift)), then

        y = (x − μ) / sqrt(σ² + ε) · γ + β,    μ, σ² the mean and biased variance of the global batch,

    and the running statistics updated like ``nn.BatchNorm`` (unbiased variance n/(n − 1) · σ²). In
    evaluation mode, or on one process, it is ``nn.BatchNorm``. Unlike ``torch.nn.SyncBatchNorm`` it
    runs on CPU tensors (gloo) as well as on GPUs. Any input of rank ≥ 2, (n, C, ...)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.group = group

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2 or x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm({self.num_features}) expects input of shape (n, {self.num_features}, ...),"
                             f" got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        shape = (1, -1) + (1,) * (x.dim() - 2)                              # broadcast over (n, C, ...)
        if not self.training and self.track_running_stats:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        dims = [0, *range(2, x.dim())]
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x   # statistics in ≥ float32
        c = (self.running_mean.detach().to(xf.dtype) if self.track_running_stats
             else xf.new_zeros(self.num_features))
        d = xf - c.view(shape)
        count = xf.new_full((1,), x.numel() // self.num_features)
        stats = all_reduce_sum(torch.cat([d.sum(dims), (d * d).sum(dims), count]), self.group)   # one collective
        n = stats[-1]
        mean_d = stats[:self.num_features] / n
        var = (stats[self.num_features:-1] / n - mean_d ** 2).clamp_min(0.0)                   # biased, eq. (ch6-dp-shift)
        mean = c + mean_d
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), n)
        y = (xf - mean.view(shape)) * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.to(xf.dtype).view(shape) + self.bias.to(xf.dtype).view(shape)
        return y.to(x.dtype)

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, n: torch.Tensor) -> None:
        self.num_batches_tracked.add_(1)
        f = self.momentum                                                   # cumulative average if None, as nn.BatchNorm
        if f is None:
            f = 1.0 / self.num_batches_tracked.to(self.running_mean.dtype)
        unbiased = var * n / (n - 1).clamp_min(1.0)
        self.running_mean.mul_(1 - f).add_(f * mean.to(self.running_mean.dtype))
        self.running_var.mul_(1 - f).add_(f * unbiased.to(self.running_var.dtype))


def convert_sync_batchnorm(net: nn.Module, group=None) -> nn.Module:
    """Replace every batch norm of ``net`` (``nn.BatchNorm1d/2d/3d``) by a :class:`SyncBatchNorm` that
    shares its parameters and running statistics (same names, so state dicts load either way); returns
    ``net`` (or the new module if ``net`` is itself a batch norm)."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if isinstance(net, _BatchNorm) and not isinstance(net, SyncBatchNorm):
        new = SyncBatchNorm(net.num_features, net.eps, net.momentum, net.affine, net.track_running_stats, group=group)
        if net.affine:
            new.weight, new.bias = net.weight, net.bias
        if net.track_running_stats:
            new.running_mean, new.running_var = net.running_mean, net.running_var
            new.num_batches_tracked = net.num_batches_tracked
        new.train(net.training)
        return new
    for name, child in net.named_children():
        setattr(net, name, convert_sync_batchnorm(child, group))
    return net


# ----------------------------------------------------------------------------------------- the data

def per_rank_batch(global_batch: int, world_size: int) -> int:
    """b = B / N, eq. (ch6-dp-shard); B must be a multiple of N (equal shards keep eq. (ch6-dp-grad) exact)."""
    V.positive_int(global_batch, "global_batch")
    V.positive_int(world_size, "world_size")
    if global_batch % world_size:
        raise ValueError(f"the global batch ({global_batch}) must be a multiple of the number of processes "
                         f"({world_size}); choose N among {[k for k in range(1, global_batch + 1) if global_batch % k == 0]}")
    return global_batch // world_size


def shard(x: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank r's contiguous slice of a global batch, rows r·b … (r + 1)·b − 1, eq. (ch6-dp-shard)."""
    V.tensor(x, "x", floating=False, finite=False, min_rows=1)
    b = per_rank_batch(x.shape[0], world_size)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be an int in [0, {world_size}), got {rank!r}")
    return x[rank * b:(rank + 1) * b]


class GlobalBatches:
    """The global batch of every step, the same on every rank: the indices of B real images (an epoch
    walks through one random permutation of the data; a new one each epoch) and two latent batches,
    one for D's update and one for G's, all drawn from one generator seeded with ``seed`` on ``device``
    (drawing on the device costs no transfer; GPUs of one model draw the same numbers from one seed).
    Its state (generator, permutation, position) goes into the checkpoint, so a resumed run draws what
    the uninterrupted run would have drawn."""

    def __init__(self, n_data: int, batch: int, z_dim: int, *, seed: int, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32):
        self.n_data = V.positive_int(n_data, "n_data")
        self.batch = V.positive_int(batch, "batch")
        if batch > n_data:
            raise ValueError(f"batch ({batch}) must not exceed the number of real images ({n_data})")
        self.z_dim = V.positive_int(z_dim, "z_dim")
        self.device, self.dtype = V.device_arg(device), dtype
        self.rng = torch.Generator(device=self.device).manual_seed(V.positive_int(seed, "seed", minimum=0))
        self.perm: torch.Tensor | None = None
        self.cursor = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(indices (B,), z for D's step (B, z_dim), z for G's step (B, z_dim)) of the next step."""
        if self.perm is None or self.cursor + self.batch > self.n_data:    # a new epoch (the remainder is dropped)
            self.perm = torch.randperm(self.n_data, generator=self.rng, device=self.device)
            self.cursor = 0
        idx = self.perm[self.cursor:self.cursor + self.batch]
        self.cursor += self.batch
        z_d, z_g = (torch.randn(self.batch, self.z_dim, generator=self.rng, device=self.device, dtype=self.dtype)
                    for _ in range(2))
        return idx, z_d, z_g

    def state_dict(self) -> dict:
        return {"rng": self.rng.get_state(), "perm": None if self.perm is None else self.perm.cpu(),
                "cursor": self.cursor}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(state["rng"].cpu())
        self.perm = None if state["perm"] is None else state["perm"].to(self.device)
        self.cursor = int(state["cursor"])


# ---------------------------------------------------------------------------------------- the steps

def _scores(x: torch.Tensor) -> torch.Tensor:
    """Logits for the loss: float32 under bf16 autocast, float64 when the networks are."""
    return x if x.dtype == torch.float64 else x.float()


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if amp and device.type == "cuda" else nullcontext()


def d_step(G: nn.Module, D: nn.Module, opt_d: torch.optim.Optimizer, real: torch.Tensor, z: torch.Tensor, *,
           amp: bool = False) -> torch.Tensor:
    """One discriminator update on this rank's shard: minimise the GAN loss E[softplus(−l(x))] +
    E[softplus(l(G(z)))] (chapter 2) of the shard; ``D`` wrapped in DDP averages the gradients over the
    ranks in ``backward``, eq. (ch6-dp-grad). D sees the real and the generated shard in two calls, so
    its batch norm normalises each with its own (global) statistics. Returns the loss, detached."""
    with torch.no_grad(), _autocast(real.device, amp):
        fake = G(z)
    with _autocast(real.device, amp):
        loss = minimax_d_loss(_scores(D(real)), _scores(D(fake)))
    opt_d.zero_grad(set_to_none=True)
    loss.backward()                                   # DDP: all-reduce of D's gradients, divided by N
    opt_d.step()
    return loss.detach()


def g_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, z: torch.Tensor, *,
           amp: bool = False) -> torch.Tensor:
    """One generator update on this rank's shard: minimise the non-saturating loss E[softplus(−l(G(z)))]
    (chapter 2). ``G`` wrapped in DDP averages G's gradients; ``D`` is the plain module with its
    parameters frozen — G's update needs gradients *through* D, not of D, so nothing of D is reduced
    (its synchronised batch norm still all-reduces its statistics). Returns the loss, detached."""
    D.requires_grad_(False)
    try:
        with _autocast(z.device, amp):
            loss = nonsaturating_g_loss(_scores(D(G(z))))
        opt_g.zero_grad(set_to_none=True)
        loss.backward()                               # DDP: all-reduce of G's gradients, divided by N
        opt_g.step()
    finally:
        D.requires_grad_(True)
    return loss.detach()


# ------------------------------------------------------------------------------------------ a run

@dataclass
class Run:
    """What :func:`train` returns on every rank: the networks (plain modules, identical on all ranks),
    the global-mean losses it checked, and its speed."""

    G: nn.Module
    D: nn.Module
    step: int
    world_size: int
    global_batch: int
    history: list[tuple[int, float, float]] = field(default_factory=list)    # (step, d_loss, g_loss)
    seconds: float = 0.0
    steps_timed: int = 0

    @property
    def seconds_per_1000(self) -> float:
        """Wall-clock seconds per 1,000 iterations (one D and one G update each) of this run."""
        return 1000.0 * self.seconds / self.steps_timed if self.steps_timed else math.nan


def ddp(net: nn.Module, device: torch.device) -> nn.Module:
    """``net`` wrapped in ``DistributedDataParallel``: it broadcasts rank 0's parameters once, then
    all-reduces the gradients in ``backward`` and divides them by N, eq. (ch6-dp-grad). The running
    statistics of synchronised batch norms are equal on every rank already, so the buffers are not
    re-sent before each forward."""
    import inspect

    ids = [device.index] if device.type == "cuda" else None
    keyword = ("forward_sync_buffers" if "forward_sync_buffers" in
               inspect.signature(nn.parallel.DistributedDataParallel).parameters else "broadcast_buffers")
    return nn.parallel.DistributedDataParallel(net, device_ids=ids, **{keyword: False})


def resolve_preset(preset: str | Preset) -> Preset:
    """A :class:`~ganbook.dcgan.Preset` from its name (``"cpu"``, ``"gpu"``) or itself."""
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
        return PRESETS[preset]
    if not isinstance(preset, Preset):
        raise TypeError(f"preset must be a preset name or a ganbook.dcgan.Preset, got {type(preset).__name__}")
    V.positive_float(preset.lr, "preset.lr")
    V.positive_int(preset.batch, "preset.batch")
    return preset


def _preset_fields(p: Preset) -> dict:
    """The preset's settings that a resumed run must share (all but the number of steps)."""
    return {k: v for k, v in dataclasses.asdict(p).items() if k not in ("steps", "extra")}


def build(p: Preset, seed: int, device: torch.device, dtype: torch.dtype = torch.float32) -> tuple[nn.Module, nn.Module]:
    """G and D of preset ``p``, initialised from ``seed`` on the CPU (the same on every rank and device),
    then moved to ``device``; the global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(p.z_dim, p.image_size, p.channels, p.width)
        D = Discriminator(p.image_size, p.channels, p.width)
    return G.to(device, dtype), D.to(device, dtype)


def train(preset: str | Preset = "cpu", *, steps: int | None = None, seed: int = 0,
          out: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
          checkpoint_every: int = 0, check_every: int = 50, device: torch.device | str | None = None,
          dtype: torch.dtype = torch.float32, sync_batch_norm: bool = True, verbose: bool = False) -> Run:
    """Train the DCGAN of ``preset`` with the non-saturating loss and Adam, data-parallel over the ranks of
    the initialised process group (or in this one process if there is none), up to step ``steps`` (the
    total, counting the steps of a resumed checkpoint; default the preset's).

    Every rank draws the same global batch (:class:`GlobalBatches`) and trains on its slice; G and D are
    wrapped in ``DistributedDataParallel`` and their batch norms synchronised (:class:`SyncBatchNorm`;
    ``sync_batch_norm=False`` keeps per-rank statistics, to see what that changes). Rank 0 writes
    ``out/checkpoint.pt`` every ``checkpoint_every`` steps and at the end, and ``out/log.jsonl``.
    ``resume``: a checkpoint to continue from (the same preset and seed; any number of ranks).
    bf16 autocast when the preset asks for it and ``device`` is CUDA."""
    p = resolve_preset(preset)
    rank, world = rank_and_world()
    steps = p.steps if steps is None else V.positive_int(steps, "steps")
    V.positive_int(seed, "seed", minimum=0)
    V.positive_int(checkpoint_every, "checkpoint_every", minimum=0)
    V.positive_int(check_every, "check_every")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = V.device_arg(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r}, but CUDA is not available here")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
    if not isinstance(sync_batch_norm, bool):
        raise TypeError(f"sync_batch_norm must be a bool, got {type(sync_batch_norm).__name__}")
    b = per_rank_batch(p.batch, world)
    amp = p.amp and device.type == "cuda" and dtype == torch.float32
    out = None if out is None else Path(out)

    G, D = build(p, seed, device, dtype)
    if world > 1 and sync_batch_norm:
        G, D = convert_sync_batchnorm(G), convert_sync_batchnorm(D)
    opt_g = torch.optim.Adam(G.parameters(), lr=p.lr, betas=p.betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=p.lr, betas=p.betas)
    images = real_images(p, generator=torch.Generator().manual_seed(seed), device=device).to(dtype)
    batches = GlobalBatches(images.shape[0], p.batch, p.z_dim, seed=seed, device=device, dtype=dtype)
    run = Run(G, D, 0, world, p.batch)
    if resume is not None:
        _load(Path(resume), p, seed, G, D, opt_g, opt_d, batches, run)
        if steps <= run.step:
            raise ValueError(f"steps={steps} must exceed the checkpoint's step {run.step} (steps counts from the start)")
    G_step_net, D_step_net = (ddp(G, device), ddp(D, device)) if world > 1 else (G, D)
    if verbose and rank == 0:
        print(f"ganbook.parallel: preset {p.name}, {world} process(es) on {device}, global batch {p.batch} "
              f"= {world} × {b}, lr {p.lr}, bf16 autocast {amp}, steps {run.step} → {steps}", flush=True)

    pending: list[torch.Tensor] = []
    start, t0 = run.step, time.perf_counter()
    while run.step < steps:
        idx, z_d, z_g = batches.next()
        real = images[shard(idx, rank, world)]
        d = d_step(G, D_step_net, opt_d, real, shard(z_d, rank, world), amp=amp)
        g = g_step(G_step_net, D, opt_g, shard(z_g, rank, world), amp=amp)
        run.step += 1
        pending.append(torch.stack([d, g]))
        last = run.step == steps
        ckpt = out is not None and (last or (checkpoint_every and run.step % checkpoint_every == 0))
        if ckpt or last or len(pending) >= check_every:
            _flush(pending, run, out, verbose)                             # one host transfer, every k steps
            pending = []
        if ckpt and rank == 0:
            save_checkpoint(out / "checkpoint.pt", p, seed, run, opt_g, opt_d, batches)
    run.seconds, run.steps_timed = time.perf_counter() - t0, run.step - start
    if world > 1 and out is not None:
        dist.barrier()                          # rank 0's checkpoint is on disk before any rank goes on
    if rank == 0 and out is not None:
        summary = {"preset": p.name, "world_size": world, "global_batch": p.batch, "per_rank_batch": b,
                   "device": str(device), "amp": amp, "steps": run.step, "steps_timed": run.steps_timed,
                   "seconds": run.seconds, "seconds_per_1000_iterations": run.seconds_per_1000,
                   "torch": torch.__version__,
                   "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    if verbose and rank == 0:
        print(f"ganbook.parallel: {run.steps_timed} steps in {run.seconds:.1f} s = "
              f"{run.seconds_per_1000:.1f} s per 1,000 iterations ({world} process(es), {device})", flush=True)
    return run


def _flush(pending: list[torch.Tensor], run: Run, out: Path | None, verbose: bool) -> None:
    """Average the pending losses over the ranks (so every rank sees the global-batch losses and all stop
    together), check them and the parameters in one host transfer, and log them from rank 0."""
    if not pending:
        return
    rank, world = rank_and_world()
    losses = torch.stack(pending)                                          # (k, 2) [d_loss, g_loss]
    if world > 1:
        dist.all_reduce(losses)
        losses = losses / world
    params = [p for net in (run.G, run.D) for p in net.parameters()]
    finite = torch.stack([torch.isfinite(p).all() for p in params]).all().float()
    values = torch.cat([losses.flatten(), finite.view(1)]).tolist()       # the one host sync
    first = run.step - len(pending) + 1
    rows = [(first + i, values[2 * i], values[2 * i + 1]) for i in range(len(pending))]
    for s, dl, gl in rows:
        for which, v in (("discriminator", dl), ("generator", gl)):
            if not math.isfinite(v):
                raise TrainingDiverged(f"training diverged at step {s}: the {which} loss is {v} (mean over the "
                                       f"global batch); lower the learning rate or resume from an earlier checkpoint")
    if values[-1] != 1.0:
        raise TrainingDiverged(f"training diverged: a parameter of G or D holds NaN/inf after step {run.step}")
    run.history.extend(rows)
    if rank == 0 and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "log.jsonl", "a", encoding="utf-8") as f:
            for s, dl, gl in rows:
                f.write(json.dumps({"step": s, "d_loss": dl, "g_loss": gl}) + "\n")
    if verbose and rank == 0:
        s, dl, gl = rows[-1]
        print(f"step {s:6d}  d_loss {dl:.4f}  g_loss {gl:.4f}", flush=True)


# ------------------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: str | os.PathLike, p: Preset, seed: int, run: Run, opt_g: torch.optim.Optimizer,
                    opt_d: torch.optim.Optimizer, batches: GlobalBatches) -> None:
    """Rank 0's checkpoint: everything needed to continue exactly — the networks and optimisers (identical
    on every rank, so one copy), the step, the global generator's state and position, and the losses —
    as plain tensors and numbers (``torch.load(..., weights_only=True)`` reads it). Written to a
    temporary file and renamed, so a crash never leaves half a checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format": CHECKPOINT_FORMAT, "preset": _preset_fields(p), "seed": seed, "step": run.step,
             "world_size": run.world_size, "G": run.G.state_dict(), "D": run.D.state_dict(),
             "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "batches": batches.state_dict(),
             "history": torch.tensor(run.history, dtype=torch.float64).reshape(-1, 3)}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """A checkpoint of :func:`save_checkpoint`, read onto the CPU with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"resume={str(path)!r}: no such checkpoint file")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a ganbook.parallel checkpoint")
    return state


def _load(path: Path, p: Preset, seed: int, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
          opt_d: torch.optim.Optimizer, batches: GlobalBatches, run: Run) -> None:
    state = load_checkpoint(path)
    if state["preset"] != _preset_fields(p) or state["seed"] != seed:
        raise ValueError(f"{path} was written by another run (preset {state['preset'].get('name')!r}, seed "
                         f"{state['seed']}); resume it with the same --preset and --seed")
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    opt_g.load_state_dict(state["opt_g"])
    opt_d.load_state_dict(state["opt_d"])
    batches.load_state_dict(state["batches"])
    run.step = int(state["step"])
    run.history = [(int(s), float(d), float(g)) for s, d, g in state["history"].tolist()]


# ---------------------------------------------------------------------- processes on one machine

def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for MASTER_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, threads: int, fn: Callable, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(threads)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        fn(*args)
        dist.barrier()                       # no rank leaves while another is still connecting or working
    finally:
        dist.destroy_process_group()


def spawn(fn: Callable, *args: Any, world_size: int = 2, threads: int = 1) -> None:
    """Run ``fn(*args)`` in ``world_size`` new CPU processes joined in a gloo process group (what
    ``torchrun --nproc_per_node=N`` does on one machine); ``fn`` must be importable (a module's
    function, not a notebook's). Results come back through files, as rank 0's checkpoints do."""
    import torch.multiprocessing as mp

    if not callable(fn):
        raise TypeError(f"fn must be a callable, got {type(fn).__name__}")
    V.positive_int(world_size, "world_size", minimum=2)
    V.positive_int(threads, "threads")
    if not (dist.is_available() and dist.is_gloo_available()):
        raise RuntimeError("torch.distributed with the gloo backend is not available in this build of torch")
    mp.spawn(_worker, args=(world_size, free_port(), threads, fn, args), nprocs=world_size, join=True)


def train_each(runs: Sequence[dict]) -> None:
    """``train(**kw)`` for each ``kw`` of ``runs``, in order, in one process group (for :func:`spawn`)."""
    for kw in runs:
        train(**kw)


# --------------------------------------------------------------------------------------- the command

def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m ganbook.parallel", description=(
        "Train the DCGAN data-parallel (chapter 6d). One process: python -m ganbook.parallel --preset cpu; "
        "N processes: torchrun --nproc_per_node=N -m ganbook.parallel --preset gpu. The global batch is the "
        "preset's, whatever N (each process takes batch/N), and so is the learning rate."))
    ap.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="sizes and schedule (default cpu)")
    ap.add_argument("--steps", type=int, default=None, help="train up to this step (default: the preset's)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the networks, data order and latents")
    ap.add_argument("--out", default=None, help="folder for checkpoint.pt, log.jsonl, summary.json (rank 0)")
    ap.add_argument("--resume", default=None, help="checkpoint to continue from (same preset and seed)")
    ap.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints (0: at the end)")
    ap.add_argument("--check-every", type=int, default=50, help="steps between NaN/inf checks and log lines")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda:LOCAL_RANK when available)")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads per process")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit status."""
    ap = _parser()
    a = ap.parse_args(argv)
    if a.steps is not None and a.steps < 1:
        ap.error(f"--steps must be >= 1, got {a.steps}")
    for flag, value, low in (("--seed", a.seed, 0), ("--checkpoint-every", a.checkpoint_every, 0),
                             ("--check-every", a.check_every, 1), ("--threads", a.threads, 1)):
        if value is not None and value < low:
            ap.error(f"{flag} must be >= {low}, got {value}")
    if a.checkpoint_every and a.out is None:
        ap.error("--checkpoint-every needs --out, the folder to write checkpoints to")
    if a.resume is not None and not Path(a.resume).is_file():
        ap.error(f"--resume {a.resume}: no such file")
    if a.threads:
        torch.set_num_threads(a.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if a.device is not None:
        try:
            device = torch.device(a.device)
        except RuntimeError:
            ap.error(f"--device {a.device!r} is not a device name")
    else:
        device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            ap.error("--device cuda: no CUDA device here")
        device = torch.device("cuda", local_rank if device.index is None else device.index)
        torch.cuda.set_device(device)
    if world > 1:
        try:
            per_rank_batch(PRESETS[a.preset].batch, world)
        except ValueError as err:
            ap.error(str(err))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        train(a.preset, steps=a.steps, seed=a.seed, out=a.out, resume=a.resume, checkpoint_every=a.checkpoint_every,
              check_every=a.check_every, device=device, verbose=True)
        if dist.is_initialized():
            dist.barrier()
    except TrainingDiverged as err:
        print(f"ganbook.parallel: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
