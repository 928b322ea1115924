#!/usr/bin/env bash
# The GPU checks of issue 16 as one short script (a few minutes on an H100/H200):
#   encoder: official computation order vs ours (fp32 exact, bf16, fp16) with agreement, then
#            frames/s and peak memory for LARGE at 1..64 clips per batch;
#   Phi training: the official step vs ours on the GPU.
# Run from the repository root on a machine with a CUDA build of PyTorch, numpy and scipy:
#   bash benchmarks/gpu_check.sh            (logs also go to $OUT/ when OUT is set)
set -euo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
LOG=${OUT:-/tmp}/gpu_check.log
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
  timeout 300 "$PY" benchmarks/bench_encoder.py --device cuda --sizes LARGE --runs 5 --skip-load \
      --batch-sweep 1,2,4,8,16,32,64 || echo "bench_encoder ended with status $?"
  timeout 120 "$PY" benchmarks/bench_training.py --device cuda --batches 10 \
      || echo "bench_training ended with status $?"
} 2>&1 | tee "$LOG"
