"""The benchmark's protocol: build a method's run for S seeds, train it, sample and evaluate it.

:func:`build` draws each seed's training set and networks from its own stream; :func:`train_method`
runs the method's step with the shared learning-rate schedule, then :func:`evaluate` applies the
published statistics (:mod:`ganbook.metrics.modes`) to 2,500 samples per seed — of the generator
(:func:`samples`), or those that discriminator rejection sampling keeps (:func:`rejection_draw`,
eq. (ch8-drs)). :func:`paired_evaluation` samples one trained run every way, for comparisons paired
by seed.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, fields, replace
from typing import Callable

import torch
from torch import nn

from .. import _validate as V
from .. import collapse as C
from ..data import GaussianMixture, grid, ring
from ..errors import TrainingDiverged
from ..metrics.modes import ModeStats, mode_stats
from ..nets import BatchedMLP
from .methods import METHODS
from .state import Run, Settings

DATASETS: dict[str, Callable[[], GaussianMixture]] = {"ring": ring, "grid": grid}
N_TRAIN, N_EVAL = 100_000, 2_500


# -- building and training -------------------------------------------------------------------------


def _configure(method: str, settings: Settings | None, overrides: dict) -> tuple[Settings, object]:
    """The run's shared settings (the defaults or ``settings``, then the row's, then ``overrides``) and
    the method's knobs (the row's, then ``overrides``): each override goes where its name is."""
    row = METHODS[method]
    shared = {f.name for f in fields(Settings)}
    own = {f.name for f in fields(row.knobs)}
    unknown = sorted(set(overrides) - shared - own)
    if unknown:
        raise ValueError(f"{unknown} are neither shared settings {sorted(shared)} nor knobs of {method!r} "
                         f"{sorted(own) or '(it has none)'}")
    s = replace(settings or Settings(), **{**row.settings, **{k: v for k, v in overrides.items() if k in shared}})
    return s, replace(row.knobs, **{k: v for k, v in overrides.items() if k in own})


def build(method: str, data: str, seeds: list[int], settings: Settings | None = None,
          device: str | torch.device = "cpu", **overrides) -> Run:
    """Networks, optimisers and data for ``method`` on ``data`` ('ring' or 'grid'), one per seed,
    on ``device`` (the CPU by default: the benchmark reports CPU seconds, and these networks are
    small; pass ``ganbook.device()`` to use a GPU). Random numbers are drawn on the CPU from the
    per-seed generators and moved, so a run starts from the same weights and data on any device.
    Settings: the defaults (or ``settings``), then the row's own, then ``overrides``, which may also
    change the method's knobs (e.g. ``m=2`` for a PacGAN, ``k=3`` for the Unrolled GAN)."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not one of {sorted(METHODS)}")
    if data not in DATASETS:
        raise ValueError(f"data={data!r} is not one of {sorted(DATASETS)}")
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints, got {seeds!r}")
    s, knobs = _configure(method, settings, overrides)
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a torch device (e.g. 'cpu', 'cuda', ganbook.device())") from err
    rngs = [torch.Generator().manual_seed(10_007 * seed + 17) for seed in seeds]
    target = DATASETS[data]()
    train_x = torch.stack([target.sample(N_TRAIN, g) for g in rngs])       # (S, N_TRAIN, 2), drawn once
    scale = train_x.std(dim=(1, 2), keepdim=True) if s.standardize else torch.ones(len(seeds), 1, 1)
    train_x = train_x / scale
    players = knobs.networks(s, rngs)                                      # drawn from the seeds' streams
    for net in (players.G, players.D, *players.with_g.values(), *players.with_d.values()):
        net.to(dev)
    shared = torch.Generator().manual_seed(1_000_003 + sum((i + 1) * 7919 * sd for i, sd in enumerate(seeds)))
    run = Run(s, knobs, rngs, shared, train_x.to(dev), scale.to(dev), players.G, players.D,
              {**players.with_g, **players.with_d})
    g_params = [p for net in (players.G, *players.with_g.values()) for p in net.parameters()]
    d_params = [p for net in (players.D, *players.with_d.values()) for p in net.parameters()]
    # foreach: one call per operation for all the tensors instead of a Python loop over them (on a CPU
    # Adam defaults to the loop); the same arithmetic: every method's weights agree to the bit
    run.opt_g = torch.optim.Adam(g_params, lr=s.lr, betas=s.betas, foreach=True)
    run.opt_d = torch.optim.Adam(d_params, lr=s.lr, betas=s.betas, foreach=True)
    if s.ema > 0:
        run.G_ema = copy.deepcopy(players.G).requires_grad_(False)
    if s.rejection:
        unpacked_critic(run)                  # fail before training, not after it
    return run


