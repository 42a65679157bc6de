# Safepoint developer commands. `make` alone lists them.
#
# uv is not assumed to be installed: `make install` puts a pinned uv into a private tools
# venv (.tools/) with the machine's python3, and everything else runs through that uv.

.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_STAMP := $(TOOLS)/uv-$(UV_VERSION).stamp

# uv uses the machine's Python and never downloads one (only PyPI is reachable).
export UV_PYTHON ?= $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON_PREFERENCE := only-system
# Keep the project's venv where uv expects it, whatever the caller's environment says.
export UV_PROJECT_ENVIRONMENT := .venv
unexport VIRTUAL_ENV

RUN := $(UV) run --frozen --no-sync

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV_STAMP):
	@echo ">> bootstrapping uv $(UV_VERSION) into $(TOOLS)/"
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	touch $@

.PHONY: install
install: $(UV_STAMP) ## Install uv (pinned) and every workspace package with the dev tools into .venv
	$(UV) sync --frozen --all-packages

.PHONY: lock
lock: $(UV_STAMP) ## Re-resolve uv.lock after a dependency change
	$(UV) lock

.PHONY: format
format: install ## Format the code and apply safe lint fixes
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

.PHONY: lint
lint: install ## Check formatting, lint, types and import contracts (ruff, mypy, import-linter)
	@status=0; \
	echo ">> ruff format --check"; $(RUN) ruff format --check . || status=1; \
	echo ">> ruff check";          $(RUN) ruff check . || status=1; \
	echo ">> mypy";                $(RUN) mypy || status=1; \
	echo ">> lint-imports";        $(RUN) lint-imports || status=1; \
	echo ">> uv lock --check";     $(UV) lock --check || status=1; \
	exit $$status

.PHONY: test
test: install ## Run the whole test suite (PostgreSQL/RabbitMQ from SAFEPOINT_TEST_*_URL)
	$(RUN) pytest tests $(PYTEST_ARGS)

.PHONY: demo
demo: install ## The invoice example through the three services (needs a local RabbitMQ)
	$(RUN) python -m safepoint.demo

.PHONY: demo-embedded
demo-embedded: install ## The invoice example on an embedded engine, one safe point at a time
	$(RUN) python -m safepoint.demo --embedded

.PHONY: run
run: install ## The three services as local processes (SAFEPOINT_AMQP_URL, SAFEPOINT_DATABASE_URL)
	$(RUN) python -m safepoint.devstack

.PHONY: bench
bench: $(UV_STAMP) ## Benchmark: async chain vs the floor, sync vs SpiffWorkflow, growth (BENCH_ARGS=--quick)
	$(UV) sync --frozen --all-packages --group bench
	PYTHONPATH=tests/bench $(RUN) python tests/bench/bench_main.py $(BENCH_ARGS)

.PHONY: contracts
contracts: install ## Regenerate the message JSON Schemas and AsyncAPI document in shared/contracts/
	$(RUN) python -m safepoint.contract.export

.PHONY: clean
clean: ## Remove the venvs, caches and build output
	rm -rf .venv $(TOOLS) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache dist build
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
