# The two set-up commands of the README:
#   make demo   install everything into .venv and run the demo
#   make test   install everything into .venv and run lint, type checks and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,lint]"
	touch $@

demo: install
	$(BIN)/fusion demo --out demo-output

lint: install
	$(BIN)/ruff check fusion pipelines tests benchmarks
	$(BIN)/ruff format --check fusion pipelines
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .hypothesis
