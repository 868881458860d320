"""The built site, opened in a real headless browser, offline.

Serves ``_build/html`` on 127.0.0.1, drives Debian's Chromium with Playwright and blocks every
request that leaves 127.0.0.1 (a blocked request is a failure: the site must not need a CDN).
For every page: HTTP 200, no console/page errors beyond ALLOWED_CONSOLE_ERRORS, every image
decoded, math typeset by the local MathJax, widgets rendered by the local widget manager,
exercise solutions hidden until opened, the Colab launch button on chapter pages (it opens the
chapter's Jupyter/Colab edition, book/jupyter/), and legibility: no figure shrunk on the page
by more than FIGURE_SHRINK_LIMIT (its text would fall below 10 px; multi-panel figures get the
full page width, ganbook.plot.fit), and no code block or printed output that scrolls sideways.

The student edition (``make student-book``, .ci/student_book.py: ``_build/student/html``) gets the
same checks, except that its pages have no solutions and no Colab launch or repository buttons;
and no solution text may occur anywhere in its folder (pages, search index, ``_sources``,
downloads), while the reader's edition shows it (folded), so that check cannot pass vacuously.
The solutions are collected here from the chapter notebooks on their own: the bodies of the
``{solution}`` blocks and the code of the cells tagged ``remove-cell`` or ``solution``.

``make test`` builds both editions first; run alone, this module skips if there is no build (and
the student edition's tests skip if there is no student edition).
"""

from __future__ import annotations

import functools
import html as html_lib
import http.server
import json
import re
import zlib
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"
STUDENT_DIR = ROOT / "_build" / "student" / "html"
EDITIONS = {"reader": HTML_DIR, "student": STUDENT_DIR}
# Pages of the reader's edition that the student edition leaves out (.ci/student_book.py).
INSTRUCTOR_PAGES = {"book/instructor_guide.html"}
SCREENSHOT_DIR = ROOT / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CDN_HOSTS = ("cdn.jsdelivr.net", "unpkg.com", "cdnjs.cloudflare.com", "cdnjs.com")
# Not pages of the book: Sphinx's generated index/search pages, sources and static assets.
EXCLUDED_DIRS = {"_sources", "_static", "_offline", "_images", "jupyter_execute", "screenshots"}
EXCLUDED_PAGES = {"genindex.html", "search.html", "index.html"}  # index.html: see test_index

# A figure may be shown at most this many times narrower than its natural (drawn) size: the
# book's figures are drawn at 100 dpi with 10-point text, 13.9 px, so text stays >= 10 px on the
# page (a cell tagged `full-width` is 136 % of the 688 px column; ganbook.plot.fit sizes figures).
FIGURE_SHRINK_LIMIT = 1.3

# Console errors (type "error") and page errors known to be harmless. Each entry is a regex
# matched against the message text, with the reason it is harmless. Keep this list short.
ALLOWED_CONSOLE_ERRORS: list[tuple[str, str]] = [
    # (no entries needed so far)
]

pytestmark = pytest.mark.skipif(
    not (HTML_DIR / "index.html").is_file(),
    reason=f"no built book at {HTML_DIR / 'index.html'}: run `make book` (make test does)",
)


def _pages(html_dir: Path = HTML_DIR) -> list[str]:
    if not (html_dir / "index.html").is_file():
        return []
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if set(rel.parts[:-1]) & EXCLUDED_DIRS or rel.parts[0].startswith("_"):
            continue
        if len(rel.parts) == 1 and rel.name in EXCLUDED_PAGES:
            continue
        pages.append(rel.as_posix())
    return pages


PAGES = _pages()
CHAPTER_PAGES = [p for p in PAGES if p.startswith("chapters/")]
STUDENT_PAGES = _pages(STUDENT_DIR)
BUILT_EDITIONS = [name for name, path in EDITIONS.items() if (path / "index.html").is_file()]
needs_student_edition = pytest.mark.skipif(
    not STUDENT_PAGES,
    reason=f"no student edition at {STUDENT_DIR / 'index.html'}: run `make student-book` (make test does)")


