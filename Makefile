# schedtui developer commands. `make demo` and `make test` are the README's quick start.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast lint pg bench screenshots clean

$(BIN)/schedtui: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

install: $(BIN)/schedtui

demo: install
	$(BIN)/schedtui demo

# Starts a throwaway PostgreSQL (and MariaDB) when the machine has one installed and none is
# configured; without a server those tests skip (outside CI).
test: install
	@if [ -z "$$SCHEDTUI_TEST_PG_URL" ] && ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then \
	  eval "$$(.ci/pg-start)"; export SCHEDTUI_TEST_PG_URL; fi; \
	if [ -z "$$SCHEDTUI_TEST_MYSQL_URL" ] && { command -v mariadbd || command -v mysqld || [ -x /usr/sbin/mariadbd ]; } >/dev/null 2>&1; then \
	  eval "$$(.ci/mariadb-start)"; export SCHEDTUI_TEST_MYSQL_URL; fi; \
	$(BIN)/python -m tests.fixtures.prepare && \
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Static checks (the same as CI, which fails on any finding): lint and format, types, layers.
LINT_PATHS := src tests benchmarks scripts
$(VENV)/.lint-deps: pyproject.toml $(BIN)/schedtui
	$(BIN)/pip install -q -e '.[test,lint]'
	@touch $@

lint: $(VENV)/.lint-deps
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/mypy
	$(BIN)/lint-imports

test-fast: install
	$(BIN)/pytest -q -x -m "not slow" $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/bench_check.py
	$(BIN)/python benchmarks/bench_decoder.py
	$(BIN)/python benchmarks/bench_console.py
	$(BIN)/python benchmarks/bench_companion.py
	$(BIN)/python benchmarks/bench_backup.py
	$(BIN)/python benchmarks/bench_metrics.py

screenshots: install
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
