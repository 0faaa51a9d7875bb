# One entry point for humans and CI. Every target creates .venv and installs what it
# needs when missing, so on a fresh clone `make up` and `make test` just work.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      := .venv
BIN       := $(VENV)/bin
PY        := $(BIN)/python
STAMP     := $(VENV)/.installed
# The editable install puts the repository on sys.path (a .pth line), as pip's legacy mode
# did. setuptools' default mode instead installs an import hook that every Python start in
# the venv imports, with pathlib and glob: 13 ms of each `etl convert` that an installed
# wheel never pays.
EDITABLE  := --config-settings editable_mode=compat -e
# The developer stack (etl up, etl validate, etl sessions, etl session-config): a distribution of
# its own, installed beside the library and never deployed (devstack/pyproject.toml).
DEVSTACK  := devstack
DEMO_DIR  := build/demo

# Test suites contributed by mk/*.mk (front end, infrastructure, notebooks...).
TEST_TARGETS := test-python

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(DEVSTACK)/pyproject.toml constraints.txt
	@scripts/check-prereqs.sh python java
	@test -x $(PY) || "$$(scripts/check-prereqs.sh print-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==25.3
	@# --config-settings (in EDITABLE) applies to every project of the command: both are compat editables.
	$(PY) -m pip install --quiet -c constraints.txt $(EDITABLE) '.[dev]' -e ./$(DEVSTACK)
	@# Bytecode, as pip writes for an installed package: with PYTHONDONTWRITEBYTECODE set, an
	@# editable install would otherwise compile etl_lib on every `etl` start.
	$(PY) -m compileall -q etl_lib $(DEVSTACK)/etl_devstack
	@touch $@

.PHONY: install
install: $(STAMP) ## create .venv and install the project with its pinned dependencies

.PHONY: lock
lock: ## re-pin constraints.txt from a fresh resolution of pyproject.toml
	rm -rf build/lock-venv && "$$(scripts/check-prereqs.sh print-python)" -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet -e '.[dev]' -e ./$(DEVSTACK)
	build/lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf build/lock-venv

.PHONY: convert-demo
convert-demo: $(STAMP) ## convert a demo Parquet file covering every contract rule, with Spark
	@mkdir -p $(DEMO_DIR)
	$(PY) -m etl_lib.demo $(DEMO_DIR)/demo.parquet
	$(BIN)/etl convert --engine spark $(DEMO_DIR)/demo.parquet $(DEMO_DIR)/demo.jsonl --report $(DEMO_DIR)/demo.report.json
	@echo "--- first records of $(DEMO_DIR)/demo.jsonl"; head -n 3 $(DEMO_DIR)/demo.jsonl

# The gates. `make check`, .ci/run and .pre-commit-config.yaml run the same commands
# (tests/test_gates.py fails if they drift). mk/*.mk add theirs to LINT_TARGETS.
LINT_TARGETS := lint-python lint-notebooks

.PHONY: lint-python
lint-python: $(STAMP) ## ruff: lint (complexity cap included) and format check, whole repo
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Strips in place, as the pre-commit hook does, and fails if that changed anything.
.PHONY: lint-notebooks
lint-notebooks: $(STAMP) ## committed notebooks have no outputs (strips them and fails if any were there)
	@before="$$(cat notebooks/*.ipynb | sha256sum)"; \
	$(PY) -m etl_lib.notebook.strip notebooks/*.ipynb; \
	test "$$before" = "$$(cat notebooks/*.ipynb | sha256sum)" || { \
		echo "error: notebooks had outputs; they are stripped now: commit the result" >&2; exit 1; }

.PHONY: types
types: $(STAMP) ## mypy on every Python folder (the list is in pyproject.toml)
	$(BIN)/mypy

.PHONY: hooks
hooks: $(STAMP) ## install the git pre-commit hook (.pre-commit-config.yaml: the same gates as make lint types)
	$(BIN)/pre-commit install

.PHONY: test-python
test-python: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup --durations=15

# Slow suites (Spark, the local stack, notebooks, CDK synth, end to end) are marked `slow`
# by tests/conftest.py.
.PHONY: test-fast
test-fast: $(STAMP) ## unit tests only (no Spark, servers, notebooks, synth or e2e), about a minute
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow"

# The fragments add their targets and suites; included before `test` so that its
# prerequisites (expanded when the rule is read) include every TEST_TARGETS entry.
-include mk/*.mk

.PHONY: lint
lint: $(LINT_TARGETS) ## every lint gate: ruff (lint, complexity, format), notebooks stripped, eslint

.PHONY: test
test: $(TEST_TARGETS) ## the whole test suite

.PHONY: check
check: lint types test ## what CI runs (.ci/run): lint, types, then the whole test suite

.PHONY: clean
clean: ## remove build outputs (keeps .venv)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
