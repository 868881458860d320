"""The benchmark's command line, ``python -m ganbook.bench``: ``mode-coverage`` (train and tabulate),
``merge`` (join tables run in pieces) and ``paired`` (per-seed results of one method, every way of
sampling it). See :mod:`ganbook.bench`."""
from __future__ import annotations

import argparse
import sys

import torch

from .methods import METHODS, REPORTING_SEED_START, TUNING_SEEDS
from .protocol import DATASETS, Result, train_method
from .report import cpu_model, merge, paired_csv, report_text, table
from .state import Settings


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ganbook.bench", description="Benchmarks of the GAN book.")
    sub = ap.add_subparsers(dest="command", required=True)
    mc = sub.add_parser("mode-coverage", help="the 2D ring and grid with the published protocol (chapter 8)")
    mc.add_argument("--methods", nargs="+", default=["gan", "pacgan4", "pacgan8-dual", "pacgan8-dual-drs"], choices=sorted(METHODS))
    mc.add_argument("--seeds", type=int, default=10, help="number of seeds, trained at once")
    mc.add_argument("--seed-start", type=int, default=0,
                    help=f"the first seed: seeds START..START+n-1. The book's tuned configurations were chosen on "
                         f"seeds {TUNING_SEEDS.start}..{TUNING_SEEDS.stop - 1}; record them with "
                         f"--seed-start {REPORTING_SEED_START}")
    mc.add_argument("--steps", type=int, default=None,
                    help=f"iterations for every method (default {Settings().steps:,}; fewer for the methods that "
                         "cost more per step: minibatch 6,000, unrolled 3,000, and the book's batch-512 "
                         "configuration and its ablations 9,000)")
    mc.add_argument("--data", nargs="+", default=["ring", "grid"], choices=sorted(DATASETS))
    mc.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these small nets)")
    mc.add_argument("--device", default="cpu", help="cpu (default: the table reports CPU seconds), cuda or mps")
    mc.add_argument("--out", default=None, help="also write the markdown table to this file")
    mg = sub.add_parser("merge", help="merge the --out files of several mode-coverage runs into one table")
    mg.add_argument("parts", nargs="+", help="markdown files written by mode-coverage --out")
    mg.add_argument("--out", required=True, help="the merged markdown file")
    pa = sub.add_parser("paired", help="per-seed results of one method, sampled every way (last iterate, moving "
                                       "average, rejection sampling), for comparisons paired by seed")
    pa.add_argument("--method", required=True, choices=sorted(METHODS))
    pa.add_argument("--label", default=None, help="the name written in the first column (default: the method)")
    pa.add_argument("--seeds", type=int, default=10)
    pa.add_argument("--seed-start", type=int, default=0)
    pa.add_argument("--steps", type=int, default=None)
    pa.add_argument("--data", nargs="+", default=["ring", "grid"], choices=sorted(DATASETS))
    pa.add_argument("--threads", type=int, default=1)
    pa.add_argument("--out", required=True, help="the CSV file to write")
    args = ap.parse_args(argv)
    if args.command == "merge":
        texts = []
        for path in args.parts:
            with open(path, encoding="utf-8") as fh:
                texts.append(fh.read())
        _write(args.out, merge(texts))
        print(f"merged {len(texts)} part(s) into {args.out}")
        return 0
    if args.seeds < 1:
        ap.error("--seeds must be >= 1")
    if args.seed_start < 0:
        ap.error("--seed-start must be >= 0")
    if args.steps is not None and args.steps < 1:
        ap.error("--steps must be >= 1")
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    command = f"python -m ganbook.bench {' '.join(sys.argv[1:] if argv is None else argv)}"
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    if args.command == "paired":
        try:
            results = [train_method(args.method, data, seeds, args.steps) for data in args.data]
        finally:
            torch.set_num_threads(threads)
        _write(args.out, f"# {command}\n# {cpu_model()}, torch {torch.__version__}\n" + paired_csv(results, args.label))
        print(f"wrote {len(seeds) * len(results)} rows to {args.out}")
        return 0
    results: list[Result] = []
    try:
        for data in args.data:
            for method in args.methods:
                r = train_method(method, data, seeds, args.steps, device=args.device)
                results.append(r)
                print(table([r]).splitlines()[-1], flush=True)
                if args.out:            # rewritten after every row: a long run leaves its finished rows
                    _write(args.out, report_text(results, command, args))
    finally:
        torch.set_num_threads(threads)
    print("\n" + report_text(results, command, args))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
