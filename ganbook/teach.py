"""Tools for instructors: hand out a chapter without its solutions.

    python -m ganbook.teach student chapters/part1_foundations/ch02_gan_game.ipynb -o ch02_student.ipynb

The student version keeps the text, the derivations, the experiments and the exercises; it drops
every ``solution`` block (sphinx-exercise) and every cell tagged ``remove-cell`` (the hidden
cells that run the exercise checks on the reference solutions), and clears all outputs.
Learners then complete the exercises and run the ``ganbook.check`` calls themselves.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_SOLUTION = re.compile(r"^(?P<fence>:{3,}|`{3,})\{solution\}.*?^(?P=fence)[ \t]*$\n?", re.S | re.M)


def strip_solutions(markdown: str) -> str:
    """Remove every ``{solution}`` block (colon or backtick fence) from a markdown string."""
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a str, got {type(markdown).__name__}")
    return _SOLUTION.sub("", markdown)


def student_version(notebook: dict) -> dict:
    """A copy of a notebook (nbformat dict) without solutions, hidden check cells or outputs."""
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise ValueError("notebook must be a Jupyter notebook (a dict with 'cells')")
    cells = []
    for cell in notebook["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "remove-cell" in tags:
            continue
        cell = dict(cell)
        if cell.get("cell_type") == "markdown":
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            src = strip_solutions(src)
            if not src.strip():
                continue
            cell["source"] = src
        elif cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    out = dict(notebook)
    out["cells"] = cells
    return out


def main(argv: list[str] | None = None) -> int:
    import json

    ap = argparse.ArgumentParser(prog="python -m ganbook.teach", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    st = sub.add_parser("student", help="write a notebook without solutions")
    st.add_argument("notebook", type=Path)
    st.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args(argv)
    if not args.notebook.is_file():
        ap.error(f"no such notebook: {args.notebook}")
    nb = json.loads(args.notebook.read_text(encoding="utf-8"))
    out = student_version(nb)
    args.output.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    removed = len(nb["cells"]) - len(out["cells"])
    print(f"wrote {args.output}: {len(out['cells'])} cells ({removed} removed), solutions stripped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
