# The two set-up commands of the README:
#   make demo   install everything into .venv and run the demo
#   make test   install everything into .venv and run lint, type checks and the whole test suite
#               (the integration tests also need PostgreSQL 15 + PostGIS 3: .ci/run installs them)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# checkov pins its own dependency tree, which clashes with Beam's: it gets a venv of its own.
CHECKOV_VENV ?= .venv-checkov
# The STAC API server the integration tests start (stac-fastapi-pgstac, pypgstac): own venv too.
STACAPI_VENV ?= .venv-stacapi

.PHONY: install demo test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[cpu,test,lint]"
	touch $@

$(CHECKOV_VENV)/.installed: infra/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r infra/requirements-checkov.txt
	touch $@

$(STACAPI_VENV)/.installed: tests/servers/requirements-stacapi.txt
	$(PYTHON) -m venv $(STACAPI_VENV)
	$(STACAPI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(STACAPI_VENV)/bin/python -m pip install --quiet -r tests/servers/requirements-stacapi.txt
	touch $@

demo: install
	$(BIN)/fusion demo --out demo-output

lint: install
	$(BIN)/ruff check fusion pipelines tests benchmarks
	$(BIN)/ruff format --check fusion pipelines
	$(BIN)/mypy

test: lint $(CHECKOV_VENV)/.installed $(STACAPI_VENV)/.installed
	CHECKOV=$(abspath $(CHECKOV_VENV))/bin/checkov STAC_API_VENV=$(abspath $(STACAPI_VENV)) $(BIN)/pytest

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(STACAPI_VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .hypothesis
