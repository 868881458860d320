"""Discriminator rejection sampling in the benchmark (ganbook.bench.rejection_draw and
rejection_samples, eq. ch8-drs): the recorded stream is unchanged, the kept samples are a subset of
the proposals, and the bookkeeping of proposals and acceptances is exact."""
from __future__ import annotations

import math

import pytest
import torch

from ganbook import bench
from ganbook import collapse as C
from ganbook.bench.__main__ import main
from ganbook.metrics.modes import mode_stats


@pytest.fixture(scope="module")
def run() -> bench.Run:
    return bench.train_method("pacgan8-dual-drs", "ring", seeds=[0, 1], steps=20).run


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


def test_rejection_comparisons_count_the_proposals_up_to_the_nth_kept_one():
    """Proposals 0..5 of a known mask: the 2nd kept one is proposal 3, so 4 proposals are used; of the
    first 2 proposals rejection keeps 1."""
    target = bench.DATASETS["ring"]()
    x = target.means[[0, 1, 2, 3, 4, 5]].float()                             # one proposal at each of 6 modes
    keep = torch.tensor([True, False, False, True, False, True])
    c = bench.rejection_comparisons(x, keep, 2, target)
    assert c == {"used": 4, "used_modes": 4, "first_modes": 2, "budget_kept": 1, "budget_modes": 1}
    with pytest.raises(ValueError, match="n=4"):
        bench.rejection_comparisons(x, keep, 4, target)
    with pytest.raises(ValueError, match="bool mask"):
        bench.rejection_comparisons(x, keep[:5], 2, target)


def test_rejection_draw_bookkeeping_with_a_known_critic(run):
    """A critic with logit 0 on a fixed half-plane and −1e4 elsewhere keeps exactly the proposals of
    that half-plane (M = 0, acceptance exp(0 − 0) = 1), and none of the others."""
    scale = run.scale

    class HalfPlane(torch.nn.Module):
        def forward(self, x):                              # (S, n, 2) standardised → (S, n)
            return torch.where(x[..., 0] * scale[..., 0] > 0, 0.0, -1e4)

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
    r = bench.train_method("pacgan8-dual-ema", "ring", seeds=[3, 4], steps=20)
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


def test_paired_command_writes_what_paired_evaluation_computes(tmp_path):
    """`python -m ganbook.bench paired` (which wrote the shipped per-seed file) is the train +
    paired_evaluation computation, and its CSV reads back through the shipped file's loader."""
    out = tmp_path / "paired.csv"
    assert main(["paired", "--method", "pacgan8-dual-ema", "--label", "x", "--seeds", "2", "--seed-start", "3",
                       "--steps", "15", "--data", "ring", "--out", str(out)]) == 0
    lines = [ln for ln in out.read_text().splitlines() if not ln.startswith("#")]
    rows = [dict(zip(lines[0].split(","), ln.split(","))) for ln in lines[1:]]
    ref = bench.paired_evaluation(bench.train_method("pacgan8-dual-ema", "ring", [3, 4], 15).run, "ring")
    assert [r["seed"] for r in rows] == ["3", "4"] and all(r["method"] == "x" for r in rows)
    for got, want in zip(rows, ref):
        assert float(got["hq"]) == pytest.approx(want["hq"], abs=0.005)
        assert float(got["ema_rkl"]) == pytest.approx(want["ema_rkl"], abs=5e-5)
        assert int(got["used"]) == want["used"] and int(got["drs_modes"]) == want["drs_modes"]


def test_the_shipped_per_seed_file():
    """Ten seeds per method and data set, every column a number where it should be, HQ in [0, 100],
    the rejected samples a subset of the proposals (modes), and the header naming its commands."""
    rows = bench.recorded_paired()
    with open(bench.RECORDED_PAIRED, encoding="utf-8") as fh:
        assert "python -m ganbook.bench paired" in fh.read()
    groups = {(r["method"], r["data"]) for r in rows}
    assert groups == {("pacgan8-dual", "ring"), ("pacgan8-dual", "grid"), ("gan", "ring"), ("gan", "grid")}
    for m, d in groups:
        seeds = sorted(int(r["seed"]) for r in rows if (r["method"], r["data"]) == (m, d))
        assert seeds == list(range(10, 20) if m == "pacgan8-dual" else range(10))
    for r in rows:
        assert 0 <= r["hq"] <= 100 and 0 <= r["drs_hq"] <= 100 and r["train_cpu"] > 0
        assert r["drs_modes"] <= r["used_modes"] and r["budget_modes"] <= r["first_modes"]
        assert (r["ema_hq"] is None) == (r["method"] == "gan")
