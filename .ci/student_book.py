#!/usr/bin/env python3
"""The student edition of the site: the book without solutions, for courses that hand out the site.

    make student-book                 # builds the reader's edition first (make book), then this
    python .ci/student_book.py        # the same, once the reader's edition is built

writes ``_build/student/html`` (open ``index.html``). It never executes a chapter: it renders the
outputs the reader's build computed, so CI pays the Sphinx build only (no second execution).

How solutions are kept out, channel by channel:

- **Sources.** Every chapter is rewritten as ``ganbook.teach.student_version`` writes it (the one
  definition of "solution" in the project: every ``{solution}`` block, every cell tagged
  ``remove-cell`` or ``solution``), into a separate source tree ``_build/student/src`` with the
  book's other pages. The HTML pages, the search index (``searchindex.js``), the ``_sources/``
  copies and the ``.ipynb`` download button are all made from that tree, so none of them can hold
  a solution. sphinx-exercise's ``hide_solutions`` is switched on as well (a second guard).
- **Outputs.** The code cells that remain keep the outputs of the reader's build: they are taken
  from its execution cache (``_build/.jupyter_cache``, matched on the chapter's code exactly as
  myst-nb matches it) or, after ``make book EXECUTE=force`` (which bypasses the cache), from the
  executed notebooks it wrote (``_build/jupyter_execute``); the source tree is built with execution
  off. A chapter with neither (or whose code changed since) stops the build: run ``make book``.
- **Buttons.** The Colab launch buttons of the reader's edition open the Jupyter/Colab editions
  (``book/jupyter/``), which hold the solutions (folded), and the repository button opens the
  repository, which holds them too: the student edition has neither. Its download button gives
  the page's *student notebook*: ``_sources/<chapter>.ipynb`` is replaced, after the build, by the
  Jupyter/Colab edition (.ci/editions.py) of the student chapter, without outputs, in which the
  links to other chapters are plain text (they would open the Colab editions, with solutions).
  Students open it in Jupyter or upload it to Colab.
- **Pages.** The instructor guide is not part of the student edition.

tests/test_site.py checks the result in the browser like the reader's edition, and asserts that
no solution text (collected from the chapter notebooks on its own) occurs anywhere under
``_build/student/html`` while the reader's edition does show it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / ".ci"))

from editions import Converter, document_path, dumps, toc_documents  # noqa: E402  (.ci/editions.py)

from ganbook import teach  # noqa: E402

OUT = ROOT / "_build" / "student"
SRC = OUT / "src"                       # the student source tree
WORK = OUT / "work"                     # jupyter-book's --path-output (doctrees, jupyter_execute)
HTML = OUT / "html"                     # the site
# Pages of the reader's edition that the student edition leaves out.
INSTRUCTOR_PAGES = ("book/instructor_guide",)
# What the student source tree copies from book/ (not the Jupyter/Colab editions: they hold the
# solutions, and the site does not use them).
BOOK_IGNORE = shutil.ignore_patterns("jupyter", "*.ipynb_checkpoints", "__pycache__")


class NotExecuted(RuntimeError):
    """A chapter has no executed notebook from the reader's build that matches its code."""


# --------------------------------------------------------------------------- outputs of the reader's build


