# JointGate: `make demo` runs the demo, `make test` runs every check. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help demo test lint format services bench bench-audit bench-peers clean

help:
	@echo "make demo     set up .venv and run the sandbox agencies + gateway (port 8400)"
	@echo "make test     set up .venv, make sure Redis and PostgreSQL run, run lint and tests"
	@echo "make lint     ruff and mypy --strict"
	@echo "make bench    run the benchmarks in bench/ (results in bench/results/)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

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
	$(PEERS)/.venv/bin/python -m pip install --quiet -r $(PEERS)/requirements-ariadne.txt
	@touch $@

bench-peers: $(PEERS)/node_modules/.package-lock.json $(PEERS)/.venv/.installed-stamp

# ~5 min; BENCH_ARGS=--audit also reruns the audit benchmark (+15 min), --quick checks the suite
bench: $(STAMP) bench-peers
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-audit: $(STAMP)  # the audit trail: appends, verify and search on 1M records (~15 min)
	$(BIN)/python -m bench.audit_bench

clean:
	rm -rf $(VENV) .jointgate .pytest_cache .mypy_cache .ruff_cache
