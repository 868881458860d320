"""The benchmark's reports: the markdown table (mean ± standard error over seeds), its seeds cells,
reading a table back and merging reports, the CSV of per-seed values for paired comparisons, and the
recorded results that ship with the package (:func:`recorded`, :func:`recorded_paired`).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import time

import torch

from .methods import METHODS
from .protocol import DATASETS, Result, paired_evaluation
from .state import Settings

_BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def _mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def summary(result: Result) -> dict[str, float]:
    """Means and standard errors over seeds of modes, HQ % and reverse KL."""
    out: dict[str, float] = {}
    for key, vals in (("modes", [st.modes for st in result.stats]),
                      ("hq", [100 * st.hq_fraction for st in result.stats]),
                      ("rkl", [st.reverse_kl for st in result.stats])):
        out[key], out[key + "_se"] = _mean_se([float(v) for v in vals])
    return out


def seeds_cell(seeds: tuple[int, ...] | list[int], n: int) -> str:
    """The table's seeds column: ``n`` for seeds 0..n−1, ``a..b`` for another contiguous range, else
    the list (``3,7,9``)."""
    seeds = list(seeds) or list(range(n))
    if seeds == list(range(len(seeds))):
        return str(len(seeds))
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}..{seeds[-1]}"
    return ",".join(str(s) for s in seeds)


def parse_seeds(cell: str) -> list[int]:
    """The seeds that :func:`seeds_cell` wrote: ``n`` → 0..n−1, ``a..b`` → a..b, ``a,b,c``."""
    if ".." in cell:
        first, last = (int(v) for v in cell.split(".."))
        return list(range(first, last + 1))
    if "," in cell:
        return [int(v) for v in cell.split(",")]
    return list(range(int(cell)))


def table(results: list[Result]) -> str:
    """A markdown table: method, data, seeds, modes, HQ %, reverse KL (mean ± s.e.), iterations, seconds."""
    lines = ["| method | data | seeds | modes | HQ % | reverse KL | iterations | CPU s / run | wall s / run |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        m = summary(r)
        k = DATASETS[r.data]().n_components
        lines.append(f"| {r.method} | {r.data} | {seeds_cell(r.seeds, len(r.stats))} | {m['modes']:.1f} ± {m['modes_se']:.1f} / {k} | "
                     f"{m['hq']:.1f} ± {m['hq_se']:.1f} | {m['rkl']:.3f} ± {m['rkl_se']:.3f} | {r.steps} | "
                     f"{r.cpu_s:.1f} | {r.wall_s:.1f} |")
    return "\n".join(lines)


RECORDED = os.path.join(_BENCHMARKS, "mode_coverage.md")


def recorded() -> str:
    """The recorded full benchmark (every method, both data sets): the markdown that
    ``python -m ganbook.bench merge`` wrote from the ``mode-coverage --out`` files of its runs,
    shipped with the package so that a chapter opened on Colab shows it too. These numbers are
    read, not computed, by the book."""
    with open(RECORDED, encoding="utf-8") as fh:
        return fh.read()


RECORDED_PAIRED = os.path.join(_BENCHMARKS, "mode_coverage_paired.csv")

PAIRED_COLUMNS = ("modes", "hq", "rkl", "ema_modes", "ema_hq", "ema_rkl", "drs_modes", "drs_hq", "drs_rkl", "used",
                  "used_modes", "first_modes", "budget_kept", "budget_modes", "drs_cpu")


def paired_csv(results: list[Result], label: str | None = None) -> str:
    """The rows of :func:`ganbook.bench.protocol.paired_evaluation` for trained ``results`` as CSV:
    method, data, seed, the :data:`PAIRED_COLUMNS` and ``train_cpu`` (the run's training CPU seconds
    per seed; an empty cell where a run keeps no moving average). ``label`` replaces the method's
    name in the first column."""
    lines = [",".join(("method", "data", "seed", *PAIRED_COLUMNS, "train_cpu"))]
    for r in results:
        if r.run is None:
            raise ValueError("paired_csv needs results that keep their trained networks (Result.run)")
        for seed, row in zip(r.seeds, paired_evaluation(r.run, r.data)):
            cells = [label or r.method, r.data, str(seed)]
            for key in PAIRED_COLUMNS:
                v = row.get(key)
                cells.append("" if v is None else f"{v:.4f}" if key.endswith("rkl") else
                             f"{v:.2f}" if key.endswith(("hq", "cpu")) else str(int(v)))
            lines.append(",".join(cells + [f"{r.cpu_s:.1f}"]))
    return "\n".join(lines) + "\n"


def recorded_paired() -> list[dict[str, str | float | None]]:
    """The recorded per-seed results (``python -m ganbook.bench paired``), shipped with the package:
    one dict per seed, numbers as floats, an empty cell as None. Lines starting with ``#`` (the
    commands and the machine) are skipped. These numbers are read, not computed, by the book."""
    with open(RECORDED_PAIRED, encoding="utf-8") as fh:
        lines = [ln.strip() for ln in fh if ln.strip() and not ln.startswith("#")]
    header = lines[0].split(",")
    return [{k: (v if k in ("method", "data") else float(v) if v else None) for k, v in zip(header, ln.split(","))}
            for ln in lines[1:]]


def _row_cells(line: str) -> list[str] | None:
    """The 9 cells of a data row of :func:`table`, or None for any other line (header, rule, text)."""
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if not line.startswith("| ") or len(cells) != 9 or cells[0] == "method" or set(cells[0]) <= {"-"}:
        return None
    return cells


def parse_table(text: str) -> dict[tuple[str, str], dict[str, float]]:
    """The rows of :func:`table` found in ``text`` → {(method, data): {seeds, first_seed, modes,
    modes_se, hq, hq_se, rkl, rkl_se, iterations, cpu_s, wall_s}}; HQ in percent, ``seeds`` the
    number of seeds and ``first_seed`` the smallest. Lines that are not rows of such a
    table are skipped; a method and data set that appear twice is an error."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for line in text.splitlines():
        cells = _row_cells(line)
        if cells is None:
            continue

        def mean_se(cell: str) -> tuple[float, float]:
            mean, se = cell.split("/")[0].split("±")
            return float(mean), float(se)

        (modes, modes_se), (hq, hq_se), (rkl, rkl_se) = mean_se(cells[3]), mean_se(cells[4]), mean_se(cells[5])
        key = (cells[0], cells[1])
        if key in rows:
            raise ValueError(f"the table lists {key} twice")
        seeds = parse_seeds(cells[2])
        rows[key] = {"seeds": len(seeds), "first_seed": min(seeds), "modes": modes, "modes_se": modes_se, "hq": hq, "hq_se": hq_se,
                     "rkl": rkl, "rkl_se": rkl_se, "iterations": int(cells[6]), "cpu_s": float(cells[7]),
                     "wall_s": float(cells[8])}
    return rows


