#!/usr/bin/env bash
# `make gpu-check`: on a machine with CUDA, run the CUDA-marked tests (and the rest of
# tests/test_devices.py), then execute every chapter on the GPU one at a time (in parallel they
# fight for it) and write a table of seconds per chapter beside the CPU's (book/timings.md).
# Usage: bash .ci/gpu_check.sh [OUTPUT_DIR]   (default _build; the table is gpu_timings.md there)
# Exit status: non-zero if there is no CUDA device, a test failed or a chapter failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-_build}
python=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONHASHSEED=0 GANBOOK_QUIET=1
unset MPLBACKEND

if ! "$python" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
    echo "gpu-check: no CUDA device here; nothing to check" >&2
    exit 1
fi
"$python" -c 'import torch; print("gpu-check: torch", torch.__version__, "on", torch.cuda.get_device_name(0))'

status=0
echo "=== gpu-check: every test marked cuda (tests/conftest.py skips them without a GPU; here they run)"
"$python" -m pytest -p no:cacheprovider -q -m cuda tests 2>&1 | tee "$out/gpu_tests.log"
[[ ${PIPESTATUS[0]} -eq 0 ]] || status=1

echo "=== gpu-check: chapter 6's gpu presets, recorded into ganbook/benchmarks (the chapters show them)"
rec=ganbook/benchmarks
for cmd in "-m ganbook.ablation --preset gpu --out $rec" \
           "-m ganbook.sngan --preset gpu --out $rec" \
           "-m ganbook.architectures --preset gpu --out $out/architectures_gpu" \
           "-m ganbook.parallel --preset gpu --steps 2000 --out $out/parallel_gpu1" \
           "-m ganbook.parallel --preset gpu --steps 100 --device cpu --out $out/parallel_cpu"; do
    echo "--- python $cmd"
    # shellcheck disable=SC2086
    "$python" $cmd || status=1
done
# the full DCGAN alone at the gpu preset (its variant name has spaces, so outside the loop)
"$python" -m ganbook.ablation --preset gpu --variant "DCGAN (all guidelines)" --name dcgan_long_gpu --out "$rec" || status=1
ngpu=$("$python" -c 'import torch; print(torch.cuda.device_count())')
if [[ $ngpu -gt 1 ]]; then
    "$python" -m torch.distributed.run --nproc_per_node="$ngpu" -m ganbook.parallel --preset gpu --steps 2000 \
        --out "$out/parallel_gpu$ngpu" || status=1
fi

echo "=== gpu-check: every chapter on CUDA, one at a time"
"$python" .ci/timings.py --output "$out/gpu_timings.md" --baseline book/timings.md || status=1
cat "$out/gpu_timings.md"
exit $status
