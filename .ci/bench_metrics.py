"""Speed benchmark of ganbook's evaluation metrics (chapter 15) — a script, not a timed test.

    python .ci/bench_metrics.py [--repeats 3] [--threads N ...]

Targets (issue 6), on the book's 2-core CPU: FID and KID from 10,000 × 64-d features in ≤ 2 s
(together, statistics included); precision/recall (with density/coverage, one pass) for 10,000
real vs 10,000 fake in ≤ 10 s. Prints the best of ``--repeats`` runs of each, and the load
average, since the machine may be shared. By default it runs twice: with torch's own thread
count and with one thread (on a shared 2-core machine, two threads that wait for each other can
be several times slower than one).
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from ganbook import metrics as M


def best_time(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="*", default=None,
                        help="torch CPU thread counts to try (default: torch's choice, then 1)")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=64)
    args = parser.parse_args()
    for threads in args.threads or [torch.get_num_threads(), 1]:
        torch.set_num_threads(threads)
        run(args)


def run(args: argparse.Namespace) -> None:
    g = torch.Generator().manual_seed(0)
    real = torch.randn(args.n, args.dim, generator=g, dtype=torch.float64)
    fake = 1.1 * torch.randn(args.n, args.dim, generator=g, dtype=torch.float64) + 0.05
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; features {args.n} × {args.dim}, float64")
    t_fid, fid = best_time(lambda: M.fid(real, fake), args.repeats)
    t_kid, kid = best_time(lambda: M.kid(real, fake, generator=torch.Generator().manual_seed(0)), args.repeats)
    t_pr, pr = best_time(lambda: M.prdc(real, fake, k=5), args.repeats)
    rows = [("FID", t_fid, f"{fid:.4f}", None), ("KID (100 subsets of 1000)", t_kid, str(kid), None),
            ("FID + KID", t_fid + t_kid, "", 2.0), ("precision/recall/density/coverage", t_pr, str(pr), 10.0)]
    for name, t, value, target in rows:
        verdict = "" if target is None else f"  target ≤ {target:.0f} s: {'met' if t <= target else 'MISSED'}"
        print(f"{name:36s} {t:7.3f} s  {value}{verdict}")


if __name__ == "__main__":
    main()
