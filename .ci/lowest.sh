#!/usr/bin/env bash
# `make lowest`: does ganbook work at the LOWEST versions pyproject.toml's bounds allow?
# Colab and a course's lab machines see those loose bounds, not requirements.txt's pins.
#
#  1. builds the sdist, then the wheel from the sdist (`python -m build`), and checks that both
#     carry the package data (pyproject's [tool.setuptools.package-data]: weights, benchmarks);
#  2. resolves, for every dependency of pyproject.toml, the lowest release >= its bound that the
#     package index serves as a wheel for this Python (3.11), and installs the ganbook WHEEL with
#     exactly those versions into a fresh venv, plus the test tools of requirements.txt (pytest,
#     POT, torchmetrics, nbclient, ipykernel) at their pins;
#  3. from a directory outside the repository (so the installed wheel is imported, never the
#     source tree): the unit tests (tests/ without the browser check and the book-tooling tests)
#     and two chapters executed with nbclient in that venv's kernel;
#  4. writes a summary table to _build/lowest.md.
#
# Usage: bash .ci/lowest.sh          (make lowest)
# Environment: PYTHON         the interpreter of the fresh venv (python3.11)
#              BUILD_PYTHON   an interpreter with `build` installed (.venv/bin/python)
#              LOWEST_DIR     work folder (_build/lowest): dist/, venv/, logs, executed chapters
#              LOWEST_TESTS   pytest's test paths, absolute (default: the repository's tests/,
#                             without EXCLUDED below)
#              LOWEST_CHAPTERS  the chapters to execute (default: chapters 1 and 2)
#              LOWEST_FRESH=1   a new venv even if the resolved versions did not change
#              LOWEST_SUMMARY   the summary's path in the repository (_build/lowest.md)
# The venv is reused while its resolved versions are unchanged; ganbook is reinstalled from the
# new wheel every run. torch comes from PyPI: a CUDA build (~2.5 GB with its nvidia-* wheels),
# so this is a command to run by hand, not part of CI's .ci/run.
# Exit status: non-zero if a step fails; the summary is written either way.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
# The base interpreter by absolute path (make puts .venv/bin first on PATH; this script puts the
# fresh venv's bin there, whose python3.11 must not create that venv).
python=$("${PYTHON:-python3.11}" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))') || exit 1
build_python=${BUILD_PYTHON:-$repo/.venv/bin/python}
work=$(mkdir -p "${LOWEST_DIR:-_build/lowest}" && cd "${LOWEST_DIR:-_build/lowest}" && pwd)
summary=$repo/${LOWEST_SUMMARY:-_build/lowest.md}
venv=$work/venv
vpy=$venv/bin/python
# Book-tooling tests: they check _config.yml, the editions, the systems index and the CI
# scripts with the book's own toolchain (yaml, nbconvert, papermill, a browser), not the package.
EXCLUDED=(test_site.py test_book_config.py test_editions.py test_systems_index.py test_robustness_script.py)
# shellcheck disable=SC2206
CHAPTERS=(${LOWEST_CHAPTERS:-chapters/part1_foundations/ch01_maximum_likelihood.ipynb
                             chapters/part1_foundations/ch02_gan_game.ipynb})
TEST_TOOLS=(pytest POT torchmetrics nbclient nbformat ipykernel)

export PYTHONHASHSEED=0 GANBOOK_QUIET=1 PIP_DISABLE_PIP_VERSION_CHECK=1
unset MPLBACKEND PYTHONPATH PYTHONHOME VIRTUAL_ENV
# The kernels must be the fresh venv's Python (make exports the main .venv's PATH and JUPYTER_PATH).
export PATH="$venv/bin:$PATH" JUPYTER_PATH="$venv/share/jupyter"

start=$SECONDS
rows=()          # "step|result|detail" lines of the summary
status=0
say() { printf '\n=== lowest: %s (%ds)\n' "$*" "$((SECONDS - start))"; }
row() { rows+=("$1|$2|$3"); [[ $2 == PASS ]] || status=1; }

