#!/usr/bin/env python3
"""Execute chapters over seeds and floating-point paths (`make robustness`).

A GAN run is chaotic: a different rounding path sends it elsewhere. Every assert about a
training outcome must therefore hold for every seed and every path, not for the one run it was
tuned on. This script executes each chapter notebook in a fresh kernel

* on the native path with ``SEED`` = 0..4, and
* under each other floating-point variant with ``SEED`` = 0..2,

with ``SEED`` injected after the notebook's ``parameters`` cell by papermill (the cell it adds
is tagged ``injected-parameters``), and writes a table (chapter × variant: runs passed, seconds)
to ``_build/robustness.md``. A variant is an environment for the kernel:

* ``native``: as the machine is (on a machine with CUDA, ``DEVICE = None`` picks the GPU);
* ``aten-default``: ``ATEN_CPU_CAPABILITY=default``, torch's non-vectorised CPU kernels;
* ``mkl-compatible``: ``MKL_CBWR=COMPATIBLE``, MKL's conditional-numerical-reproducibility
  mode (another BLAS code path);
* ``cpu``: ``CUDA_VISIBLE_DEVICES=`` (the CPU of a GPU machine; the same as native elsewhere).

Before the matrix, a small training run is executed under each variant and its checksum
printed: a variant whose checksum equals the native one does not change rounding on this
machine, and the table says so.

Usage: python .ci/robustness.py [NOTEBOOK ...] [--variants native,aten-default,mkl-compatible]
       [--seeds 5] [--variant-seeds 3] [--seed-start 0] [--jobs 2] [--output _build/robustness.md]
       python .ci/robustness.py --merge LOG.jsonl ... [--output _build/robustness.md]
Exit status: 1 if any run failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from papermill.parameterize import parameterize_notebook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timings import ROOT, chapters_in_toc_order, machine_info, run_notebook  # noqa: E402

VARIANTS: dict[str, dict[str, str]] = {
    "native": {},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "cpu": {"CUDA_VISIBLE_DEVICES": ""},
}

# A small training run whose result depends on every rounding: matrix products (BLAS),
# vectorised element-wise kernels and Adam, 200 steps. Prints the parameters' sum to 17 digits.
CHECKSUM_RUN = """
import torch
torch.manual_seed(0); torch.set_num_threads(1)
dev = 'cuda' if torch.cuda.is_available() else 'cpu'
net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.LeakyReLU(0.2), torch.nn.Linear(64, 64),
                          torch.nn.Tanh(), torch.nn.Linear(64, 1)).to(dev)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
x = torch.randn(256, 2).to(dev); y = torch.sin(3 * x[:, :1]) * x[:, 1:]
for _ in range(200):
    opt.zero_grad(); loss = ((net(x) - y) ** 2).mean(); loss.backward(); opt.step()
