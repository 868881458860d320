"""The answer cells and the student edition (issue 23): every coding exercise of every chapter is
followed by its answer cell; the student edition keeps the answer cells (self-contained: they import
what their checks need) and no solution; filled with the reference solution of the exercise's
{solution} block, each answer cell passes its check, and untouched it fails with "not implemented yet".
Only the answer cells are executed (never whole chapters), on the CPU, in a fresh namespace each."""
import ast
import contextlib
import io
import json
from pathlib import Path

import pytest

from ganbook import check, teach

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(ROOT.glob("chapters/**/*.ipynb"))


def _nb(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _answer_cells(nb):
    return [(teach.answer_label(c), _src(c)) for c in nb["cells"] if teach.answer_label(c)]


def _fill(answer: str, solution: str) -> str:
    """The answer cell with each template function replaced by the solution's function of that name."""
    sol = ast.parse(solution)
    defs = {n.name: ast.get_source_segment(solution, n) for n in sol.body if isinstance(n, ast.FunctionDef)}
    tree = ast.parse(answer)
    lines = answer.splitlines(keepends=True)
    out, pos = [], 0
    templates = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert templates, "an answer cell must define the function(s) to write"
    for node in templates:
        assert node.name in defs, f"the solution block does not define {node.name}"
        start = sum(len(x) for x in lines[:node.lineno - 1])
        end = sum(len(x) for x in lines[:node.end_lineno])
        out += [answer[pos:start], defs[node.name], "\n"]
        pos = end
    out.append(answer[pos:])
    return "".join(out)


def _run(code: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "<answer cell>", "exec"), {"__name__": "__main__"})
    return buf.getvalue()


def _student(path):
    return teach.student_version(_nb(path), teach.exercise_numbers(ROOT))


WITH_ANSWERS = [p for p in CHAPTERS if _answer_cells(_nb(p))]


# Chapters not yet converted with `python -m ganbook.teach answers NB` (none: every chapter is).
PENDING: set[str] = set()


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_coding_exercise_has_its_answer_cell(path):
    nb = _nb(path)
    _, missing = teach.add_answer_cells(nb)
    if missing and not _answer_cells(nb) and any(k in path.as_posix() for k in PENDING):
        pytest.skip(f"pending conversion: python -m ganbook.teach answers {path.relative_to(ROOT)}")
    assert not missing, f"run: python -m ganbook.teach answers {path.relative_to(ROOT)}"
    labels = teach.coding_exercises(nb)
    cells = nb["cells"]
    for i, cell in enumerate(cells):
        label = teach.answer_label(cell)
        if label:                                   # right after its exercise (the markdown cell above)
            above = _src(cells[i - 1])
            assert f":label: {label}" in above and "{exercise}" in above, label
            tags = cell["metadata"]["tags"]
            assert "skip-execution" in tags and "nbval-skip" in tags   # the book never runs a template
            assert "check." in _src(cell) and "from ganbook import check" in _src(cell)
    assert sorted(labels) == sorted(lab for lab, _ in _answer_cells(nb))


def test_there_are_answer_cells():
    assert sum(len(_answer_cells(_nb(p))) for p in CHAPTERS) >= 15


@pytest.mark.parametrize("path", WITH_ANSWERS, ids=[p.stem for p in WITH_ANSWERS])
def test_student_edition_filled_passes_untouched_says_not_implemented(path):
    import nbformat

    nbformat.validate(nbformat.from_dict(_nb(path)))
    student = _student(path)
    nbformat.validate(nbformat.from_dict(student))
    text = "\n".join(_src(c) for c in student["cells"])
    assert "{solution}" not in text
    solutions = teach.solutions(_nb(path))
    numbers = teach.exercise_numbers(ROOT)
    answers = _answer_cells(student)
    assert [lab for lab, _ in answers] == [lab for lab, _ in _answer_cells(_nb(path))]
    for label, code in answers:
        cell = next(c for c in student["cells"] if teach.answer_label(c) == label)
        assert not {"skip-execution", "nbval-skip"} & set(cell["metadata"]["tags"])
        assert code.startswith(f"# Exercise {numbers[label]}: answer cell ({label})")
        with pytest.raises(check.CheckFailed, match="not implemented yet"):
            _run(code)
        printed = _run(_fill(code, solutions[label]))
        assert printed.count("✓") == 1, printed          # one ✓ line, printed once


