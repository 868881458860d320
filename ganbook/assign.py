"""Graded assignments made from the book's coding exercises, with nbgrader (offline, no Docker).

    python -m ganbook.assign make [CHAPTERS...] [-o _build/assignments]     # every chapter by default
    python -m ganbook.assign grade SUBMISSIONS [-o _build/grades] [--course _build/assignments]
                                   [--timeout 30] [--feedback]

**make** writes an nbgrader course directory. For every chapter notebook with coding exercises
(:func:`ganbook.teach.coding_exercises`) one assignment, named after the notebook, with ONLY its
coding exercises — never the chapter's experiments, so that grading takes seconds. Per question:
the exercise text (solutions stripped), the answer cell (the book's template; the reference solution
from the exercise's ``{solution}`` block in ``source/``), the public test the student sees (the
book's ``ganbook.check`` call, 1 point) and hidden tests only the grader runs (1 point each:
closed forms and other inputs than the check's, chosen so that the typical mistakes the check knows
fail some of them — see :data:`HIDDEN`). Layout (nbgrader's)::

    OUT/nbgrader_config.py   OUT/gradebook.db         the grade cells, their points and checksums
    OUT/source/ch02_gan_game/ch02_gan_game.ipynb      the instructor's version: solutions, hidden tests
    OUT/release/ch02_gan_game/ch02_gan_game.ipynb     the student's version: templates, public tests
    OUT/questions.csv                                 assignment, question, title, points

Assignments are generated, never edited by hand: they cannot drift from the book.

**grade** copies the course directory to ``OUT/course``, collects every submitted notebook
``SUBMISSIONS/<student>/**/<assignment>.ipynb`` into nbgrader's ``submitted/`` layout, runs
``nbgrader autograde`` (each cell has a time limit; an error or a timeout costs only that cell) and
writes ``OUT/grades.csv`` (student, assignment, question, points, max_points), ``OUT/reports/<student>.md``
(every question, its points and the first line of every failed test's error) and, with ``--feedback``,
nbgrader's HTML feedback (``OUT/course/feedback/``).

**The rule on imports.** An answer may use Python, ``math``, ``numpy`` and ``torch``, and nothing of
ganbook except ``ganbook.check``: the exercise asks the student to write a function that ganbook
implements. Every graded cell first calls :func:`gate`, which inspects the names the student's
function uses (through the student's own helper functions, recursively); a ganbook object other than
the checks, or ``exec``/``eval``/``__import__``/``importlib``, makes every test of that question
fail. A question whose test timed out once fails its later tests at once, so that a looping answer
costs one time limit, not one per test.

This module imports nbgrader only inside :func:`make` and :func:`grade` (``pip install ganbook[teach]``);
the notebooks' cells import :func:`gate` from it. No other ganbook module imports it.
"""
from __future__ import annotations

import argparse
import ast
import csv
import json
import os
import re
import shutil
import sys
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from . import teach

DEFAULT_OUT = Path("_build/assignments")
DEFAULT_GRADES = Path("_build/grades")
DEFAULT_TIMEOUT = 30          # seconds per cell: every test of these exercises runs in well under a second
PUBLIC_POINTS = 1
HIDDEN_POINTS = 1

