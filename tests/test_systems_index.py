"""The systems index (book/systems_index.md, generated from book/systems_index.yml by
.ci/systems_index.py): every system the two surveys name has a row, and every row's link resolves.

- The page is up to date with its data file, and the counts at its top agree with its table.
- Every link resolves: in the sources always (the notebook is in the table of contents and has a
  heading with that anchor), and in the built HTML book when there is one (the page exists and
  has an element with that id).
- A system the index calls "not yet covered" is named in no chapter (if a chapter names it, its row
  must point there), except where the row lists the chapter under ``homonyms`` (the same name for
  a different system).
- With the surveys' text at hand (``$GANBOOK_SURVEYS``, by default ../shared/seeds next to the
  repository; skipped otherwise): every row's name occurs in each section it cites, and every
  name in the surveys that looks like a system's (an acronym, a word with "GAN") is a row's alias
  or is listed in the data file's ``not_systems``.
"""

from __future__ import annotations

import collections
import json
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".ci"))
import systems_index as si  # noqa: E402

DATA = si.load()
ROWS = si.rows(DATA)
PAGE = si.PAGE
HTML_PAGE = ROOT / "_build" / "html" / "book" / "systems_index.html"
SURVEYS = Path(os.environ.get("GANBOOK_SURVEYS", ROOT.parent / "shared" / "seeds"))
_LINK = re.compile(r"\]\(\.\./(chapters/[^)#\s]+\.ipynb)#([^)\s]+)\)")


def _table_rows(page: str) -> list[list[str]]:
    out = []
    for line in page.splitlines():
        if line.startswith("| ") and not line.startswith("| system |"):
            out.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return out


def test_data_file_has_no_problems():
    assert si.problems(DATA) == []


def test_page_is_up_to_date():
    assert PAGE.read_text(encoding="utf-8") == si.render(DATA), \
        "book/systems_index.md is stale: run `python .ci/systems_index.py`"


def test_page_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s*- file: book/systems_index\s*$", toc, re.M)


def test_counts_at_the_top_agree_with_the_table():
    page = PAGE.read_text(encoding="utf-8")
    table = _table_rows(page)
    assert all(len(cells) == 6 for cells in table)
    m = re.search(r"\*\*(\d+) rows: (\d+) run live, (\d+) implemented, (\d+) derived, (\d+) cited, "
                  r"(\d+) not yet covered\.\*\*", page)
    assert m, "the counts line is missing"
    total, *by_level = (int(g) for g in m.groups())
    assert total == len(table) == len(ROWS) == sum(by_level)
    seen = collections.Counter(cells[4] for cells in table)
    assert seen == {level: n for level, n in zip(si.LEVELS, by_level) if n}
    m = re.search(r"The survey names (\d+) of these systems and the second review (\d+) \((\d+) are named by both\)", page)
    assert m, "the per-survey counts are missing"
    survey = sum(cells[1] != "—" for cells in table)
    review = sum(cells[2] != "—" for cells in table)
    both = sum(cells[1] != "—" and cells[2] != "—" for cells in table)
    assert (int(m[1]), int(m[2]), int(m[3])) == (survey, review, both)
    # Every survey section cited in the table is one of that survey's sections.
    for cells in table:
        for col, key in ((1, "survey"), (2, "review")):
            for s in filter(lambda s: s != "—", cells[col].split(", ")):
                assert s in DATA["surveys"][key]["sections"], (cells[0], key, s)


def test_every_row_says_where_or_that_it_is_not_covered():
    for cells in _table_rows(PAGE.read_text(encoding="utf-8")):
        if cells[4] == si.NOT_COVERED:
            assert "planned for [chapter" in cells[5] or "planned for chapter" in cells[5], cells
            assert not _LINK.search(cells[5]), cells
        else:
            assert _LINK.search(cells[5]), cells


def test_every_link_resolves_in_the_sources():
    page = PAGE.read_text(encoding="utf-8")
    links = _LINK.findall(page)
    assert len(links) == sum(len(row.get("where", [])) for row in ROWS)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    toc_files = set(re.findall(r"file: (\S+)", yaml.safe_dump(toc)))
    for path, anchor in links:
        notebook = ROOT / path
        assert notebook.is_file(), path
        assert path.removesuffix(".ipynb") in toc_files, f"{path} is not in _toc.yml"
        assert anchor in si.heading_anchors(notebook), f"{path} has no heading with the anchor #{anchor}"


def test_heading_anchors_follow_myst():
    """The slugs are those of myst_parser's slug function: GitHub's rule (lowercase, spaces to
    hyphens, punctuation dropped), math left out, duplicates numbered — checked on literal cases."""
    nb = ROOT / "chapters" / "part2_objectives" / "ch03a_f_divergences.ipynb"
    anchors = si.heading_anchors(nb)
    assert "36-experiment-the-bound-is-tight-at-" in anchors            # "$T^*$" is left out
    assert "38-the-least-squares-gan-and-its-χ²-link" in anchors         # unicode letters stay
    assert {"exercises", "summary"} <= set(anchors)
    nb4 = ROOT / "chapters" / "part2_objectives" / "ch04a_ipm_wasserstein.ipynb"
    assert {"from-equation-to-code", "from-equation-to-code-1"} <= set(si.heading_anchors(nb4))


