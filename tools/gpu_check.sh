#!/usr/bin/env bash
# Check NN Studio's engine on a CUDA GPU in one command: the engine tests on CuPy (every layer, loss and
# optimizer test, the check that every array function the engine calls exists in CuPy, and each benchmark
# network and every example trained, evaluated and predicted on the GPU and compared with NumPy), then
# `nnstudio bench` on the GPU (each network at its example's batch size and at batch 256, against PyTorch on
# CUDA when it has it, in alternating pairs) and on the CPU, summarised in one table with the ratio ranges.
#
# Usage (from anywhere):  tools/gpu_check.sh [--no-install] [--repeats N]
#   PYTHON=/path/to/python  picks the interpreter (default: the project's .venv, else python3).
# Installs the "gpu" extra (CuPy) when CuPy does not import, unless --no-install.
# Exit status: 0 when everything passed, 1 when a step failed, 2 when there is no usable CUDA GPU.
set -u -o pipefail

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
INSTALL=1
REPEATS=5
while [ $# -gt 0 ]; do
    case "$1" in
        --no-install) INSTALL=0 ;;
        --repeats) shift; REPEATS=${1:-5} ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "gpu_check: unknown argument '$1'" >&2; exit 1 ;;
    esac
    shift
done

if [ -n "${PYTHON:-}" ]; then
    PY=$PYTHON
elif [ -x "$ROOT/.venv/bin/python" ]; then
    PY="$ROOT/.venv/bin/python"
else
    PY=$(command -v python3 || command -v python || true)
fi
if [ -z "$PY" ]; then
    echo "gpu_check: no Python interpreter found (set PYTHON=...)" >&2
    exit 1
fi
echo "== Python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"

if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
else
    echo "gpu_check: nvidia-smi not found; trying CuPy anyway"
fi

cupy_ok() {
    "$PY" - <<'EOF' >/dev/null 2>&1
from nnstudio.engine.backend import cupy_available
raise SystemExit(0 if cupy_available() else 1)
EOF
}

if ! cupy_ok; then
    if [ "$INSTALL" = 1 ]; then
        # The gpu extra pins the CUDA 12 wheel; pick the CUDA 11 one when the driver is older.
        CUDA_MAJOR=$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: \([0-9]*\).*/\1/p' | head -n1)
        if [ -n "$CUDA_MAJOR" ] && [ "$CUDA_MAJOR" -lt 12 ]; then
            echo "== installing cupy-cuda11x (driver supports CUDA $CUDA_MAJOR)"
            "$PY" -m pip install --quiet cupy-cuda11x || echo "gpu_check: installing CuPy failed" >&2
        else
            echo "== installing the gpu extra (cupy-cuda12x)"
            "$PY" -m pip install --quiet -e "$ROOT[gpu]" || "$PY" -m pip install --quiet cupy-cuda12x \
                || echo "gpu_check: installing CuPy failed (no network?)" >&2
        fi
    fi
    if ! cupy_ok; then
        echo "gpu_check: CuPy does not see a usable CUDA device:" >&2
        "$PY" -c 'from nnstudio.engine.backend import get_backend; get_backend("cupy")' 2>&1 | tail -n 1 >&2
        exit 2
    fi
fi
"$PY" -c 'from nnstudio.engine.backend import get_backend; print("== backend:", get_backend("cupy").human_name)'

STATUS=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "== engine tests on CuPy (and the CuPy function check)"
if NNSTUDIO_BACKEND=cupy "$PY" -m pytest "$ROOT/tests/engine" -q -rs -p no:cacheprovider 2>&1 | tee "$TMP/tests.log" | tail -n 25; then
    TESTS="passed"
else
    TESTS="FAILED"
    STATUS=1
fi
SUMMARY=$(grep -E '^(=+ )?[0-9]+ (passed|failed)' "$TMP/tests.log" | tail -n 1 | tr -d '=' | sed 's/^ *//')

# `nnstudio bench` when the console script is installed, else the module.
if command -v nnstudio >/dev/null 2>&1 && [ "$(command -v nnstudio)" -ef "$(dirname "$PY")/nnstudio" ]; then
    BENCH=("$(dirname "$PY")/nnstudio" bench)
else
    BENCH=("$PY" -m nnstudio.bench)
fi

echo "== bench on the GPU (cupy)"
if ! "${BENCH[@]}" --backend cupy --repeats "$REPEATS" --json > "$TMP/gpu.json"; then
    echo "gpu_check: the GPU bench failed" >&2
    STATUS=1
fi
echo "== bench on the CPU (numpy)"
if ! "${BENCH[@]}" --backend numpy --repeats "$REPEATS" --json > "$TMP/cpu.json"; then
    echo "gpu_check: the CPU bench failed" >&2
    STATUS=1
fi

"$PY" - "$TMP/gpu.json" "$TMP/cpu.json" "$TESTS" "$SUMMARY" <<'EOF'
import json
import sys

rows = []
header = ("backend", "network", "measure", "batch", "NN Studio", "PyTorch", "speed ratio", "range")
described = []
for path in sys.argv[1:3]:
    try:
        with open(path) as fh:
            report = json.load(fh)
    except (OSError, ValueError):
        continue
    described.append(f"{report['backend']}: {report['backend_description']}"
                     + (f" vs PyTorch {report['torch_version']} ({report['torch_device']})"
                        if report.get("torch_version") else ""))
    for r in report["results"]:
        latency = r["metric"] == "latency_ms"
        fmt = (lambda v: "-" if v is None else f"{v:.3f} ms") if latency else \
              (lambda v: "-" if v is None else f"{v:,.0f}/s")
        rows.append((report["backend"], r["label"], "inference latency" if latency else "training",
                     str(r["batch"]), fmt(r["ours"]), fmt(r["torch"]),
                     "-" if r["speed_ratio"] is None else f"{r['speed_ratio']:.2f}x",
                     "-" if r.get("ratio_min") is None else f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}"))
print()
print(f"engine tests on CuPy: {sys.argv[3]} ({sys.argv[4] or 'no summary'})")
for line in described:
    print(line)
table = [header] + rows
widths = [max(len(row[i]) for row in table) for i in range(len(header))]
for k, row in enumerate(table):
    print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    if k == 0:
        print("  ".join("-" * w for w in widths))
EOF
exit $STATUS
