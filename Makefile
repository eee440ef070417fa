# Two entry points, both usable on a fresh machine with Python >= 3.11, pip and make:
#   make demo   create .venv and run the main job on the embedded default data
#   make test   create the two test environments and run lint + the whole suite in each
#   make docs   create .venv-docs and build the documentation into docs/_build/html
PYTHON ?= python3
PIP_FLAGS ?= --quiet --disable-pip-version-check
PYTEST_ARGS ?=

VENV := .venv
# scikit-matter, the parity oracle, pins scikit-learn 1.8.x ...
VENV_REFERENCE := .venv-reference
# ... so the non-parity tests also run against the newest scikit-learn release.
VENV_LATEST := .venv-latest
# Sphinx and everything the gallery scripts import
VENV_DOCS := .venv-docs
# -W: a warning fails the build; --keep-going: report every warning first
SPHINX_FLAGS ?= -W --keep-going -q

.PHONY: demo test lint test-reference test-latest docs clean

demo: $(VENV)/.installed
	$(VENV)/bin/propmap demo --out out --force

test: lint test-reference test-latest

lint: $(VENV_REFERENCE)/.installed
	$(VENV_REFERENCE)/bin/ruff check .
	$(VENV_REFERENCE)/bin/ruff format --check .

test-reference: $(VENV_REFERENCE)/.installed
	PROPMAP_REQUIRE_REFERENCE=1 $(VENV_REFERENCE)/bin/python -m pytest $(PYTEST_ARGS)

test-latest: $(VENV_LATEST)/.installed
	$(VENV_LATEST)/bin/python -m pytest $(PYTEST_ARGS)

# every page, and every gallery script run at full size (PROPMAP_DOCS_QUICK=1 runs
# the slow ones smaller; PROPMAP_DOCS_GALLERY=quick runs only the quick ones)
docs: $(VENV_DOCS)/.installed
	rm -rf docs/_build/html docs/api/generated docs/auto_examples
	$(VENV_DOCS)/bin/sphinx-build -b html $(SPHINX_FLAGS) docs docs/_build/html
	@echo "open docs/_build/html/index.html"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -e ".[atomistic,crystals,viz]"
	touch $@

$(VENV_REFERENCE)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_REFERENCE)
	$(VENV_REFERENCE)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV_REFERENCE)/bin/python -m pip install $(PIP_FLAGS) -e ".[test]"
	touch $@

$(VENV_LATEST)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_LATEST)
	$(VENV_LATEST)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV_LATEST)/bin/python -m pip install $(PIP_FLAGS) --upgrade -e ".[test-core]" scikit-learn
	touch $@

$(VENV_DOCS)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV_DOCS)
	$(VENV_DOCS)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(VENV_DOCS)/bin/python -m pip install $(PIP_FLAGS) -e ".[docs]"
	touch $@

clean:
	rm -rf $(VENV) $(VENV_REFERENCE) $(VENV_LATEST) $(VENV_DOCS) out
	rm -rf docs/_build docs/api/generated docs/auto_examples
