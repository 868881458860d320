# The README's commands:
#   make book     build the executed HTML book from nothing (creates .venv, installs pins)
#   make student-book  the site without solutions -> _build/student/html (reuses the book's execution)
#   make assignments  nbgrader assignments from the chapters' coding exercises -> _build/assignments
#   make test     build the book, then run unit tests, every chapter (nbval) and the site check
#   make timings  execute each chapter alone, measure time/memory, rewrite book/timings.md
#   make robustness  every chapter over seeds and floating-point paths -> _build/robustness.md
#   make gpu-check   on a CUDA machine: CUDA tests and every chapter on the GPU -> _build/gpu_timings.md
#   make lowest   build sdist + wheel, install the wheel at pyproject.toml's lowest bounds in a fresh
#                 venv, run the unit tests and two chapters there -> _build/lowest.md (by hand: GBs)
#   make editions    regenerate the Jupyter/Colab edition of every chapter (book/jupyter/, .ci/editions.py)
# Variables: PYTHON (python3.11), VENV (.venv), EXECUTE (cache | force), WORKERS (2 pytest processes),
#            CHAPTERS (notebooks for make robustness; default every chapter),
#            TEST_FP (the floating-point variant pytest runs under; the build runs natively).

PYTHON  ?= python3.11
VENV    ?= .venv
EXECUTE ?= cache

BIN     := $(abspath $(VENV))/bin
STAMP   := $(VENV)/.ganbook-installed
HTML    := _build/html/index.html

# Notebook kernels must be this venv's Python: its bin first on PATH, and its kernelspec
# (installed with --sys-prefix) found before any user-level `python3` kernelspec.
export PATH         := $(BIN):$(PATH)
export JUPYTER_PATH := $(abspath $(VENV))/share/jupyter
export PYTHONHASHSEED := 0
# Training progress bars are for people at a terminal, not for the built pages.
export GANBOOK_QUIET := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Inside a kernel an inherited MPLBACKEND (e.g. Agg) would replace the inline backend and
# drop every figure from the book, so kernels must not see one.
unexport MPLBACKEND

JB_FLAGS := -W -n --keep-going --builder html --all
ifeq ($(EXECUTE),force)
  JB_CONFIG := --config _build/_config.force.yml
else ifeq ($(EXECUTE),cache)
  JB_CONFIG :=
else
  $(error EXECUTE must be cache or force, not '$(EXECUTE)')
endif

# Two pytest workers (pytest-xdist), one per core of the book's 2-core machine; --dist loadfile
# keeps every notebook (and every test file) on one worker, in order, in one kernel. The chapters
# set torch to one thread, so two notebooks side by side do not compete for a core.
WORKERS ?= 2
PYTEST_FLAGS := --nbval-lax --nbval-current-env --nbval-cell-timeout=180 -p no:cacheprovider \
                --durations=10 -n $(WORKERS) --dist loadfile

.PHONY: book test lint timings robustness gpu-check assets venv clean help editions lowest

help:
	@echo "make book     build the executed HTML book (_build/html/index.html)"
	@echo "make student-book  the student edition of the site, without solutions"
	@echo "              (_build/student/html; renders the book's outputs, executes nothing)"
	@echo "make assignments  graded assignments (nbgrader) from the chapters -> _build/assignments"
	@echo "make test     build the book and run all tests (unit, notebooks, site)"
	@echo "make timings  measure each chapter's run time and memory -> book/timings.md"
	@echo "make robustness  run every chapter (or CHAPTERS=...) over SEED 0..4 and the"
	@echo "              floating-point variants -> _build/robustness.md"
	@echo "make gpu-check  on a CUDA machine: CUDA tests, every chapter on the GPU -> _build/gpu_timings.md"
	@echo "make editions regenerate the Jupyter/Colab editions (book/jupyter/) from chapters/"
	@echo "make lowest   the wheel in a fresh venv at pyproject's lowest bounds: unit tests, two"
	@echo "              chapters -> _build/lowest.md (downloads torch from PyPI, several GB)"
	@echo "make clean    remove _build (keeps .venv and the execution cache: make distclean)"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@echo "[make venv] $$(date +%T) installing into $(VENV)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install -e . --no-deps
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ganbook)"
	@touch $@