# --------------------------------------------------------------------------------------------------
# Hidden tests: label -> [(title, body)]. Each body is the body of ``def _test(fn):`` (fn = the
# student's function; math, torch and F are imported). Closed forms and inputs the check does not use,
# so they are independent of the public test; each list is chosen so that at least one typical
# mistake known to the check passes some tests and fails others (partial marks, not all-or-nothing).
HIDDEN: dict[str, list[tuple[str, str]]] = {
    "ch1-ex-gaussian-mle": [
        ("the mean of 1, 2, 3, 4 is 2.5", """
m, s = fn(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
assert abs(float(m) - 2.5) < 1e-9, f"mean {float(m)}, expected 2.5"
"""),
        ("the maximum-likelihood std of 1, 2, 3, 4 is sqrt(5/4) (divide by n)", """
m, s = fn(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
assert abs(float(s) - math.sqrt(1.25)) < 1e-9, f"std {float(s)}, expected sqrt(5/4) = {math.sqrt(1.25):.6f}"
"""),
        ("two points 1 and 5: mean 3, std 2", """
m, s = fn(torch.tensor([1.0, 5.0], dtype=torch.float64))
assert abs(float(m) - 3.0) < 1e-9 and abs(float(s) - 2.0) < 1e-9, (float(m), float(s))
"""),
    ],
    "ch1-ex-kl-gaussian": [
        ("KL of a Gaussian to itself is 0", """
assert abs(fn(0.3, 1.7, 0.3, 1.7)) < 1e-12
"""),
        ("unit variances: KL = (mu_p - mu_q)^2 / 2", """
assert abs(fn(0.0, 1.0, 2.0, 1.0) - 2.0) < 1e-9 and abs(fn(-1.0, 1.0, 0.5, 1.0) - 1.125) < 1e-9
"""),
        ("KL is not symmetric: KL(N(0,4) || N(0,1)) = 3/2 - log 2, KL(N(0,1) || N(0,4)) = log 2 - 3/8", """
assert abs(fn(0.0, 2.0, 0.0, 1.0) - (1.5 - math.log(2))) < 1e-9
assert abs(fn(0.0, 1.0, 0.0, 2.0) - (math.log(2) - 0.375)) < 1e-9
"""),
    ],
    "ch2-ex-ns-loss": [
        ("at logit 0 (D = 1/2) the loss is log 2", """
v = fn(torch.zeros(4))
assert abs(float(v) - math.log(2)) < 1e-6, float(v)
"""),
        ("a float32 logit of -200 (D sure the sample is fake) gives 200, not inf", """
v = fn(torch.tensor([-200.0, -200.0]))
assert math.isfinite(float(v)) and abs(float(v) - 200.0) < 1e-3, float(v)
"""),
        ("a mean over the batch: logits 0 and -20 give (log 2 + 20 + log(1 + e^-20)) / 2", """
v = fn(torch.tensor([0.0, -20.0], dtype=torch.float64))
assert abs(float(v) - (math.log(2) + 20 + math.log1p(math.exp(-20))) / 2) < 1e-9, float(v)
"""),
    ],
    "ch2-ex-d-loss": [
        ("at logits 0 the loss is 2 log 2", """
v = fn(torch.zeros(3), torch.zeros(5))
assert abs(float(v) - 2 * math.log(2)) < 1e-6, float(v)
"""),
        ("a perfect discriminator loses 0, the worst one 600 (float32 logits of +-300)", """
best = fn(torch.tensor([300.0]), torch.tensor([-300.0]))
worst = fn(torch.tensor([-300.0]), torch.tensor([300.0]))
assert abs(float(best)) < 1e-6 and abs(float(worst) - 600.0) < 1e-2, (float(best), float(worst))
"""),
        ("each batch averaged separately: 2 real logits 0, 4 fake logits -300 give log 2", """
v = fn(torch.zeros(2, dtype=torch.float64), torch.full((4,), -300.0, dtype=torch.float64))
assert abs(float(v) - math.log(2)) < 1e-9, float(v)
"""),
    ],
    "ch2-ex-dstar-code": [
        ("equal densities give D* = 1/2", """
t = torch.tensor([0.1, 2.0, 7.0], dtype=torch.float64)
assert torch.allclose(fn(t, t.clone()), torch.full((3,), 0.5, dtype=torch.float64))
"""),
        ("disjoint supports give D* = 1 on the data and 0 off it", """
out = fn(torch.tensor([1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0], dtype=torch.float64))
assert torch.allclose(out, torch.tensor([1.0, 0.0], dtype=torch.float64)), out
"""),
        ("p_data = 3 p_g gives 3/4, p_g = 3 p_data gives 1/4", """
out = fn(torch.tensor([3.0, 1.0], dtype=torch.float64), torch.tensor([1.0, 3.0], dtype=torch.float64))
assert torch.allclose(out, torch.tensor([0.75, 0.25], dtype=torch.float64)), out
"""),
    ],
    "ch3-ex-hellinger": [
        ("f*(0) = 0", """
assert abs(float(fn(torch.tensor([0.0], dtype=torch.float64))[0])) < 1e-12
"""),
        ("f*(1/2) = 1, f*(-1) = -1/2, f*(-3) = -3/4", """
out = fn(torch.tensor([0.5, -1.0, -3.0], dtype=torch.float64))
assert torch.allclose(out, torch.tensor([1.0, -0.5, -0.75], dtype=torch.float64)), out
"""),
        ("Fenchel-Young equality f*(f'(u)) = u f'(u) - f(u) at u = 1/4, 4, 9", """
u = torch.tensor([0.25, 4.0, 9.0], dtype=torch.float64)
t = 1 - 1 / u.sqrt()
assert torch.allclose(fn(t), u * t - (u.sqrt() - 1) ** 2), fn(t)
"""),
    ],
    "ch3-ex-dloss": [
        ("all scores 0: loss -1 + 1 = 0", """
assert abs(float(fn(torch.zeros(3, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)))) < 1e-12
"""),
        ("real score log 2, fake score 3: (3 - 1) + 1/2 = 2.5", """
v = fn(torch.tensor([math.log(2)], dtype=torch.float64), torch.tensor([3.0], dtype=torch.float64))
assert abs(float(v) - 2.5) < 1e-9, float(v)
"""),
        ("batches of different sizes: real (0, 0), fake (1, 2, 3) give 2", """
v = fn(torch.zeros(2, dtype=torch.float64), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
assert abs(float(v) - 2.0) < 1e-9, float(v)
"""),
    ],
    "ch3-ex-critic": [
        ("p = q gives T* = f'(1) = 0", """
p = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
assert torch.allclose(fn(p, p.clone()), torch.zeros(3, dtype=torch.float64))
"""),
        ("p/q = 2 gives 2, p/q = 1/4 gives -3/2", """
out = fn(torch.tensor([2.0, 1.0], dtype=torch.float64), torch.tensor([1.0, 4.0], dtype=torch.float64))
assert torch.allclose(out, torch.tensor([2.0, -1.5], dtype=torch.float64)), out
"""),
        ("T* depends on the ratio only: T*(3p, 3q) = T*(p, q)", """
p = torch.tensor([0.5, 1.5], dtype=torch.float64)
q = torch.tensor([1.0, 0.5], dtype=torch.float64)
assert torch.allclose(fn(3 * p, 3 * q), fn(p, q)) and torch.allclose(fn(p, q), torch.tensor([-1.0, 4.0], dtype=torch.float64))
"""),
    ],
    "ch4-ex-gp-code": [
        ("a linear critic D(x) = w.x with |w| = 5 has penalty (5 - 1)^2 = 16", """
w = torch.tensor([3.0, 4.0], dtype=torch.float64)
g = torch.Generator().manual_seed(0)
real, fake = torch.randn(8, 2, generator=g, dtype=torch.float64), torch.randn(8, 2, generator=g, dtype=torch.float64)
v = fn(lambda x: x @ w, real, fake)
assert abs(float(v) - 16.0) < 1e-9, float(v)
"""),
        ("one uniform eps per sample: D = |x|^2/2, real of norm 1, fake 0 give E(eps - 1)^2 = 1/3", """
real = torch.full((20000, 4), 0.5, dtype=torch.float64)
for seed in range(3):
    torch.manual_seed(seed)
    v = float(fn(lambda x: 0.5 * (x ** 2).sum(1), real, torch.zeros_like(real)))
    assert abs(v - 1 / 3) < 0.02, f"seed {seed}: {v}, expected about 1/3"
"""),
        ("the penalty is differentiable in the critic's weights (create_graph)", """
D = torch.nn.Linear(3, 1).double()
with torch.no_grad():
    D.weight.copy_(torch.tensor([[1.0, 2.0, 2.0]]))
    D.bias.zero_()
g = torch.Generator().manual_seed(1)
v = fn(D, torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64))
assert abs(float(v) - 4.0) < 1e-9, float(v)
v.backward()
expected = 2 * (3 - 1) * torch.tensor([[1.0, 2.0, 2.0]], dtype=torch.float64) / 3
assert D.weight.grad is not None and torch.allclose(D.weight.grad, expected), D.weight.grad
"""),
    ],
    "ch4-ex-mmd-code": [
        ("the same two points {0, 1} on both sides: MMD^2 = k(0, 1) - 1 (unbiased, sigma = 1)", """
x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
v = fn(x, x.clone(), 1.0)
assert abs(float(v) - (math.exp(-0.5) - 1)) < 1e-9, float(v)
"""),
        ("far apart sets {0, 1} and {100, 101}: MMD^2 = 2 k(0, 1)", """
x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
v = fn(x, x + 100, 1.0)
assert abs(float(v) - 2 * math.exp(-0.5)) < 1e-9, float(v)
"""),
        ("sizes 2 and 3, sigma = 2: {0, 1} vs {0, 1, 2} gives 2 (k(0, 1) - 1) / 3", """
x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
y = torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64)
v = fn(x, y, 2.0)
assert abs(float(v) - 2 * (math.exp(-1 / 8) - 1) / 3) < 1e-9, float(v)
"""),
    ],
    "ch6-ex-power-step": [
        ("W = diag(3, 1), u = (1, 1)/sqrt 2: sigma = sqrt(8.2), u_new = (9, 1)/sqrt 82", """
s, u = fn(torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64)), torch.tensor([1.0, 1.0], dtype=torch.float64) / math.sqrt(2))
assert abs(float(s) - math.sqrt(8.2)) < 1e-9, float(s)
assert torch.allclose(torch.as_tensor(u, dtype=torch.float64), torch.tensor([9.0, 1.0], dtype=torch.float64) / math.sqrt(82))
"""),
        ("a rank-one W = a b^T is solved in one step: sigma = |a||b| = 15, u_new = a/|a|", """
a = torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64)
b = torch.tensor([3.0, 4.0], dtype=torch.float64)
s, u = fn(torch.outer(a, b), torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
assert abs(float(s) - 15.0) < 1e-9 and torch.allclose(torch.as_tensor(u, dtype=torch.float64), a / 3), (float(s), u)
"""),
        ("u_new is a unit vector and sigma never exceeds the largest singular value", """
g = torch.Generator().manual_seed(2)
for m, n in ((7, 4), (3, 9)):
    W = torch.randn(m, n, generator=g, dtype=torch.float64)
    u0 = torch.randn(m, generator=g, dtype=torch.float64)
    s, u = fn(W, u0 / u0.norm())
    assert abs(float(torch.as_tensor(u).norm()) - 1) < 1e-9
    assert 0 < float(s) <= float(torch.linalg.svdvals(W)[0]) + 1e-9
"""),
    ],
    "ch8-ex-mbd-code": [
        ("n identical samples: every feature is n (each sample counts itself, exp(0) = 1)", """
out = fn(torch.ones(4, 2, 3, dtype=torch.float64))
assert torch.allclose(out, torch.full((4, 2), 4.0, dtype=torch.float64)), out
"""),
        ("a single sample: features 1", """
out = fn(torch.randn(1, 5, 2, dtype=torch.float64))
assert torch.allclose(out, torch.ones(1, 5, dtype=torch.float64)), out
"""),
        ("two samples at L1 distance 3: both features are 1 + e^-3", """
M = torch.tensor([[[0.0, 0.0]], [[1.0, 2.0]]], dtype=torch.float64)
assert torch.allclose(fn(M), torch.full((2, 1), 1 + math.exp(-3), dtype=torch.float64)), fn(M)
"""),
    ],
    "ch8-ex-pack-code": [
        ("six 1-d samples in packs of 2: [[0, 1], [2, 3], [4, 5]]", """
out = fn(torch.arange(6.0).reshape(6, 1), 2)
assert torch.equal(out, torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])), out
"""),
        ("one pack of the whole batch is its rows concatenated", """
x = torch.arange(12.0).reshape(4, 3)
assert torch.equal(fn(x, 4), torch.arange(12.0).reshape(1, 12))
"""),
        ("packs of 1 leave the batch unchanged", """
x = torch.randn(5, 3)
assert torch.equal(fn(x, 1), x)
"""),
    ],
    "ch9-ex-info-bound": [
        ("a perfect Q reaches the bound's maximum H(c) = log k", """
c = torch.tensor([0, 3, 1])
v = fn(100.0 * torch.nn.functional.one_hot(c, 4).double(), c)
assert abs(float(v) - math.log(4)) < 1e-9, float(v)
"""),
        ("an uninformative Q (equal logits) gives 0", """
v = fn(torch.zeros(5, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1]))
assert abs(float(v)) < 1e-12, float(v)
"""),
        ("k = 2, Q = (1/4, 3/4), c = 1: log 2 + log 3/4", """
v = fn(torch.tensor([[0.0, math.log(3)]], dtype=torch.float64), torch.tensor([1]))
assert abs(float(v) - (math.log(2) + math.log(0.75))) < 1e-9, float(v)
"""),
    ],
    "ch10-ex-iwae": [
        ("equal log-weights -2: the bound is -2", """
out = fn(torch.full((5, 3), -2.0, dtype=torch.float64))
assert torch.allclose(out, torch.full((3,), -2.0, dtype=torch.float64)), out
"""),
        ("one weight 1 and one weight e^-1000: log(1/2)", """
out = fn(torch.tensor([[0.0], [-1000.0]], dtype=torch.float64))
assert torch.allclose(out, torch.tensor([-math.log(2)], dtype=torch.float64)), out
"""),
        ("log-weights -900 and -900 + log 3 (exp underflows): -900 + log 2", """
out = fn(torch.tensor([[-900.0], [-900.0 + math.log(3)]], dtype=torch.float64))
assert torch.allclose(out, torch.tensor([-900.0 + math.log(2)], dtype=torch.float64), rtol=0, atol=1e-9), out
"""),
    ],
    "ch10-ex-weights": [
        ("logit 0 (D = 1/2): weight 1", """
assert torch.allclose(fn(torch.zeros(3, dtype=torch.float64)), torch.ones(3, dtype=torch.float64))
"""),
        ("D = 3/4 and D = 4/5 give 3 and 4", """
logits = torch.log(torch.tensor([0.75 / 0.25, 0.8 / 0.2], dtype=torch.float64))
assert torch.allclose(fn(logits), torch.tensor([3.0, 4.0], dtype=torch.float64)), fn(logits)
"""),
        ("logit 30: weight e^30 (relative error below 1e-9)", """
v = fn(torch.tensor([30.0], dtype=torch.float64))
assert abs(float(v[0]) / math.exp(30) - 1) < 1e-9, float(v[0])
"""),
    ],
    "ch11-ex-receptive-field": [
        ("one 3x3 convolution sees 3 pixels", """
assert int(fn([(3, 1)])) == 3, fn([(3, 1)])
"""),
        ("a stride-1 layer after a stride-2 layer: [(3, 1), (3, 2)] sees 1 + 2 + 2 = 5 pixels", """
r = int(fn([(3, 1), (3, 2)]))
assert r == 5, f"{r}, expected 5: the last layer's own stride does not widen what it sees"
"""),
        ("a 7x7/2 stem and three 3x3 layers (strides 2, 1, 1) see 1 + 6 + 2*2 + 2*4 + 2*4 = 27 pixels", """
r = int(fn([(7, 2), (3, 2), (3, 1), (3, 1)]))
assert r == 27, f"{r}, expected 27"
"""),
    ],
    "ch12-ex-psnr": [
        ("identical images except one pixel of one channel off by 1, in a 1x1x2x2 image: MSE 1/4, PSNR 10 log10(16)", """
x = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
y = x.clone()
y[0, 0, 0, 0] = 1.0
v = float(fn(x, y)[0])
assert abs(v - 10 * math.log10(16)) < 1e-9, f"{v}, expected {10 * math.log10(16):.6f}"
"""),
        ("two images, errors 0.1 and 0.2 everywhere: PSNR 10 log10(4/0.01) and 10 log10(4/0.04), one per image", """
x = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
y = x.clone()
y[0] += 0.1
y[1] -= 0.2
v = fn(x, y)
want = torch.tensor([10 * math.log10(400.0), 10 * math.log10(100.0)], dtype=torch.float64)
assert v.shape == (2,) and torch.allclose(v.double(), want), v
"""),
        ("black vs white (error 2 everywhere): PSNR 0 dB", """
x = -torch.ones(1, 3, 3, 3, dtype=torch.float64)
v = float(fn(x, -x)[0])
assert abs(v) < 1e-9, v
"""),
    ],
    "ch13-ex-q": [
        ("constant rollout rewards 1/4: Q = 1/4 before the last position, the sequence's own reward at it", """
out = fn(torch.full((2, 3, 5), 0.25, dtype=torch.float64), torch.tensor([1.0, 0.0], dtype=torch.float64))
expected = torch.tensor([[0.25, 0.25, 0.25, 1.0], [0.25, 0.25, 0.25, 0.0]], dtype=torch.float64)
assert torch.allclose(out, expected), out
"""),
        ("two rollouts with rewards 0 and 1 give their mean 1/2; T = 3, final reward 0.3", """
out = fn(torch.tensor([[[0.0, 1.0], [1.0, 1.0]]], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64))
assert torch.allclose(out, torch.tensor([[0.5, 1.0, 0.3]], dtype=torch.float64)), out
"""),
        ("sequences of length 1 have no prefix to complete: Q = the final reward, shape (n, 1)", """
out = fn(torch.zeros(3, 0, 4, dtype=torch.float64), torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64))
assert torch.allclose(out, torch.tensor([[0.1], [0.5], [0.9]], dtype=torch.float64)), out
"""),
    ],
    "ch13-ex-periodogram": [
        ("5 + 2 cos(2 pi 3 t / 32), pad 1: frequency 3, amplitude 2 (the offset removed)", """
t = torch.arange(32, dtype=torch.float64)
f, a = fn((5 + 2 * torch.cos(2 * math.pi * 3 * t / 32))[None], 1)
assert abs(float(torch.as_tensor(f).reshape(-1)[0]) - 3) < 1e-9 and abs(float(torch.as_tensor(a).reshape(-1)[0]) - 2) < 1e-9, (f, a)
"""),
        ("the same sequence zero-padded 4 times: still frequency 3 (cycles per sequence, not bin 12), amplitude 2", """
t = torch.arange(32, dtype=torch.float64)
f, a = fn((5 + 2 * torch.cos(2 * math.pi * 3 * t / 32))[None], 4)
assert abs(float(torch.as_tensor(f).reshape(-1)[0]) - 3) < 1e-9 and abs(float(torch.as_tensor(a).reshape(-1)[0]) - 2) < 1e-9, (f, a)
"""),
        ("two zero-mean rows, T = 20, pad 2: sin at 5 cycles (amplitude 1) and 0.5 cos at 2 cycles", """
t = torch.arange(20, dtype=torch.float64)
x = torch.stack([torch.sin(2 * math.pi * 5 * t / 20), 0.5 * torch.cos(2 * math.pi * 2 * t / 20)])
f, a = fn(x, 2)
assert torch.allclose(torch.as_tensor(f, dtype=torch.float64), torch.tensor([5.0, 2.0], dtype=torch.float64)), f
assert torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.tensor([1.0, 0.5], dtype=torch.float64)), a
"""),
    ],
    "ch14-ex-logit": [
        ("K = 9 equal logits 0: Z = 9, D = 9/10", """
out = fn(torch.zeros(2, 9, dtype=torch.float64))
assert torch.allclose(out.reshape(-1), torch.full((2,), 0.9, dtype=torch.float64)), out
"""),
        ("class probabilities exp(logits) = (1, 2): Z = 3, D = 3/4", """
out = fn(torch.log(torch.tensor([[1.0, 2.0]], dtype=torch.float64)))
assert torch.allclose(out.reshape(-1), torch.tensor([0.75], dtype=torch.float64)), out
"""),
        ("float32 logits of +1000 give D = 1 and of -1000 give D = 0, not NaN", """
out = fn(torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0]])).reshape(-1)
assert bool(torch.isfinite(out).all()) and abs(float(out[0]) - 1) < 1e-6 and abs(float(out[1])) < 1e-6, out
"""),
    ],
    "ch15-ex-fid": [
        ("a set against itself: FID 0", """
x = torch.randn(40, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
assert abs(float(fn(x, x.clone()))) < 1e-6
"""),
        ("a translated copy: FID = |shift|^2 = 9", """
x = torch.randn(50, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
v = fn(x, x + torch.tensor([1.0, 2.0, 2.0], dtype=torch.float64))
assert abs(float(v) - 9.0) < 1e-6, float(v)
"""),
        ("four points (+-1, 0), (0, +-1) against 3 times them: covariances (n - 1) 2/3 I and 6 I, FID = 16/3", """
x = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]], dtype=torch.float64)
v = fn(x, 3 * x)
assert abs(float(v) - 16 / 3) < 1e-6, float(v)
"""),
    ],
    "ch15-ex-kid": [
        ("d = 1, {0, 1} against itself: 1 + 1 - 2 * 11/4 = -7/2 (unbiased: no diagonal)", """
x = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
v = fn(x, x.clone())
assert abs(float(v) + 3.5) < 1e-9, float(v)
"""),
        ("d = 1, {0, 1} against {0, 0}: 0", """
v = fn(torch.tensor([[0.0], [1.0]], dtype=torch.float64), torch.zeros(2, 1, dtype=torch.float64))
assert abs(float(v)) < 1e-9, float(v)
"""),
        ("d = 2, two points (1, 1) against two points (0, 0): (2/2 + 1)^3 + 1 - 2 = 7", """
v = fn(torch.ones(2, 2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64))
assert abs(float(v) - 7.0) < 1e-9, float(v)
"""),
    ],
    "ch16-ex-soft-vi": [
        ("one state, one action, reward 2, horizon 3: V_0 = 6", """
v = fn(torch.ones(1, 1, 1, dtype=torch.float64), torch.tensor([[2.0]], dtype=torch.float64), 3)
assert torch.allclose(v, torch.tensor([6.0], dtype=torch.float64)), v
"""),
        ("one state, 3 actions of reward 0, horizon 4: V_0 = 4 log 3 (a soft max, not a max)", """
v = fn(torch.ones(1, 3, 1, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64), 4)
assert torch.allclose(v, torch.tensor([4 * math.log(3)], dtype=torch.float64)), v
"""),
        ("horizon 1 ignores the dynamics: V_0(s) = log sum_a exp r(s, a)", """
g = torch.Generator().manual_seed(5)
P = torch.softmax(torch.randn(3, 2, 3, generator=g, dtype=torch.float64), -1)
r = torch.randn(3, 2, generator=g, dtype=torch.float64)
expected = torch.tensor([math.log(sum(math.exp(float(a)) for a in row)) for row in r], dtype=torch.float64)
assert torch.allclose(fn(P, r, 1), expected), fn(P, r, 1)
"""),
    ],
}

