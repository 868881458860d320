"""The student version of a chapter has no solutions left, and keeps the exercises."""
import json
from pathlib import Path

import pytest

from ganbook import teach

CHAPTERS = sorted(Path(__file__).resolve().parents[1].glob("chapters/**/*.ipynb"))


def test_strip_solutions_both_fences():
    md = ("intro\n:::{exercise}\n:label: e1\nQ\n:::\n\n:::{solution} e1\n:class: dropdown\nsecret\n:::\n"
          "```{solution} e2\nhidden\n```\noutro\n")
    out = teach.strip_solutions(md)
    assert "secret" not in out and "hidden" not in out
    assert ":::{exercise}" in out and "intro" in out and "outro" in out


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_student_version_of_each_chapter(path, tmp_path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    n_ex = sum("".join(c["source"]).count("{exercise}") for c in nb["cells"] if c["cell_type"] == "markdown")
    out = tmp_path / "student.ipynb"
    assert teach.main(["student", str(path), "-o", str(out)]) == 0
    st = json.loads(out.read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in st["cells"])
    assert "{solution}" not in text
    assert text.count("{exercise}") == n_ex
    assert not any("remove-cell" in c.get("metadata", {}).get("tags", []) for c in st["cells"])
    assert all(not c.get("outputs") for c in st["cells"] if c["cell_type"] == "code")


def test_bad_input():
    with pytest.raises(ValueError, match="notebook"):
        teach.student_version({"no": "cells"})
    with pytest.raises(TypeError, match="markdown"):
        teach.strip_solutions(3)
