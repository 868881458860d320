"""Package-level promises: fast side-effect-free import, device selection, seeding."""
import importlib
import subprocess
import sys

import pytest
import torch

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
