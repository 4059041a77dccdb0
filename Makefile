# Each target sets itself up on a fresh machine: it creates .venv when missing and installs the project whenever
# pyproject.toml is newer than the last install, with uv (from PyPI, into .venv; it installs in parallel, several
# times faster than pip). `make demo` installs the runtime dependencies only; the other targets add the dev extras.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(BIN)/uv
STAMP  := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime

.PHONY: demo test lint unit bench bench-import clean test-card package-check chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv>=0.5,<1'

$(RUNTIME_STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python -e .
	touch $(RUNTIME_STAMP)

$(STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(BIN)/python --upgrade pip -e '.[dev]'
	touch $(STAMP) $(RUNTIME_STAMP)

## demo: the whole loop on this machine, no account: sandboxes, server, webhooks, invoices, payments, sync, then
## three months of a subscription and a month-end consolidated invoice on the moved clock
demo: $(RUNTIME_STAMP)
	$(BIN)/hubspot-freee demo

## lint: ruff and mypy (strict on sdk/)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy sdk functions sandbox webhooks workflows local cli

## test: lint, the app card's tests, the AWS package check, then every test with coverage of sdk/ (fails under 90 %)
test: lint test-card package-check
	$(BIN)/python -m pytest --cov --cov-report=term-missing

## test-card: the HubSpot app card's component tests (npm ci only when node_modules is missing or the lock changed)
CARD := workflows/app_card
$(CARD)/node_modules/.package-lock.json: $(CARD)/package-lock.json
	cd $(CARD) && npm ci --no-audit --no-fund
	touch $@

test-card: $(CARD)/node_modules/.package-lock.json
	cd $(CARD) && npx --no-install vitest run

## chaos: the full chaos profiles on both stores, 4 workers, 20 % faults, freee's real rate limits, workers killed.
## storm: SQLite 1,000 deals across 200 companies, DynamoDB under moto 150 across 30; crowds of one partner and date,
## zombies; over the fixed seeds and CHAOS_FRESH fresh ones → benchmarks/chaos-*seed-N.json.
## recurring (issue 17): three months of the sandbox clock, day by day (wins, the daily pass, billing runs beside
## the workers); SQLite 500 subscriptions across 100 companies + 50 consolidated companies (2-5 deals each),
## DynamoDB under moto 60 subscriptions + 8 consolidated companies; seeds 1 2 3 → benchmarks/chaos-recurring-*.json.
## Each seed is printed (test id, summary, report). Replay one: CHAOS_SEED=123 make chaos (several: CHAOS_SEED="123
## 456"); one store: CHAOS_STORES=sqlite; one profile: CHAOS_PROFILES=recurring (or storm)
CHAOS_FRESH ?= 10
CHAOS_SEED ?=
CHAOS_STORES ?= sqlite dynamodb
CHAOS_PROFILES ?= storm recurring
chaos: $(STAMP)
	LOG_LEVEL=ERROR CHAOS_REPORT_DIR=$(CURDIR)/benchmarks CHAOS_FRESH="$(CHAOS_FRESH)" CHAOS_SEED="$(CHAOS_SEED)" \
		CHAOS_STORES="$(CHAOS_STORES)" CHAOS_PROFILES="$(CHAOS_PROFILES)" \
		$(BIN)/python -m pytest -m chaos tests/chaos -p no:cacheprovider -v

## package-check: build the AWS deployment offline (osls, dummy credentials, no account), lint its CloudFormation
## template and check the Lambda zip (contents, wheel tags, size). npm ci only when the root lock changed.
## cfn-lint ignores W3005 only: the framework adds a DependsOn that a Ref/GetAtt already implies (roles, routes).
DEPLOY_ENV := env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy \
	AWS_REGION=ap-northeast-1 AWS_DEFAULT_REGION=ap-northeast-1 SLS_TELEMETRY_DISABLED=1 \
	SLS_NOTIFICATIONS_MODE=off PYTHON_BIN=$(CURDIR)/$(BIN)/python
node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

package-check: $(STAMP) node_modules/.package-lock.json
	rm -rf .serverless
	$(DEPLOY_ENV) npx --no-install osls package --stage ci
	$(BIN)/cfn-lint --ignore-checks W3005 -- .serverless/cloudformation-template-update-stack.json
	$(BIN)/python deploy/check_package.py .serverless

## bench: every benchmark, each in a fresh process → benchmarks/results.json and benchmarks/results.md
## (about 25 minutes with the Lambda package; BENCH_ARGS=--quick for smaller sizes, BENCH_ARGS="--only burst" for one)
bench: $(STAMP) package-check
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

## bench-import: how long importing the SDK takes in a fresh process
bench-import: $(STAMP)
	$(BIN)/python benchmarks/import_time.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .serverless