# --------------------------------------------------------------------------------------------------
# The rule on imports, checked in the grading kernel (gate).

_FORBIDDEN_NAMES = {"exec", "eval", "__import__", "importlib", "compile", "globals", "sys"}
_TIMED_OUT: set[str] = set()
_RUNNING: dict[str, Any] = {"label": None, "count": None}


def _is_ganbook(value: Any) -> bool:
    """Whether ``value`` is ganbook's (a module, a function, a class or an instance), the checks excepted."""
    while hasattr(value, "func") and type(value).__name__ == "partial":
        value = value.func
    if isinstance(value, types.ModuleType):
        name = value.__name__
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)):
        name = getattr(getattr(value, "__func__", value), "__module__", "") or ""
    else:
        name = type(value).__module__ or ""
    return (name == "ganbook" or name.startswith("ganbook.")) and not name.startswith("ganbook.check")


def forbidden_uses(fn: Callable) -> list[str]:
    """The names through which ``fn`` (and the functions of the student's that it calls, recursively)
    reaches ganbook's implementation (anything of ganbook but ``ganbook.check``) or a way around the
    rule (exec, eval, __import__, importlib, compile, globals, sys). Empty for an answer that follows
    the rule."""
    found: list[str] = []
    seen: set[int] = set()

    def names(code: types.CodeType) -> set[str]:
        out = set(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                out |= names(const)
        return out

    def visit(f: Any, where: str) -> None:
        f = getattr(f, "__func__", f)
        if id(f) in seen or not isinstance(f, types.FunctionType):
            return
        seen.add(id(f))
        glob = f.__globals__
        builtins = glob.get("__builtins__", {})
        builtins = builtins if isinstance(builtins, dict) else vars(builtins)
        values = []
        for name in sorted(names(f.__code__)):
            if name in glob:
                values.append((name, glob[name]))
            elif name in _FORBIDDEN_NAMES and name in builtins:
                found.append(f"{where}{name}")
        for i, cell in enumerate(f.__closure__ or ()):
            try:
                values.append((f.__code__.co_freevars[i], cell.cell_contents))
            except ValueError:                      # an empty cell
                pass
        for name, value in values:
            if _is_ganbook(value) or name in _FORBIDDEN_NAMES:
                found.append(f"{where}{name}")
            elif isinstance(value, types.FunctionType):
                visit(value, f"{where}{name} → ")
    visit(fn, "")
    return found


def _install_timeout_hook() -> None:
    """In an IPython kernel: remember a question whose graded cell was interrupted (a timeout)."""
    try:
        from IPython import get_ipython
    except ImportError:                              # pragma: no cover - IPython ships with Jupyter
        return
    ip = get_ipython()
    if ip is None or getattr(ip, "_ganbook_assign_hook", False):
        return

    def on_interrupt(shell, etype, value, tb, tb_offset=None):
        if _RUNNING["label"] is not None and _RUNNING["count"] == shell.execution_count:
            _TIMED_OUT.add(_RUNNING["label"])
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)

    ip.set_custom_exc((KeyboardInterrupt,), on_interrupt)
    ip._ganbook_assign_hook = True


