# Intentcast developer commands. `make test` is what CI runs; `make demo` is the first-run demo.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install lint typecheck test test-drills test-fast demo kafka-start kafka-stop generate bench bench-pipeline clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# The filter hides one note setuptools prints on every editable install of a flat layout
# ("Editable installation.": folders named like the package could shadow it); it is information,
# not a warning about this project, and the install prints nothing else.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	PYTHONWARNINGS="ignore:Editable installation:UserWarning" $(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install intentcast with its dev tools

lint: $(STAMP)  ## ruff (lint + format check) and the layering contracts (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)  ## mypy --strict
	$(BIN)/mypy

test: lint typecheck  ## lint, type-check, then the full suite on a real Kafka broker
	$(BIN)/intentcast kafka fetch
	$(BIN)/pytest -q -p no:cacheprovider

test-drills: $(STAMP)  ## only the crash drills at CI size (kill -9, broker restart, vendor crash, cluster)
	$(BIN)/pytest -q -p no:cacheprovider -m drills

test-fast: $(STAMP)  ## unit tests only, no broker
	$(BIN)/pytest -q -p no:cacheprovider -m "not kafka"

demo: $(STAMP)  ## Kafka, processors, vendors, an intent, offers, an agreement, the audit
	$(BIN)/intentcast demo

generate: $(STAMP)  ## regenerate JSON Schemas, AsyncAPI, reason list, ACL table and test vectors
	$(BIN)/python -m intentcast.schemas._tools.generate
	$(BIN)/python -m intentcast.broker.acl_doc

bench: $(STAMP)  ## micro-benchmarks of the wire contract
	$(BIN)/python bench/bench_schemas.py

bench-pipeline: $(STAMP)  ## Kafka's tools vs raw aiokafka vs the pipeline (minutes)
	$(BIN)/intentcast bench

kafka-start: $(STAMP)  ## start a local Kafka on 127.0.0.1:9092
	$(BIN)/intentcast kafka start

kafka-stop: $(STAMP)  ## stop it
	$(BIN)/intentcast kafka stop

clean:  ## remove the venv and caches (not the Kafka jar cache)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
