#!/usr/bin/env python3
"""Prepare chapter notebooks for git: execute them (optional) and strip every output except
those of cells tagged ``nbval-check-output`` (nbval's golden references).

    python .ci/nbstrip.py chapters/part1_foundations/ch02_gan_game.ipynb          # strip only
    python .ci/nbstrip.py --execute chapters/part1_foundations/ch02_gan_game.ipynb # run, then strip

With --execute the notebook runs in a fresh kernel first (GANBOOK_QUIET=1), so that the tagged
cells hold the outputs of a real run; execution counts and metadata noise are removed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import nbformat

KEEP = "nbval-check-output"


def strip(nb: nbformat.NotebookNode) -> int:
    kept = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if KEEP in tags:
            cell.outputs = [o for o in cell.outputs if o.get("output_type") != "error"]
            # nbval treats a cell with outputs but no execution_count as an unrun reference cell
            cell.execution_count = cell.execution_count or 1 if cell.outputs else None
            kept += 1
        else:
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    return kept


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--execute", action="store_true", help="execute in a fresh kernel before stripping")
    args = ap.parse_args()
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if args.execute:
            from nbclient import NotebookClient

            os.environ.setdefault("GANBOOK_QUIET", "1")
            os.environ.setdefault("MPLBACKEND", "Agg")
            t = time.perf_counter()
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}}).execute()
            print(f"{path}: executed in {time.perf_counter() - t:.1f} s")
        kept = strip(nb)
        nbformat.write(nb, path)
        print(f"{path}: outputs stripped, {kept} '{KEEP}' cell(s) kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
