# Two entry points, both usable on a fresh machine with Python >= 3.11, pip and make:
#   make demo   create .venv and run the main job on the embedded default data
#   make test   create the two test environments and run lint + the whole suite in each
PYTHON ?= python3
PIP_FLAGS ?= --quiet --disable-pip-version-check
PYTEST_ARGS ?=

VENV := .venv
# scikit-matter, the parity oracle, pins scikit-learn 1.8.x ...
VENV_REFERENCE := .venv-reference
# ... so the non-parity tests also run against the newest scikit-learn release.
VENV_LATEST := .venv-latest

.PHONY: demo test lint test-reference test-latest clean

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

clean:
	rm -rf $(VENV) $(VENV_REFERENCE) $(VENV_LATEST) out