def gate(label: str, fn: Any) -> Callable:
    """Called first by every graded cell of question ``label``: ``fn`` (the student's function),
    checked to exist, to be callable, to follow the rule on imports, and not to have timed out in an
    earlier test of the same question. Raises AssertionError otherwise (the cell scores 0)."""
    _install_timeout_hook()
    try:
        from IPython import get_ipython
        ip = get_ipython()
    except ImportError:                              # pragma: no cover
        ip = None
    _RUNNING.update(label=label, count=getattr(ip, "execution_count", None))
    if label in _TIMED_OUT:
        raise AssertionError(f"{label}: an earlier test of this question ran past the time limit; "
                             "this one is not run (zero)")
    if not callable(fn):
        raise AssertionError(f"{label}: the answer must be a function, got {type(fn).__name__}")
    bad = forbidden_uses(fn)
    if bad:
        raise AssertionError(f"{label}: your function uses {', '.join(bad)}, which the rules forbid (ganbook's "
                             "implementation, or exec/eval/__import__/importlib/sys): zero for this question")
    return fn


# --------------------------------------------------------------------------------------------------
# Questions from the chapters.

@dataclass
class Question:
    """One coding exercise of a chapter, as an assignment question."""
    label: str
    assignment: str                 # the chapter notebook's stem
    text: str                       # the exercise's statement (markdown, plain Jupyter, no solution)
    template: str                   # the answer cell as the student gets it (without the check call)
    solution: str                   # the reference solution's code (from the {solution} block)
    check: str                      # the public test: the book's check call
    function: str                   # the name of the function the student writes
    hidden: list[tuple[str, str]] = field(default_factory=list)

    @property
    def points(self) -> int:
        return PUBLIC_POINTS + HIDDEN_POINTS * len(self.hidden)


