#!/usr/bin/env python3
"""Write the systems index, book/systems_index.md, from its data file book/systems_index.yml.

The data file lists every system, method and metric that the two surveys name (with the survey
sections that name it) and where the book covers it: links to chapter sections, given as
``chapters/<part>/<notebook>.ipynb#<anchor>``, where the anchor is the slug MyST gives a heading of
level 1 to ``myst_heading_anchors`` (3). This script computes those slugs with MyST's own parser and
slug function, so a link it accepts is one Sphinx resolves (the build runs with -W -n, where a
missing anchor is an error). The counts at the top of the page are computed from the rows.

Usage: python .ci/systems_index.py           write the page (and report problems in the data)
       python .ci/systems_index.py --check   exit 1 if the data has problems or the page is stale
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "book" / "systems_index.yml"
PAGE = ROOT / "book" / "systems_index.md"
LEVELS = ("run live", "implemented", "derived", "cited", "not yet covered")
NOT_COVERED = LEVELS[-1]
_WHERE = re.compile(r"^chapters/[A-Za-z0-9_]+/(ch(\d+)([a-z]?)_[A-Za-z0-9_]+)\.ipynb#(\S+)$")
_CHAPTER_NOTE = re.compile(r"\{ch:(\d+)\}")


def load(path: Path = DATA) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rows(data: dict) -> list[dict]:
    return [row for group in data["groups"] for row in group["rows"]]


@functools.cache
def _book_config() -> tuple[frozenset[str], int]:
    """The MyST extensions and heading-anchor depth the book is built with (_config.yml)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    extensions = frozenset(config.get("parse", {}).get("myst_enable_extensions", []))
    depth = int(config.get("sphinx", {}).get("config", {}).get("myst_heading_anchors", 0))
    return extensions, depth


@functools.cache
def _markdown_parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    extensions, _ = _book_config()
    return create_md_parser(MdParserConfig(enable_extensions=set(extensions)), RendererHTML)


@functools.lru_cache(maxsize=None)
def heading_anchors(notebook: Path) -> dict[str, str]:
    """{slug: heading text} for the headings of a notebook's markdown cells that get an anchor.

    Mirrors myst_parser's ``compute_unique_slug``: the slug of the heading's text and inline code
    (math is left out), made unique within the document by appending -1, -2, ...
    """
    from myst_parser.mdit_to_docutils.base import default_slugify

    _, depth = _book_config()
    md = _markdown_parser()
    anchors: dict[str, str] = {}
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        tokens = md.parse("".join(cell["source"]))
        for i, token in enumerate(tokens):
            if token.type != "heading_open" or int(token.tag[1]) > depth:
                continue
            inline = tokens[i + 1]
            title = "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))
            slug = base = default_slugify(title)
            k = 1
            while slug in anchors:
                slug, k = f"{base}-{k}", k + 1
            anchors[slug] = inline.content
    return anchors


def chapter_notebooks(number: int) -> list[Path]:
    return sorted(ROOT.glob(f"chapters/*/ch{number:02d}*.ipynb"))


def chapter_text(number: int) -> str:
    """'chapter N (coming)' while chapter N has no notebook (tests/test_references.py's rule), else
    'chapter N', linked to its first notebook once the table of contents lists it."""
    notebooks = chapter_notebooks(number)
    if not notebooks:
        return f"chapter {number} (coming)"
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    listed = [nb for nb in notebooks
              if re.search(rf"^\s*- file: {re.escape(nb.relative_to(ROOT).with_suffix('').as_posix())}\s*$", toc, re.M)]
    if not listed:
        return f"chapter {number}"
    return f"[chapter {number}](../{listed[0].relative_to(ROOT).as_posix()})"


def problems(data: dict) -> list[str]:
    """What is wrong with the data file: unknown sections or levels, links that do not resolve."""
    out = []
    sections = {key: set(survey["sections"]) for key, survey in data["surveys"].items()}
    seen: set[str] = set()
    for row in rows(data):
        name = row.get("name", "?")
        if name in seen:
            out.append(f"{name}: two rows with this name")
        seen.add(name)
        missing = {"name", "aliases", "survey", "review", "plan", "how"} - set(row)
        if missing:
            out.append(f"{name}: missing {sorted(missing)}")
            continue
        if not row["survey"] and not row["review"]:
            out.append(f"{name}: named by neither survey")
        for key in ("survey", "review"):
            out += [f"{name}: {key} has no section {s!r}" for s in row[key] if s not in sections[key]]
        if row["how"] not in LEVELS:
            out.append(f"{name}: how must be one of {LEVELS}, not {row['how']!r}")
        where = row.get("where", [])
        if row["how"] == NOT_COVERED and where:
            out.append(f"{name}: not yet covered, yet it has links")
        if row["how"] != NOT_COVERED and not where:
            out.append(f"{name}: {row['how']} needs at least one link")
        for target in where:
            m = _WHERE.match(target)
            if not m:
                out.append(f"{name}: {target!r} is not chapters/<part>/<notebook>.ipynb#<anchor>")
                continue
            notebook = ROOT / target.split("#")[0]
            if not notebook.is_file():
                out.append(f"{name}: no notebook {notebook.relative_to(ROOT)}")
            elif m.group(4) not in heading_anchors(notebook):
                out.append(f"{name}: {notebook.name} has no heading with the anchor #{m.group(4)}")
        for nb_name in row.get("homonyms", {}):
            found = sorted(ROOT.glob(f"chapters/*/{nb_name}"))
            if not found:
                out.append(f"{name}: homonyms names {nb_name}, which is not a chapter notebook")
            elif not any(re.search(r"(?<![\w-])" + re.escape(a) + r"(?!\w)", found[0].read_text(encoding="utf-8"))
                         for a in row["aliases"]):
                out.append(f"{name}: {nb_name} no longer uses any alias of this row: drop it from homonyms")
        for n in _CHAPTER_NOTE.findall(row.get("note", "")):
            if not 1 <= int(n) <= 16:
                out.append(f"{name}: the note names chapter {n}, which the plan does not have")
    return out


