# Two commands do all the set-up: `make serve` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.test-installed
ARGS ?=

.PHONY: serve test install install-test clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_INSTALLED): $(INSTALLED) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(INSTALLED)

install-test: $(TEST_INSTALLED)

serve: $(INSTALLED) ## start the mock on 127.0.0.1:8000 with the default fixtures
	$(VENV)/bin/memmock serve $(ARGS)

test: $(TEST_INSTALLED) ## every test: spec, state layer, HTTP layer
	$(PY) -m pytest $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
