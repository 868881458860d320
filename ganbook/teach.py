"""Tools for instructors: answer cells, and a chapter handed out without its solutions.

    python -m ganbook.teach student chapters/part1_foundations/ch02_gan_game.ipynb -o ch02_student.ipynb
    python -m ganbook.teach answers chapters/part1_foundations/ch02_gan_game.ipynb   # authors, see below

**The student edition** keeps the text, the derivations, the experiments, the exercises and their
answer cells; it drops every ``solution`` block (sphinx-exercise), every cell tagged ``remove-cell``
(the hidden cells that run the exercise checks on the reference solutions) or ``solution`` (a
listing that gives an exercise's answer), and clears all outputs. Each answer cell is headed with
its exercise's number as the book's site shows it. Learners complete the templates in the answer
cells and run them: the last line of each is the ``ganbook.check`` call.

**Answer cells (the convention).** A *coding exercise* is a ``:::{exercise}`` block with a
``:label:`` whose body holds a ``python`` code fence with the template — one or more functions
``def my_...(...):`` whose body is ``...`` — and the ``check.<name>(...)`` call; its ``{solution}``
block holds a ``python`` fence defining the same functions (the reference solution, which
tests/test_student_edition.py runs through the check). ``python -m ganbook.teach answers NB ...``
moves each such template out of the exercise text into a code cell right after the exercise (the
markdown cell is split there): the *answer cell*, tagged ``answer`` (and ``skip-execution`` /
``nbval-skip``, so that the book's build and CI do not run an untouched template), with
``{"ganbook": {"exercise": label}}`` in its metadata and the imports its template and solution
need. It rewrites the notebook in place and is idempotent (an exercise that has its answer cell
is left alone); ``--check`` only reports what it would change (exit status 1).
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import re
import sys
from pathlib import Path

_SOLUTION = re.compile(r"^(?P<fence>:{3,}|`{3,})\{solution\}.*?^(?P=fence)[ \t]*$\n?", re.S | re.M)
_EXERCISE = re.compile(r"^(?P<fence>:{3,}|`{3,})\{exercise\}[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$\n?",
                       re.S | re.M)
_LABEL = re.compile(r"^:label:\s*(\S+)[ \t]*$", re.M)
_PYTHON = re.compile(r"^```(?:python|ipython3?)[ \t]*\n(?P<code>.*?)^```[ \t]*$\n?", re.S | re.M)

ANSWER_TAG = "answer"
SOLUTION_TAG = "solution"                       # a cell that gives an answer away: not in the student edition
SKIP_TAGS = ("skip-execution", "nbval-skip")    # the book's build (nbclient) and CI (nbval) skip the template
_IMPORTS = {"math": "import math", "np": "import numpy as np", "torch": "import torch",
            "F": "import torch.nn.functional as F", "nn": "from torch import nn"}
_IMPORT_ORDER = ("math", "np", "torch", "F", "nn")


def strip_solutions(markdown: str) -> str:
    """Remove every ``{solution}`` block (colon or backtick fence) from a markdown string."""
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a str, got {type(markdown).__name__}")
    return _SOLUTION.sub("", markdown)


def _text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _check_notebook(notebook: object) -> dict:
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise ValueError("notebook must be a Jupyter notebook (a dict with 'cells')")
    return notebook


def answer_label(cell: dict) -> str | None:
    """The exercise label of an answer cell, None for any other cell."""
    if cell.get("cell_type") != "code" or ANSWER_TAG not in _tags(cell):
        return None
    return cell.get("metadata", {}).get("ganbook", {}).get("exercise")


def _template(body: str) -> re.Match | None:
    """The template fence of an exercise body: a python fence with a ``def`` and a ``check.`` call."""
    for m in _PYTHON.finditer(body):
        if re.search(r"^\s*def \w+\(", m["code"], re.M) and "check." in m["code"]:
            return m
    return None


def solutions(notebook: dict) -> dict[str, str]:
    """Every ``{solution} label`` block's python code (its fences joined), by exercise label."""
    out: dict[str, str] = {}
    for cell in _check_notebook(notebook)["cells"]:
        if cell.get("cell_type") != "markdown":
            continue
        for m in _SOLUTION.finditer(_text(cell)):
            head = m.group(0).split("\n", 1)[0]
            label = head.split("}", 1)[1].strip()
            code = "\n".join(f["code"] for f in _PYTHON.finditer(m.group(0)))
            if label and code:
                out[label] = code
    return out


