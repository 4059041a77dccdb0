# Each target sets itself up on a fresh machine: it creates .venv when missing and installs the project
# (with its dev extras) whenever pyproject.toml is newer than the last install.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit bench bench-import clean test-card chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: the whole loop on this machine, no account: sandboxes, server, webhooks, invoices, payments, sync
demo: $(STAMP)
	$(BIN)/hubspot-freee demo

## lint: ruff and mypy (strict on sdk/)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sdk functions sandbox webhooks workflows

## test: lint, the app card's tests, then every test with coverage of sdk/ (fails under 90 %)
test: lint test-card
	$(BIN)/python -m pytest --cov --cov-report=term-missing

## test-card: the HubSpot app card's component tests (npm ci only when node_modules is missing or the lock changed)
CARD := workflows/app_card
$(CARD)/node_modules/.package-lock.json: $(CARD)/package-lock.json
	cd $(CARD) && npm ci --no-audit --no-fund
	touch $@

test-card: $(CARD)/node_modules/.package-lock.json
	cd $(CARD) && npx --no-install vitest run

## chaos: the full chaos profile: 1,000 deals across 200 companies, 4 workers, 20 % faults, 5 seeds
chaos: $(STAMP)
	LOG_LEVEL=ERROR CHAOS_REPORT_DIR=$(CURDIR)/benchmarks $(BIN)/python -m pytest -m chaos tests/chaos -p no:cacheprovider -q

## bench: every benchmark, each in a fresh process → benchmarks/results.json and benchmarks/results.md
## (about 12 minutes; BENCH_ARGS=--quick for smaller sizes, BENCH_ARGS="--only burst" for one)
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

## bench-import: how long importing the SDK takes in a fresh process
bench-import: $(STAMP)
	$(BIN)/python benchmarks/import_time.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
