"""The harness is free of the mock: importing contract_tests loads no mock_server module; only the
adapter (contract_tests/inprocess.py) loads it, and only when asked to start the in-process mock."""

from __future__ import annotations

import json
import subprocess
import sys

from contract_tests import specs
from mock_server.app import APIS
from tests.paths import ROOT

# Each script prints the mock_server modules loaded so far, as JSON, at the points it names.
LOADED = "sorted(m for m in sys.modules if m == 'mock_server' or m.startswith('mock_server.'))"

IMPORT_ALL = f"""
import importlib, json, pkgutil, sys
import contract_tests
names = sorted(m.name for m in pkgutil.iter_modules(contract_tests.__path__, "contract_tests."))
for name in names:
    importlib.import_module(name)
print(json.dumps({{"imported": names, "mock": {LOADED}}}))
"""

ADAPTER = f"""
import json, sys
import httpx
from contract_tests.config import read_dotenv
from contract_tests.inprocess import dev_credentials_file, start_mock
before = {LOADED}
mock = start_mock()
try:
    token = read_dotenv(dev_credentials_file())["VAI_TOKEN"]
    status = httpx.get(mock.url + "/api/v1/memory", headers={{"Authorization": "Bearer " + token}}).status_code
finally:
    mock.stop()
print(json.dumps({{"before": before, "status": status, "after": {LOADED}}}))
"""


def _run(script: str) -> dict[str, list[str]]:
    """Run ``script`` in a fresh interpreter (nothing imported yet) and read the JSON it prints last."""
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_importing_the_harness_loads_no_mock_module() -> None:
    """Every module of contract_tests, the adapter included (its mock imports are inside functions)."""
    found = _run(IMPORT_ALL)
    assert {"contract_tests.conftest", "contract_tests.specs", "contract_tests.inprocess",
            "contract_tests.compare_plain_schemathesis"} <= set(found["imported"])
    assert found["mock"] == [], f"importing the harness loaded {found['mock']}"


def test_the_adapter_starts_the_mock_with_its_dev_tokens() -> None:
    """The adapter's path: no mock module until start_mock, then a served mock the dev tokens reach."""
    found = _run(ADAPTER)
    assert found["before"] == []
    assert found["status"] == 200
    assert "mock_server.app" in found["after"]


def test_the_harness_knows_where_the_mock_serves_each_api() -> None:
    """The harness's own reading of the specs and served paths agrees with the mock's table."""
    mock = {api.name: api for api in APIS if api.name in specs.SPEC_FILES}
    assert set(mock) == set(specs.SPEC_FILES)
    assert {name: api.spec_file for name, api in mock.items()} == specs.SPEC_FILES
    assert {name: api.base_path for name, api in mock.items()} == specs.API_BASES
    assert {name: api.spec_path for name, api in mock.items()} == specs.SERVED_SPECS
