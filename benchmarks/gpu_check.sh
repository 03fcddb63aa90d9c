#!/usr/bin/env bash
# The GPU checks, in one go, on a machine with CUDA: the CUDA tests, then the benchmarks with device cuda.
# Writes its logs to $OUT (or ./gpu-results).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu-results}"; mkdir -p "$OUT"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_clockwork.py tests/test_lstm.py tests/test_gru.py tests/test_scan.py 2>&1 | tail -5 | tee "$OUT/tests.log"
(cd benchmarks && python3 forward_backward.py --device cuda) 2>&1 | tee "$OUT/forward_backward_cuda.md"
(cd benchmarks && python3 batched_seeds.py --device cuda --seeds 1 10 100) 2>&1 | tee "$OUT/batched_seeds_cuda.md"
/usr/bin/time -v python3 -m cwrnn reproduce generation --sizes 1000 --runs 10 --device cuda --workers 3 \
  --json "$OUT/generation_1000_cuda.json" 2>&1 | grep -v "^\s*\(Average\|Major\|Minor\|Vol\|Invol\|Swaps\|File\|Socket\|Signals\|Page\|Exit\)" | tee "$OUT/generation_1000_cuda.txt"
