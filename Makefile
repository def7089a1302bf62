# Switchboard — one Makefile for people and CI. Everything runs through uv from the lock file.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= uv
PYTEST_ARGS ?=

.PHONY: help sync run test test-fast lint format kafka bench asyncapi schemas clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

sync: ## create .venv from uv.lock (no resolution, no surprises)
	@command -v $(UV) >/dev/null || python3 -m pip install --quiet uv
	$(UV) sync --locked --all-packages

run: sync ## run the whole platform locally: Kafka, every service, the gateway (Ctrl-C stops all)
	$(UV) run switchboard dev

test: sync lint ## lint, then the whole suite against real Kafka and SQLite (+ PostgreSQL when TEST_DATABASE_URL is set)
	$(UV) run python deploy/kafka/launcher.py fetch
	$(UV) run pytest $(PYTEST_ARGS)

test-fast: sync ## the suite without lint
	$(UV) run pytest $(PYTEST_ARGS)

lint: sync ## ruff, formatting, mypy, and the contract checks (AsyncAPI and schema compatibility)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy
	$(UV) run python -m switchboard.contracts.asyncapi --check
	$(UV) run python -m switchboard.contracts.compat --check

format: sync ## apply ruff's fixes and formatting
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

kafka: ## run a local single-node Kafka (KRaft) on 127.0.0.1:9092 in the foreground
	python3 deploy/kafka/launcher.py run --port 9092 --data-dir .data/kafka

bench: sync ## benchmarks against real Kafka (never part of make test)
	$(UV) run python -m bench

asyncapi: sync ## regenerate docs/asyncapi.yaml from the contract registry
	$(UV) run python -m switchboard.contracts.asyncapi

schemas: sync ## snapshot the payload JSON Schemas (compatible changes only)
	$(UV) run python -m switchboard.contracts.compat --write

clean: ## remove local data (databases, broker logs) and caches
	rm -rf .data .mypy_cache .ruff_cache .pytest_cache
