"""Cross-references the build cannot check: equation labels cited in the package's docstrings,
and "chapter N" in prose.

Sphinx (run with -W) already fails on a broken {eq}/{ref}/{doc} role inside the book, but a
docstring that says "eq. (ch4-wgan)" or a sentence that says "chapter 6" is plain text to it.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("chapters/*/*.ipynb"))
PAGES = sorted(ROOT.glob("book/*.md"))
MODULES = sorted(ROOT.glob("ganbook/**/*.py"))

# Where a label is defined: `$$ ... $$ (label)`, `:label: label` (directives), `(label)=` (targets).
_DEFINE = (re.compile(r"\$\$\s*\(([A-Za-z0-9_-]+)\)"), re.compile(r":label:\s*([A-Za-z0-9_-]+)"),
           re.compile(r"^\(([A-Za-z0-9_-]+)\)=", re.M))
# What a docstring cites: any chapter-prefixed label ("ch4-kr"), or "eq. (name-with-dashes)".
_CITE = (re.compile(r"\b(ch\d+[a-z]?-[a-z0-9]+(?:-[a-z0-9]+)*)"),
         re.compile(r"\beqs?\.\s*\(?([a-z][a-z0-9]*(?:-[a-z0-9]+)+)"))
# "chapter 6", "chapters 10" (the first number of a list), "Chapter 3a"; "(coming)" marks one not yet written.
_CHAPTER = re.compile(r"\b[Cc]hapters?\s+(\d+[a-z]?)\b(\s*\(coming\))?")


def _markdown(nb: Path) -> list[str]:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells]


def _texts() -> list[tuple[str, str]]:
    out = [(nb.name, s) for nb in NOTEBOOKS for s in _markdown(nb)]
    out += [(p.name, p.read_text(encoding="utf-8")) for p in PAGES]
    out += [(str(m.relative_to(ROOT)), m.read_text(encoding="utf-8")) for m in MODULES]
    return out


@functools.cache
def defined_labels() -> frozenset[str]:
    labels: set[str] = set()
    for name, text in _texts():
        if name.endswith(".py"):
            continue
        for pattern in _DEFINE:
            labels.update(pattern.findall(text))
    return frozenset(labels)


def cited_labels(text: str) -> set[str]:
    return {label for pattern in _CITE for label in pattern.findall(text)}


def existing_chapters() -> set[str]:
    """'3a' and '3' for ch03a_…; '15b' and '15' for ch15b_…"""
    have: set[str] = set()
    for nb in NOTEBOOKS:
        m = re.match(r"ch0*(\d+)([a-z]?)_", nb.name)
        assert m, f"chapter file name without a number: {nb.name}"
        have |= {m.group(1), m.group(1) + m.group(2)}
    return have


def chapter_problems(text: str, have: set[str]) -> list[str]:
    problems = []
    for m in _CHAPTER.finditer(text):
        number, coming = m.group(1), bool(m.group(2))
        if number not in have and not coming:
            problems.append(f"'{m.group(0)}' names a chapter that does not exist: write 'chapter {number} (coming)'")
        elif number in have and coming:
            problems.append(f"'{m.group(0)}': chapter {number} exists now; link it instead of '(coming)'")
    return problems


def test_the_patterns_find_what_they_should():
    labels = set()
    for pattern in _DEFINE:
        labels.update(pattern.findall("$$\nx\n$$ (ch9-x)\n:label: ch9-ex-y\n(ch9-sec)=\n# Title"))
    assert labels == {"ch9-x", "ch9-ex-y", "ch9-sec"}
    assert cited_labels("Critic loss, eq. (ch4-kr); see eqs. (ch7-a-b) and eq. kl-def.") == {
        "ch4-kr", "ch7-a-b", "kl-def"}
    have = {"1", "3", "3a"}
    assert chapter_problems("chapter 3a and chapter 1", have) == []
    assert len(chapter_problems("see chapter 6", have)) == 1
    assert chapter_problems("see chapter 6 (coming)", have) == []
    assert len(chapter_problems("chapter 3 (coming)", have)) == 1


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docstring_labels_exist(module):
    missing = sorted(cited_labels(module.read_text(encoding="utf-8")) - defined_labels())
    assert not missing, f"{module.relative_to(ROOT)} cites labels no chapter defines: {missing}"


def test_chapter_references_resolve():
    have = existing_chapters()
    problems = [f"{name}: {p}" for name, text in _texts() for p in chapter_problems(text, have)]
    assert not problems, "\n".join(problems)
