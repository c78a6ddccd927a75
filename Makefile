# Two commands for a new user: `make demo` runs the product, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
# Extra pip requirement, e.g. DJANGO_SPEC="Django>=6.0,<6.1" to test another Django.
DJANGO_SPEC ?=
BIN := $(VENV)/bin

.PHONY: demo test lint venv bench

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt $(if $(DJANGO_SPEC),"$(DJANGO_SPEC)")
	touch $@

venv: $(BIN)/.installed

demo: venv
	bash scripts/demo $(BIN)/python

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Benchmarks (not part of `make test`): figures with same-run baselines; see tests/benchmarks.
bench: venv
	$(BIN)/python -m tests.benchmarks.run $(BENCH_ARGS)