def coding_exercises(notebook: dict) -> list[str]:
    """Labels of the coding exercises (convention above), whether or not their answer cells exist yet."""
    labels = [answer_label(c) for c in _check_notebook(notebook)["cells"]]
    found = [lab for lab in labels if lab]
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "markdown":
            for m in _EXERCISE.finditer(_text(cell)):
                label = _LABEL.search(m["body"])
                if label and _template(m["body"]) and label[1] not in found:
                    found.append(label[1])
    return found


def _imports(template: str, solution: str) -> list[str]:
    """The import lines for the usual short names (math, np, torch, F, nn) that the template or the
    solution's functions use and the template does not import itself."""
    used: set[str] = set()
    bound: set[str] = set()
    for code, own in ((template, True), (solution, False)):
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        used |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        if own:
            bound |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
                      if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    return [_IMPORTS[k] for k in _IMPORT_ORDER if k in used and k not in bound]


def _spaced(code: str) -> str:
    """Two blank lines between a function and the top-level statement after it (PEP 8)."""
    out: list[str] = []
    for line in code.splitlines():
        top = line and not line[0].isspace() and not line.startswith(("#", "@", ")", "]", "}"))
        filled = [x for x in out if x.strip()]
        if top and filled and filled[-1][:1].isspace():
            while out and not out[-1].strip():
                out.pop()
            out += ["", ""]
        out.append(line)
    return "\n".join(out)


def _answer_cell(label: str, template: str, solution: str) -> dict:
    functions = re.findall(r"^def (\w+)\(", template, re.M)
    lines = [f"# Answer cell ({label}): complete {', '.join(f'`{f}`' for f in functions)} and run the cell; "
             "the last line checks it."]
    imports = _imports(template, solution)
    lines += imports
    if "check." in template and not re.search(r"^from ganbook import check\b", template, re.M):
        lines += ["", "from ganbook import check"] if imports else ["from ganbook import check"]
    source = "\n".join(lines) + "\n\n\n" + _spaced(template.strip()) + "\n"
    return {"cell_type": "code", "execution_count": None, "id": _cell_id(f"answer-{label}"),
            "metadata": {"tags": [ANSWER_TAG, *SKIP_TAGS], "ganbook": {"exercise": label}},
            "outputs": [], "source": source.splitlines(keepends=True)}


