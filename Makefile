# Two commands do all the set-up: `make serve` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
TEST_INSTALLED := $(VENV)/.test-installed
# A second venv with the old official client: iblai 3.66.0 and 4.x share a package name.
VENV3 := .venv-iblai3
PY3 := $(VENV3)/bin/python
IBLAI3_INSTALLED := $(VENV3)/.installed
ARGS ?=
# Credentials for `make check`/`make fuzz`: the dev tokens of fixtures/default.yaml (what `make serve` loads).
# For another server, name its file (CREDENTIALS=staging.env) or export the variables: they win over the file.
CREDENTIALS ?= fixtures/dev-credentials.env

.PHONY: serve test sweep check fuzz client-compat bench install install-test clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(TEST_INSTALLED): $(INSTALLED) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(IBLAI3_INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV3)
	$(PY3) -m pip install --quiet --upgrade pip
	$(PY3) -m pip install --quiet -e '.[test]'
	# the test extra pins iblai 4.202.2; replace it with the old client
	$(PY3) -m pip install --quiet iblai==3.66.0
	touch $@

install: $(INSTALLED)

install-test: $(TEST_INSTALLED)

serve: $(INSTALLED) ## start the mock on 127.0.0.1:8000 with the default fixtures
	$(VENV)/bin/memmock serve $(ARGS)

test: $(TEST_INSTALLED) $(IBLAI3_INSTALLED) ## every test: spec, state layer, HTTP layer, official client 4.x then 3.66
	$(PY) -m pytest $(ARGS)
	$(PY3) -m pytest tests/client_compat -q

sweep: $(TEST_INSTALLED) ## the slow sweeps (pytest -m sweep): every fault caught through a proxy hiding /_mock; latitude variants green
	$(PY) -m pytest -m sweep $(ARGS)

client-compat: $(TEST_INSTALLED) $(IBLAI3_INSTALLED) ## every ibl operation through the official client, iblai 4.202.2 and 3.66.0
	$(PY) -m pytest tests/client_compat -q
	$(PY3) -m pytest tests/client_compat -q

check: $(TEST_INSTALLED) ## conformance harness (quick) against TARGET_URL, or the in-process mock when unset
	$(VENV)/bin/memmock check $(if $(TARGET_URL),--target $(TARGET_URL)) --credentials $(CREDENTIALS) $(ARGS)

fuzz: $(TEST_INSTALLED) ## the harness's deep profile (many more examples); HTML report in reports/fuzz.html
	$(VENV)/bin/memmock check --profile deep --report reports/fuzz.html $(if $(TARGET_URL),--target $(TARGET_URL)) \
		--credentials $(CREDENTIALS) $(ARGS)

.PHONY: wheel-smoke
wheel-smoke: $(TEST_INSTALLED) ## build the wheel, install it alone in a fresh venv, run both commands and a user suite with the fixture
	.ci/wheel-smoke

# The default suite on the newest releases, in a venv of its own: every dependency upgraded as far as
# the pins admit, then the libraries memmock leans on most upgraded to their newest release even past
# a pin (pip then names the conflict: a pin to widen once the suite passes).
VENV_LATEST := .venv-latest
PY_LATEST := $(VENV_LATEST)/bin/python
NEWEST := connexion[swagger-ui,uvicorn] starlette schemathesis hypothesis
SHOWN := connexion starlette schemathesis hypothesis uvicorn granian jsonschema openapi-core pytest httpx
.PHONY: test-latest
test-latest: ## the default suite on the newest releases (connexion, starlette, schemathesis, hypothesis, all others as far as the pins admit)
	$(PYTHON) -m venv $(VENV_LATEST)
	$(PY_LATEST) -m pip install --quiet --upgrade pip
	$(PY_LATEST) -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[test]'
	$(PY_LATEST) -m pip install --quiet --upgrade --upgrade-strategy eager $(NEWEST)
	$(PY_LATEST) -c 'import sys; from importlib.metadata import version; \
		print("test-latest:", ", ".join(f"{name} {version(name)}" for name in sys.argv[1:]))' $(SHOWN)
	$(PY_LATEST) -m pytest $(ARGS)

# The newest schemathesis lives in a venv of its own, so the project's pinned one stays as it is.
ST_VENV ?= /tmp/memmock-schemathesis-newest
.PHONY: schemathesis-newest
schemathesis-newest: $(TEST_INSTALLED) ## manual check: newest schemathesis, all checks and phases, on both served specs (exit 1 on a 5xx)
	$(PYTHON) -m venv $(ST_VENV)
	$(ST_VENV)/bin/pip install --quiet --upgrade schemathesis
	$(PY) -m tests.external_schemathesis $(ST_VENV)/bin/schemathesis $(ARGS)

bench: $(TEST_INSTALLED) ## memmock vs WireMock's static stubs and bare Starlette under wrk (ARGS=--prism adds Prism, --quick a short run)
	bench/tools.sh
	$(PY) bench/run.py $(ARGS)

.PHONY: bench-features
bench-features: $(TEST_INSTALLED) ## what the journal and --state-file cost: memmock beside its variants only, pinned, 7 rounds a row
	bench/tools.sh
	$(PY) bench/run.py --variants-only --pin --repeats 7 --scale 0 --no-harness --markdown bench/features.md $(ARGS)

clean:
	rm -rf $(VENV) $(VENV3) $(VENV_LATEST) .pytest_cache .hypothesis
