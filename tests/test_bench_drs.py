"""Discriminator rejection sampling in the benchmark (ganbook.bench.rejection_draw and
rejection_samples, eq. ch8-drs): the recorded stream is unchanged, the kept samples are a subset of
the proposals, and the bookkeeping of proposals and acceptances is exact."""
from __future__ import annotations

import math

import pytest
import torch

from ganbook import bench
from ganbook import collapse as C
from ganbook.metrics.modes import mode_stats


@pytest.fixture(scope="module")
def run() -> bench.Run:
    return bench.train("pacgan8-dual-drs", "ring", seeds=[0, 1], steps=20).run


def _old_rejection_samples(run: bench.Run, i: int, n: int, generator: torch.Generator, chunk: int) -> torch.Tensor:
    """The loop that recorded the table's -drs rows: C.rejection_sample on the proposals, chunk by chunk."""
    kept, M, n_kept = [], -math.inf, 0
    while n_kept < n:
        x = bench.samples(run, i, chunk, generator)
        logits = bench.critic_logits(run, i, x)
        M = max(M, float(logits.max()))
        k, _ = C.rejection_sample(x, logits, generator, log_bound=M)
        kept.append(k)
        n_kept += len(k)
    return torch.cat(kept)[:n]


def test_rejection_samples_reproduce_the_recorded_stream(run):
    for i in (0, 1):
        new = bench.rejection_samples(run, i, 700, torch.Generator().manual_seed(5), chunk=1000)
        old = _old_rejection_samples(run, i, 700, torch.Generator().manual_seed(5), chunk=1000)
        assert torch.equal(new, old)


def test_rejection_draw_returns_every_proposal_and_the_kept_subset(run):
    x, keep = bench.rejection_draw(run, 1, 700, torch.Generator().manual_seed(5), chunk=1000)
    assert x.ndim == 2 and x.shape[1] == 2 and x.shape[0] % 1000 == 0
    assert keep.dtype == torch.bool and keep.shape == (x.shape[0],)
    assert int(keep.sum()) >= 700 and int(keep[:-1000].sum()) < 700        # stops at the first chunk that suffices
    kept = x[keep][:700]
    assert torch.equal(kept, bench.rejection_samples(run, 1, 700, torch.Generator().manual_seed(5), chunk=1000))
    # a subset of the proposals: rejection never shows a mode, or a sample, the proposals lack
    target = bench.DATASETS["ring"]()
    assert mode_stats(kept, target).modes <= mode_stats(x, target).modes
    assert set(map(tuple, kept.tolist())) <= set(map(tuple, x.tolist()))


def test_rejection_draw_bookkeeping_with_a_known_critic(run):
    """A critic with logit 0 on a fixed half-plane and −1e4 elsewhere keeps exactly the proposals of
    that half-plane (M = 0, acceptance exp(0 − 0) = 1), and none of the others."""
    scale = run.scale

    class HalfPlane(torch.nn.Module):
        def forward(self, x):                              # (S, n, 2) standardised → (S, n, 1)
            return torch.where(x[..., :1] * scale > 0, 0.0, -1e4)

    saved = run.nets["D1"]
    run.nets["D1"] = HalfPlane()
    try:
        x, keep = bench.rejection_draw(run, 0, 300, torch.Generator().manual_seed(2), chunk=500)
        assert torch.equal(keep, x[:, 0] > 0)
        with pytest.raises(RuntimeError, match="fewer than"):
            bench.rejection_draw(run, 0, 10_000, torch.Generator().manual_seed(2), chunk=500, max_proposals=2000)
    finally:
        run.nets["D1"] = saved


def test_paired_evaluation_matches_the_rows_it_pairs():
    """paired_evaluation reproduces, seed by seed, what evaluate gives the -ema row (the average) and
    the plain row (the last iterate), and what rejection_samples gives the -drs row, on the same
    stream; and the subset relations hold: kept ⊂ proposals, first n ⊂ proposals used."""
    r = bench.train("pacgan8-dual-ema", "ring", seeds=[3, 4], steps=20)
    run, target, n = r.run, bench.DATASETS["ring"](), 400
    rows = bench.paired_evaluation(run, "ring", n=n)
    assert run.G_ema is not None and len(rows) == 2
    for i, (row, g) in enumerate(zip(rows, run.rngs)):
        stream = lambda: torch.Generator().manual_seed(int(g.initial_seed()) + 1)
        ema = mode_stats(bench.samples(run, i, n, stream()), target)
        assert (row["ema_modes"], row["ema_hq"], row["ema_rkl"]) == (ema.modes, 100 * ema.hq_fraction, ema.reverse_kl)
        saved, run.G_ema = run.G_ema, None
        try:
            last = mode_stats(bench.samples(run, i, n, stream()), target)
            drs = mode_stats(bench.rejection_samples(run, i, n, stream()), target)
        finally:
            run.G_ema = saved
        assert (row["modes"], row["hq"]) == (last.modes, 100 * last.hq_fraction)
        assert (row["drs_modes"], row["drs_hq"], row["drs_rkl"]) == (drs.modes, 100 * drs.hq_fraction, drs.reverse_kl)
        assert row["used"] >= n and row["budget_kept"] <= n and row["drs_cpu"] >= 0
        assert row["drs_modes"] <= row["used_modes"] and row["budget_modes"] <= row["first_modes"] <= row["used_modes"]