def _repository() -> tuple[str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def _allowed(message: str) -> bool:
    return any(re.search(pattern, message) for pattern, _why in ALLOWED_CONSOLE_ERRORS)


# --------------------------------------------------------------------------- static checks


class _ForeignResourceFinder(HTMLParser):
    """Collects resources a page would load from another host (links in <a href> are fine)."""

    LOADING_ATTRS = {
        "script": ("src",),
        "link": ("href",),
        "img": ("src", "srcset"),
        "iframe": ("src",),
        "source": ("src", "srcset"),
        "video": ("src", "poster"),
        "audio": ("src",),
        "embed": ("src",),
        "object": ("data",),
    }

    def __init__(self) -> None:
        super().__init__()
        self.foreign: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = self.LOADING_ATTRS.get(tag)
        if not names:
            return
        attrs = dict(attrs)
        if tag == "link" and not (set((attrs.get("rel") or "").split()) & {
            "stylesheet", "preload", "modulepreload", "icon", "prefetch", "manifest"}):
            return  # e.g. <link rel="canonical">: not loaded by the browser
        for name in names:
            value = (attrs.get(name) or "").strip()
            for url in value.split(","):
                url = url.strip().split(" ")[0]
                if url.startswith(("http://", "https://", "//")):
                    self.foreign.append(f"<{tag} {name}={url}>")


def test_site_has_pages():
    assert PAGES, f"no pages found under {HTML_DIR}"
    assert any(p.startswith("book/intro") for p in PAGES), PAGES


@needs_student_edition
def test_student_edition_has_the_readers_pages():
    """Every page of the reader's edition but the instructor's is in the student edition."""
    assert set(STUDENT_PAGES) == set(PAGES) - INSTRUCTOR_PAGES


@pytest.mark.parametrize("edition", BUILT_EDITIONS)
def test_no_cdn_or_foreign_resources(edition):
    """No page loads a script, stylesheet, image or frame from another host, and no page
    mentions a CDN at all (not even in an inline script)."""
    html_dir = EDITIONS[edition]
    problems = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        finder = _ForeignResourceFinder()
        finder.feed(text)
        problems += [f"{rel}: {item}" for item in finder.foreign]
        problems += [f"{rel}: mentions {host}" for host in CDN_HOSTS if host in text]
    for path in sorted(html_dir.rglob("*.css")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", text):
            problems.append(f"{path.relative_to(html_dir)}: css url {match.group(1)}")
    assert not problems, f"foreign resources in the {edition} edition:\n" + "\n".join(problems)


@pytest.mark.parametrize("edition", BUILT_EDITIONS)
def test_offline_assets_are_in_the_site(edition):
    static = EDITIONS[edition] / "_static"
    for rel in ("mathjax/tex-chtml.js", "require.js", "jupyter-widgets/embed-amd.js"):
        assert (static / rel).is_file(), f"_static/{rel} missing (run .ci/offline_assets.sh)"


# --------------------------------------------------------------------------- browser fixtures


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture(scope="module")
def server_urls():
    """Each edition served on its own port (started when a test first opens one of its pages)."""
    servers: dict[str, http.server.ThreadingHTTPServer] = {}

    def url(edition: str) -> str:
        if edition not in servers:
            handler = functools.partial(_QuietHandler, directory=str(EDITIONS[edition]))
            httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=httpd.serve_forever, daemon=True).start()
            servers[edition] = httpd
        return f"http://127.0.0.1:{servers[edition].server_address[1]}"

    try:
        yield url
    finally:
        for httpd in servers.values():
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install -y chromium"
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class PageLog:
    """Everything that went wrong while a page was open."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.console: list[str] = []
        self.page_errors: list[str] = []
        self.bad_responses: list[str] = []

    def failures(self) -> list[str]:
        out = [f"blocked non-local request: {u}" for u in self.blocked]
        out += [f"console error: {m}" for m in self.console if not _allowed(m)]
        out += [f"page error: {m}" for m in self.page_errors if not _allowed(m)]
        out += [f"HTTP error: {r}" for r in self.bad_responses]
        return out


@pytest.fixture()
def open_page(browser, server_urls):
    contexts = []

    def _open(rel: str, edition: str = "reader"):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        log = PageLog()

        def route(route):
            url = route.request.url
            if urlparse(url).hostname == "127.0.0.1":
                route.continue_()
            else:
                log.blocked.append(url)
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and log.console.append(
            f"{m.text} @ {m.location.get('url', '')}"))
        page.on("pageerror", lambda e: log.page_errors.append(str(e)))
        page.on("response", lambda r: r.status >= 400 and log.bad_responses.append(
            f"{r.status} {r.url}"))
        response = page.goto(f"{server_urls(edition)}/{rel}", wait_until="load")
        return page, response, log

    yield _open
    for context in contexts:
        context.close()


# --------------------------------------------------------------------------- browser checks

WAIT_IMAGES_JS = """
async () => {
  const imgs = Array.from(document.images);
  for (const img of imgs) { img.loading = "eager"; }
  await Promise.all(imgs.map(img => img.complete ? null :
      new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
  return imgs.filter(img => !(img.naturalWidth > 0)).map(img => img.getAttribute("src"));
}
"""

MATHJAX_JS = """
async () => {
  await window.MathJax.startup.promise;
  return {
    containers: document.querySelectorAll("mjx-container").length,
    errors: Array.from(document.querySelectorAll("mjx-merror")).map(e => e.textContent),
  };
}
"""

WIDGETS_JS = """
() => Array.from(document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]'))
  .map(s => {
    const area = s.previousElementSibling;
    return !!(area && area.classList.contains("widget-subarea")
              && area.querySelector(".jupyter-widgets"));
  })
"""

# Figures (images of cell outputs and figures) as drawn and as shown, and code blocks (listings,
# printed outputs) that scroll sideways. Images not shown (closed dropdowns, animation frames
# not on screen) have no width and are skipped.
LEGIBILITY_JS = """
() => {
  const article = document.querySelector("article.bd-article") || document.body;
  const figures = Array.from(article.querySelectorAll("img"))
    .filter(img => img.naturalWidth > 0 && img.getBoundingClientRect().width > 0)
    .map(img => ({
      src: (img.getAttribute("src") || "").split("/").pop().slice(0, 24),
      natural: img.naturalWidth,
      shown: img.getBoundingClientRect().width,
      fullWidth: !!img.closest(".tag_full-width, .full-width, .tag_full_width, .full_width, aside.margin"),
    }));
  const scrolling = Array.from(article.querySelectorAll("pre"))
    .filter(pre => pre.clientWidth > 0 && pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => ({first: pre.textContent.trim().split(String.fromCharCode(10))[0].slice(0, 60),
                  scroll: pre.scrollWidth, client: pre.clientWidth}));
  return {figures, scrolling};
}
"""

SOLUTIONS_JS = """
() => Array.from(document.querySelectorAll("div.solution, details.solution")).map(sol => {
  const body = Array.from(sol.children).filter(c =>
      !c.classList.contains("admonition-title") && c.tagName !== "SUMMARY"
      && !c.classList.contains("toggle-button") && !c.matches("button"));
  return {
    id: sol.id,
    dropdown: sol.classList.contains("dropdown") || sol.tagName === "DETAILS",
    bodies: body.length,
    visible: body.filter(c => c.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})
                           && c.getBoundingClientRect().height > 0).length,
  };
})
"""


def legibility_problems(found: dict) -> list[str]:
    """Figures shrunk beyond FIGURE_SHRINK_LIMIT, in the column or in a full-width cell alike
    (a full-width cell is wider, so the same limit there allows a wider figure), and code blocks
    that scroll sideways."""
    problems = []
    for fig in found["figures"]:
        factor = fig["natural"] / fig["shown"]
        if factor > FIGURE_SHRINK_LIMIT:
            where = "full-width cell" if fig["fullWidth"] else "column (tag the cell full-width?)"
            problems.append(f"figure {fig['src']} drawn {fig['natural']} px wide, shown {fig['shown']:.0f} px "
                            f"in the {where}: {factor:.3f}x smaller > {FIGURE_SHRINK_LIMIT} "
                            "(size it with ganbook.plot.fit)")
    for pre in found["scrolling"]:
        problems.append(f"code block scrolls sideways ({pre['scroll']} > {pre['client']} px): {pre['first']!r}")
    return problems


def test_legibility_check_fails():
    shrunk = {"figures": [{"src": "a.png", "natural": 1500, "shown": 688, "fullWidth": False}], "scrolling": []}
    assert legibility_problems(shrunk)
    full = {"figures": [{"src": "a.png", "natural": 1500, "shown": 935, "fullWidth": True}], "scrolling": []}
    assert legibility_problems(full)
    fine = {"figures": [{"src": "a.png", "natural": 1200, "shown": 935, "fullWidth": True},
                        {"src": "b.png", "natural": 600, "shown": 600, "fullWidth": False}], "scrolling": []}
    assert legibility_problems(fine) == []
    assert legibility_problems({"figures": [], "scrolling": [{"first": "x = 1", "scroll": 900, "client": 684}]})


@pytest.mark.parametrize("rel", PAGES)
def test_page(open_page, rel):
    page_check(open_page, rel, "reader")


@needs_student_edition
@pytest.mark.parametrize("rel", STUDENT_PAGES)
def test_student_page(open_page, rel):
    page_check(open_page, rel, "student")


def page_check(open_page, rel: str, edition: str) -> None:
    page, response, log = open_page(rel, edition)
    assert response is not None and response.status == 200, f"{rel}: HTTP {response and response.status}"
    html = page.content()
    problems: list[str] = []

    # images
    broken = page.evaluate(WAIT_IMAGES_JS)
    problems += [f"image did not load: {src}" for src in broken]

    # math: typeset by the site's own MathJax 3
    if page.locator(".math").count() or 'class="math' in html:
        page.wait_for_function("() => window.MathJax && window.MathJax.startup "
                               "&& window.MathJax.startup.promise", timeout=30_000)
        math = page.evaluate(MATHJAX_JS)
        if math["containers"] == 0:
            problems.append("page has math but MathJax produced no mjx-container")
        problems += [f"MathJax error: {e}" for e in math["errors"]]

    # ipywidgets: every widget view replaced by a rendered widget
    n_views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if n_views:
        try:
            page.wait_for_function(f"() => ({WIDGETS_JS})().every(Boolean)", timeout=30_000)
        except Exception:  # noqa: BLE001 - report which views failed below
            pass
        rendered = page.evaluate(WIDGETS_JS)
        if not all(rendered):
            problems.append(f"{rendered.count(False)} of {n_views} widget views not rendered")

    # exercises: solutions exist and are hidden until the reader opens them (the student
    # edition has none)
    n_exercises = page.locator(".exercise").count()
    solutions = page.evaluate(SOLUTIONS_JS)
    if edition == "student":
        n_any = page.locator(".solution, [class*='solution']").count()
        if solutions or n_any:
            problems.append(f"the student edition shows {max(len(solutions), n_any)} solution element(s)")
        solutions = []
    elif n_exercises and not solutions:
        problems.append(f"{n_exercises} exercise(s) but no solution")
    for sol in solutions:
        if not sol["dropdown"]:
            problems.append(f"solution {sol['id']} is not a dropdown (use :class: dropdown)")
        if sol["bodies"] == 0:
            problems.append(f"solution {sol['id']} is empty")
        if sol["visible"]:
            problems.append(f"solution {sol['id']} is visible before it is opened")
    if solutions:  # opening one shows it: the toggle machinery works
        page.locator(".solution .admonition-title, details.solution summary").first.click()
        page.wait_for_timeout(500)  # togglebutton's css transition
        if not page.evaluate(SOLUTIONS_JS)[0]["visible"]:
            problems.append("clicking a solution's title does not reveal it")

    # chapters: the Colab launch button opens this chapter's Jupyter/Colab edition; the student
    # edition has no launch or repository button (the editions and the repository hold solutions)
    if edition == "student":
        url, _branch = _repository()
        for selector, what in (('a[href*="colab.research.google.com"]', "a Colab link"),
                               (f'a[href="{url}"], a[href="{url}/"]', "a repository button"),
                               (".dropdown-launch-buttons", "launch buttons")):
            if page.locator(selector).count():
                problems.append(f"the student edition has {what} ({selector})")
    elif rel.startswith("chapters/"):
        url, branch = _repository()
        github = url.replace("https://github.com/", "")
        expected = (f"https://colab.research.google.com/github/{github}/blob/{branch}/"
                    f"book/jupyter/{rel[:-len('.html')]}.ipynb")
        if not page.locator(f'a[href="{expected}"]').count():
            problems.append(f"no Colab launch button linking {expected}")

    problems += legibility_problems(page.evaluate(LEGIBILITY_JS))

    page.wait_for_timeout(200)  # let late console errors arrive
    problems += log.failures()
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("edition", BUILT_EDITIONS)
def test_index_redirects_to_intro(open_page, edition):
    page, response, log = open_page("index.html", edition)
    assert response is not None and response.status == 200
    page.wait_for_url(re.compile(r".*/book/intro\.html$"), timeout=10_000)
    assert not log.failures(), log.failures()


@pytest.mark.skipif(not CHAPTER_PAGES, reason="no chapter pages in the build")
def test_screenshot_of_a_chapter(open_page):
    """A picture for humans: _build/screenshots/<chapter>.png (math, figures, widgets)."""
    rel = CHAPTER_PAGES[0]
    page, response, log = open_page(rel)
    page.evaluate(WAIT_IMAGES_JS)
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax && window.MathJax.startup "
                               "&& window.MathJax.startup.promise", timeout=30_000)
        page.evaluate(MATHJAX_JS)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    out = SCREENSHOT_DIR / (Path(rel).stem + ".png")
    page.screenshot(path=str(out), full_page=True)
    assert out.stat().st_size > 10_000


# --------------------------------------------------------------------------- the student edition: no solution text
#
# The solutions are read from the chapter notebooks here, on their own (not with ganbook.teach, which
# .ci/student_book.py uses to remove them): the body of every ``{solution}`` block, and the code of
# every cell tagged ``remove-cell`` or ``solution``. What is searched for is their *distinctive*
# text: code lines and runs of prose long enough to mean something, that occur nowhere else in the
# book's sources (text, code cells, the package that chapters print with inspect.getsource, the
# bibliography) nor in the outputs of the cells the student edition keeps (a library's warning
# may use a word a solution uses), so that finding one in the student edition means a leak.

SOLUTION_TAGS = {"remove-cell", "solution"}
STUDENT_SOURCES = ROOT / "_build" / "student" / "src"     # .ci/student_book.py's source tree
OUTPUT_TEXT = ("text/plain", "text/html", "text/markdown", "text/latex")
_FENCE_LINE = re.compile(r"^\s*(?P<fence>:{3,}|`{3,}|~{3,})\s*(?P<info>.*?)\s*$")
_OPTION_LINE = re.compile(r"^\s*:[\w-]+:.*$")
# A run of prose between markup (math, code, roles, emphasis, links, html)
_MARKUP = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\{[\w:+-]+\}`[^`]*`|`[^`\n]*`|\*+|<[^>\n]*>|[\[\]{}|\\#>]", re.S)
MIN_CODE_LINE = 20      # characters of a stripped code line
MIN_PROSE_WORDS = 5     # words of a run of prose
MIN_PROSE_CHARS = 28


def _normalize(text: str) -> str:
    """One spelling for what Sphinx's smart quotes and HTML change, and one space for any run."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = text.replace("\u2026", "...").replace("\u00a0", " ")
    text = re.sub(r"[\u2013\u2014]|-{2,}", "-", text)
    return re.sub(r"\s+", " ", text).strip()


def _cell_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def split_solution_blocks(markdown: str) -> tuple[list[str], str]:
    """The bodies of the ``{solution}`` blocks of a markdown text (their options dropped), and the
    text without them."""
    lines = markdown.split("\n")
    bodies: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE_LINE.match(lines[i])
        if m and m["info"].startswith("{solution}"):
            fence = m["fence"]
            close = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
            j = i + 1
            while j < len(lines) and not close.match(lines[j]):
                j += 1
            bodies.append("\n".join(x for x in lines[i + 1:j] if not _OPTION_LINE.match(x)))
            i = j + 1
            continue
        rest.append(lines[i])
        i += 1
    return bodies, "\n".join(rest)


def _split_code(markdown: str) -> tuple[list[str], str]:
    """The code fences of a markdown text, and its prose (with the fences removed)."""
    lines = markdown.split("\n")
    code: list[str] = []
    prose: list[str] = []
    i = 0
    while i < len(lines):
        m = _FENCE_LINE.match(lines[i])
        if m and m["fence"][0] in "`~" and not m["info"].startswith("{"):
            fence = m["fence"]
            j = i + 1
            while j < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[j]):
                j += 1
            code.append("\n".join(lines[i + 1:j]))
            prose.append("")        # a code block ends the paragraph before it
            i = j + 1
            continue
        if not m:  # directive fences (:::{...}) are markup, not prose
            prose.append(lines[i])
        i += 1
    return code, "\n".join(prose)


