"""`make robustness` (.ci/robustness.py): SEED is injected after the parameters cell, every variant
is an environment for the kernel, a failure is reported with the line that raised, and the table
says which runs passed. Executes two one-cell notebooks, not chapters."""
import os
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / ".ci"))
import robustness  # noqa: E402
import timings  # noqa: E402


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SEED = 0")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_seed_and_variant_reach_the_kernel(tmp_path):
    nb = _notebook(tmp_path / "probe.ipynb",
                   "import os\nassert SEED in (3, 4), SEED\nassert os.environ.get('ATEN_CPU_CAPABILITY') == 'default'")
    out = tmp_path / "r.md"
    rc = robustness.main([str(nb), "--variants", "aten-default", "--variant-seeds", "2", "--seed-start", "3",
                          "--jobs", "1", "--output", str(out)])
    assert rc == 0
    text = out.read_text()
    assert "2/2 (3..4)" in text and "aten-default" in text


def test_a_failing_run_is_reported_with_its_line(tmp_path):
    nb = _notebook(tmp_path / "fails.ipynb", "x = SEED + 1\nassert x == 1, 'only SEED 0 passes'")
    out = tmp_path / "r.md"
    rc = robustness.main([str(nb), "--variants", "native", "--seeds", "2", "--jobs", "2", "--output", str(out)])
    assert rc == 1
    text = out.read_text()
    assert "**1/2 (0..1)" in text and "failed SEED [1]" in text
    assert "only SEED 0 passes" in text and "at `assert x == 1" in text


def test_a_notebook_without_seed_is_refused(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    path = tmp_path / "noseed.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(SystemExit, match="no parameters cell"):
        robustness.execute(robustness.Run(path, "native", 0), 60)


def test_variants_change_the_environment_only_by_their_settings():
    env = robustness.variant_env("mkl-compatible")
    assert env["MKL_CBWR"] == "COMPATIBLE" and "MPLBACKEND" not in env
    assert robustness.variant_env("native").get("MKL_CBWR") == os.environ.get("MKL_CBWR")


def test_timings_baseline_is_read_from_a_timings_page(tmp_path):
    page = tmp_path / "t.md"
    page.write_text("| Chapter | Seconds |\n| :-- | --: |\n| {doc}`/chapters/a/ch01` | 9.8 | 500 | ok |\n"
                    "| {doc}`/chapters/b/ch02` | 22.6 | 400 | ok |\n| **All chapters** | **32.4** | 500 | ok |\n")
    assert timings.baseline_seconds(page) == {"chapters/a/ch01": 9.8, "chapters/b/ch02": 22.6}


def test_logs_of_separate_runs_merge_into_one_table(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"variant": "native", "checksum": "cpu -1.5"}\n'
                 '{"chapter": "chapters/x/ch01", "variant": "native", "seed": 0, "seconds": 3.0, "error": null}\n')
    b.write_text('{"chapter": "chapters/x/ch01", "variant": "native", "seed": 1, "seconds": 4.0, "peak_mb": 9, '
                 '"error": "CellExecutionError (AssertionError) at `assert x`"}\n')
    out = tmp_path / "m.md"
    assert robustness.main(["--merge", str(a), str(b), "--output", str(out)]) == 1
    text = out.read_text()
    assert "**1/2 (0..1), 4 s; failed SEED [1]**" in text and "`cpu -1.5`" in text and "at `assert x`" in text
