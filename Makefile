# Two commands for a newcomer: `make demo` and `make test`. Each sets itself up from nothing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test faults lint docs bench clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	# The CPU build first: a plain "torch" requirement would pull a multi-GB CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "torch==2.13.0"
	$(PY) -m pip install -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hilt demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest
	# lint-imports: the layers point down (pyproject.toml [tool.importlinter], ADR 0008)
	$(PY) .ci/lint_imports.py
	$(VENV)/bin/ruff check .

# The whole fault suite (the slow part is skipped by `make test`): see RELIABILITY.md.
faults: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m "slow or not slow" tests/faults tests/loops/test_loop_faults.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The documentation site in site/ (open site/index.html): docs/ and a reference page per driver
# and kind generated from the code. `make test` builds it too (tests/docs), so it stays buildable.
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(PY) bench/transport_bench.py
	$(PY) bench/runfile_bench.py
	$(PY) bench/physics_bench.py
	$(PY) bench/mzi_step_bench.py
	$(PY) bench/programming_bench.py
	$(PY) bench/snn_board_study.py
	QT_QPA_PLATFORM=offscreen $(PY) bench/gui_stall_bench.py

clean:
	rm -rf $(VENV) build site *.egg-info