def _text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


_ROLE = re.compile(r"\{[a-z:-]+\}`([^`<]*?)\s*(?:<[^>`]*>)?`")


def _plain_markdown(body: str) -> str:
    """An exercise body as plain Jupyter markdown: no directive options, MyST roles reduced to their text."""
    lines = [ln for ln in body.splitlines() if not re.match(r"^:(label|class):", ln)]
    text = "\n".join(lines).strip()
    text = _ROLE.sub(lambda m: m[1] or "", text)
    text = text.replace("complete it and run the cell — its last line is the check",
                        "complete it, then run the test cell after it (the book's check)")
    return text.strip()


def _split_checks(code: str) -> tuple[str, str]:
    """(code without its top-level expression statements, those statements): the check call(s)."""
    tree = ast.parse(code)
    lines = code.splitlines(keepends=True)
    keep = [True] * len(lines)
    calls = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            calls.append(ast.get_source_segment(code, node))
            for i in range(node.lineno - 1, node.end_lineno):
                keep[i] = False
    rest = "".join(ln for ln, k in zip(lines, keep) if k).rstrip() + "\n"
    return rest, "\n".join(calls)


def chapter_questions(path: str | Path) -> list[Question]:
    """The questions of one chapter notebook: its coding exercises that have an answer cell."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    sols = teach.solutions(nb)
    exercises: dict[str, str] = {}
    for cell in nb["cells"]:
        if cell.get("cell_type") == "markdown":
            for m in teach._EXERCISE.finditer(teach.strip_solutions(_text(cell))):
                label = teach._LABEL.search(m["body"])
                if label:
                    exercises[label[1]] = m["body"]
    out = []
    for cell in nb["cells"]:
        label = teach.answer_label(cell)
        if not label:
            continue
        if label not in sols:
            raise ValueError(f"{path}: exercise {label} has no python code in its {{solution}} block")
        if label not in HIDDEN:
            warnings.warn(f"{path.name}: exercise {label} has no hidden tests in ganbook.assign.HIDDEN: its "
                          "question has the public test only (add hidden tests there)", stacklevel=2)
        template, check = _split_checks(_text(cell))
        functions = re.findall(r"^def (\w+)\(", template, re.M)
        if len(functions) != 1 or not check:
            raise ValueError(f"{path}: the answer cell of {label} must define one function and end with its check")
        solution, _ = _split_checks(sols[label])
        out.append(Question(label=label, assignment=path.stem, text=_plain_markdown(exercises.get(label, "")),
                            template=template, solution=solution, check=check, function=functions[0],
                            hidden=HIDDEN.get(label, [])))
    return out


def chapter_notebooks(root: str | Path = ".") -> list[Path]:
    """Every chapter notebook under ``root``/chapters, in order."""
    return sorted(Path(root).glob("chapters/**/*.ipynb"))


def questions(paths: Iterable[str | Path]) -> list[Question]:
    return [q for p in paths for q in chapter_questions(p)]


# --------------------------------------------------------------------------------------------------
# nbgrader notebooks.

def _meta(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = True,
          points: int | None = None) -> dict:
    m = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
         "task": False}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def _cell(kind: str, source: str, meta: dict, cid: str) -> dict:
    cell = {"cell_type": kind, "id": teach._cell_id(cid), "metadata": meta, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def _imports_of(code: str) -> str:
    tree = ast.parse(code)
    return "".join(ast.get_source_segment(code, n) + "\n" for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def _graded(label: str, fn: str, body: str) -> str:
    return ("from ganbook.assign import gate as _gate\n\n\ndef _test(fn):\n"
            + "".join(f"    {ln}\n" if ln.strip() else "\n" for ln in body.strip("\n").splitlines())
            + f"\n\n_test(_gate({label!r}, {fn}))\n")


SETUP = ("import math\n\nimport torch\nimport torch.nn.functional as F\n\nfrom ganbook import check\n\n"
         "torch.set_num_threads(1)\n")


def source_notebook(assignment: str, qs: list[Question], title: str = "") -> dict:
    """The instructor's nbgrader notebook of one assignment (solutions and hidden tests in)."""
    total = sum(q.points for q in qs)
    intro = (f"# Assignment {assignment}{': ' + title if title else ''}\n\n"
             f"{len(qs)} question(s), {total} points. Each question asks for one function: complete it in its "
             "answer cell and run the test cell below it (the book's check; 1 point). The grader also runs "
             f"hidden tests ({HIDDEN_POINTS} point each) on other inputs.\n\n"
             "**Rules.** Your function may use Python, `math`, `numpy` and `torch` — not ganbook's own "
             "implementation of what you are asked to write (only `ganbook.check`), nor `exec`, `eval`, "
             "`__import__`, `importlib` or `sys`: a question whose function uses them scores 0. Every test "
             "has a time limit; a function that runs past it scores 0 for that question. Do not delete or "
             "edit the test cells. Generated from the book by `python -m ganbook.assign make`.")
    cells = [_cell("markdown", intro, _meta("intro"), "intro"),
             _cell("code", SETUP, _meta("setup"), "setup")]
    for k, q in enumerate(qs, 1):
        head = f"## Question {k} ({q.label}) — {q.points} points\n\n{q.text}\n"
        cells.append(_cell("markdown", head, _meta(f"{q.label}--text"), f"{q.label}--text"))
        answer = (f"# Question {k} ({q.label}): complete `{q.function}`.\n" + _imports_of(q.template)
                  + "\n### BEGIN SOLUTION\n" + q.solution.strip() + "\n### END SOLUTION\n")
        cells.append(_cell("code", answer, _meta(f"{q.label}--answer", solution=True, locked=False),
                           f"{q.label}--answer"))
        public = (f"# Public test ({PUBLIC_POINTS} point): the book's check.\n"
                  "### BEGIN HIDDEN TESTS\n"
                  f"from ganbook.assign import gate as _gate\n_gate({q.label!r}, {q.function})\n"
                  "### END HIDDEN TESTS\n" + q.check + "\n")
        cells.append(_cell("code", public, _meta(f"{q.label}--public", grade=True, points=PUBLIC_POINTS),
                           f"{q.label}--public"))
        for i, (name, body) in enumerate(q.hidden, 1):
            src = (f"# Hidden test {i} ({HIDDEN_POINTS} point): run by the grader only.\n"
                   f"### BEGIN HIDDEN TESTS\n# {name}\n" + _graded(q.label, q.function, body)
                   + "### END HIDDEN TESTS\n")
            cells.append(_cell("code", src, _meta(f"{q.label}--hidden-{i}", grade=True, points=HIDDEN_POINTS),
                               f"{q.label}--hidden-{i}"))
    return {"cells": cells, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}