@torch.no_grad()
def update_ema(run: Run) -> None:
    """G_ema ← β·G_ema + (1 − β)·G, parameter by parameter (Polyak–Ruppert averaging of the iterates).
    Chapter 7 explains why it helps: gradient play circles around the equilibrium, and the average
    of a cycle sits at its centre."""
    beta = run.settings.ema
    for p_ema, p in zip(run.G_ema.parameters(), run.G.parameters()):
        p_ema.lerp_(p, 1.0 - beta)


def lr_factor(t: int, steps: int, decay: float) -> float:
    """1 until the last ``decay`` fraction of the steps, then linear down to 0.01 at the end."""
    start = (1 - decay) * steps
    if t < start or decay == 0:
        return 1.0
    return 0.01 + 0.99 * max(0.0, (steps - t) / (steps - start))


@dataclass
class Result:
    method: str
    data: str
    stats: list[ModeStats]
    steps: int
    cpu_s: float        # CPU seconds per run (process time / seeds)
    wall_s: float       # wall seconds per run
    run: Run | None = field(default=None, repr=False)   # the trained networks
    seeds: tuple[int, ...] = ()                          # the seeds trained (default: 0..len(stats)−1)


def train_method(method: str, data: str = "ring", seeds: list[int] | int = 3, steps: int | None = None,
                 settings: Settings | None = None, device: str | torch.device = "cpu", **overrides) -> Result:
    """Train ``method`` on ``data`` for the given seeds (an int n means seeds 0..n−1), all at once,
    on ``device`` (see :func:`build`); return the protocol's statistics per seed and the cost per
    run. ``overrides`` change single settings or knobs (e.g. ``k=3``) after the row's own."""
    seeds = list(range(V.positive_int(seeds, "seeds"))) if isinstance(seeds, int) else list(seeds)
    if steps is not None:
        overrides["steps"] = V.positive_int(steps, "steps")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run = build(method, data, seeds, settings, device, **overrides)
    s, step = run.settings, METHODS[method].step
    for t in range(s.steps):
        f = lr_factor(t, s.steps, s.decay)
        for opt in (run.opt_g, run.opt_d):
            for group in opt.param_groups:
                group["lr"] = s.lr * f
        step(run, t, run.knobs)
        if run.G_ema is not None:
            update_ema(run)
        if t % 1000 == 999 and not all(bool(torch.isfinite(p).all()) for p in run.G.parameters()):
            raise TrainingDiverged(f"{method} on {data}: the generator's parameters became NaN/inf at step {t + 1}")
    stats = evaluate(run, data)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return Result(method, data, stats, s.steps, cpu / len(seeds), wall / len(seeds), run, tuple(seeds))


# -- sampling and evaluation -----------------------------------------------------------------------


