# Two commands do all the set-up on a fresh clone: `make demo` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Stage commands call `python`; make sure it is the venv's, whatever is first on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export DVC_NO_ANALYTICS := 1
export DVC_STUDIO_OFFLINE := true

.PHONY: demo test install bench clean-demo

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

demo: $(STAMP)
	@if [ -z "$$(ls -A data/raw 2>/dev/null)" ]; then \
		echo "data/raw is empty: generating the demo panoramas and LabelBox export"; \
		$(PY) -m pano360.data.demo data/raw; \
	fi
	dvc add --quiet data/raw
	dvc repro
	$(PY) -m pano360.evaluation.summary

# Two workers on 2 cores (pytest-xdist), each test file on one worker so its built fixtures
# are built once; tests/conftest.py gives each worker one compute thread.
test: $(STAMP)
	$(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

# About two hours on 2 cores; run it alone (two torch processes slow each other far more than 2x).
bench: $(STAMP) demo
	$(PY) bench/split_throughput.py
	$(PY) bench/split_quality.py
	$(PY) bench/partition_speed.py
	$(PY) bench/incremental.py --cache-types reflink,hardlink,symlink copy
	$(PY) bench/incremental.py --panoramas 2400 --add 240 --cache-types reflink,hardlink,symlink copy
	$(PY) bench/loader_throughput.py
	$(PY) bench/train_throughput.py
	$(PY) bench/hard_recipe.py
	$(PY) bench/presets.py --previous
	$(PY) bench/finetune.py --source-checkpoint bench/out/presets/hard/run/model.pt
	$(PY) bench/prepared_accuracy.py
	$(PY) bench/active_learning.py
	$(PY) bench/machine_variation.py
	$(PY) bench/scale.py
