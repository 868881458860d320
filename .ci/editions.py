#!/usr/bin/env python3
"""The Jupyter/Colab edition of every chapter: plain Jupyter notebooks generated from the MyST sources.

    python .ci/editions.py            # (re)write book/jupyter/<chapter path>.ipynb for every chapter
    python .ci/editions.py --check    # exit 1 and name the editions that are out of date
    make editions                     # the same as the first line

The chapters under ``chapters/`` are written for Jupyter Book (MyST markdown: exercise and proof
directives, ``{eq}``/``{cite}``/``{ref}`` roles, labelled equations). Opened in Jupyter or Colab that
syntax shows as raw text, so every chapter also exists as a generated *edition* under
``book/jupyter/`` (same relative path), in the markdown Jupyter and Colab render:

- exercises become numbered headings ("Exercise 7"), solutions HTML ``<details>`` blocks (folded in
  Jupyter and Colab), theorems, propositions, algorithms, proofs and admonitions blockquotes;
- ``$$ ... $$ (label)`` gets ``\\tag{n}``, and ``{eq}``, ``{prf:ref}``, ``{ref}``, ``{doc}`` and
  ``{cite}`` become the numbers, titles and author–year citations the HTML site shows;
- the numbers are the site's: Sphinx numbers every exercise, proof type and labelled equation
  across the whole book in table-of-contents order (the toc is not ``numbered``), which
  :func:`book_numbers` reproduces (tests/test_editions.py compares it with a built site when
  there is one);
- code cells are copied unchanged (the Colab install cell included); cells tagged ``remove-cell``
  or ``remove-input`` are kept (later cells may need what they compute) with their source folded
  (``jupyter.source_hidden``, Colab's ``cellView: form``), ``remove-output``/``hide-output`` fold
  the output; markdown cells tagged ``remove-cell`` are dropped, as on the site.

The Colab launch buttons of the site open these editions (.ci/sphinx_offline.py rewrites the
launch URL); the repository URL comes from ``_config.yml`` only.
"""
from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EDITION_DIR = "book/jupyter"
GENERATOR = ".ci/editions.py"

PROOF_TYPES = ("axiom", "theorem", "lemma", "algorithm", "definition", "remark", "conjecture",
               "corollary", "criterion", "example", "property", "observation", "proposition",
               "assumption", "notation")

OPEN_FENCE = re.compile(r"^(?P<indent>[ ]{0,3})(?P<fence>:{3,}|`{3,}|~{3,})\s*(?P<info>.*?)\s*$")
DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:.+-]+)\}\s*(?P<arg>.*)$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")
TARGET = re.compile(r"^\((?P<label>[^()\s]+)\)=\s*$")
LABELLED_MATH = re.compile(r"\$\$(?P<body>(?:(?!\$\$).)+?)\$\$[ \t]*\((?P<label>[^()\s]+)\)", re.S)
ROLE = re.compile(r"\{(?P<name>[\w:+-]+)\}`(?P<content>[^`]*)`")
EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


# --------------------------------------------------------------------------- reading the book


def load_config(root: Path = ROOT) -> dict:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))