def counts(data: dict) -> dict[str, int]:
    all_rows = rows(data)
    return {level: sum(row["how"] == level for row in all_rows) for level in LEVELS}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _link(target: str) -> str:
    path, anchor = target.split("#")
    m = _WHERE.match(target)
    label = f"{int(m.group(2))}{m.group(3)}"
    heading = " ".join(heading_anchors(ROOT / path)[anchor].split())
    # Math in a link's text renders badly in a narrow table cell: write "$D^*$" as "D*", "$W_1$" as "W1".
    heading = re.sub(r"\$([^$]*)\$", lambda m: re.sub(r"[\\{}^_]", "", m.group(1)), heading)
    return f"[ch. {label} › {_cell(heading).replace('*', chr(92) + '*')}](../{path}#{anchor})"


def _where(row: dict) -> str:
    if row["how"] == NOT_COVERED:
        text = f"planned for {chapter_text(row['plan'])}"
    else:
        text = "; ".join(_link(t) for t in row["where"])
    if row.get("note"):
        text += " — " + _CHAPTER_NOTE.sub(lambda m: chapter_text(int(m.group(1))), _cell(row["note"]))
    return text


def render(data: dict) -> str:
    n = counts(data)
    all_rows = rows(data)
    survey = sum(bool(r["survey"]) for r in all_rows)
    review = sum(bool(r["review"]) for r in all_rows)
    both = sum(bool(r["survey"]) and bool(r["review"]) for r in all_rows)
    lines = [
        "# Systems index",
        "",
        "<!-- Generated by .ci/systems_index.py from book/systems_index.yml: edit the data file, then run",
        "     `python .ci/systems_index.py` (tests/test_systems_index.py fails while this page is stale). -->",
        "",
        "Every system, method and metric that {cite:t}`hong2019howgans` (\"the survey\") or",
        "{cite:t}`zamorski2019recent` (\"the second review\") names, the sections of each that name it, and",
        "where this book covers it. The coverage is the deepest treatment the book gives:",
        "",
        "- **run live**: a cell trains it or computes it and checks the result;",
        "- **implemented**: `ganbook` implements it and the chapter shows the code, without running it;",
        "- **derived**: the chapter derives it or computes its equations, without training it;",
        "- **cited**: the chapter names it, with a citation;",
        "- **not yet covered**: no chapter covers it yet; the row names the chapter of the book's plan",
        "  where it belongs.",
        "",
        f"**{len(all_rows)} rows: {n['run live']} run live, {n['implemented']} implemented, "
        f"{n['derived']} derived, {n['cited']} cited, {n['not yet covered']} not yet covered.** "
        f"The survey names {survey} of these systems and the second review {review} ({both} are named by both). "
        "The *plan* column is the chapter of the book's plan where a system belongs; a link reads "
        "*ch. chapter › section*.",
        "",
    ]
    for group in data["groups"]:
        lines += [f"## {group['title']}", "",
                  "| system | survey § | review § | plan | coverage | where in this book |",
                  "|---|---|---|---|---|---|"]
        for row in group["rows"]:
            lines.append(f"| {_cell(row['name'])} | {', '.join(row['survey']) or '—'} | "
                         f"{', '.join(row['review']) or '—'} | {row['plan']} | {row['how']} | {_where(row)} |")
        lines.append("")
    lines += [
        "## What has no row",
        "",
        "Works that the surveys cite by number only, without naming a system, have no row: the second",
        "review's GANs for image compression and for generation controlled by attention (its introduction),",
        "and the survey's closing references on whether GAN training converges (its section 6). Generic",
        "building blocks (convolutional and recurrent networks, LSTMs, ReLUs) and the symbols of the surveys'",
        "equations are not systems either; `not_systems` in the data file lists every such word, so that the",
        "test which reads the surveys' text can tell a missing row from a word that needs none.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if the page is stale")
    args = parser.parse_args(argv)
    data = load()
    found = problems(data)
    for p in found:
        print(f"systems_index.yml: {p}", file=sys.stderr)
    if found:
        return 1
    page = render(data)
    if args.check:
        if (PAGE.read_text(encoding="utf-8") if PAGE.is_file() else None) != page:
            print(f"{PAGE.relative_to(ROOT)} is stale: run python .ci/systems_index.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(page, encoding="utf-8")
    n = counts(data)
    print(f"wrote {PAGE.relative_to(ROOT)}: {sum(n.values())} rows; " + ", ".join(f"{v} {k}" for k, v in n.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
