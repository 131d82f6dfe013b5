# Every developer action is a target here. A fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The PostgreSQL server the second test run uses; the suite creates and drops its own databases.
JEMBATAN_TEST_POSTGRES ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: help install dev demo test lint fmt typecheck test-sqlite test-postgres browser bench messages clean

help:
	@echo "make demo       run a local federation of three nodes (http://127.0.0.1:8701/ ...)"
	@echo "make test       lint, type-check, then the suite on SQLite and on PostgreSQL"
	@echo "make bench      run the benchmarks; results go to docs/performance.md"
	@echo "make fmt        format the code"
	@echo "make messages   extract strings into the translation catalogues"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/jembatan demo

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

fmt: dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

typecheck: dev
	$(BIN)/mypy

# Browser tests drive Debian's chromium through Playwright (never Playwright's own download).
browser:
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium'" >&2; exit 1; fi; }

test-sqlite: dev browser
	JEMBATAN_CHROMIUM=$(CHROMIUM) $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: dev browser
	JEMBATAN_CHROMIUM=$(CHROMIUM) JEMBATAN_TEST_POSTGRES=$(JEMBATAN_TEST_POSTGRES) \
	  $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck test-sqlite test-postgres

bench: dev
	$(BIN)/python -m bench

messages: dev
	$(BIN)/python -m jembatan.web.i18n update

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