def toc_documents(root: Path = ROOT) -> list[str]:
    """Every document of the book (without suffix) in the order Sphinx walks the toctree."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    if _has_key(toc, "numbered"):
        raise NotImplementedError("_toc.yml asks for `numbered` sections: Sphinx then numbers per "
                                  "chapter, which book_numbers() does not reproduce yet")
    docs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    docs.append(re.sub(r"\.(ipynb|md)$", "", node[key]))
            for key in ("parts", "chapters", "sections"):
                for item in node.get(key) or []:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return docs


def _has_key(node, key: str) -> bool:
    if isinstance(node, dict):
        return key in node or any(_has_key(v, key) for v in node.values())
    if isinstance(node, list):
        return any(_has_key(v, key) for v in node)
    return False


def document_path(doc: str, root: Path = ROOT) -> Path:
    for ext in (".ipynb", ".md"):
        if (root / f"{doc}{ext}").is_file():
            return root / f"{doc}{ext}"
    raise FileNotFoundError(f"_toc.yml lists {doc!r}, which is neither {doc}.ipynb nor {doc}.md")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


def markdown_parts(path: Path) -> list[str]:
    """The markdown the site shows, in order: a notebook's markdown cells (not `remove-cell`),
    or a whole .md file (without its YAML front matter)."""
    if path.suffix == ".md":
        text = path.read_text(encoding="utf-8")
        if text.startswith("---\n"):
            end = text.find("\n---", 4)
            text = text[end + 4:] if end > 0 else text
        return [text]
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [_source(c) for c in nb.get("cells", [])
            if c.get("cell_type") == "markdown" and "remove-cell" not in _tags(c)]


# --------------------------------------------------------------------------- MyST blocks


@dataclass
class Directive:
    name: str
    argument: str
    options: dict
    body: list  # of str (plain lines) and Directive
    fence: str


def parse_blocks(lines: list[str]) -> list:
    """Split markdown lines into plain lines and (nested) directives. Code fences that are not
    directives are kept verbatim, so nothing inside a code block is mistaken for MyST."""
    out: list = []
    i = 0
    while i < len(lines):
        m = OPEN_FENCE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence, info = m.group("fence"), m.group("info")
        end = _closing_fence(lines, i + 1, fence)
        d = DIRECTIVE_INFO.match(info)
        if d is None:  # a plain code block (``` python) or a bare ::: — copied as it is
            out.extend(lines[i:end + 1])
            i = end + 1
            continue
        body = lines[i + 1:end]
        options, body = _options(body)
        out.append(Directive(d.group("name"), d.group("arg").strip(), options, parse_blocks(body), fence))
        i = end + 1
    return out


def _closing_fence(lines: list[str], start: int, fence: str) -> int:
    char, n = fence[0], len(fence)
    depth = 0
    for j in range(start, len(lines)):
        m = OPEN_FENCE.match(lines[j])
        if not m or m.group("fence")[0] != char:
            continue
        if m.group("info"):
            if char == ":" or DIRECTIVE_INFO.match(m.group("info")):
                if len(m.group("fence")) >= n and char == "`":
                    depth += 1  # a nested backtick directive with as long a fence
            continue
        if len(m.group("fence")) >= n:
            if depth:
                depth -= 1
                continue
            return j
    return len(lines)  # unclosed: MyST runs it to the end of the cell


def _options(body: list[str]) -> tuple[dict, list[str]]:
    options: dict = {}
    if body and body[0].strip() == "---":  # YAML option block
        end = next((k for k in range(1, len(body)) if body[k].strip() == "---"), None)
        if end is not None:
            options = yaml.safe_load("\n".join(body[1:end])) or {}
            return {str(k): str(v) for k, v in options.items()}, body[end + 1:]
    k = 0
    while k < len(body):
        m = OPTION.match(body[k].strip()) if body[k].startswith(":") else None
        if not m:
            break
        options[m.group("key")] = m.group("value").strip()
        k += 1
    return options, body[k:]


def walk_text(blocks: list):
    """Plain text of a block list, in document order, with the directive nodes in between."""
    for b in blocks:
        if isinstance(b, Directive):
            yield b
            yield from walk_text(b.body)
        else:
            yield b


# --------------------------------------------------------------------------- the site's numbers


@dataclass
class Numbers:
    """What the site calls each label: "Exercise 7", "Theorem 2", "(18)", a section's title."""

    text: dict = field(default_factory=dict)       # label -> displayed text of a reference
    number: dict = field(default_factory=dict)     # label -> number (exercises, proofs, equations)
    kind: dict = field(default_factory=dict)       # label -> exercise | <proof type> | equation | section
    doc: dict = field(default_factory=dict)        # label -> document
    titles: dict = field(default_factory=dict)     # document -> title (first heading)
    sequence: dict = field(default_factory=dict)   # document -> numbers of its enumerable directives, in order