def _config(timeout: int) -> str:
    return ("# nbgrader configuration of the ganbook assignments (written by python -m ganbook.assign make)\n"
            "c = get_config()  # noqa: F821\n"
            "c.CourseDirectory.course_id = 'ganbook'\n"
            f"c.Execute.timeout = {int(timeout)}\n"
            "c.Execute.interrupt_on_timeout = True\n"
            "c.ClearSolutions.code_stub = {'python': '...'}\n")


def _environment() -> None:
    """nbgrader runs `alembic` (from this interpreter's bin) and kernels named python3: this interpreter's."""
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("GANBOOK_QUIET", "1")


def _api(course: Path, timeout: int, warm: bool = True):
    try:
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config
    except ImportError as err:                        # pragma: no cover - depends on the install
        raise SystemExit("nbgrader is not installed: pip install 'ganbook[teach]' (or the pins of "
                         "requirements.txt)") from err
    _environment()
    cfg = Config()
    cfg.CourseDirectory.root = str(course.resolve())
    cfg.CourseDirectory.course_id = "ganbook"
    cfg.Execute.timeout = int(timeout)
    cfg.Execute.interrupt_on_timeout = True
    # torch is imported while the kernel starts (startup_timeout), not inside the first timed cell
    cfg.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:"] + (
        ["--IPKernelApp.exec_lines=import torch, ganbook.check, ganbook.assign"] if warm else [])
    cfg.ClearSolutions.code_stub = {"python": "..."}
    cfg.Exchange.root = str((course / ".exchange").resolve())
    coursedir = CourseDirectory(config=cfg)
    return NbGraderAPI(coursedir=coursedir, config=cfg)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, nb: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _title(path: Path) -> str:
    for cell in _read(path)["cells"]:
        if cell.get("cell_type") == "markdown":
            m = re.search(r"^#\s+(.+)$", _text(cell), re.M)
            if m:
                return m[1].strip()
    return ""