def _cell_id(text: str) -> str:
    """A valid nbformat 4.5 cell id (letters, digits, - and _; at most 64 characters)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:64]


def _as_source(text: str, like: object) -> object:
    return text.splitlines(keepends=True) if isinstance(like, list) else text


def add_answer_cells(notebook: dict) -> tuple[dict, list[str]]:
    """A copy of ``notebook`` with an answer cell after every coding exercise that has none yet (the
    template moved out of the exercise text, the markdown cell split after the exercise), and the
    labels of the exercises it converted."""
    nb = copy.deepcopy(_check_notebook(notebook))
    have = {answer_label(c) for c in nb["cells"]} - {None}
    sols = solutions(nb)
    cells, added = [], []
    for cell in nb["cells"]:
        if cell.get("cell_type") != "markdown":
            cells.append(cell)
            continue
        text, start = _text(cell), 0
        pieces: list[tuple[str, dict, str]] = []          # (markdown up to the exercise's end, answer cell, label)
        for m in _EXERCISE.finditer(text):
            label = _LABEL.search(m["body"])
            tm = _template(m["body"])
            if not label or not tm or label[1] in have:
                continue
            functions = re.findall(r"^def (\w+)\(", tm["code"], re.M)
            names = " and ".join(f"`{f}`" for f in functions)
            before = m["body"][:tm.start()]
            sentence = (f"the answer cell below holds the template of {names}: complete it and run the cell — "
                        "its last line is the check.\n")
            if not before.rstrip().endswith(":"):
                sentence = sentence[0].upper() + sentence[1:]
            body = before + sentence + m["body"][tm.end():]
            exercise = m.group(0).replace(m["body"], body, 1)
            pieces.append((text[start:m.start()] + exercise, _answer_cell(label[1], tm["code"], sols.get(label[1], "")),
                           label[1]))
            start = m.end()
            added.append(label[1])
        if not pieces:
            cells.append(cell)
            continue
        rest = text[start:]
        for i, (md, answer, _) in enumerate(pieces):
            md_cell = copy.deepcopy(cell) if i == 0 else {"cell_type": "markdown", "id": _cell_id(f"after-{pieces[i - 1][2]}"),
                                                          "metadata": {}, "source": ""}
            md_cell["source"] = _as_source(md.rstrip("\n") + "\n" if md.strip() else md, cell["source"])
            if md.strip():
                cells.append(md_cell)
            cells.append(answer)
        if rest.strip():
            cells.append({"cell_type": "markdown", "id": _cell_id(f"after-{pieces[-1][2]}"), "metadata": {},
                          "source": _as_source(rest.lstrip("\n"), cell["source"])})
    nb["cells"] = cells
    if (nb.get("nbformat"), nb.get("nbformat_minor", 0)) < (4, 5):     # cell ids exist from nbformat 4.5 on
        for cell in cells:
            cell.pop("id", None)
    return nb, added


def exercise_numbers(root: str | Path) -> dict[str, int]:
    """Exercise label → its number on the book's site: sphinx-exercise numbers the exercises across
    the book, in the order of the table of contents (``root``/_toc.yml)."""
    root = Path(root)
    toc = (root / "_toc.yml").read_text(encoding="utf-8")
    numbers: dict[str, int] = {}
    for name in re.findall(r"^\s*-?\s*file:\s*(\S+)\s*$", toc, re.M):
        path = root / f"{name}.ipynb"
        if not path.is_file():
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell.get("cell_type") != "markdown":
                continue
            for m in _EXERCISE.finditer(_text(cell)):
                label = _LABEL.search(m["body"])
                numbers[label[1] if label else f"#{len(numbers) + 1}"] = len(numbers) + 1
    return numbers


def _book_root(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / "_toc.yml").is_file():
            return parent
    return None


def student_version(notebook: dict, numbers: dict[str, int] | None = None) -> dict:
    """A copy of a notebook (nbformat dict) without solutions, hidden check cells or outputs. Answer
    cells stay, runnable (the tags that make the book skip them are removed), headed with their
    exercise number when ``numbers`` (label → number, :func:`exercise_numbers`) is given."""
    _check_notebook(notebook)
    cells = []
    for cell in notebook["cells"]:
        tags = _tags(cell)
        if "remove-cell" in tags or SOLUTION_TAG in tags:
            continue
        cell = copy.deepcopy(cell)
        if cell.get("cell_type") == "markdown":
            src = strip_solutions(_text(cell))
            if not src.strip():
                continue
            cell["source"] = src
        elif cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
            label = answer_label(cell)
            if label is not None:
                cell["metadata"]["tags"] = [t for t in tags if t not in SKIP_TAGS]
                if numbers and label in numbers:
                    cell["source"] = re.sub(r"^# Answer cell \(", f"# Exercise {numbers[label]}: answer cell (",
                                            _text(cell), count=1)
        cells.append(cell)
    out = dict(notebook)
    out["cells"] = cells
    return out


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, nb: dict) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ganbook.teach", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    st = sub.add_parser("student", help="write a notebook without solutions")
    st.add_argument("notebook", type=Path)
    st.add_argument("-o", "--output", type=Path, required=True)
    an = sub.add_parser("answers", help="give every coding exercise its answer cell (in place)")
    an.add_argument("notebooks", type=Path, nargs="+")
    an.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = ap.parse_args(argv)
    if args.command == "answers":
        changed = 0
        for path in args.notebooks:
            if not path.is_file():
                ap.error(f"no such notebook: {path}")
            nb, added = add_answer_cells(_read(path))
            if added:
                changed += 1
                if not args.check:
                    _write(path, nb)
            verb = "would add" if args.check else "added"
            print(f"{path}: {verb} {len(added)} answer cell(s){': ' + ', '.join(added) if added else ''}")
        return 1 if args.check and changed else 0
    if not args.notebook.is_file():
        ap.error(f"no such notebook: {args.notebook}")
    if args.output.resolve() == args.notebook.resolve():
        ap.error(f"refusing to overwrite the chapter itself: the output {args.output} is the input notebook "
                 "(give another -o path)")
    nb = _read(args.notebook)
    root = _book_root(args.notebook)
    out = student_version(nb, exercise_numbers(root) if root is not None else None)
    _write(args.output, out)
    removed = len(nb["cells"]) - len(out["cells"])
    print(f"wrote {args.output}: {len(out['cells'])} cells ({removed} removed), solutions stripped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
