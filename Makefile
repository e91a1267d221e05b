# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install -q -c constraints.txt
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint typecheck system-deps clean bench bench-quick bench-scale bench-scale-quick \
	bench-live bench-live-quick scale-test test-balanced

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.run-installed: $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) -e '.[dev]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	@echo
	@echo "engactivity is starting on http://$(HOST):$(PORT) with live demo traffic for account 'demo';"
	@echo "it prints a read key for 'demo' with a curl line and a Python example to try."
	@echo
	$(VENV)/bin/engactivity serve --demo --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check src tests bench
	$(PY) -m ruff format --check src tests bench

typecheck: $(VENV)/.dev-installed
	$(PY) -m mypy

system-deps:
	bash scripts/install-system-deps
	bash scripts/start-test-postgres

test: $(VENV)/.dev-installed system-deps lint typecheck
	$(PY) -m pytest -n 2 -q
	$(MAKE) --no-print-directory test-balanced
	$(MAKE) --no-print-directory bench-quick

# The methods' black-box suites again, each test server being two processes with
# --memory-mb 0.01 on one PostgreSQL database (as root: on a primary with a synchronous
# replica) behind round-robin nginx (tests/balanced.py, docs/deploy.md); fails unless
# accounts were evicted. Part of `make test`.
BALANCED_SUITES := tests/api/test_engactivity.py tests/api/test_agentactivity.py \
	tests/api/test_queue.py tests/api/test_queue_clients.py tests/api/test_query_bodies.py \
	tests/api/test_push.py tests/api/test_errors.py tests/api/test_answer_cache.py \
	tests/api/test_ingest.py tests/api/test_configuration.py tests/api/access \
	tests/api/test_single_flight.py tests/api/test_discovery_health.py \
	tests/auth/test_api_auth.py tests/api/test_balanced.py
BALANCED_WORKERS ?= 2

test-balanced: $(VENV)/.dev-installed system-deps
	$(PY) -m tests.balanced -n $(BALANCED_WORKERS) -q -rs $(BALANCED_SUITES)

# The benchmark harness (bench/): the full run writes docs/benchmarks.md and .png
# (about 15 minutes on 2 cores); the quick one runs the same code at 1/100 scale.
bench: $(VENV)/.dev-installed system-deps
	$(PY) -m bench

bench-quick: $(VENV)/.dev-installed system-deps
	$(PY) -m bench --quick

# The scale benchmark (bench/scale.py): copies of the standard day on PostgreSQL; the
# full run writes the "At scale" section of docs/benchmarks.md (3 copies, about 15-20
# minutes; STEPS=1,5,10,20 loads the issue's 20, about 2 hours on 2 cores).
bench-scale: $(VENV)/.dev-installed system-deps
	$(PY) -m bench.scale $(if $(STEPS),--steps $(STEPS))

bench-scale-quick: $(VENV)/.dev-installed system-deps
	$(PY) -m bench.scale --quick

# The multi-host deployment with failures under load (docs/deploy.md): network
# namespaces, nginx and a PostgreSQL primary + replica; needs root, about 5 minutes.
scale-test: $(VENV)/.dev-installed
	bash scripts/scale-test

# The live contact center (bench/live.py): the full run writes the section "Live" at the
# top of docs/benchmarks.md (about 10 minutes); the quick one a copy in the temp folder.
bench-live: $(VENV)/.dev-installed system-deps
	$(PY) -m bench.live

bench-live-quick: $(VENV)/.dev-installed system-deps
	$(PY) -m bench.live --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