def book_numbers(root: Path = ROOT) -> Numbers:
    """Number exercises, each proof type and labelled equations the way Sphinx's
    ``assign_figure_numbers`` does for this book: one counter per kind across every document,
    walked in table-of-contents order, each node counted where it appears (a directive before
    what it contains). Exercises with ``:nonumber:`` and unlabelled equations get no number."""
    nums = Numbers()
    counters: dict[str, int] = {}
    for doc in toc_documents(root):
        path = document_path(doc, root)
        pending_target: str | None = None
        for part in markdown_parts(path):
            for item in walk_text(parse_blocks(part.splitlines())):
                if isinstance(item, Directive):
                    kind = _enumerable_kind(item)
                    label = item.options.get("label")
                    if kind:
                        counters[kind] = counters.get(kind, 0) + 1
                        n = counters[kind]
                        nums.sequence.setdefault(doc, []).append(n)
                        if label:
                            nums.number[label] = n
                            nums.kind[label] = kind
                            nums.doc[label] = doc
                            nums.text[label] = f"{kind.capitalize()} {n}"
                    elif label:
                        nums.doc[label] = doc
                        nums.kind[label] = item.name
                        nums.text[label] = _plain(item.argument) or item.name
                    if item.name == "math" and label:
                        counters["equation"] = counters.get("equation", 0) + 1
                        nums.number[label] = counters["equation"]
                        nums.kind[label] = "equation"
                        nums.text[label] = f"({counters['equation']})"
                    continue
                line = item
                if doc not in nums.titles:
                    h = HEADING.match(line)
                    if h:
                        nums.titles[doc] = _plain(h.group(2))
                t = TARGET.match(line.strip())
                if t:
                    pending_target = t.group("label")
                    continue
                if pending_target:
                    h = HEADING.match(line)
                    if h:
                        nums.text[pending_target] = _plain(h.group(2))
                        nums.kind[pending_target] = "section"
                        nums.doc[pending_target] = doc
                        pending_target = None
                    elif line.strip():
                        nums.text.setdefault(pending_target, pending_target)
                        nums.kind.setdefault(pending_target, "target")
                        nums.doc.setdefault(pending_target, doc)
                        pending_target = None
            # equations: labelled display math, in order of appearance within this part
            for m in LABELLED_MATH.finditer(_without_code(part)):
                label = m.group("label")
                counters["equation"] = counters.get("equation", 0) + 1
                nums.number[label] = counters["equation"]
                nums.kind[label] = "equation"
                nums.doc[label] = doc
                nums.text[label] = f"({counters['equation']})"
    return nums


def _enumerable_kind(d: Directive) -> str | None:
    if "nonumber" in d.options:
        return None
    if d.name == "exercise":
        return "exercise"
    if d.name.startswith("prf:") and d.name[4:] in PROOF_TYPES:
        return d.name[4:]
    return None


