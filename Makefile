# One command runs every check: `make check` (ruff format + lint, mypy, pytest). CI runs it too.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FARMER := "A farmer has 3 baskets with 12 apples in each. He sells 10 apples at the market. How many apples does he have left?"

.PHONY: install demo check lint typecheck test test-fast bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: install
	$(BIN)/thinktime solve $(FARMER) --strategy self_consistency -n 4

check: lint typecheck test

lint: install
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks

typecheck: install
	$(BIN)/mypy

test: install
	$(BIN)/pytest -q --doctest-modules src tests

test-fast: install
	$(BIN)/pytest -q -m "not integration" --doctest-modules src tests

bench: install
	$(BIN)/python benchmarks/parallel_sampling.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
