#!/usr/bin/env bash
# The GPU checks, as one script for a bare, offline GPU machine (BENCHMARKS.md "GPU").
#
#   bash bench/gpu_wheels.sh               # here, with the network: the missing wheels, ~6 MiB
#   bash bench/gpu_check.sh                # there: ~6 minutes on one H200
#   bash bench/gpu_check.sh --install-only # anywhere: install and import-check, no GPU needed
#
# It uses that machine's own python3 with its torch (the CUDA wheels are far too big to carry);
# what pano360 needs beyond it comes from bench/.wheels, installed with pip --no-index into a
# folder on PYTHONPATH. Without a GPU it stops at once (exit 1): no silent CPU run.
# Writes $OUT/gpu_check.log when OUT is set (the device tool's output folder).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
WHEELS=${WHEELS:-bench/.wheels}
SITE=${SITE:-${TMPDIR:-/tmp}/pano360-gpu-site}
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
needs='import pydantic, iterstrat, dvclive, timm, pandas, sklearn, PIL, matplotlib; import pano360.training.loop'

if [ "${1:-}" != "--install-only" ] && ! "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  echo "gpu_check: no GPU visible to PyTorch on this machine; nothing measured" >&2
  exit 1
fi
if ! "$PY" -c "$needs" 2>/dev/null; then
  if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
    echo "gpu_check: pano360's dependencies are missing here and $WHEELS is empty: run bash bench/gpu_wheels.sh on a machine with the network, then carry bench/.wheels along" >&2
    exit 1
  fi
  "$PY" -m pip install --quiet --disable-pip-version-check --no-index --no-deps --target "$SITE" "$WHEELS"/*.whl
fi
"$PY" -c "$needs; import torch, pydantic, dvclive; print(f'gpu_check: python {__import__(\"sys\").version.split()[0]}, torch {torch.__version__}, pydantic {pydantic.VERSION}, dvclive {__import__(\"importlib.metadata\").metadata.version(\"dvclive\")}')"
[ "${1:-}" = "--install-only" ] && exit 0

LOG=${OUT:-/tmp}/gpu_check.log
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  timeout 300 "$PY" bench/gpu_throughput.py --model swinv2_tiny_window8_256 --img-size 256 --batch 64 --workers 14
  timeout 240 "$PY" bench/gpu_train_resume.py --model swinv2_tiny_window8_256 --img-size 256 --workers 8
} 2>&1 | tee "$LOG"
