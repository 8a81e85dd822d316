#!/usr/bin/env bash
# Download, here, the wheels that bench/gpu_check.sh needs on a bare offline GPU machine:
# the packages pano360's training imports that such a machine's Python lacks (it has torch,
# timm, numpy, pandas, scikit-learn, Pillow, matplotlib, psutil, nvidia-ml-py, ...; not
# pydantic, iterative-stratification, dvc or dvclive). Versions are the ones this project's
# venv has (what the tests ran with); wheels for CPython 3.12 on manylinux x86_64.
#
#   bash bench/gpu_wheels.sh          # → bench/.wheels/ (git-ignored, checked ≤ 60 MiB)
#
# dvclive imports dvc at import time, hence dvc and the part of its tree that import touches
# (found by importing training and running dvclive with them blocked, one by one); installed
# there with --no-deps, so nothing else is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEST=${DEST:-bench/.wheels}
PYVER=${PYVER:-3.12}     # the GPU machine's Python (another only to rehearse the install here)
ABI=cp${PYVER/./}
NAMES="annotated-types atpublic diskcache dpath dulwich dvc dvc-data dvc-http dvc-objects dvc-render
dvc-studio-client dvclive flatten-dict flufl.lock funcy iterative-stratification orjson pydantic pydantic_core
pydot pygtrie ruamel.yaml scmrepo sqltrie typing-inspection voluptuous zc.lockfile"
pins=$("$PY" -c 'import sys, importlib.metadata as md; print(" ".join(f"{n}=={md.version(n)}" for n in sys.argv[1:]))' $NAMES)
rm -rf "$DEST.part" && mkdir -p "$DEST.part"
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version "$PYVER" --implementation cp --abi "$ABI" --abi abi3 --abi none \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
  --platform any -d "$DEST.part" $pins
rm -rf "$DEST" && mv "$DEST.part" "$DEST"
size=$(du -sm "$DEST" | cut -f1)
echo "bench/gpu_wheels.sh: $(ls "$DEST" | wc -l) wheels, ${size} MiB in $DEST"
if [ "$size" -gt 60 ]; then echo "bench/gpu_wheels.sh: over 60 MiB" >&2; exit 1; fi
