"""The package's import graph runs one way: no cycles, and the core never imports the layers
built on it (plot, widgets, check, bench, teach). Every module also imports alone in a fresh
interpreter, so no module works only because another one happened to be imported first."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ganbook"
# Layers on top of the core: they may import the core, never the reverse.
OUTER = {"ganbook.plot", "ganbook.widgets", "ganbook.check", "ganbook.bench", "ganbook.teach", "ganbook.assign", "ganbook.ablation",
         "ganbook.sngan", "ganbook.conditional", "ganbook.conditional_conv", "ganbook.infogan", "ganbook.latent", "ganbook.rl",
         "ganbook.seqgan", "ganbook.crnngan", "ganbook.video", "ganbook.semi_supervised", "ganbook.domain_adaptation",
         "ganbook.translation", "ganbook.refiner", "ganbook.superres", "ganbook.editing", "ganbook.joint"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(importer: str, is_package: bool, level: int, target: str | None) -> str:
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def imports_of(name: str) -> set[str]:
    """The ganbook modules that ``name`` imports anywhere in its source (top level or inside a
    function: a lazy import is still an edge of the graph)."""
    path = MODULES[name]
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ganbook")}
        elif isinstance(node, ast.ImportFrom):
            base = (_resolve(name, is_package, node.level, node.module) if node.level
                    else node.module or "")
            if not base.startswith("ganbook"):
                continue
            for alias in node.names:           # `from . import x` may name a submodule
                candidate = f"{base}.{alias.name}"
                out.add(candidate if candidate in MODULES else base)
    return {m for m in out if m in MODULES and m != name}


def _is_inside(child: str, parent: str) -> bool:
    return child.startswith(parent + ".")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of nodes, or None (depth-first search with colours)."""
    colour = dict.fromkeys(graph, 0)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) == 0:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if colour[node] == 0:
            found = visit(node)
            if found:
                return found
    return None


def graph() -> dict[str, set[str]]:
    # A package's __init__ importing its own submodules is how a package is assembled, not a cycle;
    # the edges that count are between modules, and from a submodule up to its package.
    return {m: {t for t in imports_of(m) if not _is_inside(t, m)} for m in MODULES}


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_core_never_imports_the_outer_layers():
    bad = [(m, t) for m, targets in graph().items() for t in targets
           if not any(m == o or _is_inside(m, o) for o in OUTER)
           and any(t == o or _is_inside(t, o) for o in OUTER)]
    assert not bad, f"core modules importing outer layers: {bad}"


# One fresh interpreter imports each module with no ganbook module loaded before it (third-party
# packages such as torch stay loaded: they take seconds to import and cannot depend on ganbook).
_ALONE = """
import importlib, sys, traceback
import torch, numpy, scipy, matplotlib  # noqa: F401
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "ganbook" or m.startswith("ganbook.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_each_module_imports_alone():
    done = subprocess.run([sys.executable, "-c", _ALONE, *sorted(MODULES)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"modules that fail to import alone:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