def _toc_documents() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    docs: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            for key in ("root", "file"):
                if isinstance(node.get(key), str):
                    docs.append(re.sub(r"\.(ipynb|md)$", "", node[key]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return list(dict.fromkeys(docs))


@functools.lru_cache(maxsize=1)
def book_texts() -> tuple[dict[str, dict[str, list[str]]], str]:
    """{chapter: {"block": [...], "cell": [...], "shown": [...]}}: the bodies of its ``{solution}``
    blocks, the sources of its solution cells (remove-cell / solution tags) and of those among them
    the reader's pages show (not remove-cell); and every other text of the book (pages, chapter text
    and code cells, the package's sources, the bibliography, outputs) in one string."""
    raw: dict[str, dict[str, list[str]]] = {}
    allowed: list[str] = []             # every text of the book that is not a solution
    for doc in _toc_documents():
        nb_path, md_path = ROOT / f"{doc}.ipynb", ROOT / f"{doc}.md"
        if md_path.is_file():
            allowed.append(md_path.read_text(encoding="utf-8"))
            continue
        if not nb_path.is_file():
            continue
        found = raw.setdefault(doc, {"block": [], "cell": [], "shown": []})
        for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
            text = _cell_text(cell)
            tags = set(cell.get("metadata", {}).get("tags", []))
            if tags & SOLUTION_TAGS:
                found["cell"].append(text)
                if "remove-cell" not in tags:
                    found["shown"].append(text)
            elif cell.get("cell_type") == "markdown":
                bodies, rest = split_solution_blocks(text)
                found["block"] += bodies
                allowed.append(rest)
            else:
                allowed.append(text)
        kept = STUDENT_SOURCES / f"{doc}.ipynb"        # the outputs the student pages show
        for cell in json.loads(kept.read_text(encoding="utf-8"))["cells"] if kept.is_file() else []:
            for out in cell.get("outputs", []):
                data = [out.get("text", "")] + [out.get("data", {}).get(k, "") for k in OUTPUT_TEXT]
                allowed += ["".join(d) if isinstance(d, list) else d for d in data]
                allowed += out.get("traceback", [])
    allowed += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "ganbook").rglob("*.py"))]
    allowed.append((ROOT / "book" / "references.bib").read_text(encoding="utf-8"))
    return raw, "\n".join(allowed)