def make(chapters: Iterable[str | Path], out: str | Path = DEFAULT_OUT, timeout: int = DEFAULT_TIMEOUT) -> dict[str, list[Question]]:
    """Write the nbgrader course directory ``out`` with one assignment per chapter that has coding
    exercises; returns assignment → questions. ``out`` is replaced."""
    out = Path(out)
    by_assignment: dict[str, list[Question]] = {}
    titles: dict[str, str] = {}
    for path in chapters:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no such chapter notebook: {path}")
        qs = chapter_questions(path)
        if qs:
            by_assignment[path.stem] = qs
            titles[path.stem] = _title(path)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "nbgrader_config.py").write_text(_config(timeout), encoding="utf-8")
    for name, qs in by_assignment.items():
        _write(out / "source" / name / f"{name}.ipynb", source_notebook(name, qs, titles[name]))
    api = _api(out, timeout)
    for name, qs in by_assignment.items():
        result = api.generate_assignment(name, force=True, create=True)
        if not result.get("success"):
            raise RuntimeError(f"nbgrader generate_assignment {name} failed:\n{result.get('error') or result.get('log')}")
        release = out / "release" / name / f"{name}.ipynb"
        nb = _read(release)
        templates = {f"{q.label}--answer": q for q in qs}
        for cell in nb["cells"]:             # the answer cell: the book's template, not nbgrader's stub
            q = templates.get(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
            if q is not None:
                cell["source"] = f"# Question ({q.label}): complete `{q.function}`, then run the test cell below.\n" \
                                 + q.template.split("\n", 1)[1].lstrip("\n")
        _write(release, nb)
    with open(out / "questions.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["assignment", "question", "function", "points", "tests"])
        for name, qs in by_assignment.items():
            for q in qs:
                w.writerow([name, q.label, q.function, q.points, 1 + len(q.hidden)])
    return by_assignment


# --------------------------------------------------------------------------------------------------
# Grading.

def _collect(submissions: Path, assignments: set[str]) -> dict[tuple[str, str], Path]:
    """(student, assignment) → submitted notebook: SUBMISSIONS/<student>/**/<assignment>.ipynb."""
    found: dict[tuple[str, str], Path] = {}
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for nb in sorted(student_dir.rglob("*.ipynb")):
            if nb.stem in assignments and ".ipynb_checkpoints" not in nb.parts:
                found.setdefault((student_dir.name, nb.stem), nb)
    return found


def _first_line(output: dict) -> str:
    value = (output.get("evalue") or "").strip().splitlines()
    return f"{output.get('ename', 'Error')}: {value[0] if value else ''}".strip().rstrip(":")


def _why(errors: list[dict]) -> str:
    """A failed cell's reason in one line: the time limit, or its first error's first line."""
    if any(o.get("ename") in ("KeyboardInterrupt", "CellTimeoutError") for o in errors):
        return "ran past the time limit (CellTimeoutError)"
    return _first_line(errors[0])


def _test_name(cell: dict, gid: str) -> str:
    """``public``, or ``hidden-k (what it tests)`` from the comment that heads a hidden test."""
    kind = gid.split("--")[-1]
    m = re.search(r"### BEGIN HIDDEN TESTS\n# (.+)\n", _text(cell))
    return f"{kind} ({m[1]})" if kind.startswith("hidden") and m else kind


def _grouped(errors: list[tuple[str, str]]) -> list[str]:
    """[(test, reason)] → one line per reason, naming the tests that failed for it."""
    order: dict[str, list[str]] = {}
    for test, why in errors:
        order.setdefault(why, []).append(test)
    return [f"{'; '.join(tests)} — {why}" for why, tests in order.items()]


def grade(submissions: str | Path, out: str | Path = DEFAULT_GRADES, course: str | Path = DEFAULT_OUT,
          timeout: int = DEFAULT_TIMEOUT, feedback: bool = False) -> list[dict]:
    """Grade every submitted notebook (nbgrader autograde, offline) and write ``out``/grades.csv and
    ``out``/reports/<student>.md. Returns the CSV's rows (dicts)."""
    submissions, out, course = Path(submissions), Path(out), Path(course)
    if not (course / "gradebook.db").is_file():
        raise FileNotFoundError(f"{course} is not a course directory made by `python -m ganbook.assign make` "
                                "(no gradebook.db)")
    if not submissions.is_dir():
        raise FileNotFoundError(f"no such folder of submissions: {submissions}")
    work = out / "course"
    if work.exists():
        shutil.rmtree(work)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(course, work, ignore=shutil.ignore_patterns("submitted", "autograded", "feedback", ".exchange"))
    (work / "nbgrader_config.py").write_text(_config(timeout), encoding="utf-8")
    assignments = {p.name for p in (work / "source").iterdir() if p.is_dir()}
    subs = _collect(submissions, assignments)
    api = _api(work, timeout)
    failures: dict[tuple[str, str], str] = {}
    warnings.filterwarnings("ignore", message="Object of type <Submitted")    # nbgrader's SQLAlchemy noise
    for (student, name), path in subs.items():
        dest = work / "submitted" / student / name / f"{name}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        result = api.autograde(name, student, force=True, create=True)
        if not result.get("success"):
            failures[(student, name)] = (result.get("error") or result.get("log") or "autograde failed").strip()
    if feedback:
        for (student, name) in subs:
            if (student, name) not in failures:
                api.generate_feedback(name, student, force=True)
    rows = _rows(work, subs, failures)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["student", "assignment", "question", "points", "max_points"])
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in w.fieldnames})
    _reports(out / "reports", rows, failures)
    return rows