@torch.no_grad()
def samples(run: Run, i: int, n: int, generator: torch.Generator) -> torch.Tensor:
    """n samples of seed i's generator in data units, shape (n, 2); for MAD-GAN each sample comes
    from a generator chosen uniformly at random."""
    G = run.G_ema if run.G_ema is not None else run.G
    k, zd = G.members // run.S, run.settings.z_dim                         # k generators per seed
    z = torch.randn(n, zd, generator=generator).to(run.device)
    zz = torch.zeros(run.S * k, n, zd, device=run.device)
    which = i * k + (torch.randint(0, k, (n,), generator=generator) if k > 1 else torch.zeros(n, dtype=torch.long))
    which, rows = which.to(run.device), torch.arange(n, device=run.device)
    zz[which, rows] = z
    return (G(zz)[which, rows] * run.scale[i]).cpu()                        # (n, 2)


def unpacked_critic(run: Run) -> nn.Module:
    """The discriminator that judges single samples: D1 of the dual configurations, else D itself
    if it is an MLP from one 2-D sample to one logit (not a packed, pair, (k + 1)-class or
    minibatch discriminator)."""
    if "D1" in run.nets:
        return run.nets["D1"]
    if isinstance(run.D, BatchedMLP) and run.D.sizes[0] == 2 and run.D.sizes[-1] == 1:
        return run.D
    raise ValueError("rejection sampling needs a discriminator of single samples (one 2-D sample in, one logit out): "
                     "the GAN's D or the dual configurations' D1, not a packed, minibatch, (k + 1)-class or pair "
                     "discriminator")


@torch.no_grad()
def critic_logits(run: Run, i: int, x: torch.Tensor) -> torch.Tensor:
    """The logits of seed i's unpacked discriminator (:func:`unpacked_critic`) at x (n, 2) in data
    units, shape (n,) on the CPU. The other seeds' discriminators see zeros (one batched call)."""
    xin = torch.zeros(run.S, len(x), 2, device=run.device)
    xin[i] = x.to(run.device) / run.scale[i]
    return unpacked_critic(run)(xin)[i].cpu()                              # D: (S, n, 2) → (S, n)