def _without_code(text: str) -> str:
    """The text with the lines of plain (non-directive) code blocks blanked."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        m = OPEN_FENCE.match(lines[i])
        if m and m.group("fence")[0] in "`~" and not DIRECTIVE_INFO.match(m.group("info")):
            end = _closing_fence(lines, i + 1, m.group("fence"))
            out.extend([""] * (min(end, len(lines) - 1) - i + 1))
            i = end + 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def _plain(text: str) -> str:
    """A heading or title as plain text (roles reduced to their text)."""
    return ROLE.sub(lambda m: _role_text(m.group("content")), text).strip()


def _role_text(content: str) -> str:
    m = EXPLICIT.match(content)
    return m.group("text") if m and m.group("text") else content


# --------------------------------------------------------------------------- citations


class Bibliography:
    """Author–year labels of book/references.bib as sphinxcontrib-bibtex's author_year style
    writes them: "Goodfellow", "Arjovsky and Bottou", "Zamorski et al." and the year."""

    def __init__(self, path: Path):
        from pybtex.database import parse_file

        self.entries = parse_file(str(path), bib_format="bibtex").entries

    def authors(self, key: str) -> str:
        entry = self._entry(key)
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_latex_to_text(" ".join(p.prelast_names + p.last_names)) for p in persons]
        if not names:
            return _latex_to_text(entry.fields.get("title", key))
        if len(names) == 1:
            return names[0]
        if len(names) == 2:
            return f"{names[0]} and {names[1]}"
        return f"{names[0]} et al."

    def year(self, key: str) -> str:
        return _latex_to_text(self._entry(key).fields.get("year", "n.d."))

    def _entry(self, key: str):
        if key not in self.entries:
            raise KeyError(f"citation {key!r} is not in book/references.bib")
        return self.entries[key]

    def cite(self, role: str, keys: list[str]) -> str:
        if role in ("cite:t", "cite:ts"):
            return ", ".join(f"{self.authors(k)} [{self.year(k)}]" for k in keys)
        if role == "cite:author":
            return ", ".join(self.authors(k) for k in keys)
        if role == "cite:year":
            return ", ".join(self.year(k) for k in keys)
        return "[" + ", ".join(f"{self.authors(k)}, {self.year(k)}" for k in keys) + "]"


def _latex_to_text(text: str) -> str:
    import codecs

    import latexcodec  # noqa: F401  (registers the "ulatex" codec; a dependency of pybtex)

    out = codecs.decode(text, "ulatex")
    return out.replace("{", "").replace("}", "").replace("~", " ")


# --------------------------------------------------------------------------- converting one chapter


class Converter:
    def __init__(self, root: Path = ROOT):
        self.root = root
        config = load_config(root)
        repo = config["repository"]
        self.repo_url = repo["url"].rstrip("/")
        self.branch = repo.get("branch", "main")
        self.colab = config.get("launch_buttons", {}).get("colab_url", "https://colab.research.google.com")
        self.numbers = book_numbers(root)
        bibfiles = config.get("bibtex_bibfiles") or ["book/references.bib"]
        self.bib = Bibliography(root / bibfiles[0])
        self.doc = ""
        self._seen = 0  # enumerable directives of self.doc converted so far

    # ---- links

    def doc_url(self, doc: str, anchor: str = "") -> str:
        """Where another document opens: a chapter's edition on Colab, any other page on GitHub."""
        github = self.repo_url.replace("https://github.com/", "")
        path = document_path(doc, self.root)
        suffix = f"#{anchor}" if anchor else ""
        if path.suffix == ".ipynb":
            return f"{self.colab}/github/{github}/blob/{self.branch}/{EDITION_DIR}/{doc}.ipynb{suffix}"
        return f"{self.repo_url}/blob/{self.branch}/{doc}.md{suffix}"

    def link(self, text: str, label: str) -> str:
        doc = self.numbers.doc.get(label)
        if doc is None or doc == self.doc:
            return f"[{text}](#{label})" if doc else text
        return f"[{text}]({self.doc_url(doc, label)})"

    # ---- roles

    def role(self, m: re.Match) -> str:
        name, content = m.group("name"), m.group("content")
        explicit = EXPLICIT.match(content)
        text, target = (explicit.group("text"), explicit.group("target").strip()) if explicit else ("", content.strip())
        if name == "eq":
            return self._number(target, "equation", text)
        if name.startswith("cite"):
            keys = [k.strip() for k in target.split(",") if k.strip()]
            return self.bib.cite(name, keys)
        if name in ("prf:ref", "ref", "numref", "solution"):
            return self.link(text or self._label_text(target, name), target)
        if name == "doc":
            doc = self._resolve_doc(target)
            title = text or self.numbers.titles.get(doc, doc)
            return f"[{title}]({self.doc_url(doc)})" if doc != self.doc else title
        if name == "math":
            return f"${content}$"
        if name in ("sub", "subscript"):
            return f"<sub>{content}</sub>"
        if name in ("sup", "superscript"):
            return f"<sup>{content}</sup>"
        return text or content  # {term}, {abbr}, {download}, ...: their text

    def _label_text(self, label: str, role: str) -> str:
        if label not in self.numbers.text:
            raise KeyError(f"{self.doc}: {{{role}}}`{label}` names no label of the book")
        return self.numbers.text[label]

    def _number(self, label: str, kind: str, text: str) -> str:
        if label not in self.numbers.number:
            raise KeyError(f"{self.doc}: {{eq}}`{label}` names no labelled equation of the book")
        return text or f"({self.numbers.number[label]})"

    def _resolve_doc(self, target: str) -> str:
        target = re.sub(r"\.(ipynb|md)$", "", target)
        if target.startswith("/"):
            return target[1:]
        base = Path(self.doc).parent
        parts: list[str] = []
        for piece in (base / target).as_posix().split("/"):
            if piece == "..":
                parts.pop()
            elif piece not in (".", ""):
                parts.append(piece)
        return "/".join(parts)

    # ---- blocks

    def inline(self, text: str) -> str:
        text = LABELLED_MATH.sub(self._tag_equation, text)
        return ROLE.sub(self.role, text)

    def _tag_equation(self, m: re.Match) -> str:
        label = m.group("label")
        body = m.group("body").rstrip()
        n = self.numbers.number[label]
        sep = "\n" if "\n" in body else " "
        return f'<a id="equation-{label}"></a>\n\n$${body}{sep}\\tag{{{n}}}{sep}$$'

    def render(self, blocks: list) -> list[str]:
        out: list[str] = []
        plain: list[str] = []

        def flush():
            if plain:
                text = "\n".join(plain)
                text = _targets_to_anchors(text)
                out.extend(self._inline_outside_code(text).split("\n"))
                plain.clear()

        for b in blocks:
            if isinstance(b, Directive):
                flush()
                out.extend(self.directive(b))
            else:
                plain.append(b)
        flush()
        return out

    def _inline_outside_code(self, text: str) -> str:
        lines = text.split("\n")
        out, chunk, i = [], [], 0
        while i < len(lines):
            m = OPEN_FENCE.match(lines[i])
            if m and m.group("fence")[0] in "`~":
                out.append(self.inline("\n".join(chunk))) if chunk else None
                chunk = []
                end = _closing_fence(lines, i + 1, m.group("fence"))
                out.append("\n".join(lines[i:end + 1]))
                i = end + 1
                continue
            chunk.append(lines[i])
            i += 1
        if chunk:
            out.append(self.inline("\n".join(chunk)))
        return "\n".join(out)

    def directive(self, d: Directive) -> list[str]:
        kind = _enumerable_kind(d)
        number = None
        if kind:  # numbered in document order, before what the directive contains
            number = self.numbers.sequence[self.doc][self._seen]
            self._seen += 1
        body = self.render(d.body)
        label = d.options.get("label")
        anchor = [f'<a id="{label}"></a>', ""] if label else []
        title = self.inline(d.argument)
        if number is not None:
            assert label is None or self.numbers.number[label] == number, (self.doc, label)
        if d.name == "exercise":
            name = f"Exercise {number}" if number else "Exercise"
            heading = f"### {name}" + (f" ({title})" if title else "")
            return ["", *anchor, heading, "", *body, ""]
        if d.name == "solution":
            target = d.argument.strip()
            of = self.numbers.text.get(target)
            summary = f"Solution to {of}" if of else "Solution"
            return ["", "<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]
        if d.name.startswith("prf:"):
            typ = d.name[4:]
            name = f"{typ.capitalize()} {number}" if number else typ.capitalize()
            head = f"**{name}" + (f" ({title})" if title else "") + ".**"
            if typ == "proof":
                body = body + ["", "∎"]
            return ["", *anchor, *_blockquote([head, "", *body]), ""]
        if d.name in ("math",):
            tag = f"\\tag{{{self.numbers.number[label]}}}" if label else ""
            return ["", *anchor, "$$", *[b for b in d.body if isinstance(b, str)], tag, "$$", ""]
        if d.name in ("figure", "image"):
            caption = " ".join(line for line in body if line.strip())
            return ["", *anchor, f"![{caption or d.argument}]({d.argument})", "", f"*{caption}*" if caption else "", ""]
        if d.name in ("code-block", "code", "sourcecode", "code-cell"):
            lang = d.argument.split()[0] if d.argument else ""
            return ["", f"```{lang}", *[b for b in d.body if isinstance(b, str)], "```", ""]
        if d.name in ("toctree", "tableofcontents", "bibliography", "raw", "only"):
            return []
        # admonitions (admonition, note, warning, tip, important, margin, sidebar, dropdown, ...)
        if d.name in ("admonition", "dropdown", "sidebar", "margin", "topic"):
            head = f"**{title}**" if title else ""
        else:
            head = f"**{d.name.capitalize()}**" + (f" {title}" if title else "")
        lines = [head, ""] if head else []
        return ["", *anchor, *_blockquote([*lines, *body]), ""]

    # ---- cells and notebooks

    def markdown(self, text: str, doc: str) -> str:
        if doc != self.doc:
            self.doc, self._seen = doc, 0
        lines = self.render(parse_blocks(text.splitlines()))
        text = "\n".join(lines)
        text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
        return text

    def notebook(self, doc: str) -> dict:
        src = json.loads(document_path(doc, self.root).read_text(encoding="utf-8"))
        nb = copy.deepcopy(src)
        cells = []
        for cell in nb.get("cells", []):
            tags = _tags(cell)
            if cell.get("cell_type") == "markdown":
                if "remove-cell" in tags:
                    continue
                cell["source"] = _as_lines(self.markdown(_source(cell), doc))
                cell.pop("attachments", None) if not cell.get("attachments") else None
            elif cell.get("cell_type") == "code":
                meta = cell.setdefault("metadata", {})
                hide_src = bool({"remove-cell", "remove-input", "hide-input", "hide-cell"} & set(tags))
                hide_out = bool({"remove-output", "hide-output", "hide-cell"} & set(tags))
                if hide_src or hide_out:
                    jup = meta.setdefault("jupyter", {})
                    if hide_src:
                        jup["source_hidden"] = True
                        meta["cellView"] = "form"
                    if hide_out:
                        jup["outputs_hidden"] = True
            cells.append(cell)
        nb["cells"] = cells
        meta = nb.setdefault("metadata", {})
        meta["colab"] = {"provenance": [], "toc_visible": True}
        meta["ganbook"] = {"edition": "jupyter", "source": f"{doc}.ipynb",
                           "generator": f"{GENERATOR} (do not edit: edit the source and run `make editions`)"}
        return nb


def _as_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]] if lines else []


