# llm-scaffold: `make demo` (generate a project and run its pipeline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --constraint constraints.txt
DEMO_DIR ?= build/demo

.PHONY: demo test lint clean

# The environment: torch first and pinned (constraints.txt), then this package with its test extra.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PIP) torch
	$(PIP) -e ".[test]"
	touch $@

# Generate a project with the default answers and run its pipeline end to end on CPU:
# prepare -> train (experiment=smoke, about a minute) -> evaluate.
demo: $(VENV)/.installed
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/llm-scaffold new $(DEMO_DIR) --defaults --quiet
	$(PIP) -e $(DEMO_DIR)
	$(MAKE) -C $(DEMO_DIR) demo PY=$(abspath $(PY))

test: lint
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(PY) -m ruff check generator hooks tests
	$(PY) -m ruff format --check generator hooks tests

clean:
	rm -rf $(VENV) build .pytest_cache
