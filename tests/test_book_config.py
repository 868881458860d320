"""The book's configuration and the chapter notebooks agree with each other.

- _config.yml names the repository once; every chapter's first code cell installs ganbook
  from exactly that URL when it runs on Colab.
- Every chapter notebook is in _toc.yml, and every _toc.yml entry exists.
- Every chapter has a cell tagged `parameters`.
- Notebooks are committed without outputs, except cells tagged `nbval-check-output`
  (nbval's golden references), which must keep theirs.

The checks are plain functions returning a list of problems, so the tests at the bottom can
show that each one fails on a bad notebook.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "_config.yml"
TOC = ROOT / "_toc.yml"
CHECK_OUTPUT_TAG = "nbval-check-output"
PARAMETERS_TAG = "parameters"
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com")


def load_config() -> dict:
    return yaml.safe_load(CONFIG.read_text(encoding="utf-8"))


def repository_url(config: dict | None = None) -> str:
    config = config or load_config()
    return config["repository"]["url"]


def chapter_notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "chapters").rglob("*.ipynb")
                  if ".ipynb_checkpoints" not in p.parts)


def toc_files(toc: dict | None = None) -> list[str]:
    """Every `file:` in the table of contents (root included), without suffix."""
    toc = toc if toc is not None else yaml.safe_load(TOC.read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("file", "root") and isinstance(value, str):
                    found.append(re.sub(r"\.(ipynb|md)$", "", value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []) or [])


# --------------------------------------------------------------------------- the checks


def check_colab_install_cell(nb: dict, url: str) -> list[str]:
    """The first code cell installs ganbook from exactly `url`, and only on Colab."""
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    if not code:
        return ["no code cell"]
    src = _source(code[0])
    problems = []
    if "google.colab" not in src:
        problems.append('first code cell does not test `"google.colab" in sys.modules`')
    targets = re.findall(r"git\+([^\s\"'#]+)", src)
    if not targets:
        problems.append(f"first code cell does not `pip install git+{url}`")
    for target in targets:
        bare = target.split("@", 1)[0] if target.count("@") else target
        if bare != url:
            problems.append(f"first code cell installs from {target!r}, not {url!r} (_config.yml)")
    for other in re.findall(r"https?://[^\s\"'#@]+", src):
        if other != url:
            problems.append(f"first code cell names another URL {other!r}")
    return problems


def check_parameters_cell(nb: dict) -> list[str]:
    cells = [c for c in nb.get("cells", [])
             if c.get("cell_type") == "code" and PARAMETERS_TAG in _tags(c)]
    if not cells:
        return [f"no code cell tagged `{PARAMETERS_TAG}`"]
    if len(cells) > 1:
        return [f"{len(cells)} cells tagged `{PARAMETERS_TAG}` (want one)"]
    return []


def check_outputs_stripped(nb: dict) -> list[str]:
    problems = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        keep = CHECK_OUTPUT_TAG in _tags(cell)
        outputs = cell.get("outputs", [])
        first = _source(cell).strip().splitlines()[:1]
        where = f"cell {i} ({first[0][:40]!r})" if first else f"cell {i}"
        if outputs and not keep:
            problems.append(f"{where} keeps {len(outputs)} output(s) but is not tagged "
                            f"`{CHECK_OUTPUT_TAG}`: strip outputs before committing")
        if keep and not outputs:
            problems.append(f"{where} is tagged `{CHECK_OUTPUT_TAG}` but has no output to "
                            "compare against (run it and keep its output)")
        if keep and outputs and cell.get("execution_count") is None:
            problems.append(f"{where} is tagged `{CHECK_OUTPUT_TAG}` but its execution_count "
                            "is null: nbval then fails with 'Unrun reference cell has "
                            "outputs' (keep the count of golden cells when stripping)")
    return problems


def check_kernelspec(nb: dict) -> list[str]:
    name = nb.get("metadata", {}).get("kernelspec", {}).get("name")
    return [] if name == "python3" else [f"kernelspec name is {name!r}, want 'python3'"]


# --------------------------------------------------------------------------- the config


def test_config_basics():
    config = load_config()
    assert config["title"] == "Generative Adversarial Networks: An Executable Textbook"
    assert config["author"] == "The ganbook authors"
    execute = config["execute"]
    assert execute["execute_notebooks"] == "cache"
    assert execute["timeout"] == 180
    assert execute["allow_errors"] is False
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["repository"]["branch"] == "main"
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repository_url(config))
    assert "book/references.bib" in config["bibtex_bibfiles"]
    assert (ROOT / "book" / "references.bib").is_file()
    extensions = set(config["sphinx"]["config"]["extensions"])
    for ext in ("myst_nb", "sphinx_exercise", "sphinx_proof", "sphinxcontrib.bibtex",
                "sphinx-mathjax-offline", "sphinx_book_theme", "sphinx_external_toc"):
        assert ext in extensions, ext
    myst = set(config["parse"]["myst_enable_extensions"])
    assert {"dollarmath", "amsmath", "colon_fence", "html_image"} <= myst


def test_repository_url_is_written_once():
    url = repository_url()
    assert CONFIG.read_text(encoding="utf-8").count(url) == 1


def test_site_is_wired_offline():
    config = load_config()
    sphinx = config["sphinx"]["config"]
    text = CONFIG.read_text(encoding="utf-8")
    assert not [h for h in CDN_HOSTS if h in text]
    assert sphinx["mathjax_path"] == "mathjax/tex-chtml.js"
    static = sphinx["html_static_path"]
    assert "book/_offline" in static  # fetched assets: not in a `_static/` folder
    widgets_js = sphinx["nb_ipywidgets_js"]
    assert list(widgets_js)[0] == "require.js"
    assert any(k.endswith("embed-amd.js") for k in widgets_js)
    assert not [k for k in widgets_js if "://" in k], "nb_ipywidgets_js must be local paths"
    offline = ROOT / "book" / "_offline"
    if offline.is_dir():  # fetched by .ci/offline_assets.sh (make book)
        for rel in widgets_js:
            assert (offline / rel).is_file(), f"book/_offline/{rel} missing"


def test_toc_entries_exist():
    missing = [f for f in toc_files()
               if not any((ROOT / f"{f}{ext}").is_file() for ext in (".md", ".ipynb"))]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_toc_root_and_parts():
    toc = yaml.safe_load(TOC.read_text(encoding="utf-8"))
    assert toc["format"] == "jb-book"
    assert toc["root"] == "book/intro"
    captions = [part["caption"] for part in toc["parts"]]
    assert captions[0] == "Part I — Foundations"
    assert captions[-1] == "Back matter"


# --------------------------------------------------------------------------- each chapter

NOTEBOOKS = chapter_notebooks()
IDS = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]


@pytest.fixture(params=NOTEBOOKS, ids=IDS)
def notebook(request) -> tuple[str, dict]:
    path = request.param
    return path.relative_to(ROOT).with_suffix("").as_posix(), json.loads(
        path.read_text(encoding="utf-8"))


def test_chapter_in_toc(notebook):
    name, _ = notebook
    assert name in toc_files(), f"{name}.ipynb is not listed in _toc.yml"


def test_chapter_installs_from_the_repository(notebook):
    name, nb = notebook
    problems = check_colab_install_cell(nb, repository_url())
    assert not problems, f"{name}: " + "; ".join(problems)


def test_chapter_has_parameters_cell(notebook):
    name, nb = notebook
    problems = check_parameters_cell(nb)
    assert not problems, f"{name}: " + "; ".join(problems)


def test_chapter_outputs_stripped(notebook):
    name, nb = notebook
    problems = check_outputs_stripped(nb)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def test_chapter_has_no_bibliography_of_its_own(notebook):
    # One bibliography for the book (book/bibliography.md): a second {bibliography} directive defines
    # every cited key twice, and the -W build fails on "duplicate citation".
    name, nb = notebook
    assert not any("{bibliography}" in "".join(c["source"]) for c in nb["cells"]), \
        f"{name}: remove its {{bibliography}} directive (the book has one, book/bibliography.md)"


def test_chapter_kernelspec(notebook):
    name, nb = notebook
    problems = check_kernelspec(nb)
    assert not problems, f"{name}: " + "; ".join(problems)


# --------------------------------------------------------------------------- the checks fail

URL = "https://github.com/ganbook/ganbook"


def _code(src: str, tags=(), outputs=()) -> dict:
    return {"cell_type": "code", "source": src, "metadata": {"tags": list(tags)},
            "outputs": list(outputs), "execution_count": 1 if outputs else None}


def _nb(*cells) -> dict:
    return {"cells": list(cells), "metadata": {"kernelspec": {"name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


GOOD_INSTALL = f'import sys\nif "google.colab" in sys.modules:\n    %pip install -q git+{URL}\n'
STDOUT = {"output_type": "stream", "name": "stdout", "text": "0.693147\n"}


def test_checks_accept_a_good_notebook():
    nb = _nb({"cell_type": "markdown", "source": "# T", "metadata": {}},
             _code(GOOD_INSTALL), _code("SEED = 0", tags=[PARAMETERS_TAG]),
             _code("print(0.693147)", tags=[CHECK_OUTPUT_TAG], outputs=[STDOUT]))
    assert check_colab_install_cell(nb, URL) == []
    assert check_parameters_cell(nb) == []
    assert check_outputs_stripped(nb) == []
    assert check_kernelspec(nb) == []
    assert check_colab_install_cell(_nb(_code(GOOD_INSTALL.replace(URL, URL + "@main"))),
                                    URL) == []


@pytest.mark.parametrize("src", [
    GOOD_INSTALL.replace(URL, "https://github.com/someone/fork"),
    GOOD_INSTALL.replace(URL, URL + "-old"),
    GOOD_INSTALL.replace('"google.colab" in sys.modules', "True"),
    "import numpy as np\n",
])
def test_install_check_fails(src):
    assert check_colab_install_cell(_nb(_code(src)), URL)


def test_install_check_looks_at_the_first_code_cell_only():
    nb = _nb(_code("import numpy"), _code(GOOD_INSTALL))
    assert check_colab_install_cell(nb, URL)
    assert check_colab_install_cell(_nb(), URL) == ["no code cell"]


def test_parameters_check_fails():
    assert check_parameters_cell(_nb(_code(GOOD_INSTALL), _code("SEED = 0")))
    two = _nb(_code("A = 1", tags=[PARAMETERS_TAG]), _code("B = 1", tags=[PARAMETERS_TAG]))
    assert check_parameters_cell(two)


def test_outputs_check_fails():
    assert check_outputs_stripped(_nb(_code("print(1)", outputs=[STDOUT])))
    assert check_outputs_stripped(_nb(_code("print(1)", tags=[CHECK_OUTPUT_TAG])))
    unrun = _code("print(1)", tags=[CHECK_OUTPUT_TAG], outputs=[STDOUT])
    unrun["execution_count"] = None
    assert check_outputs_stripped(_nb(unrun))


def test_kernelspec_check_fails():
    nb = _nb()
    nb["metadata"]["kernelspec"]["name"] = "conda-env-gan"
    assert check_kernelspec(nb)


def test_toc_walk_finds_nested_files():
    toc = {"format": "jb-book", "root": "book/intro", "parts": [{"caption": "P", "chapters": [
        {"file": "chapters/a/ch1.ipynb", "sections": [{"file": "chapters/a/ch1b"}]}]}]}
    assert toc_files(toc) == ["book/intro", "chapters/a/ch1", "chapters/a/ch1b"]