write_summary() {
    {
        echo "# ganbook at the lowest bounds of pyproject.toml"
        echo
        echo "Written by \`make lowest\` (.ci/lowest.sh) on $(date -u '+%Y-%m-%d %H:%M UTC'),"
        echo "$(uname -m), $("$python" --version 2>&1); $((SECONDS - start)) s in all."
        echo
        if [[ -s $work/resolved.tsv ]]; then
            echo "| package | bound (pyproject.toml) | lowest served for this Python | installed |"
            echo "|---|---|---|---|"
            while IFS=$'\t' read -r name spec lowest; do
                inst=$("$vpy" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
                echo "| $name | \`$spec\` | $lowest | ${inst:-not installed} |"
            done < "$work/resolved.tsv"
            echo
        fi
        if [[ -s $work/tools.txt ]]; then
            echo "Test tools (requirements.txt's pins): $(tr '\n' ' ' < "$work/tools.txt")"
            echo
        fi
        echo "| step | result | detail |"
        echo "|---|---|---|"
        local r
        for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
        echo
        echo "Overall: $([[ $status -eq 0 ]] && echo PASS || echo FAIL)"
    } > "$summary"
    echo
    cat "$summary"
    echo "lowest: summary written to $summary"
}
trap write_summary EXIT

# ------------------------------------------------------------------ 1. sdist and wheel
say "building the sdist and the wheel (from the sdist) with $build_python -m build"
rm -rf "$work/dist"
if ! "$build_python" -c 'import build' 2>/dev/null; then
    echo "lowest: $build_python has no 'build' (requirements.txt pins it: make venv)" >&2
    row build FAIL "no 'build' module in $build_python"; exit 1
fi
if ! "$build_python" -m build --outdir "$work/dist" . > "$work/build.log" 2>&1; then
    tail -30 "$work/build.log"
    row build FAIL "python -m build failed: $work/build.log"; exit 1
fi
sdist=$(ls "$work"/dist/*.tar.gz)
wheel=$(ls "$work"/dist/*.whl)
echo "built $(basename "$sdist") and $(basename "$wheel")"
# Every file pyproject's package-data globs match in the tree must be in both archives.
if data_check=$("$build_python" - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, tomllib, zipfile
from pathlib import Path
sdist, wheel = sys.argv[1:]
globs = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ganbook"]
want = sorted({p.relative_to(".").as_posix() for g in globs for p in Path("ganbook").glob(g)})
top = Path(sdist).name[:-len(".tar.gz")]
in_sdist = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if n.startswith(top + "/")}
in_wheel = set(zipfile.ZipFile(wheel).namelist())
miss = [f"{f} (sdist)" for f in want if f not in in_sdist] + [f"{f} (wheel)" for f in want if f not in in_wheel]
py_sdist = {n for n in in_sdist if n.startswith("ganbook/") and n.endswith(".py")}
py_tree = {p.as_posix() for p in Path("ganbook").rglob("*.py") if "__pycache__" not in p.parts}
miss += [f"{f} (sdist)" for f in sorted(py_tree - py_sdist)]
miss += [f"{f} (wheel)" for f in sorted(py_tree - in_wheel)]
print(f"{len(want)} data files and {len(py_tree)} modules in both" if not miss else "missing: " + ", ".join(miss))
sys.exit(1 if miss or not want else 0)
EOF
); then
    row "sdist + wheel" PASS "$(basename "$wheel"); $data_check"
else
    row "sdist + wheel" FAIL "$data_check"
fi

# ------------------------------------------------------------------ 2. the fresh venv
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    row venv FAIL "$python is not Python 3.11"; exit 1
fi
[[ -x $vpy ]] || { say "creating $venv"; "$python" -m venv "$venv"; }

say "resolving the lowest version of each dependency that the index serves for Python 3.11"
# For each requirement of pyproject.toml: the releases pip sees (`pip index versions`), lowest
# first, within the requirement's specifier; the first one pip can install here as a wheel wins.
if ! "$vpy" - "$work/resolved.tsv" <<'EOF'
import re, subprocess, sys, tomllib
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.version import InvalidVersion, Version

def releases(name):
    out = subprocess.run([sys.executable, "-m", "pip", "index", "versions", name],
                         capture_output=True, text=True, check=True).stdout
    line = re.search(r"Available versions: (.*)", out).group(1)
    found = []
    for v in line.split(","):
        try:
            found.append(Version(v.strip()))
        except InvalidVersion:
            pass
    return sorted(v for v in found if not v.is_prerelease and v.local is None)

def installable(name, version):
    probe = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
             "--only-binary=:all:", "-q", f"{name}=={version}"]
    return subprocess.run(probe, capture_output=True, text=True).returncode == 0

rows = []
for spec in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    req = Requirement(spec)
    for version in (v for v in releases(req.name) if v in req.specifier):
        if installable(req.name, version):
            break
        print(f"  {req.name}=={version}: no wheel for this Python, trying the next release")
    else:
        sys.exit(f"no release of {req.name} satisfies {spec} here")
    print(f"  {spec:<22} -> {req.name}=={version}")
    rows.append(f"{req.name}\t{req.specifier}\t{version}")
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
EOF
then
    row resolve FAIL "could not resolve the lowest versions"; exit 1
fi
mapfile -t lowest < <(awk -F'\t' '{print $1 "==" $3}' "$work/resolved.tsv")
grep -iE "^($(IFS='|'; echo "${TEST_TOOLS[*]}"))==" requirements.txt > "$work/tools.txt"
mapfile -t tools < "$work/tools.txt"
row resolve PASS "$(IFS=' '; echo "${lowest[*]}")"

say "installing ${lowest[*]} ${tools[*]}"
want="${lowest[*]} ${tools[*]}"
if [[ ${LOWEST_FRESH:-0} == 1 || $(cat "$venv/.lowest-requirements" 2>/dev/null) != "$want" ]]; then
    # a new set of versions: a new venv (the one above only served to resolve them)
    rm -rf "$venv" && "$python" -m venv "$venv"
    if nice -n 5 "$vpy" -m pip install --only-binary=:all: "${lowest[@]}" "${tools[@]}" > "$work/install.log" 2>&1; then
        echo "$want" > "$venv/.lowest-requirements"
    else
        tail -30 "$work/install.log"
        row install FAIL "pip install of the lowest set failed: $work/install.log"; exit 1
    fi
fi
# ganbook from this run's wheel; its dependencies must already be satisfied by the lowest set.
"$vpy" -m pip install --no-deps --force-reinstall -q "$wheel" >> "$work/install.log" 2>&1 \
    && "$vpy" -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ganbook lowest)" >/dev/null 2>&1
if check=$("$vpy" -m pip check 2>&1); then
    row install PASS "wheel + lowest set, pip check: $check"
else
    row install FAIL "pip check: $check"
fi

# ------------------------------------------------------------------ 3. tests and chapters
run=$(mktemp -d /tmp/ganbook-lowest.XXXXXX)      # outside the repository
trap 'cd "$repo"; rm -rf "$run"; write_summary' EXIT
cd "$run"
# Where is ganbook imported from, and does the package data come with it?
if where=$("$vpy" - "$venv" <<'EOF'
import sys
from importlib import resources
from pathlib import Path
import ganbook
venv = Path(sys.argv[1]).resolve()
origin = Path(ganbook.__file__).resolve()
assert venv in origin.parents and "site-packages" in origin.parts, f"ganbook imported from {origin}"
data = [p for d in ("weights", "benchmarks") for p in resources.files("ganbook").joinpath(d).iterdir()]
assert any(p.name.endswith(".pt") for p in data), "no weights installed"
from ganbook.metrics import features
features.digits_classifier()          # the shipped weights load from the installed package
import numpy, scipy, torch, matplotlib
print(f"ganbook from site-packages ({len(data)} data files); torch {torch.__version__}, numpy "
      f"{numpy.__version__}, scipy {scipy.__version__}, matplotlib {matplotlib.__version__}")
EOF
); then
    row "import the wheel" PASS "$where"
else
    row "import the wheel" FAIL "$(echo "$where" | tail -3 | tr '\n' ' ')"
fi

# A plugin in the run folder (on sys.path: python -m pytest adds the current directory) fails
# the session if any test imported ganbook from anywhere but the venv.
cat > lowest_where.py <<EOF
import sys
def pytest_sessionfinish(session, exitstatus):
    mod = sys.modules.get("ganbook")
    if mod is not None and not mod.__file__.startswith("$venv/"):
        print(f"\\nlowest: ganbook was imported from {mod.__file__}, not the venv")
        session.exitstatus = 3
EOF
say "unit tests (cwd $run)"
ignores=()
for f in "${EXCLUDED[@]}"; do ignores+=(--ignore "$repo/tests/$f"); done
# shellcheck disable=SC2086
nice -n 5 "$vpy" -m pytest ${LOWEST_TESTS:-"$repo/tests"} "${ignores[@]}" -p lowest_where -p no:cacheprovider \
    -q -rfEs --junitxml "$work/junit.xml" > "$work/pytest.log" 2>&1
rc=$?
tail -25 "$work/pytest.log"
counts=$("$vpy" - "$work/junit.xml" "$work/failed.txt" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
s = root if root.tag == "testsuite" else root.find("testsuite")
t, f, e, k = (int(s.get(a, 0)) for a in ("tests", "failures", "errors", "skipped"))
cuda = sum("CUDA" in (x.get("message") or "") for x in s.iter("skipped"))
bad = [c for c in s.iter("testcase") if c.find("failure") is not None or c.find("error") is not None]
files = sorted({c.get("classname").split(".")[1] for c in bad})   # classname: tests.test_x[.Class]
open(sys.argv[2], "w").write("".join(f"tests/{m}.py\n" for m in files))
print(f"{t - f - e - k} passed, {f} failed, {e} errors, {k} skipped ({cuda} need CUDA) "
      f"in {float(s.get('time')):.0f} s")
EOF
)
detail="${counts:-no report} (without ${EXCLUDED[*]}); log: $work/pytest.log"
if [[ $rc -ne 0 && -s $work/failed.txt ]]; then
    # Which failures are the lowest versions'? The test files with a failure run again with
    # requirements.txt's pins (BUILD_PYTHON's venv, the source tree): a test that fails there
    # too fails for another reason than the versions.
    mapfile -t failed_files < "$work/failed.txt"
    (cd "$repo" && "$build_python" -m pytest -q -p no:cacheprovider -rfE "${failed_files[@]}" \
        > "$work/pytest_pins.log" 2>&1)
    only=$(grep -E '^(FAILED|ERROR) ' "$work/pytest.log" | sed -E 's#^(FAILED|ERROR) [^ ]*/(tests/test_)#\2#; s/ - .*//' \
           | while read -r t; do grep -qF "$t" "$work/pytest_pins.log" || printf '%s ' "$t"; done)
    pins=$(grep -cE '^(FAILED|ERROR) ' "$work/pytest_pins.log")
    detail+="; failing at the lowest versions only: ${only:-none}; failing with the pins too: $pins (other"
    detail+=" causes, $work/pytest_pins.log)"
fi
row "unit tests" "$([[ $rc -eq 0 ]] && echo PASS || echo FAIL)" "$detail"

for nb in "${CHAPTERS[@]}"; do
    name=$(basename "$nb" .ipynb)
    say "executing $nb (cwd $run)"
    t0=$SECONDS
    if out=$(nice -n 5 "$vpy" - "$repo/$nb" "$work/$name.ipynb" "$venv" <<'EOF' 2>&1
import sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
src, dst, venv = sys.argv[1:]
nb = nbformat.read(src, as_version=4)
# First cell: the kernel is the venv's Python and ganbook comes from its site-packages.
nb.cells.insert(0, nbformat.v4.new_code_cell(
    "import sys, ganbook\n"
    f"assert sys.prefix == {venv!r}, sys.prefix\n"
    f"assert ganbook.__file__.startswith({venv + '/'!r}), ganbook.__file__"))
client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}})
try:
    client.execute()
except CellExecutionError as err:
    print(str(err)[-3000:])
    sys.exit(1)
finally:
    nbformat.write(nb, dst)
EOF
    ); then
        row "$name" PASS "executed in $((SECONDS - t0)) s; output $work/$name.ipynb"
    else
        echo "$out" | tail -40
        row "$name" FAIL "$(echo "$out" | grep -E '^[A-Za-z_.]*(Error|Exception)\b' | tail -1 | cut -c1-200)"
    fi
done
exit $status
