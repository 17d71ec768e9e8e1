# impactline: `make run` starts everything with the demo, `make test` runs every test.
# Everything installed lands in ignored folders (.venv, .cache) and is reused on the next call.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1
WORKERS ?= 1

.PHONY: help install infra browser run test test-faults test-unit test-integration lint fmt schemas bench dev-up dev-down clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@echo "==> Python environment ($(PYTHON))"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e ".[test]"
	@touch $@

install: $(STAMP) ## Install Python packages

infra: $(STAMP) ## Install the embedded Kafka jars and PostgreSQL server (cached)
	@$(BIN)/python -m impactline.runtime.embedded install

run: infra ## Start the whole system with the demo catalog and scenario (WORKERS=2: two per stream service)
	@$(BIN)/impactline run --workers $(WORKERS) $(RUN_ARGS)

CHROMIUM := /usr/bin/chromium

# Without Chromium the other tests still run; the browser test then fails and says why.
browser: ## Install Debian's Chromium for the dashboard's browser test (as root, once)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "==> Chromium (apt-get install chromium)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "WARNING: could not install Chromium; the dashboard browser test will fail" >&2; \
	else \
		echo "WARNING: $(CHROMIUM) is missing and only root can install it (apt-get install -y chromium);" \
			"the dashboard browser test will fail" >&2; \
	fi

test: infra browser ## Install what tests need and run every test
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/impactline schemas write --check
	@$(BIN)/pytest -m "not faults_full" $(PYTEST_ARGS)

test-faults: infra ## Fault injection at full size (kills, outages, poison, security), then docs/reliability.md
	@IMPACTLINE_FAULTS=full $(BIN)/pytest tests/faults $(PYTEST_ARGS)
	@$(BIN)/python -m tests.faults.report

test-unit: $(STAMP) ## Only the fast unit tests (no servers)
	@$(BIN)/pytest tests/unit $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check
	@$(BIN)/ruff check . && $(BIN)/ruff format --check .

fmt: $(STAMP) ## Format and fix what ruff can
	@$(BIN)/ruff format . && $(BIN)/ruff check --fix .

schemas: $(STAMP) ## Regenerate docs/schemas and docs/asyncapi.yaml from the contracts
	@$(BIN)/impactline schemas write

bench: infra ## Run the benchmarks; results go to bench/results/
	@$(BIN)/python -m bench $(BENCH_ARGS)

dev-up: infra ## Start the embedded Kafka and PostgreSQL in the background
	@$(BIN)/impactline dev up

dev-down: $(STAMP) ## Stop the embedded Kafka and PostgreSQL
	@$(BIN)/impactline dev down

clean: dev-down ## Remove the environment and every cached server and data file
	rm -rf $(VENV) .cache