@torch.no_grad()
def rejection_draw(run: Run, i: int, n: int, generator: torch.Generator, chunk: int = 10_000,
                   max_proposals: int = 2_000_000) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminator rejection sampling, eq. (ch8-drs), for seed i with the unpacked discriminator
    (:func:`ganbook.collapse.rejection_mask`), until at least n proposals are kept. Proposals come
    in chunks of ``chunk``; M is the largest logit seen so far (the first chunk is the paper's
    burn-in estimate, and M grows when a later chunk holds a larger logit, as in Azadi et al.).
    Returns every proposal drawn, in data units, shape (P, 2), and which were kept, shape (P,) bool:
    the kept samples are a subset of the proposals, so they can never show a mode the proposals lack."""
    unpacked_critic(run)                                                     # a clear error before any work
    proposals: list[torch.Tensor] = []
    keep: list[torch.Tensor] = []
    M, drawn, n_kept = -math.inf, 0, 0
    while n_kept < n:
        if drawn >= max_proposals:
            raise RuntimeError(f"seed {i}: rejection sampling kept {n_kept} of {drawn} proposals, "
                               f"fewer than the {n} needed (the discriminator's logits are far from log p/p_g)")
        x = samples(run, i, chunk, generator)                                # (chunk, 2), data units
        logits = critic_logits(run, i, x)                                    # (chunk,)
        if not bool(torch.isfinite(logits).all()):
            raise TrainingDiverged(f"seed {i}: the discriminator's logits are NaN/inf")
        M = max(M, float(logits.max()))
        mask, _ = C.rejection_mask(logits, generator, log_bound=M)
        mask = mask.cpu()
        proposals.append(x)
        keep.append(mask)
        drawn, n_kept = drawn + chunk, n_kept + int(mask.sum())
    return torch.cat(proposals), torch.cat(keep)


@torch.no_grad()
def rejection_samples(run: Run, i: int, n: int, generator: torch.Generator, chunk: int = 10_000,
                      max_proposals: int = 2_000_000) -> torch.Tensor:
    """n samples of seed i by discriminator rejection sampling (:func:`rejection_draw`), in data
    units, shape (n, 2): the first n kept proposals."""
    x, keep = rejection_draw(run, i, n, generator, chunk, max_proposals)
    return x[keep][:n]


def rejection_comparisons(x: torch.Tensor, keep: torch.Tensor, n: int, target: GaussianMixture) -> dict[str, int]:
    """What the n kept samples of a draw (x, keep) of :func:`rejection_draw` are compared with, since
    they are a subset of the proposals x. Equal proposals: the number of proposals up to the n-th
    kept one (``used``) and their modes (``used_modes``). Equal proposal budget: the modes of the
    first n proposals (``first_modes``), how many of them rejection keeps (``budget_kept``) and their
    modes (``budget_modes``). Rejection can only lose modes in either comparison."""
    if x.ndim != 2 or keep.shape != x.shape[:1] or keep.dtype != torch.bool:
        raise ValueError(f"x must be proposals (P, d) and keep a bool mask (P,), got {tuple(x.shape)} and "
                         f"{tuple(keep.shape)} {keep.dtype}")
    if not 1 <= n <= int(keep.sum()):
        raise ValueError(f"n={n} must be between 1 and the number of kept proposals, {int(keep.sum())}")
    used = int(keep.nonzero()[n - 1]) + 1
    return {"used": used, "used_modes": mode_stats(x[:used], target).modes,
            "first_modes": mode_stats(x[:n], target).modes, "budget_kept": int(keep[:n].sum()),
            "budget_modes": mode_stats(x[:n][keep[:n]], target).modes}


@torch.no_grad()
def evaluate(run: Run, data: str) -> list[ModeStats]:
    """The protocol's statistics of 2,500 samples per seed (codes from a separate per-seed stream);
    with ``settings.rejection`` the samples are those kept by discriminator rejection sampling."""
    target = DATASETS[data]()
    draw = rejection_samples if run.settings.rejection else samples
    out = []
    for i, g in enumerate(run.rngs):
        x = draw(run, i, N_EVAL, torch.Generator().manual_seed(int(g.initial_seed()) + 1))
        if not bool(torch.isfinite(x).all()):
            raise TrainingDiverged(f"seed {i}: the generator produced NaN/inf")
        out.append(mode_stats(x, target))
    return out


@torch.no_grad()
def paired_evaluation(run: Run, data: str, n: int = N_EVAL) -> list[dict[str, float]]:
    """Each seed's trained networks sampled every way, each on the protocol's evaluation stream (as
    :func:`evaluate`), for comparisons paired by seed: the last iterate (``modes``, ``hq`` in %,
    ``rkl``); its moving average (``ema_*``, if the run keeps one); rejection sampling (``drs_*``,
    :func:`rejection_draw`) with the CPU seconds of that step (``drs_cpu``); and, since the kept
    samples are a subset of the proposals, :func:`rejection_comparisons` (``used``, ``used_modes``,
    ``first_modes``, ``budget_kept``, ``budget_modes``)."""
    target = DATASETS[data]()
    ema, out = run.G_ema, []

    def stats(prefix: str, x: torch.Tensor) -> dict[str, float]:
        st = mode_stats(x, target)
        return {prefix + "modes": st.modes, prefix + "hq": 100 * st.hq_fraction, prefix + "rkl": st.reverse_kl}

    try:
        for i, g in enumerate(run.rngs):
            stream = lambda: torch.Generator().manual_seed(int(g.initial_seed()) + 1)   # as evaluate
            run.G_ema = None                                                 # the last iterate
            row = stats("", samples(run, i, n, stream()))
            if ema is not None:
                run.G_ema = ema
                row |= stats("ema_", samples(run, i, n, stream()))
                run.G_ema = None
            t0 = time.process_time()
            x, keep = rejection_draw(run, i, n, stream())
            row["drs_cpu"] = time.process_time() - t0
            row |= stats("drs_", x[keep][:n]) | rejection_comparisons(x, keep, n, target)
            out.append(row)
    finally:
        run.G_ema = ema
    return out
