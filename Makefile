# pbxops: `make up` runs the whole stack, `make test` runs the whole suite. Both install first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install up restart-worker test test-fast test-e2e lint format typecheck clean messages

help:
	@echo "make up         install, then run Temporal + UI, simulator and worker (Ctrl-C stops)"
	@echo "make restart-worker  restart only the worker of a running make up (new code)"
	@echo "make test       install, then run the whole test suite"
	@echo "make test-fast  unit, activity and replay tests only (no end-to-end processes)"
	@echo "make lint       ruff check + format check;  make typecheck: mypy"
	@echo "make clean      remove .data/ (Temporal history, simulator state)"
	@echo "make messages   update the customer emails' .po catalogues from the templates"

# Re-install whenever a pyproject.toml changes; the venv is created if missing. Two projects: the
# product (pbxops, with its dev tools) and the simulator it is developed against (sim/).
$(STAMP): pyproject.toml sim/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' -e ./sim
	@touch $(STAMP)

install: $(STAMP)

# `make up` is a development stack: dev defaults pass only with PBXOPS_DEV_MODE (docs/security.md).
up: export PBXOPS_DEV_MODE := 1
up: install
	@mkdir -p .data
	$(BIN)/honcho start -f Procfile

# The worker runs under pbxops/runtime/supervise.py: a worker that dies is started again by itself, and
# this restarts it now (e.g. after changing code), the server and the simulator staying up.
restart-worker:
	@pid="$$(cat .data/worker.pid 2>/dev/null)"; \
	ps -p "$${pid:-0}" -o args= 2>/dev/null | grep -q pbxops.runtime.supervise \
	  || { echo "no worker to restart: is make up running in this checkout?"; exit 1; }; \
	kill -HUP "$$pid" && echo "worker restarting (see make up's output)"

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
	$(BIN)/mypy src sim/src bench worker.py

clean:
	rm -rf .data

# The customer emails' catalogues (docs/emails.md): extract every {% trans %} of the templates and
# merge new or changed messages into each language's .po (then translate the empty msgstr lines).
messages: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --omit-header --sort-output \
		-o src/pbxops/activities/locale/messages.pot .
	$(BIN)/pybabel update -i src/pbxops/activities/locale/messages.pot -d src/pbxops/activities/locale \
		--no-fuzzy-matching --ignore-obsolete --width 100 --ignore-pot-creation-date

# --- benchmarks: never part of `make test` (docs/benchmarks.md; results in bench/results/) ------
# `make bench` runs all five in turn, each on its own fresh stack; BENCH_ARGS=--quick for a smoke run.
.PHONY: bench bench-throughput bench-actions bench-idle bench-latency bench-suite

bench: install
	$(BIN)/python -m bench.all $(BENCH_ARGS)

bench-throughput: install
	$(BIN)/python -m bench.throughput $(BENCH_ARGS)

bench-actions: install
	$(BIN)/python -m bench.actions

bench-idle: install
	$(BIN)/python -m bench.idle $(BENCH_ARGS)

bench-latency: install
	$(BIN)/python -m bench.latency $(BENCH_ARGS)

bench-suite: install
	$(BIN)/python -m bench.suite

# --- reliability and security (docs/reliability.md, docs/security.md) -------------------------
# `make test-chaos`: four scenarios of 100 procedures each against real processes (worker SIGKILLs,
# dev-server restarts, platform faults, SMTP down); never part of `make test`. Figures land in
# .data/chaos/<scenario>.json.
.PHONY: test-chaos codec-server

test-chaos: install
	$(BIN)/pytest -m chaos tests/chaos -n 0 -p no:warnings -s --timeout 1800

# The codec server the Temporal UI decodes encrypted payloads through (PBXOPS_PAYLOAD_KEY and
# PBXOPS_CODEC_SERVER_TOKEN must be set; see docs/security.md).
codec-server: install
	$(BIN)/python -m pbxops.runtime.codec_server
