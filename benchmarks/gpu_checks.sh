#!/usr/bin/env bash
# Everything that needs a CUDA device, in one go (about 4 minutes on one H200): the CUDA tests, the
# genlab / plain-loop ratio on CUDA with its breakdown, and gpu_bench's table (CPU vs CUDA, float32 vs
# bf16, host waits per step, and where bf16 starts to pay as the models grow). Each part's log goes to
# $OUT (default benchmarks/results/gpu/).
#
#     bash benchmarks/gpu_checks.sh
set -u
cd "$(dirname "$0")/.."
out=${OUT:-benchmarks/results/gpu}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python3 -c "import sys, torch; print('Python', sys.version.split()[0], 'torch', torch.__version__, 'CUDA', torch.version.cuda)"
} 2>&1 | tee "$out/device.txt"
python3 -m pytest -q -p no:cacheprovider -rs tests/test_precision.py 2>&1 | tee "$out/cuda_tests.log"
python3 benchmarks/train_bench.py --device cuda --rounds 5 --seconds 0.5 --instances 2 --breakdown 2>&1 \
  | tee "$out/train_bench_cuda.log"
python3 benchmarks/gpu_bench.py --rounds 3 --seconds 0.5 --sweep 2>&1 | tee "$out/gpu_bench.log"
