"""Package-level promises: fast side-effect-free import, device selection, seeding; pyproject.toml's
bounds and requirements.txt's pins agree."""
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import ganbook


def test_import_is_fast_and_lazy():
    code = ("import time, sys, torch; t = time.perf_counter(); import ganbook; "
            "dt = time.perf_counter() - t; "
            "loaded = [m for m in ('ganbook.plot', 'ganbook.train', 'matplotlib', 'sklearn') if m in sys.modules]; "
            "print(dt, loaded)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(maxsplit=1)
    assert float(out[0]) < 1.0
    assert out[1].strip() == "[]"


def test_device_selection():
    assert ganbook.device("cpu") == torch.device("cpu")
    assert ganbook.device(None).type in {"cpu", "cuda", "mps"}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            ganbook.device("cuda")
    with pytest.raises(ValueError, match="not a device name"):
        ganbook.device("tpu-ish")
    with pytest.raises(TypeError, match="prefer"):
        ganbook.device(3)


def test_seed_makes_torch_reproducible():
    ganbook.seed(7)
    a = torch.randn(5)
    g = ganbook.seed(7)
    assert torch.equal(a, torch.randn(5))
    assert torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=torch.Generator().manual_seed(7)))
    with pytest.raises(ValueError, match="non-negative"):
        ganbook.seed(-3)
    with pytest.raises(TypeError, match="int"):
        ganbook.seed(1.5)


def test_every_listed_submodule_exists():
    """Each name in the lazy-import list is a module of the package (a deleted module leaves no entry)."""
    for name in ganbook._SUBMODULES:
        assert getattr(ganbook, name) is importlib.import_module(f"ganbook.{name}"), name
    assert "ensembles" not in ganbook._SUBMODULES          # replaced by nets.BatchedMLP


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute"):
        ganbook.not_a_module


# --------------------------------------------------------------------------- bounds and pins

ROOT = Path(__file__).resolve().parents[1]


def pins(text: str) -> dict[str, Version]:
    """requirements.txt's exact pins ``name==version``, by canonical name."""
    found = {}
    for line in text.splitlines():
        m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)\s*(#.*)?", line)
        if m:
            found[canonicalize_name(m.group(1))] = Version(m.group(2))
    return found


def bound_problems(dependencies: list[str], pinned: dict[str, Version]) -> list[str]:
    """Every dependency of pyproject.toml is pinned in requirements.txt, and the pin satisfies its
    bound (a pin outside the bound means the book is tested on versions Colab never installs)."""
    problems = []
    for spec in dependencies:
        req = Requirement(spec)
        version = pinned.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} ({spec}) is not pinned in requirements.txt")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"requirements.txt pins {req.name}=={version}, outside pyproject's {spec!r}")
    return problems


def test_pins_satisfy_the_bounds():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = pins((ROOT / "requirements.txt").read_text(encoding="utf-8"))
    assert not bound_problems(project["dependencies"], pinned)
    for name in ("torch", "numpy", "scipy", "matplotlib"):          # the parser found the pins
        assert canonicalize_name(name) in pinned, name


def test_bound_check_fails():
    pinned = pins("torch==2.13.0\nnumpy==1.23.5  # old\nscikit_learn==1.9.1\n# scipy==1.17.1\n")
    assert pinned == {"torch": Version("2.13.0"), "numpy": Version("1.23.5"), "scikit-learn": Version("1.9.1")}
    assert bound_problems(["torch>=2.1", "scikit-learn>=1.2"], pinned) == []
    assert bound_problems(["numpy>=1.24"], pinned) == [
        "requirements.txt pins numpy==1.23.5, outside pyproject's 'numpy>=1.24'"]
    assert bound_problems(["torch>=2.1,<2.13"], pinned)
    assert bound_problems(["scipy>=1.10"], pinned) == ["scipy (scipy>=1.10) is not pinned in requirements.txt"]
