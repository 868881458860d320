#!/usr/bin/env python3
"""Execute every chapter notebook alone and write book/timings.md (`make timings`).

Each notebook runs in a fresh `python3` kernel (nbclient), one after another (on 2 cores,
parallel kernels only fight). For each one we record the wall-clock seconds of the whole run
(kernel start-up included) and the peak resident memory of the kernel's process tree (the
kernel and any children, e.g. DataLoader workers), sampled every 50 ms with psutil. The page
compares them with the budgets of DESIGN.md: 60 s and 2 GB per chapter, 10 minutes in all.

Usage: python .ci/timings.py [--output book/timings.md] [--timeout 180] [--baseline PAGE] [NOTEBOOK ...]
Exit status: 1 if a notebook failed to execute, 2 with --check if a budget was exceeded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0
BUDGET_MB = 2048.0
BUDGET_BOOK_SECONDS = 600.0
SAMPLE_EVERY = 0.05


@dataclass
class Result:
    notebook: Path
    seconds: float
    peak_mb: float
    error: str | None = None

    @property
    def docname(self) -> str:
        return self.notebook.relative_to(ROOT).with_suffix("").as_posix()

    @property
    def status(self) -> str:
        if self.error:
            return f"**failed**: {self.error}"
        over = []
        if self.seconds > BUDGET_SECONDS:
            over.append("over time budget")
        if self.peak_mb > BUDGET_MB:
            over.append("over memory budget")
        return "**" + ", ".join(over) + "**" if over else "ok"

    @property
    def within_budget(self) -> bool:
        return not self.error and self.seconds <= BUDGET_SECONDS and self.peak_mb <= BUDGET_MB


def chapters_in_toc_order() -> list[Path]:
    """Chapter notebooks in _toc.yml order, then any not (yet) listed there."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    listed: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "file" and isinstance(value, str):
                    listed.append(re.sub(r"\.ipynb$", "", value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    ordered = [ROOT / f"{f}.ipynb" for f in listed if (ROOT / f"{f}.ipynb").is_file()]
    extra = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb")
                   if p not in ordered and ".ipynb_checkpoints" not in p.parts)
    return ordered + extra


class TreeMemorySampler(threading.Thread):
    """Peak RSS (MB) of the kernel process and its children while the notebook runs."""

    def __init__(self, client: NotebookClient):
        super().__init__(daemon=True)
        self.client = client
        self.peak_bytes = 0
        self._done = threading.Event()

    def _kernel_pid(self) -> int | None:
        km = getattr(self.client, "km", None)
        provisioner = getattr(km, "provisioner", None) if km is not None else None
        process = getattr(provisioner, "process", None)
        return getattr(process, "pid", None)

    def run(self) -> None:
        kernel = None
        while not self._done.is_set():
            if kernel is None:
                pid = self._kernel_pid()
                if pid is not None:
                    try:
                        kernel = psutil.Process(pid)
                    except psutil.NoSuchProcess:
                        kernel = None
            if kernel is not None:
                total = 0
                try:
                    for proc in [kernel, *kernel.children(recursive=True)]:
                        try:
                            total += proc.memory_info().rss
                        except (psutil.NoSuchProcess, psutil.AccessDenied):
                            pass
                except psutil.NoSuchProcess:
                    pass
                self.peak_bytes = max(self.peak_bytes, total)
            self._done.wait(SAMPLE_EVERY)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_bytes / 2**20


def run_notebook(path: Path, timeout: int, nb: nbformat.NotebookNode | None = None,
                 env: dict[str, str] | None = None) -> Result:
    """Execute ``nb`` (default: the notebook at ``path``) in a fresh kernel started with
    ``env`` (default: this process's environment), in ``path``'s folder."""
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    sampler = TreeMemorySampler(client)
    sampler.start()
    error = None
    start = time.perf_counter()
    try:
        client.execute(**({"env": env} if env is not None else {}))
    except Exception as exc:  # noqa: BLE001 - recorded in the table, reported at the end
        error = type(exc).__name__
        ename = getattr(exc, "ename", None)
        if ename:
            error += f" ({ename})"
        evalue = " ".join(str(getattr(exc, "evalue", "") or "").split())
        if evalue:
            error += f": {evalue[:200]}"
        # the line that raised, as IPython marks it ("---> 12 assert ...") in the traceback
        marked = [ln for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if re.match(r"\s*-+> ", ln)]
        if marked:
            error += f" at `{' '.join(marked[0].split()[2:])[:160]}`"
    seconds = time.perf_counter() - start
    peak_mb = sampler.stop()
    return Result(path, seconds, peak_mb, error)


def machine_info() -> list[tuple[str, str]]:
    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(pkg: str) -> str:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return [
        ("Date", dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPUs", f"{os.cpu_count()} logical ({psutil.cpu_count(logical=False)} physical), "
                 f"{cpu_model}"),
        ("Memory", f"{psutil.virtual_memory().total / 2**30:.1f} GiB"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("torch", version("torch")),
        ("ganbook", version("ganbook")),
        ("Device", device_label()),
    ]


def device_label() -> str:
    """What ``DEVICE = None`` picks in the kernels (they inherit this process's environment)."""
    try:
        import torch

        if torch.cuda.is_available():
            return f"CUDA: {torch.cuda.get_device_name(0)} (the parameters cells' DEVICE = None picks it)"
    except ImportError:  # pragma: no cover
        pass
    return "CPU (the parameters cells' defaults)"


def baseline_seconds(page: Path) -> dict[str, float]:
    """Seconds per chapter from an earlier timings page (e.g. the CPU's book/timings.md)."""
    rows = re.findall(r"^\| \{doc\}`/([^`]+)` \| ([0-9.]+) \|", page.read_text(encoding="utf-8"), re.M)
    return {doc: float(sec) for doc, sec in rows}


def render(results: list[Result], baseline: dict[str, float] | None = None) -> str:
    total = sum(r.seconds for r in results)
    base = baseline or {}
    extra = " Baseline s |" if baseline is not None else ""
    lines = [
        "# Measured run times",
        "",
        "Every chapter is a notebook executed from top to bottom in a fresh kernel, one after",
        "another, by `make timings` (the script `.ci/timings.py`), which rewrites this page.",
        f"The budgets are {BUDGET_SECONDS:.0f} s and {BUDGET_MB / 1024:.0f} GB of memory per "
        f"chapter, and {BUDGET_BOOK_SECONDS / 60:.0f} minutes for the whole book, on a 2-core "
        "CPU with the defaults of each chapter's parameters cell.",
        "Seconds include starting the kernel; peak memory is the largest resident set of the",
        "kernel and its child processes, sampled every 50 ms.",
        "",
        "| Chapter | Seconds | Peak memory (MB) | Status |" + extra,
        "| :-- | --: | --: | :-- |" + (" --: |" if extra else ""),
    ]
    for r in results:
        cell = (f" {base[r.docname]:.1f} |" if r.docname in base else " |") if extra else ""
        lines.append(f"| {{doc}}`/{r.docname}` | {r.seconds:.1f} | {r.peak_mb:.0f} | {r.status} |{cell}")
    book_status = "ok" if total <= BUDGET_BOOK_SECONDS else "**over time budget**"
    cell = f" {sum(base.get(r.docname, 0.0) for r in results):.1f} |" if extra else ""
    lines.append(f"| **All chapters** | **{total:.1f}** | "
                 f"{max((r.peak_mb for r in results), default=0):.0f} | {book_status} |{cell}")
    lines += ["", "Measured on:", ""]
    lines += [f"- {key}: {value}" for key, value in machine_info()]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every chapter, in _toc.yml order)")
    parser.add_argument("--output", type=Path, default=ROOT / "book" / "timings.md")
    parser.add_argument("--timeout", type=int, default=180, help="seconds per cell")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="an earlier timings page whose seconds are shown beside (e.g. book/timings.md)")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 2 if a chapter is over a budget")
    args = parser.parse_args(argv)

    # As in the book build: kernels use the inline backend, so figures are drawn (and timed).
    os.environ.pop("MPLBACKEND", None)
    os.environ.setdefault("PYTHONHASHSEED", "0")

    notebooks = [p.resolve() for p in args.notebooks] or chapters_in_toc_order()
    if not notebooks:
        print("timings: no chapter notebooks found under chapters/", file=sys.stderr)
        return 1
    results = []
    baseline = baseline_seconds(args.baseline) if args.baseline else None
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for path in notebooks:
        print(f"timings: {path.relative_to(ROOT)} ...", end=" ", flush=True)
        result = run_notebook(path, args.timeout)
        print(f"{result.seconds:.1f} s, {result.peak_mb:.0f} MB, {result.status}", flush=True)
        results.append(result)
        args.output.write_text(render(results, baseline), encoding="utf-8")   # a cut-short run keeps its rows
    print(f"timings: wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    if any(r.error for r in results):
        return 1
    if args.check and not all(r.within_budget for r in results):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
