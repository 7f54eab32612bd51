#!/usr/bin/env bash
# The GPU speed issue's measurements in one run, for a lent GPU's short lease (about 8 minutes on an H100 at the
# defaults): the batched trainer per formulation of its convolutions (settings.batched_conv) and with the
# graph-safe step options (noise=counter, fused_adam), with achieved GFLOP/s against the matmul rate, and one model
# against the reference when its wheel is given. Figures go to $OUT (default: gpu_speed_check/) as logs.
#
#   DEVICE=cuda ITERATIONS=50 MODELS="1 8 32" bash benchmarks/gpu_speed_check.sh
#   DEVICE=cpu ITERATIONS=2 MODELS="1 2" SIZE=48 bash benchmarks/gpu_speed_check.sh   # a trial run on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DEVICE:=cuda}" "${ITERATIONS:=50}" "${MODELS:=1 8 32}" "${SIZE:=250}" "${OUT:=gpu_speed_check}"
: "${REFERENCE_PATH:=}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
batched() {  # NAME, then settings flags
    local name=$1
    python benchmarks/bench_batched.py --device "$DEVICE" --iterations "$ITERATIONS" --max-size "$SIZE" \
        --height "$SIZE" --width "$SIZE" --models-per-batch $MODELS --baseline-models 1 "${@:2}" 2>&1 \
        | tee "$OUT/batched_$name.log"
}
for formulation in grouped loop gemm; do
    batched "$formulation" --batched-conv "$formulation"
done
batched graph_safe --noise counter --fused-adam
if [[ -n $REFERENCE_PATH ]]; then
    python benchmarks/bench_single_model.py --device "$DEVICE" --iterations "$ITERATIONS" --max-size "$SIZE" \
        --reference-path "$REFERENCE_PATH" --count-flops 2>&1 | tee "$OUT/single_model.log"
fi
grep -h -A8 "^Batched vs one by one" "$OUT"/batched_*.log
