# The README's commands:
#   make book     build the executed HTML book from nothing (creates .venv, installs pins)
#   make test     build the book, then run unit tests, every chapter (nbval) and the site check
#   make timings  execute each chapter alone, measure time/memory, rewrite book/timings.md
# Variables: PYTHON (python3.11), VENV (.venv), EXECUTE (cache | force), WORKERS (2 pytest processes).

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

.PHONY: book test timings assets venv clean help

help:
	@echo "make book     build the executed HTML book (_build/html/index.html)"
	@echo "make test     build the book and run all tests (unit, notebooks, site)"
	@echo "make timings  measure each chapter's run time and memory -> book/timings.md"
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

test: book
	@echo "[make test] $$(date +%T) pytest: unit tests, site check, chapters (nbval)"
	$(BIN)/python -m pytest tests $(wildcard chapters) $(PYTEST_FLAGS)

timings: $(STAMP)
	$(BIN)/python .ci/timings.py

clean:
	rm -rf _build/html _build/jupyter_execute _build/.doctrees _build/screenshots _build/_config.force.yml

distclean:
	rm -rf _build $(VENV) book/_offline