assets:
	bash .ci/offline_assets.sh

book: $(STAMP) assets
	@echo "[make book] $$(date +%T) building the book (EXECUTE=$(EXECUTE))"
ifeq ($(EXECUTE),force)
	@mkdir -p _build
	$(BIN)/python -c "import os, yaml; c = yaml.safe_load(open('_config.yml')); \
	c['execute']['execute_notebooks'] = 'force'; ext = c['sphinx'].get('local_extensions') or {}; \
	c['sphinx']['local_extensions'] = {k: os.path.abspath(v) for k, v in ext.items()}; \
	yaml.safe_dump(c, open('_build/_config.force.yml', 'w'), allow_unicode=True)"
endif
	@echo "kernel python3 -> $$($(BIN)/jupyter kernelspec list --json | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["kernelspecs"]["python3"]["spec"]["argv"][0])')"
	$(BIN)/jupyter-book build . $(JB_FLAGS) $(JB_CONFIG)
	@echo
	@echo "[make book] $$(date +%T) done"
	@echo "The book: $(abspath $(HTML))"

# The student edition of the site (.ci/student_book.py): every chapter without its solutions,
# rendered with the outputs of the book's build (its execution cache), never executed again.
.PHONY: student-book
student-book: book
	$(BIN)/python .ci/student_book.py

# The build executed every chapter on the native floating-point path; pytest (unit tests and
# nbval, which executes every chapter again) runs on another one, so each landing proves the
# chapters on two rounding paths at no extra cost (torch's non-vectorised CPU kernels: a variant
# of make robustness). Golden cells hold only values exact on both.
TEST_FP ?= ATEN_CPU_CAPABILITY=default

test: lint book student-book
	@echo "[make test] $$(date +%T) pytest: unit tests, site check, chapters (nbval) under $(TEST_FP)"
	env $(TEST_FP) $(BIN)/python -m pytest tests $(wildcard chapters) $(PYTEST_FLAGS)

# pyflakes rules over the package, the tests and the CI scripts (pyproject's [tool.ruff]).
lint: $(STAMP)
	$(BIN)/ruff check ganbook tests .ci

# The Jupyter/Colab edition of every chapter: MyST turned into plain Jupyter markdown, committed
# under book/jupyter/ (the Colab buttons open it); tests/test_editions.py fails when one is stale.
editions: $(STAMP)
	$(BIN)/python .ci/editions.py

# Graded assignments (nbgrader, offline): one per chapter with coding exercises, its coding
# exercises only, generated from chapters/ -> _build/assignments (python -m ganbook.assign, book/instructor_guide.md).
.PHONY: assignments
assignments: $(STAMP)
	$(BIN)/python -m ganbook.assign make -o _build/assignments

timings: $(STAMP)
	$(BIN)/python .ci/timings.py

# Every assert must hold on every machine: SEED 0..4 on the native path, SEED 0..2 under
# ATEN_CPU_CAPABILITY=default and MKL_CBWR=COMPATIBLE (two notebooks at a time).
CHAPTERS ?=
robustness: $(STAMP)
	$(BIN)/python .ci/robustness.py $(CHAPTERS)

# On a machine with CUDA: the CUDA-marked tests, then every chapter on the GPU one at a time,
# seconds beside the CPU's -> _build/gpu_timings.md.
gpu-check: $(STAMP)
	PYTHON=$(BIN)/python bash .ci/gpu_check.sh _build

# The package as Colab and a course's machines see it: the sdist and the wheel, the wheel installed
# into a fresh Python 3.11 venv (_build/lowest/venv) with the lowest release of each dependency that
# pyproject.toml's bounds allow and the index serves, then the unit tests and two chapters run there
# from outside the repository -> _build/lowest.md. torch from PyPI is a CUDA build (several GB): run
# by hand, not in CI.
lowest: $(STAMP)
	PYTHON=$(PYTHON) BUILD_PYTHON=$(BIN)/python bash .ci/lowest.sh

clean:
	rm -rf _build/html _build/jupyter_execute _build/.doctrees _build/screenshots _build/_config.force.yml \
	       _build/student

distclean:
	rm -rf _build $(VENV) book/_offline