def _rows(work: Path, subs: dict[tuple[str, str], Path], failures: dict[tuple[str, str], str]) -> list[dict]:
    from nbgrader.api import Gradebook, MissingEntry

    rows = []
    with Gradebook(f"sqlite:///{(work / 'gradebook.db').resolve()}") as gb:
        for (student, name) in subs:
            assignment = gb.find_assignment(name)
            maxima: dict[str, float] = {}
            for nb in assignment.notebooks:
                for gc in nb.grade_cells:
                    q = gc.name.split("--")[0]
                    maxima[q] = maxima.get(q, 0.0) + float(gc.max_score)
            got = {q: 0.0 for q in maxima}
            errors: dict[str, list[tuple[str, str]]] = {q: [] for q in maxima}
            if (student, name) not in failures:
                try:
                    sub = gb.find_submission_notebook(name, name, student)
                except MissingEntry:
                    failures[(student, name)] = "no autograded submission"
                else:
                    for g in sub.grades:
                        q = g.name.split("--")[0]
                        got[q] = got.get(q, 0.0) + float(g.score or 0.0)
                    graded = work / "autograded" / student / name / f"{name}.ipynb"
                    if graded.is_file():
                        for cell in _read(graded)["cells"]:
                            gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
                            fails = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                            if fails and gid.split("--")[0] in errors:
                                errors[gid.split("--")[0]].append((_test_name(cell, gid), _why(fails)))
            for q in maxima:
                rows.append({"student": student, "assignment": name, "question": q, "points": got[q],
                             "max_points": maxima[q], "errors": errors[q]})
    return rows


def _reports(folder: Path, rows: list[dict], failures: dict[tuple[str, str], str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for student in sorted({r["student"] for r in rows}):
        mine = [r for r in rows if r["student"] == student]
        total, top = sum(r["points"] for r in mine), sum(r["max_points"] for r in mine)
        lines = [f"# Grade report: {student}", "", f"**Total: {total:g} / {top:g} points**", "",
                 "| assignment | question | points | max |", "|---|---|---:|---:|"]
        for r in mine:
            lines.append(f"| {r['assignment']} | {r['question']} | {r['points']:g} | {r['max_points']:g} |")
        failed = [r for r in mine if r["errors"]]
        if failed:
            lines += ["", "Failed tests (`public`: the book's check you could run; `hidden-k`: the grader's tests "
                          "on other inputs):", ""]
            for r in failed:
                lines.append(f"- **{r['question']}**")
                lines += [f"  - {g}" for g in _grouped(r["errors"])]
        for (s, name), err in failures.items():
            if s == student:
                lines += ["", f"The submission of {name} could not be graded (0 points): "
                              f"{err.strip().splitlines()[-1] if err.strip() else 'unknown error'}"]
        lines.append("")
        (folder / f"{student}.md").write_text("\n".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ganbook.assign", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    mk = sub.add_parser("make", help="generate the assignments (nbgrader course directory)")
    mk.add_argument("chapters", type=Path, nargs="*", help="chapter notebooks (default: every chapter)")
    mk.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    mk.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds per cell when grading")
    gr = sub.add_parser("grade", help="grade a folder of submissions SUBMISSIONS/<student>/<assignment>.ipynb")
    gr.add_argument("submissions", type=Path)
    gr.add_argument("-o", "--output", type=Path, default=DEFAULT_GRADES)
    gr.add_argument("--course", type=Path, default=DEFAULT_OUT, help="the folder written by make")
    gr.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds per cell")
    gr.add_argument("--feedback", action="store_true", help="also write nbgrader's HTML feedback")
    args = ap.parse_args(argv)
    if args.timeout < 1:
        ap.error(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.command == "make":
        chapters = args.chapters or chapter_notebooks(".")
        if not chapters:
            ap.error("no chapter notebooks given and none under ./chapters")
        made = make(chapters, args.output, args.timeout)
        n = sum(len(q) for q in made.values())
        print(f"wrote {args.output}: {len(made)} assignments, {n} questions, "
              f"{sum(q.points for qs in made.values() for q in qs)} points")
        for name, qs in made.items():
            print(f"  {name}: {', '.join(f'{q.label} ({q.points})' for q in qs)}")
        print(f"student notebooks: {args.output}/release/<assignment>/<assignment>.ipynb")
        return 0
    rows = grade(args.submissions, args.output, args.course, args.timeout, args.feedback)
    students = sorted({r["student"] for r in rows})
    print(f"graded {len(students)} student(s): {args.output}/grades.csv, {args.output}/reports/<student>.md")
    for s in students:
        mine = [r for r in rows if r["student"] == s]
        print(f"  {s}: {sum(r['points'] for r in mine):g} / {sum(r['max_points'] for r in mine):g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