def test_exercise_numbers_follow_the_table_of_contents():
    numbers = teach.exercise_numbers(ROOT)
    assert sorted(numbers.values()) == list(range(1, len(numbers) + 1))
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert toc.index("ch01_maximum_likelihood") < toc.index("ch02_gan_game")
    assert numbers["ch1-ex-gaussian-mle"] == 1 and numbers["ch1-ex-kl-gaussian"] == 2
    assert numbers["ch1-ex-gaussian-mle"] < numbers["ch2-ex-ns-loss"] < numbers["ch15-ex-fid"]
    # every exercise of every chapter in the toc is numbered, once
    n = sum(_src(c).count("{exercise}") for p in CHAPTERS if p.relative_to(ROOT).with_suffix("").as_posix() in toc
            for c in _nb(p)["cells"] if c["cell_type"] == "markdown")
    assert len(numbers) == n


def test_answers_command_is_idempotent_and_converts_the_convention(tmp_path):
    md = (":::{exercise}\n:label: t-ex\nWrite it and check it:\n```python\ndef my_f(x):\n    ...\n"
          "check.nonsaturating_g_loss(my_f)\n```\nMore text.\n:::\n\n:::{solution} t-ex\n:class: dropdown\n"
          "```python\ndef my_f(x):\n    return F.softplus(-x).mean()\n```\n:::\n")
    nb = {"cells": [{"cell_type": "markdown", "id": "ex", "metadata": {}, "source": md}], "metadata": {},
          "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "t.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert teach.main(["answers", "--check", str(path)]) == 1
    assert teach.main(["answers", str(path)]) == 0
    out = json.loads(path.read_text(encoding="utf-8"))
    kinds = [c["cell_type"] for c in out["cells"]]
    assert kinds == ["markdown", "code", "markdown"]
    assert "```python" not in _src(out["cells"][0]) and "More text." in _src(out["cells"][0])
    answer = _src(out["cells"][1])
    assert "import torch.nn.functional as F" in answer and "from ganbook import check" in answer
    assert _src(out["cells"][2]).startswith(":::{solution} t-ex")
    assert teach.main(["answers", "--check", str(path)]) == 0          # idempotent
    import nbformat

    nbformat.validate(nbformat.from_dict(out))                         # cell ids (nbformat 4.5) included
    with pytest.raises(check.CheckFailed, match="not implemented yet"):
        _run(answer)
    assert "✓" in _run(_fill(answer, teach.solutions(out)["t-ex"]))


def test_student_refuses_to_overwrite_its_input(tmp_path, capsys):
    path = tmp_path / "ch.ipynb"
    original = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    path.write_text(original, encoding="utf-8")
    for out in (str(path), str(tmp_path / "." / "ch.ipynb")):
        with pytest.raises(SystemExit) as err:
            teach.main(["student", str(path), "-o", out])
        assert err.value.code == 2
        assert "refusing to overwrite" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == original


def _getsource_targets(code: str) -> set[str]:
    """The expressions whose source a cell prints with inspect.getsource(...), and the loop tuples'
    members (``for fn in (a, b): print(inspect.getsource(fn))``)."""
    tree = ast.parse(code)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("getsource") and node.args:
            out.add(ast.unparse(node.args[0]))
        if isinstance(node, ast.For) and isinstance(node.iter, (ast.Tuple, ast.List)):
            if "getsource" in ast.unparse(node):
                out |= {ast.unparse(e) for e in node.iter.elts}
    return out


@pytest.mark.parametrize("path", WITH_ANSWERS, ids=[p.stem for p in WITH_ANSWERS])
def test_no_answer_beside_its_question(path):
    """A listing that gives an exercise's answer (the library functions folded after its solution,
    in a cell tagged `solution`) is printed nowhere else in the chapter, and not in the student edition."""
    nb = _nb(path)
    code = [(c, _src(c)) for c in nb["cells"] if c["cell_type"] == "code" and "%pip" not in _src(c)]
    folded = set().union(*[_getsource_targets(s) for c, s in code if teach.SOLUTION_TAG in c["metadata"].get("tags", [])])
    shown = set().union(*[_getsource_targets(s) for c, s in code if teach.SOLUTION_TAG not in c["metadata"].get("tags", [])])
    assert not (folded & shown), f"printed beside the question: {sorted(folded & shown)}"
    for c in _student(path)["cells"]:
        assert teach.SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])
        if c["cell_type"] == "code" and "%pip" not in _src(c):
            assert not (_getsource_targets(_src(c)) & folded)


def test_instructor_guide_refers_to_exercises_by_the_sites_numbers():
    """The guide names exercises with {numref} roles, which the site resolves to its own numbers; every
    label it names is an exercise of a chapter."""
    import re

    guide = (ROOT / "book" / "instructor_guide.md").read_text(encoding="utf-8")
    labels = re.findall(r"\{numref\}`[^`<]*<([^>`]+)>`", guide)
    assert len(labels) >= 10
    numbers = teach.exercise_numbers(ROOT)
    assert set(labels) <= set(numbers), sorted(set(labels) - set(numbers))
    assert not re.search(r"exercises? \d+\.\d+", guide)          # no chapter.number references left
