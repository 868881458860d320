"""Graded assignments (issue 21): generated from the real chapter notebooks (ch01, ch02), graded
offline with nbgrader. Only the assignments' cells run (never a chapter): the reference solutions
score full marks, an untouched notebook zero, a typical mistake partial marks on exactly the
questions it affects, and a submission that raises, loops or uses ganbook's implementation scores
zero on those questions and full marks on the others (a per-cell time limit). Generation covers every
coding exercise of every chapter (checked against teach.coding_exercises, not the generator)."""
import csv
import json
import time
from pathlib import Path

import pytest

from ganbook import assign, teach

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(ROOT.glob("chapters/**/*.ipynb"))
CH01 = ROOT / "chapters/part1_foundations/ch01_maximum_likelihood.ipynb"
CH02 = ROOT / "chapters/part1_foundations/ch02_gan_game.ipynb"
A1, A2 = CH01.stem, CH02.stem
TIMEOUT = 4          # seconds per cell in these tests: every legitimate cell takes well under one

def _nb(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _src(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


# ------------------------------------------------------------------ generation (every chapter)

def test_questions_cover_every_coding_exercise_of_every_chapter():
    expected = {(p.stem, lab) for p in CHAPTERS for lab in teach.coding_exercises(_nb(p))}
    assert len(expected) >= 15
    got = {(q.assignment, q.label) for q in assign.questions(CHAPTERS)}
    assert got == expected
    missing = sorted({lab for _, lab in expected} - set(assign.HIDDEN))
    assert not missing, f"coding exercises without hidden tests (add them to ganbook.assign.HIDDEN): {missing}"
    assert set(assign.HIDDEN) <= {lab for _, lab in expected}     # no stale hidden tests either
    for q in assign.questions(CHAPTERS):
        assert len(q.hidden) >= 3 and q.points == 1 + len(q.hidden)
        assert "{solution}" not in q.text and ":label:" not in q.text and q.text
        assert q.check.split("(")[0].split(".")[-1] and q.function in q.check


def _prelude():
    import math

    import torch
    import torch.nn.functional as F

    from ganbook import check
    return {"math": math, "torch": torch, "F": F, "check": check}


_PRELUDE = _prelude()


@pytest.mark.parametrize("path", [p for p in CHAPTERS if teach.coding_exercises(_nb(p))],
                         ids=lambda p: p.stem)
def test_hidden_tests_accept_the_reference_and_reject_the_template(path):
    """Every chapter: the source notebook's cells, run in process — reference solution + public and
    hidden tests pass; the template + any test fails."""
    qs = assign.chapter_questions(path)
    src = assign.source_notebook(path.stem, qs)
    import nbformat

    nbformat.validate(nbformat.from_dict(src))
    cells = {_gid(c): _src(c) for c in src["cells"]}
    for q in qs:
        ns = {"__name__": "__main__", **_PRELUDE}
        exec(compile(cells[f"{q.label}--answer"], "<answer>", "exec"), ns)
        tests = [cells[f"{q.label}--public"]] + [cells[f"{q.label}--hidden-{i}"] for i in range(1, len(q.hidden) + 1)]
        for t in tests:
            exec(compile(t, "<test>", "exec"), dict(ns))
        blank = {"__name__": "__main__", **_PRELUDE}
        exec(compile(q.template, "<template>", "exec"), blank)
        for t in tests:
            with pytest.raises(Exception):
                exec(compile(t, "<test>", "exec"), dict(blank))


def test_forbidden_uses():
    import ganbook.objectives as objectives
    import torch
    from ganbook import check
    from ganbook.objectives import gan

    ns = {"torch": torch, "objectives": objectives, "ns": gan.nonsaturating_g_loss, "check": check}
    exec("def own(x):\n    return torch.nn.functional.softplus(-x).mean()\n"
         "def cheat(x):\n    return ns(x)\n"
         "def helper(x):\n    return objectives.gan.nonsaturating_g_loss(x)\n"
         "def indirect(x):\n    return helper(x)\n"
         "def sneaky(x):\n    return __import__('ganbook').objectives\n"
         "def checked(x):\n    return check.CheckFailed\n", ns)
    assert assign.forbidden_uses(ns["own"]) == [] and assign.forbidden_uses(ns["checked"]) == []
    assert assign.forbidden_uses(ns["cheat"]) == ["ns"]
    assert assign.forbidden_uses(ns["indirect"]) == ["helper → objectives"]
    assert "__import__" in assign.forbidden_uses(ns["sneaky"])
    with pytest.raises(AssertionError, match="which the rules forbid"):
        assign.gate("x", ns["cheat"])
    with pytest.raises(AssertionError, match="must be a function"):
        assign.gate("x", None)


# ------------------------------------------------------------------ make + grade (ch01, ch02)

@pytest.fixture(scope="module")
def course(tmp_path_factory):
    pytest.importorskip("nbgrader")          # requirements.txt pins it; `pip install ganbook[teach]` brings it
    out = tmp_path_factory.mktemp("assignments") / "course"
    t = time.perf_counter()
    made = assign.make([CH01, CH02], out)
    print(f"make: {time.perf_counter() - t:.1f} s")
    assert list(made) == [A1, A2]
    return out


def _release(course, name):
    return _nb(course / "release" / name / f"{name}.ipynb")


def _fill(course, name, answers):
    """The student notebook with some answer cells replaced (label -> code)."""
    nb = _release(course, name)
    for cell in nb["cells"]:
        label = _gid(cell).removesuffix("--answer")
        if _gid(cell).endswith("--answer") and label in answers:
            cell["source"] = answers[label]
    return nb


def _solutions(course, name):
    """The reference answers: the answer cells of the instructor's (source) notebook, i.e. the
    {solution} blocks of the chapter."""
    src = _nb(course / "source" / name / f"{name}.ipynb")
    return {_gid(c).removesuffix("--answer"): _src(c) for c in src["cells"] if _gid(c).endswith("--answer")}


MISTAKES = {      # typical mistakes the checks know (ganbook/check/foundations.py): question -> answer
    A1: {"ch1-ex-gaussian-mle": "def my_gaussian_mle(x):\n    return x.mean(), x.std()   # 1/(n-1)\n"},
    A2: {"ch2-ex-ns-loss": "import torch\n\n\ndef my_ns_loss(fake):\n"
                           "    return -torch.log(torch.sigmoid(fake)).mean()   # unstable\n"},
}
BROKEN = {
    A2: {"ch2-ex-ns-loss": "def my_ns_loss(fake):\n    raise RuntimeError('oops')\n",
         "ch2-ex-d-loss": "def my_d_loss(real, fake):\n    while True:\n        pass\n"},
    A1: {"ch1-ex-kl-gaussian": "from ganbook.divergences import kl_gaussian as _kl\n\n\n"
                               "def my_kl_gaussian(mu_p, sigma_p, mu_q, sigma_q):\n    return float(_kl(mu_p, sigma_p, mu_q, sigma_q))\n"},
}


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")

    def write(student, name, nb):
        path = subs / student / "some" / "folder" / f"{name}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(nb), encoding="utf-8")

    for name in (A1, A2):
        sols = _solutions(course, name)
        write("reference", name, _fill(course, name, sols))
        write("untouched", name, _release(course, name))
        write("mistake", name, _fill(course, name, {**sols, **MISTAKES[name]}))
        write("broken", name, _fill(course, name, {**sols, **BROKEN[name]}))
    out = tmp_path_factory.mktemp("grades")
    t = time.perf_counter()
    rows = assign.grade(subs, out, course, timeout=TIMEOUT)
    print(f"grade: {time.perf_counter() - t:.1f} s")
    return out, {(r["student"], r["question"]): r for r in rows}


def _questions(course):
    return {lab for name in (A1, A2) for lab in _solutions(course, name)}


def test_release_has_no_solution_and_no_hidden_test(course):
    for name in (A1, A2):
        text = "\n".join(_src(c) for c in _release(course, name)["cells"])
        assert "BEGIN SOLUTION" not in text and "HIDDEN" not in text and "_gate" not in text
        for code in _solutions(course, name).values():
            body = [ln for ln in code.splitlines() if ln.startswith("    ") and "..." not in ln]
            assert body and not any(ln in text for ln in body), name
        for q in assign.chapter_questions(CH01 if name == A1 else CH02):
            assert q.check in text                       # the public test is there
            assert not any(body.strip().splitlines()[0] in text for _, body in q.hidden)
    assert (course / "gradebook.db").is_file() and (course / "questions.csv").is_file()


def test_reference_solutions_score_full_marks(course, graded):
    _, rows = graded
    for q in _questions(course):
        r = rows[("reference", q)]
        assert r["points"] == r["max_points"] == 4, r


def test_untouched_notebook_scores_zero(course, graded):
    _, rows = graded
    for q in _questions(course):
        assert rows[("untouched", q)]["points"] == 0, rows[("untouched", q)]


def test_typical_mistake_scores_partial_marks_on_exactly_its_questions(course, graded):
    _, rows = graded
    affected = {lab for m in MISTAKES.values() for lab in m}
    for q in _questions(course):
        r = rows[("mistake", q)]
        if q in affected:
            assert 0 < r["points"] < r["max_points"], r
        else:
            assert r["points"] == r["max_points"], r


def test_broken_submission_zero_on_its_questions_full_on_the_others(course, graded):
    _, rows = graded
    broken = {lab for m in BROKEN.values() for lab in m}
    for q in _questions(course):
        r = rows[("broken", q)]
        assert r["points"] == (0 if q in broken else r["max_points"]), r
    loop = rows[("broken", "ch2-ex-d-loss")]["errors"]
    assert [test for test, why in loop if "time limit (CellTimeoutError)" in why] == ["public"]   # one time-out
    assert all("earlier test of this question ran past the time limit" in why for test, why in loop[1:])
    assert all("uses _kl, which the rules forbid" in why for _, why in rows[("broken", "ch1-ex-kl-gaussian")]["errors"])


def test_csv_and_reports(course, graded):
    out, rows = graded
    with open(out / "grades.csv", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["student", "assignment", "question", "points", "max_points"]
    assert len(table) == 4 * len(_questions(course))
    assert {(t["student"], t["question"]) for t in table} == set(rows)
    report = (out / "reports" / "mistake.md").read_text(encoding="utf-8")
    total = sum(r["points"] for r in rows.values() if r["student"] == "mistake")
    assert f"**Total: {total:g} / {4 * len(_questions(course))} points**" in report
    assert "**ch2-ex-ns-loss**" in report and "AssertionError: inf" in report


def test_bad_input(tmp_path):
    pytest.importorskip("nbgrader")
    with pytest.raises(FileNotFoundError, match="course directory"):
        assign.grade(tmp_path, tmp_path / "out", tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="chapter"):
        assign.make([tmp_path / "missing.ipynb"], tmp_path / "out")
    with pytest.raises(SystemExit):
        assign.main(["grade", str(tmp_path), "--timeout", "0"])