class _Anchors(HTMLParser):
    """The ids of a page, and its links as (href, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []
        self._open: list[str] | None = None  # the text of the <a href> being read
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("href"):
            self._open, self._href = [], attributes["href"]

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.links.append((self._href, "".join(self._open).strip()))
            self._open = None


def _parse(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.mark.skipif(not HTML_PAGE.is_file(), reason=f"no built page {HTML_PAGE.relative_to(ROOT)}: run `make book`")
def test_every_link_resolves_in_the_built_book():
    if HTML_PAGE.stat().st_mtime < PAGE.stat().st_mtime:
        pytest.skip("the built page is older than book/systems_index.md: run `make book`")
    # The index's own links read "ch. <chapter> › <section>" (citations and the navigation are other links).
    hrefs = [h for h, text in _parse(HTML_PAGE).links if text.startswith("ch. ")]
    assert all(h.startswith("../chapters/") and "#" in h for h in hrefs), hrefs
    assert len(hrefs) == len(_LINK.findall(PAGE.read_text(encoding="utf-8"))), \
        "the built page does not have one chapter link per link of the source"
    targets: dict[Path, _Anchors] = {}
    for href in hrefs:
        path, anchor = href.split("#", 1)
        target = (HTML_PAGE.parent / path).resolve()
        assert target.is_file(), f"{href}: no page {target}"
        if target not in targets:
            targets[target] = _parse(target)
        assert anchor in targets[target].ids, f"{href}: no element with id {anchor!r} in {target.name}"


def test_systems_not_yet_covered_are_named_in_no_chapter():
    texts = {}
    for nb in sorted(ROOT.glob("chapters/*/*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        texts[nb.name] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    found = []
    for row in ROWS:
        if row["how"] != si.NOT_COVERED:
            continue
        for alias in row["aliases"]:
            pattern = re.compile(r"(?<![\w-])" + re.escape(alias) + r"(?!\w)")
            found += [f"{row['name']} ({alias!r}) in {name}" for name, text in texts.items()
                      if pattern.search(text) and name not in row.get("homonyms", {})]
    assert not found, "named in a chapter but 'not yet covered' in the index (point the row there):\n" + "\n".join(found)


# --- the surveys' text (not part of the repository) -------------------------------------------

_HEADING = re.compile(r"^\s*(\d+(?:\.\d+)*)\s+(\S.{1,60})$")
# Names that look like a system's: words with two capitals (WGAN, InfoGAN, AC-GAN, MS-SSIM) and
# capitalised words before "GAN" (Wasserstein GAN, Point Cloud GAN).
_NAME = re.compile(r"(?<![\w-])(?:[\w]+-)*\w*[A-Z]\w*[A-Z]\w*(?:-\w+)*(?!\w)|(?<![\w-])(?:[A-Z][\w-]* )+GANs?\b")


def _survey_file(key: str) -> Path:
    files = sorted(SURVEYS.glob(DATA["surveys"][key]["file"]))
    if not files:
        pytest.skip(f"the surveys' text is not at {SURVEYS} (set GANBOOK_SURVEYS)")
    return files[0]


def _sections(key: str) -> dict[str, tuple[str, str]]:
    """{section: (text with line-end hyphens kept, text with them dropped)}, whitespace collapsed."""
    titles = DATA["surveys"][key]["sections"]
    lines = _survey_file(key).read_text(encoding="utf-8").splitlines()
    chunks: dict[str, list[str]] = {"": []}
    current = ""
    for line in lines:
        m = _HEADING.match(line)
        if m and titles.get(m.group(1)) == m.group(2).strip():
            current = m.group(1)
            chunks[current] = []
        else:
            chunks[current].append(line)

    def norm(text: str, joiner: str) -> str:
        return re.sub(r"\s+", " ", re.sub(r"-\n\s*", joiner, text))

    return {k: (norm("\n".join(v), "-"), norm("\n".join(v), "")) for k, v in chunks.items()}


def _names(text: str, alias: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(alias) + r"(?!\w)", text) is not None


@pytest.mark.parametrize("key", ["survey", "review"])
def test_every_section_of_the_survey_is_found(key):
    sections = _sections(key)
    missing = set(DATA["surveys"][key]["sections"]) - set(sections)
    assert not missing, f"section headings not found in the {key}'s text: {sorted(missing)}"


@pytest.mark.parametrize("key", ["survey", "review"])
def test_every_row_is_named_where_it_says(key):
    sections = _sections(key)
    wrong = [f"{row['name']}: {s}" for row in ROWS for s in row[key]
             if not any(_names(text, a) for text in sections[s] for a in row["aliases"])]
    assert not wrong, f"rows whose aliases do not occur in the {key}'s section they cite:\n" + "\n".join(wrong)


@pytest.mark.parametrize("key", ["survey", "review"])
def test_every_name_in_the_survey_is_in_the_index(key):
    key_of = lambda name: name.replace("-", "").replace(" ", "")  # AC-GAN = ACGAN; hyphens at line ends
    known = {key_of(a) for row in ROWS if row[key] for a in row["aliases"]}
    ignored = {key_of(w) for words in DATA["not_systems"][key].values() for w in words}
    names = {re.sub(r"^(?:The|A|An) ", "", n) for kept, _ in _sections(key).values() for n in _NAME.findall(kept)}
    missing = sorted(n for n in names if key_of(n) not in known | ignored)
    assert not missing, (f"names in the {key} that no row of the index (for the {key}) has as an alias, "
                         f"and that not_systems does not list: {missing}")


def test_the_completeness_check_can_fail():
    """The name pattern finds the systems it must, so a dropped row would be noticed."""
    text = "DRAGAN [36] and the Wasserstein GAN, MS-SSIM, Point Cloud GAN and ss-InfoGAN; In GAN the vector z."
    assert set(_NAME.findall(text)) == {"DRAGAN", "Wasserstein GAN", "MS-SSIM", "Point Cloud GAN", "ss-InfoGAN", "In GAN"}
