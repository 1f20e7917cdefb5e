# Thin wrappers over the README's commands. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STORE ?= data/demo.duckdb
PORT ?= 8501
PATIENTS ?= 3000
PYTEST_ARGS ?=

.PHONY: setup run demo test test-fast lint format bench chromium clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# numba compiles the survival and binning kernels once, into __pycache__, not at first use
	$(PY) -c "from analytics.survival.cox import load_compiled_kernels as k; k()"
	$(PY) -c "from analytics.trends import load_compiled_kernels as k; k()"
	touch $@

setup: $(VENV)/.installed

# Browser tests and figure export use Debian's Chromium (Playwright's own download cannot work here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

$(STORE): | $(VENV)/.installed
	$(VENV)/bin/retention demo --store $(STORE) --patients $(PATIENTS)

demo: $(STORE)

run: setup $(STORE)
	$(VENV)/bin/retention serve --store $(STORE) --port $(PORT)

test: setup chromium
	$(VENV)/bin/pytest -n 2 $(PYTEST_ARGS)

# Without the browser tests: quick feedback while developing.
test-fast: setup
	$(VENV)/bin/pytest -n 2 -m "not e2e" $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/sqlfluff lint sql/

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache
