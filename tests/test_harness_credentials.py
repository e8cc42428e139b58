"""The dev credentials file agrees with the fixtures, and `make check TARGET_URL=...` reaches a served mock with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import yaml

from contract_tests.config import read_dotenv
from contract_tests.inprocess import dev_credentials_file, free_port
from tests.paths import ROOT

FIXTURES = ROOT / "fixtures" / "default.yaml"
# The venv exists already: make must not rebuild it for this test.
MAKE = ["make", "-C", str(ROOT), "-o", ".venv/.installed", "-o", ".venv/.test-installed"]


def test_dev_credentials_match_the_fixtures() -> None:
    """Each token in the file has the role the harness expects of it in fixtures/default.yaml."""
    creds = read_dotenv(dev_credentials_file())
    fixtures = yaml.safe_load(FIXTURES.read_text(encoding="utf-8"))
    ibl = {t["key"]: t for t in fixtures["tokens"]["ibl"]}
    vai = {t["key"]: t for t in fixtures["tokens"]["vai"]}
    user, admin, other = ibl[creds["IBL_USER_TOKEN"]], ibl[creds["IBL_ADMIN_TOKEN"]], ibl[creds["IBL_OTHER_ORG_TOKEN"]]
    assert (user["org"], user["username"], user["is_admin"]) == (creds["IBL_ORG"], creds["IBL_USER"], False)
    assert (admin["org"], admin["is_admin"]) == (creds["IBL_ORG"], True)
    assert (other["org"], other["is_admin"]) == (creds["IBL_OTHER_ORG"], True) and other["org"] != creds["IBL_ORG"]
    assert {"org": creds["IBL_ORG"], "username": creds["IBL_USER"]}.items() <= next(
        u for u in fixtures["users"] if u["username"] == creds["IBL_USER"]).items()
    orgs = {vai[creds["VAI_TOKEN"]]["organization_id"], vai[creds["VAI_OTHER_TOKEN"]]["organization_id"]}
    assert len(orgs) == 2


def test_make_check_passes_the_dev_credentials() -> None:
    """The check target hands the file to memmock check unless CREDENTIALS names another."""
    shown = subprocess.run([*MAKE, "-n", "check", "TARGET_URL=http://127.0.0.1:9"], capture_output=True, text=True,
                           check=True).stdout
    assert "memmock check --target http://127.0.0.1:9 --credentials fixtures/dev-credentials.env" in shown
    other = subprocess.run([*MAKE, "-n", "check", "CREDENTIALS=staging.env"], capture_output=True, text=True,
                           check=True).stdout
    assert "--credentials staging.env" in other


def test_make_check_against_a_served_mock() -> None:
    """`make check TARGET_URL=<memmock serve>` runs checks with the dev tokens (none skipped for credentials)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IBL_", "VAI_", "TARGET_URL", "MEMMOCK_"))}
    server = subprocess.Popen([sys.executable, "-m", "mock_server", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(url + "/_mock/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass  # not listening yet
            time.sleep(0.05)
        run = subprocess.run([*MAKE, "check", f"TARGET_URL={url}", "ARGS=-- -k 'test_auth_enforced or test_vai_pagination'"],
                             capture_output=True, text=True, env=env, timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout and "credentials missing" not in run.stdout
