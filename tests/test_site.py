"""The built site, opened in a real headless browser, offline.

Serves ``_build/html`` on 127.0.0.1, drives Debian's Chromium with Playwright and blocks every
request that leaves 127.0.0.1 (a blocked request is a failure: the site must not need a CDN).
For every page: HTTP 200, no console/page errors beyond ALLOWED_CONSOLE_ERRORS, every image
decoded, math typeset by the local MathJax, widgets rendered by the local widget manager,
exercise solutions hidden until opened, the Colab launch button on chapter pages (it opens the
chapter's Jupyter/Colab edition, book/jupyter/), and legibility: no figure shrunk on the page
by more than FIGURE_SHRINK_LIMIT (its text would fall below 10 px; multi-panel figures get the
full page width, ganbook.plot.fit), and no code block or printed output that scrolls sideways.

``make test`` builds the book first; run alone, this module skips if there is no build.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML_DIR = ROOT / "_build" / "html"
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


def _pages() -> list[str]:
    if not HTML_DIR.is_dir():
        return []
    pages = []
    for path in sorted(HTML_DIR.rglob("*.html")):
        rel = path.relative_to(HTML_DIR)
        if set(rel.parts[:-1]) & EXCLUDED_DIRS or rel.parts[0].startswith("_"):
            continue
        if len(rel.parts) == 1 and rel.name in EXCLUDED_PAGES:
            continue
        pages.append(rel.as_posix())
    return pages


PAGES = _pages()
CHAPTER_PAGES = [p for p in PAGES if p.startswith("chapters/")]


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


def test_no_cdn_or_foreign_resources():
    """No page loads a script, stylesheet, image or frame from another host, and no page
    mentions a CDN at all (not even in an inline script)."""
    problems = []
    for path in sorted(HTML_DIR.rglob("*.html")):
        rel = path.relative_to(HTML_DIR).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        finder = _ForeignResourceFinder()
        finder.feed(text)
        problems += [f"{rel}: {item}" for item in finder.foreign]
        problems += [f"{rel}: mentions {host}" for host in CDN_HOSTS if host in text]
    for path in sorted(HTML_DIR.rglob("*.css")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", text):
            problems.append(f"{path.relative_to(HTML_DIR)}: css url {match.group(1)}")
    assert not problems, "foreign resources in the built site:\n" + "\n".join(problems)


def test_offline_assets_are_in_the_site():
    static = HTML_DIR / "_static"
    for rel in ("mathjax/tex-chtml.js", "require.js", "jupyter-widgets/embed-amd.js"):
        assert (static / rel).is_file(), f"_static/{rel} missing (run .ci/offline_assets.sh)"


# --------------------------------------------------------------------------- browser fixtures


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture(scope="module")
def server_url():
    handler = functools.partial(_QuietHandler, directory=str(HTML_DIR))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
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
def open_page(browser, server_url):
    contexts = []

    def _open(rel: str):
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
        response = page.goto(f"{server_url}/{rel}", wait_until="load")
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
    page, response, log = open_page(rel)
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

    # exercises: solutions exist and are hidden until the reader opens them
    n_exercises = page.locator(".exercise").count()
    solutions = page.evaluate(SOLUTIONS_JS)
    if n_exercises and not solutions:
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

    # chapters: the Colab launch button opens this chapter's Jupyter/Colab edition
    if rel.startswith("chapters/"):
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


def test_index_redirects_to_intro(open_page):
    page, response, log = open_page("index.html")
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
