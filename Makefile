# JointGate: `make demo` runs the demo, `make test` runs every check. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_STAMP := $(VENV)/.uv-stamp
UV     := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never $(BIN)/uv

.PHONY: help demo test lint format docs services lock upgrade floors bench bench-audit bench-peers clean

help:
	@echo "make demo     set up .venv and run the sandbox agencies + gateway (port 8400)"
	@echo "make test     set up .venv, make sure Redis and PostgreSQL run, run lint and tests"
	@echo "make lint     ruff and mypy --strict"
	@echo "make bench    run the benchmarks in bench/ (results in bench/results/)"
	@echo "make docs     regenerate the settings table of docs/configuration.md"
	@echo "make lock     regenerate uv.lock after a change to pyproject.toml's dependencies"
	@echo "make upgrade  move uv.lock to the newest releases pyproject.toml allows"
	@echo "make floors   run the tests on the lowest versions pyproject.toml allows"

# Everything installs from uv.lock (exact versions and hashes), never from whatever the registry
# serves today: uv itself first, hash-checked against the lock, then `uv sync --locked`, which
# also refuses a pyproject.toml that no longer matches the lock (then run `make lock`).
$(UV_STAMP): uv.lock scripts/uv-requirement.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --default-pip >/dev/null
	$(PYTHON) scripts/uv-requirement.py uv.lock | $(BIN)/python -m pip install --quiet --no-deps \
		--require-hashes --only-binary :all: -r /dev/stdin  # uv's pin and hashes, from uv.lock
	@touch $@

$(STAMP): pyproject.toml uv.lock $(UV_STAMP)
	$(UV) sync --locked --quiet
	@touch $@

lock: $(UV_STAMP)  # after a change to pyproject.toml's dependencies; commit uv.lock with it
	$(UV) lock
	$(ARIADNE_LOCK)

upgrade: $(UV_STAMP)  # every locked version to the newest release pyproject.toml allows
	$(UV) lock --upgrade
	$(ARIADNE_LOCK) --upgrade

# The ariadne peer of the benchmarks has its own venv and its own lock (with hashes).
ARIADNE_LOCK = $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--custom-compile-command "make lock" -o $(PEERS)/requirements-ariadne.txt \
	$(PEERS)/requirements-ariadne.in

# The lowest versions pyproject.toml allows (direct dependencies at their floors), in a venv of
# their own, against the same test suite: the floors in pyproject.toml must be true.
FLOORS := .venv-floors
floors: $(UV_STAMP) services
	@test -x $(FLOORS)/bin/python || $(PYTHON) -m venv $(FLOORS)
	$(BIN)/uv pip compile --quiet --resolution lowest-direct --group dev pyproject.toml \
		--python $(FLOORS)/bin/python -o $(FLOORS)/requirements.txt
	$(BIN)/uv pip sync --quiet --python $(FLOORS)/bin/python $(FLOORS)/requirements.txt
	$(BIN)/uv pip install --quiet --python $(FLOORS)/bin/python --no-deps -e .
	npm ci --prefix tests/http/node --no-audit --no-fund --loglevel=error
	# tests/test_lock.py checks the environment was installed from uv.lock: this one is not
	$(FLOORS)/bin/pytest -p no:cacheprovider --ignore=tests/test_lock.py $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/jointgate demo

services:
	@scripts/ensure-services.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) services lint
	npm ci --prefix tests/http/node --no-audit --no-fund --loglevel=error  # graphql-http audit suite
	$(BIN)/pytest

docs: $(STAMP)  # the key table of docs/configuration.md, from the settings' declarations
	$(BIN)/python -m gateway.settings_docs

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The peer gateways of the peers benchmark: @apollo/gateway (npm, bench/peers/package-lock.json)
# and ariadne-graphql-proxy in its own venv (it needs graphql-core < 3.3, strawberry >= 3.3).
PEERS := bench/peers

$(PEERS)/node_modules/.package-lock.json: $(PEERS)/package-lock.json
	npm ci --prefix $(PEERS) --no-audit --no-fund --loglevel=error

$(PEERS)/.venv/.installed-stamp: $(PEERS)/requirements-ariadne.txt
	@test -x $(PEERS)/.venv/bin/python || $(PYTHON) -m venv $(PEERS)/.venv
	$(PEERS)/.venv/bin/python -m pip install --quiet --no-deps --require-hashes \
		-r $(PEERS)/requirements-ariadne.txt
	@touch $@

bench-peers: $(PEERS)/node_modules/.package-lock.json $(PEERS)/.venv/.installed-stamp

# ~5 min; BENCH_ARGS=--audit also reruns the audit benchmark (+15 min), --quick checks the suite
bench: $(STAMP) bench-peers
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-audit: $(STAMP)  # the audit trail: appends, verify and search on 1M records (~15 min)
	$(BIN)/python -m bench.audit_bench

clean:
	rm -rf $(VENV) $(FLOORS) .jointgate .pytest_cache .mypy_cache .ruff_cache