def cpu_model() -> str:
    """The processor's model name (Linux: /proc/cpuinfo; else ``platform.processor()``), for the
    report: CPU seconds are only comparable on the same processor."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _legend(methods: list[str]) -> str:
    return ("Methods (networks: MLPs with 3 hidden layers of "
            f"{Settings().hidden} units; data divided by their standard deviation):\n"
            + "\n".join(f"- `{m}`: {METHODS[m].description}" for m in methods if m in METHODS) + "\n")


def report_text(results: list[Result], command: str, args: argparse.Namespace) -> str:
    """The table with the command, the date, the machine's load and the methods' legend: what
    ``mode-coverage --out`` writes."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    header = (f"Command: `{command}`\n\n"
              f"Date: {time.strftime('%Y-%m-%d %H:%M')}; torch {torch.__version__}, {args.threads} thread(s), device {args.device}; "
              f"CPU {cpu_model()}; "
              f"load average {load:.1f} on {os.cpu_count()} CPUs when this was written. "
              f"Seeds {args.seed_start}..{args.seed_start + args.seeds - 1}; "
              f"mean ± standard error over seeds.\n")
    return header + "\n" + table(results) + "\n\n" + _legend(list(dict.fromkeys(r.method for r in results)))


def merge(parts: list[str]) -> str:
    """One report from several reports of :func:`report_text` (e.g. pieces of the benchmark run in
    parallel processes), or of earlier merges (to add rows to a recorded table): every piece's
    command and date line, then all rows in one table (ring first, methods in the order of
    METHODS), then the legend. Rows are copied as they are; a method and data set reported by two
    pieces is an error."""
    if not isinstance(parts, (list, tuple)) or not parts or not all(isinstance(p, str) for p in parts):
        raise TypeError("parts must be a non-empty list of report texts (str)")
    runs, rows = [], {}
    for text in parts:
        lines = text.splitlines()
        command = next((ln for ln in lines if ln.startswith("Command: ")), None)
        date = next((ln for ln in lines if ln.startswith("Date: ")), None)
        if command is not None and date is not None:
            runs.append(f"- {command[len('Command: '):]}; {date[len('Date: '):]}")
        elif lines and lines[0].startswith("Commands ("):                  # an earlier merge
            runs += [ln for ln in lines if ln.startswith("- `python -m ganbook.bench")]
        else:
            raise ValueError("every part must be a report of `mode-coverage --out` (with Command: and Date: lines) "
                             "or of `merge`")
        parse_table(text)                                                   # a row twice within one part
        for ln in lines:
            cells = _row_cells(ln)
            if cells is None:
                continue
            key = (cells[0], cells[1])
            if key in rows:
                raise ValueError(f"{key} is reported by two parts")
            rows[key] = ln
    order = {m: i for i, m in enumerate(METHODS)}
    keys = sorted(rows, key=lambda k: (list(DATASETS).index(k[1]) if k[1] in DATASETS else 99, order.get(k[0], 999), k[0]))
    head = table([]).splitlines()
    return ("Commands (each wrote the rows of its methods and data sets; date, versions, processor and machine load "
            "when it finished):\n\n" + "\n".join(runs) + "\n\n" + "\n".join(head + [rows[k] for k in keys])
            + "\n\n" + _legend(list(dict.fromkeys(k[0] for k in keys))))