print(dev, repr(sum(p.double().sum().item() for p in net.parameters())))
"""


@dataclass
class Run:
    notebook: Path
    variant: str
    seed: int
    seconds: float = 0.0
    peak_mb: float = 0.0
    error: str | None = None

    @property
    def name(self) -> str:
        path = self.notebook.with_suffix("")
        return (path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).as_posix()


def variant_env(variant: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # kernels draw with the inline backend, as in the book build
    env.setdefault("PYTHONHASHSEED", "0")
    env.setdefault("GANBOOK_QUIET", "1")
    env.update(VARIANTS[variant])
    return env


def checksum(variant: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHECKSUM_RUN], env=variant_env(variant),
                         capture_output=True, text=True, timeout=300)
    if out.returncode:
        raise RuntimeError(f"checksum run under {variant} failed:\n{out.stderr}")
    return out.stdout.strip()


def execute(run: Run, timeout: int) -> Run:
    nb = nbformat.read(run.notebook, as_version=4)
    for cell in nb.cells:  # papermill reads every cell's tags
        cell.metadata.setdefault("tags", [])
    params = [c for c in nb.cells if "parameters" in c.metadata.tags]
    if not params or not re.search(r"^SEED\s*=", params[0].source, re.M):
        raise SystemExit(f"robustness: {run.name} has no parameters cell setting SEED")
    nb.metadata.setdefault("papermill", {})  # where papermill records the injected values
    nb = parameterize_notebook(nb, {"SEED": run.seed})
    result = run_notebook(run.notebook, timeout, nb=nb, env=variant_env(run.variant))
    run.seconds, run.peak_mb, run.error = result.seconds, result.peak_mb, result.error
    return run


def render(runs: list[Run], variants: list[str], sums: dict[str, str], wall: float) -> str:
    chapters = list(dict.fromkeys(r.name for r in runs))
    lines = ["# Robustness: every chapter over seeds and floating-point paths", "",
             "Written by `make robustness` (`.ci/robustness.py`). A cell reads "
             "*passed/runs (seeds), slowest seconds*.", "",
             "| chapter | " + " | ".join(variants) + " |",
             "| :-- | " + " | ".join(":--" for _ in variants) + " |"]
    for chapter in chapters:
        cells = []
        for v in variants:
            rs = [r for r in runs if r.name == chapter and r.variant == v]
            if not rs:
                cells.append("")
                continue
            ok = sum(r.error is None for r in rs)
            failed = [r.seed for r in rs if r.error]
            seeds = f"{min(r.seed for r in rs)}..{max(r.seed for r in rs)}"
            cell = f"{ok}/{len(rs)} ({seeds}), {max(r.seconds for r in rs):.0f} s"
            cells.append(cell if not failed else f"**{cell}; failed SEED {failed}**")
        lines.append(f"| {chapter} | " + " | ".join(cells) + " |")
    total = sum(r.seconds for r in runs)
    lines += ["", f"{len(runs)} runs, {sum(r.error is None for r in runs)} passed; "
              f"{total / 60:.1f} min of notebook time"
              + (f", {wall / 60:.1f} min wall-clock." if wall == wall else " (merged from several runs)."), "",
              "Checksums of a 200-step training run (a variant that equals native changes "
              "nothing on this machine):", ""]
    native = sums.get("native")
    for v, s in sums.items():
        same = " (**same as native**)" if v != "native" and s == native else ""
        lines.append(f"- {v}: `{s}`{same}")
    failures = [r for r in runs if r.error]
    if failures:
        lines += ["", "Failures:", ""]
        lines += [f"- {r.name}, {r.variant}, SEED={r.seed}: {r.error}" for r in failures]
    lines += ["", "Machine (where the table was written):", ""] + [f"- {k}: {v}" for k, v in machine_info()] + [""]
    return "\n".join(lines)


def merge_logs(logs: list[Path], output: Path) -> int:
    """One table from the .jsonl logs that runs of this script write beside their tables."""
    runs, sums = [], {}
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if "checksum" in row:
                sums[row["variant"]] = row["checksum"]
                continue
            runs.append(Run(ROOT / f"{row['chapter']}.ipynb", row["variant"], row["seed"], row["seconds"],
                            row.get("peak_mb", 0.0), row["error"]))
    variants = list(dict.fromkeys(r.variant for r in runs))
    chapters = chapters_in_toc_order()
    runs.sort(key=lambda r: (chapters.index(r.notebook) if r.notebook in chapters else len(chapters),
                             variants.index(r.variant), r.seed))
    output.write_text(render(runs, variants, sums, float("nan")), encoding="utf-8")
    print(f"robustness: merged {len(runs)} runs into {output}")
    return 1 if any(r.error for r in runs) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="chapters to run (default: every chapter, in _toc.yml order)")
    parser.add_argument("--variants", default="native,aten-default,mkl-compatible",
                        help=f"comma-separated, from {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, default=5, help="native path: SEED = 0..N-1")
    parser.add_argument("--variant-seeds", type=int, default=3,
                        help="other variants: SEED = 0..N-1")
    parser.add_argument("--seed-start", type=int, default=0,
                        help="first SEED (e.g. to rerun one failure: --seed-start 3 --seeds 1)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    parser.add_argument("--output", type=Path, default=ROOT / "_build" / "robustness.md")
    parser.add_argument("--merge", nargs="+", type=Path, default=None, metavar="JSONL",
                        help="execute nothing: one table from the .jsonl logs of earlier runs "
                             "(e.g. chapters run in separate pieces)")
    args = parser.parse_args(argv)
    if args.merge:
        return merge_logs(args.merge, args.output)

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"--variants: unknown {unknown}; choose from {list(VARIANTS)}")
    if args.seeds < 1 or args.variant_seeds < 1 or args.jobs < 1 or args.seed_start < 0:
        parser.error("--seeds, --variant-seeds and --jobs must be at least 1, --seed-start at least 0")
    notebooks = [p.resolve() for p in args.notebooks] or chapters_in_toc_order()

    sums = {v: checksum(v) for v in dict.fromkeys(["native", *variants])}
    for v, s in sums.items():
        print(f"robustness: checksum {v:15s} {s}", flush=True)

    runs = [Run(nb, v, args.seed_start + s) for nb in notebooks for v in variants
            for s in range(args.seeds if v == "native" else args.variant_seeds)]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    log = args.output.with_suffix(".jsonl").open("w")
    for v, s in sums.items():
        log.write(json.dumps({"variant": v, "checksum": s}) + "\n")
    start = time.perf_counter()
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        for run in cf.as_completed([pool.submit(execute, r, args.timeout) for r in runs]):
            r = run.result()
            status = "ok" if r.error is None else f"FAILED {r.error}"
            print(f"robustness: {r.name} {r.variant} SEED={r.seed}: {r.seconds:.1f} s, "
                  f"{r.peak_mb:.0f} MB, {status}", flush=True)
            log.write(json.dumps({"chapter": r.name, "variant": r.variant, "seed": r.seed,
                                  "seconds": round(r.seconds, 1), "peak_mb": round(r.peak_mb),
                                  "error": r.error}) + "\n")
            log.flush()
    order = {(nb, v, s): i for i, (nb, v, s) in enumerate((r.notebook, r.variant, r.seed) for r in runs)}
    runs.sort(key=lambda r: order[(r.notebook, r.variant, r.seed)])
    args.output.write_text(render(runs, variants, sums, time.perf_counter() - start), encoding="utf-8")
    print(f"robustness: wrote {args.output}")
    return 1 if any(r.error for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
