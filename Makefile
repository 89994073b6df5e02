# pbxops: `make up` runs the whole stack, `make test` runs the whole suite. Both install first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install up test test-fast test-e2e lint format typecheck clean

help:
	@echo "make up         install, then run Temporal + UI, simulator and worker (Ctrl-C stops)"
	@echo "make test       install, then run the whole test suite"
	@echo "make test-fast  unit, activity and replay tests only (no end-to-end processes)"
	@echo "make lint       ruff check + format check;  make typecheck: mypy"
	@echo "make clean      remove .data/ (Temporal history, simulator state)"

# Re-install whenever pyproject.toml changes; the venv is created if missing.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

up: install
	@mkdir -p .data
	$(BIN)/honcho start -f Procfile

test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not e2e"

test-e2e: install
	$(BIN)/pytest -m e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy contracts workflows activities starter runtime worker.py

clean:
	rm -rf .data
