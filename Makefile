# Two commands set everything up on a fresh machine:
#   make run    install into .venv, then run the storefront (the offline demo when no account is configured)
#   make test   install into .venv with the test tools, then run the whole test suite on SQLite and PostgreSQL
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := storefront entitlements drops bots webhooks
# An editable install writes no bytecode for our own modules, and these machines set PYTHONDONTWRITEBYTECODE:
# without this, every start compiles every module again (a few tenths of a second of the start-up).
COMPILE := $(BIN)/python -m compileall -q $(PACKAGES)

.PHONY: run test lint bench install

$(BIN)/storefront: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/storefront

install: $(BIN)/storefront

run: install
	@$(COMPILE) >/dev/null
	$(BIN)/storefront run

test: install
	bash scripts/test.sh

lint: install
	$(BIN)/ruff check .

bench: install
	@$(COMPILE) >/dev/null
	bash scripts/bench.sh