def _code(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _was_executed(nb) -> bool:
    """Every code cell that an execution runs has an execution count (the chapters keep the outputs
    of a few cells in git, so having outputs says nothing)."""
    return all(c.get("execution_count") is not None for c in nb.cells
               if c.cell_type == "code" and c.source.strip()
               and "skip-execution" not in c.get("metadata", {}).get("tags", []))


def _cache_dir(config: dict) -> Path:
    path = (config.get("execute") or {}).get("cache") or "_build/.jupyter_cache"
    return (ROOT / path).resolve()


def executed_notebook(doc: str, config: dict) -> nbformat.NotebookNode:
    """The chapter ``doc`` with the outputs of the reader's build (never executes anything)."""
    path = document_path(doc, ROOT)
    nb = nbformat.read(path, as_version=4)
    if not _code(nb):
        return nb
    cache_dir = _cache_dir(config)
    if cache_dir.is_dir():                       # get_cache() would create an empty one
        from jupyter_cache import get_cache

        try:
            _, merged = get_cache(cache_dir).merge_match_into_notebook(nb)
            return merged
        except KeyError:
            pass                                 # not in the cache: EXECUTE=force, or stale
    run = ROOT / "_build" / "jupyter_execute" / f"{doc}.ipynb"
    if run.is_file():
        executed = nbformat.read(run, as_version=4)
        if _code(executed) == _code(nb) and _was_executed(executed):
            outputs = {c.id: c for c in executed.cells if c.cell_type == "code"}
            for cell in nb.cells:
                if cell.cell_type == "code" and cell.id in outputs:
                    cell.outputs = outputs[cell.id].outputs
                    cell.execution_count = outputs[cell.id].execution_count
            if "widgets" in executed.metadata:
                nb.metadata["widgets"] = executed.metadata["widgets"]
            return nb
    raise NotExecuted(f"{path.relative_to(ROOT)}: the reader's build has no executed copy of this chapter "
                      f"with its current code (looked in {cache_dir.relative_to(ROOT)} and "
                      f"{run.relative_to(ROOT)}): build the reader's edition first (`make book`)")


def student_notebook(executed: nbformat.NotebookNode, numbers: dict[str, int]) -> dict:
    """``teach.student_version`` of an executed chapter, with the outputs of the cells it keeps."""
    nb = json.loads(nbformat.writes(executed))
    student = teach.student_version(nb, numbers)
    by_id = {c["id"]: c for c in nb["cells"] if c["cell_type"] == "code"}
    for cell in student["cells"]:
        if cell["cell_type"] == "code" and cell.get("id") in by_id:
            cell["outputs"] = by_id[cell["id"]].get("outputs", [])
            cell["execution_count"] = by_id[cell["id"]].get("execution_count")
    return student


# --------------------------------------------------------------------------- the source tree


def student_config(config: dict) -> dict:
    """_config.yml of the student edition: no execution, no solutions, no launch or repository
    buttons; paths outside the source tree made absolute."""
    c = json.loads(json.dumps(config))
    c["title"] = f"{c.get('title', '')} (student edition)".strip()
    c["execute"] = {**(c.get("execute") or {}), "execute_notebooks": "off"}
    c["launch_buttons"] = {"notebook_interface": "classic", "thebe": False}   # no colab_url: no button
    c["html"] = {**(c.get("html") or {}), "use_repository_button": False, "use_issues_button": False,
                 "use_edit_page_button": False}
    sphinx = c.setdefault("sphinx", {})
    ext = sphinx.get("local_extensions") or {}
    sphinx["local_extensions"] = {k: str((ROOT / v).resolve()) for k, v in ext.items()}
    sphinx.setdefault("config", {})["hide_solutions"] = True
    return c


def student_toc(toc: dict) -> dict:
    def keep(node):
        if isinstance(node, dict):
            if node.get("file") in INSTRUCTOR_PAGES:
                return None
            out = {}
            for k, v in node.items():
                if k in ("parts", "chapters", "sections") and isinstance(v, list):
                    v = [x for x in (keep(i) for i in v) if x is not None]
                out[k] = v
            return out
        return node

    return keep(toc)


def write_tree() -> list[str]:
    """Write the student source tree; the chapter documents it holds."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    if SRC.exists():
        shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    shutil.copytree(ROOT / "book", SRC / "book", ignore=BOOK_IGNORE)
    for page in INSTRUCTOR_PAGES:
        for suffix in (".md", ".ipynb"):
            (SRC / f"{page}{suffix}").unlink(missing_ok=True)
    (SRC / "_config.yml").write_text(yaml.safe_dump(student_config(config), allow_unicode=True, sort_keys=False),
                                     encoding="utf-8")
    (SRC / "_toc.yml").write_text(yaml.safe_dump(student_toc(toc), allow_unicode=True, sort_keys=False),
                                  encoding="utf-8")
    numbers = teach.exercise_numbers(ROOT)
    docs = []
    for doc in toc_documents(ROOT):
        path = document_path(doc, ROOT)
        if not doc.startswith("chapters/") or path.suffix != ".ipynb":
            continue
        target = SRC / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        nb = student_notebook(executed_notebook(doc, config), numbers)
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        docs.append(doc)
    return docs


class StudentConverter(Converter):
    """.ci/editions.py's conversion, with references to other documents as plain text: a link
    would open a chapter's Colab edition (with its solutions) or a page on GitHub."""

    def link(self, text: str, label: str) -> str:
        doc = self.numbers.doc.get(label)
        if doc is not None and doc != self.doc:
            return text
        return super().link(text, label)

    def role(self, m: re.Match) -> str:
        out = super().role(m)
        if m.group("name") == "doc":
            link = re.fullmatch(r"\[(?P<text>.*)\]\((?P<url>[^()\s]*)\)", out, re.S)
            return link["text"] if link else out
        return out


def student_downloads(docs: list[str]) -> None:
    """Replace each chapter's ``_sources`` copy (what the download button gives) by the Jupyter
    edition of its student notebook, without outputs."""
    conv = StudentConverter(SRC)
    for doc in docs:
        nb = conv.notebook(doc)
        for cell in nb["cells"]:
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
        nb["metadata"].pop("widgets", None)
        nb["metadata"]["ganbook"] = {"edition": "student", "source": f"{doc}.ipynb",
                                     "generator": ".ci/student_book.py (the student edition of the site)"}
        target = HTML / "_sources" / f"{doc}.ipynb"
        if not target.is_file():
            raise FileNotFoundError(f"{target}: the build wrote no source copy of {doc}")
        target.write_text(dumps(nb), encoding="utf-8")


def build(extra: list[str]) -> None:
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(SRC), "--path-output", str(WORK),
           "-W", "-n", "--keep-going", "--builder", "html", "--all", *extra]
    print("[student-book]", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    if HTML.exists():
        shutil.rmtree(HTML)
    os.replace(WORK / "_build" / "html", HTML)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree-only", action="store_true", help="write _build/student/src, do not build it")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    try:
        docs = write_tree()
    except NotExecuted as err:
        print(f"student-book: {err}", file=sys.stderr)
        return 1
    print(f"[student-book] {len(docs)} chapters without solutions in {SRC.relative_to(ROOT)} "
          f"({time.perf_counter() - start:.1f} s)", flush=True)
    if not args.tree_only:
        build([])
        student_downloads(docs)
        print(f"[student-book] done in {time.perf_counter() - start:.0f} s: {HTML / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