def _blockquote(lines: list[str]) -> list[str]:
    return [f"> {line}" if line.strip() else ">" for line in lines]


def _targets_to_anchors(text: str) -> str:
    return "\n".join(f'<a id="{m.group("label")}"></a>' if (m := TARGET.match(line.strip())) else line
                     for line in text.split("\n"))


def dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- the command


def chapters(root: Path = ROOT) -> list[str]:
    """Every chapter notebook of the book: the notebooks under chapters/ that _toc.yml lists, in its
    order (one that is not listed yet is not on the site either, so it has no numbers to show;
    tests/test_book_config.py fails on it)."""
    return [d for d in toc_documents(root)
            if d.startswith("chapters/") and document_path(d, root).suffix == ".ipynb"]


def edition_path(doc: str, root: Path = ROOT) -> Path:
    return root / EDITION_DIR / f"{doc}.ipynb"


def generate(root: Path = ROOT, docs: list[str] | None = None) -> dict[Path, str]:
    """The text of every edition, in memory: {path: notebook JSON}."""
    conv = Converter(root)
    return {edition_path(doc, root): dumps(conv.notebook(doc)) for doc in (docs or chapters(root))}


def stale(root: Path = ROOT) -> list[str]:
    """Editions that differ from what the chapters generate now (missing ones included), and
    editions whose chapter no longer exists."""
    want = generate(root)
    problems = [p.relative_to(root).as_posix() for p, text in want.items()
                if not p.is_file() or p.read_text(encoding="utf-8") != text]
    have = set((root / EDITION_DIR).rglob("*.ipynb")) if (root / EDITION_DIR).is_dir() else set()
    problems += [f"{p.relative_to(root).as_posix()} (no chapter)" for p in sorted(have - set(want))]
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report editions that are out of date")
    args = ap.parse_args(argv)
    if args.check:
        problems = stale()
        for p in problems:
            print(f"out of date: {p}")
        if problems:
            print("run `make editions` (python .ci/editions.py)")
        return 1 if problems else 0
    want = generate()
    for path, text in want.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    for path in sorted(set((ROOT / EDITION_DIR).rglob("*.ipynb")) - set(want)):
        path.unlink()
        print(f"removed {path.relative_to(ROOT)} (its chapter is gone)")
    print(f"{len(want)} editions up to date under {EDITION_DIR}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
