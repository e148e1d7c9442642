# Two commands set everything up on a fresh machine:
#   make run    install into .venv, then run the storefront (the offline demo when no account is configured)
#   make test   install into .venv with the test tools, then run the whole test suite on SQLite and PostgreSQL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench install

$(BIN)/storefront: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/storefront

install: $(BIN)/storefront

run: install
	$(BIN)/storefront run

test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check .

bench: install
	bash scripts/bench.sh
