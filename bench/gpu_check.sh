#!/usr/bin/env bash
# The GPU checks of the recipe and loader issues, as one script for a lent GPU machine
# (see BENCHMARKS.md). Needs the project's venv (or torch, timm, pandas, pillow importable).
# Writes $OUT/gpu_check.log when OUT is set (the device tool's output folder).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
LOG=${OUT:-/tmp}/gpu_check.log
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  "$PY" bench/gpu_throughput.py --model swinv2_tiny_window8_256 --img-size 256 --batch 64 --workers 16
  "$PY" bench/loader_throughput.py --panoramas 16
} 2>&1 | tee "$LOG"