@functools.lru_cache(maxsize=1)
def book_solutions() -> dict[str, dict[str, list[str]]]:
    """{chapter: {"block": [...], "cell": [...]}}: the distinctive snippets of its ``{solution}``
    blocks and of its solution cells, in normalized spelling."""
    raw, allowed = book_texts()
    corpus = _normalize(allowed)

    def snippets(texts: list[str], markdown: bool) -> list[str]:
        out: list[str] = []
        for text in texts:
            code, prose = _split_code(text) if markdown else ([text], "")
            for block in code:
                out += [_normalize(line) for line in block.split("\n") if len(line.strip()) >= MIN_CODE_LINE]
            for paragraph in re.split(r"\n\s*\n", prose):
                for run in _MARKUP.split(paragraph):
                    run = _normalize(run).strip(" .,;:()-")
                    if "$" not in run and len(run) >= MIN_PROSE_CHARS and len(run.split()) >= MIN_PROSE_WORDS:
                        out.append(run)
        return [s for s in dict.fromkeys(out) if s not in corpus]

    return {doc: {"block": snippets(f["block"], True), "cell": snippets(f["cell"], False)}
            for doc, f in raw.items()}


def _search_terms(text: str) -> set[str]:
    """The words of a text as Sphinx's English search index stores them (sphinx.search)."""
    from sphinx.search.en import SearchEnglish

    lang = SearchEnglish({})
    terms = set()
    for word in set(lang.split(text)):
        stemmed = lang.stem(word).lower()
        if not lang.word_filter(stemmed) and lang.word_filter(word):
            stemmed = word
        if lang.word_filter(stemmed):
            terms.add(stemmed)
    return terms


@functools.lru_cache(maxsize=1)
def solution_terms() -> dict[str, set[str]]:
    """{chapter: the search-index terms of the words (letters only, four or more) that occur in the
    solutions its reader's page shows and nowhere else in the book}."""
    raw, allowed = book_texts()
    elsewhere = _search_terms(allowed)
    out = {}
    for doc, found in raw.items():
        words = re.findall(r"\w+", "\n".join(found["block"] + found["shown"]))
        out[doc] = _search_terms(" ".join(w for w in set(words) if w.isalpha() and len(w) >= 4)) - elsewhere
    return out


def search_index(html_dir: Path) -> dict[str, set[str]]:
    """{document: its terms} of a site's searchindex.js (words of the text and of the titles)."""
    text = (html_dir / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    out: dict[str, set[str]] = {doc: set() for doc in index["docnames"]}
    for key in ("terms", "titleterms"):
        for term, docs in index[key].items():
            for d in [docs] if isinstance(docs, int) else docs:
                out[index["docnames"][d]].add(term)
    return out


def _file_text(path: Path) -> str | None:
    """The text a file of the site holds, in normalized spelling (None for binary files)."""
    data = path.read_bytes()
    if path.suffix == ".inv":           # Sphinx's objects.inv: 4 header lines, then zlib
        head = data.split(b"\n", 4)
        data = b"\n".join(head[:4]) + b"\n" + zlib.decompress(head[4]) if len(head) == 5 else data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if path.suffix in (".ipynb", ".json"):
        try:
            strings: list[str] = []

            def collect(node):
                if isinstance(node, str):
                    strings.append(node)
                elif isinstance(node, dict):
                    for value in node.values():
                        collect(value)
                elif isinstance(node, list):
                    for item in node:
                        collect(item)

            collect(json.loads(text))
            text = text + "\n" + "\n".join(strings)
        except json.JSONDecodeError:
            pass
    elif path.suffix in (".html", ".htm", ".xml", ".svg"):
        text = text + "\n" + html_lib.unescape(re.sub(r"<[^>]*>", "", text))
    return _normalize(text)


@functools.lru_cache(maxsize=4)
def site_texts(html_dir: Path, only_pages: bool = False) -> dict[str, str]:
    """{relative path: normalized text} of every text file under html_dir (or of its pages)."""
    out = {}
    for path in sorted(html_dir.rglob("*")):
        if not path.is_file() or (only_pages and path.suffix != ".html"):
            continue
        text = _file_text(path)
        if text is not None:
            out[path.relative_to(html_dir).as_posix()] = text
    return out


def leaks(texts: dict[str, str], snippets: list[str]) -> list[str]:
    return [f"{rel}: {s!r}" for rel, text in texts.items() for s in snippets if s in text]


def test_solution_collection_finds_solutions():
    """The collector finds the solutions of a chapter written for the purpose, and the check finds
    them in a folder (and nothing in a folder without them)."""
    markdown = ("Some text.\n\n:::{exercise}\n:label: ex-x\nShow that the optimum is one half.\n:::\n\n"
                ":::{solution} ex-x\n:class: dropdown\nThe optimal discriminator equals one half everywhere "
                "when the two densities agree.\n```python\ndef my_answer(x):\n    return torch.sigmoid(x) * 0.5\n"
                "```\n:::\n\nMore text.")
    bodies, rest = split_solution_blocks(markdown)
    assert len(bodies) == 1 and ":class:" not in bodies[0] and "{solution}" not in rest
    assert "Show that the optimum" in rest and "More text." in rest
    code, prose = _split_code(bodies[0])
    assert code == ["def my_answer(x):\n    return torch.sigmoid(x) * 0.5"]
    assert "optimal discriminator equals" in prose
    texts = {"page.html": _normalize("<p>The optimal discriminator equals one half everywhere when the two "
                                     "densities agree.</p><pre>return torch.sigmoid(x) * 0.5</pre>")}
    assert len(leaks(texts, ["The optimal discriminator equals one half everywhere when the two densities agree",
                             "return torch.sigmoid(x) * 0.5"])) == 2
    assert leaks({"page.html": _normalize("<p>Show that the optimum is one half.</p>")},
                 ["return torch.sigmoid(x) * 0.5"]) == []


@pytest.mark.skipif(not CHAPTER_PAGES, reason="no chapter pages in the build")
def test_reader_edition_shows_the_solutions():
    """The reader's edition shows (folded) every chapter's {solution} blocks on its pages, and its
    _sources hold the solution cells: so the student edition's check below is not vacuous."""
    solutions = book_solutions()
    pages = site_texts(HTML_DIR, only_pages=True)
    everything = site_texts(HTML_DIR)
    problems = []
    n_blocks = n_cells = 0
    for doc, found in solutions.items():
        page = pages.get(f"{doc}.html")
        if page is None:
            problems.append(f"{doc}: no page in the reader's edition")
            continue
        shown = [s for s in found["block"] if s in page]
        n_blocks += len(shown)
        if found["block"] and len(shown) < 0.5 * len(found["block"]):
            problems.append(f"{doc}: only {len(shown)} of {len(found['block'])} solution snippets on its page, "
                            f"e.g. missing {[s for s in found['block'] if s not in page][:3]}")
        in_sources = [s for s in found["cell"] if any(s in t for t in everything.values())]
        n_cells += len(in_sources)
        if found["cell"] and not in_sources:
            problems.append(f"{doc}: none of its {len(found['cell'])} solution-cell snippets in the reader's edition")
    assert n_blocks > 0 and n_cells > 0, (n_blocks, n_cells)
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(not CHAPTER_PAGES, reason="no chapter pages in the build")
def test_reader_search_index_has_the_solutions_words():
    """The words only solutions use are in the reader's search index (so the student edition's
    check of its index below is not vacuous)."""
    terms = solution_terms()
    index = search_index(HTML_DIR)
    want = sum(len(t) for t in terms.values())
    have = sum(len(t & index.get(doc, set())) for doc, t in terms.items())
    assert want > 0, "no word occurs only in solutions: the search-index check would be vacuous"
    missing = {doc: sorted(t - index.get(doc, set())) for doc, t in terms.items() if t - index.get(doc, set())}
    assert have >= 0.5 * want, f"only {have} of {want} solution-only words in the reader's index: {missing}"


@needs_student_edition
def test_student_search_index_has_no_solution_words():
    """No word that only solutions use is in the student edition's search index, on any page."""
    index = search_index(STUDENT_DIR)
    found = {doc: sorted(t & words) for words in [set().union(*solution_terms().values())]
             for doc, t in index.items() if t & words}
    assert not found, f"words of the solutions in the student edition's search index: {found}"


@needs_student_edition
def test_student_edition_has_no_solution_text():
    """No solution snippet of any chapter in any file of the student edition: pages, search index,
    _sources, the notebooks its download buttons give."""
    snippets = [s for found in book_solutions().values() for s in found["block"] + found["cell"]]
    assert snippets
    texts = site_texts(STUDENT_DIR)
    assert any(rel.startswith("_sources/") for rel in texts) and "searchindex.js" in texts
    found = leaks(texts, snippets)
    assert not found, f"{len(found)} solution snippets in the student edition:\n" + "\n".join(found[:40])


@needs_student_edition
def test_student_downloads_are_student_notebooks():
    """The download button of every student chapter page gives the chapter's student notebook in
    Jupyter markdown (no MyST directives), without outputs and with its exercises."""
    problems = []
    for rel in (p for p in STUDENT_PAGES if p.startswith("chapters/")):
        path = STUDENT_DIR / "_sources" / (rel[:-len(".html")] + ".ipynb")
        page = (STUDENT_DIR / rel).read_text(encoding="utf-8")
        if f'_sources/{rel[:-len(".html")]}.ipynb"' not in page:
            problems.append(f"{rel}: no download link to {path.relative_to(STUDENT_DIR)}")
        if not path.is_file():
            problems.append(f"{rel}: {path.relative_to(STUDENT_DIR)} missing")
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        markdown = "\n".join(_cell_text(c) for c in nb["cells"] if c["cell_type"] == "markdown")
        if nb["metadata"].get("ganbook", {}).get("edition") != "student":
            problems.append(f"{rel}: the download is not the student edition ({nb['metadata'].get('ganbook')})")
        if re.search(r"^\s*(:{3,}|`{3,})\{", markdown, re.M):
            problems.append(f"{rel}: the download holds MyST directives")
        if "<details>" in markdown or "colab.research.google.com" in markdown:
            problems.append(f"{rel}: the download holds a folded solution or a Colab link")
        if any(c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"):
            problems.append(f"{rel}: the download has outputs")
        if "### Exercise" not in markdown:
            problems.append(f"{rel}: the download has no exercises")
    assert not problems, "\n".join(problems)
