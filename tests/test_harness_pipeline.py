"""The harness in a pipeline, piece by piece (no server): credentials files, baseline, coverage, HTML, redaction."""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from contract_tests import client
from contract_tests.client import Exchange, Redactor, curl_command, redact
from contract_tests.config import (
    CREDENTIAL_VARS, ConfigError, HarnessConfig, load_baseline, read_dotenv, resolve_credentials,
)
from contract_tests.inprocess import dev_credentials_file
from contract_tests.report import FailureRecord, Recorder
from contract_tests.safety import Contract

OPERATIONS = Contract().by_id


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Two configured secrets (the session's own redaction comes back afterwards)."""
    values = {"IBL_USER_TOKEN": "s3cr3t-user-token", "VAI_TOKEN": "s3cr3t-vai"}
    monkeypatch.setattr(client, "_REDACTOR", Redactor(values))
    return values


# ------------------------------------------------------------------------------------ credentials
def test_dotenv_forms(tmp_path: Path) -> None:
    """export, quotes, comments and blank lines; other programs' names are ignored."""
    path = tmp_path / "c.env"
    path.write_text("# staging\nexport IBL_ORG=main\nIBL_USER='jane doe'\n\nVAI_TOKEN=\"abc#1\"\n"
                    "IBL_USER_TOKEN=k1  # the user's key\nDATABASE_URL=postgres://x\n", encoding="utf-8")
    assert read_dotenv(path) == {"IBL_ORG": "main", "IBL_USER": "jane doe", "VAI_TOKEN": "abc#1", "IBL_USER_TOKEN": "k1"}


@pytest.mark.parametrize(("text", "message"), [("IBL_USR=jane\n", "unknown variable IBL_USR"),
                                               ("just words\n", ":1: expected NAME=value")])
def test_dotenv_mistakes_are_errors(tmp_path: Path, text: str, message: str) -> None:
    """A typo in an IBL_/VAI_ name or a line that is not NAME=value names the file and line."""
    path = tmp_path / "c.env"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        read_dotenv(path)


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    """Precedence: environment, then --credentials, then (in-process only) the dev tokens."""
    path = tmp_path / "c.env"
    path.write_text("IBL_ORG=from-file\nIBL_USER=file-user\n", encoding="utf-8")
    creds = resolve_credentials(in_process=False, file=path, environ={"IBL_ORG": "from-env"})
    assert creds == {"IBL_ORG": "from-env", "IBL_USER": "file-user"}
    in_process = resolve_credentials(in_process=True, file=path, environ={})
    assert in_process["IBL_USER"] == "file-user" and in_process["IBL_USER_TOKEN"] == "dev-ibl-user-johndoe-0001"
    assert resolve_credentials(in_process=False, environ={}) == {}  # a real target gets no dev tokens


def test_dev_credentials_file_names_every_variable() -> None:
    """The file `make check` passes sets each credential variable."""
    assert set(read_dotenv(dev_credentials_file())) == set(CREDENTIAL_VARS)


# --------------------------------------------------------------------------------------- baseline
def _baseline(tmp_path: Path, text: str) -> list:
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    return load_baseline(path, OPERATIONS)


def test_baseline_matches_check_and_operation(tmp_path: Path) -> None:
    """An entry accepts its check on its operation (wildcards allowed), nothing else, and counts what it saw."""
    entries = _baseline(tmp_path, """deviations:
  - check: schemathesis.negative_data_rejection
    operation: ai_mentor_orgs_users_artifacts_create
    reason: DRF ignores read-only fields here (TICKET-1)
  - check: pagination.*
    operation: "*"
    reason: our pages overlap until TICKET-2
""")
    config = HarnessConfig(baseline=entries)
    assert config.known_deviation("schemathesis.negative_data_rejection", "ai_mentor_orgs_users_artifacts_create")
    assert config.known_deviation("schemathesis.negative_data_rejection", "create_memory") is None
    assert config.known_deviation("pagination.artifacts.pages_partition", "-").reason == "our pages overlap until TICKET-2"
    assert config.known_deviation("vai.delete_204", "delete_memory") is None
    assert [e.seen for e in entries] == [1, 1]


@pytest.mark.parametrize(("text", "message"), [
    ("- check: x\n", "one key, deviations"),
    ("deviations:\n  - check: x\n    operation: create_memory\n", "exactly the keys check, operation and reason"),
    ("deviations:\n  - {check: x, operation: create_memory, reason: ''}\n", "non-empty strings"),
    ("deviations:\n  - {check: x, operation: create_memroy, reason: typo}\n", "no operation of the contract matches"),
    ("deviations: [\n", "not YAML"),
])
def test_baseline_mistakes_are_errors(tmp_path: Path, text: str, message: str) -> None:
    """A baseline that cannot be read exactly is refused, naming what is wrong."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        _baseline(tmp_path, text)


# --------------------------------------------------------------------------------------- coverage
def _recorder() -> Recorder:
    recorder = Recorder()
    recorder.statuses[("virtuousai", "list_memories")] = Counter({200: 3, 401: 1})
    recorder.statuses[("virtuousai", "create_memory")] = Counter({422: 4, 500: 1})
    return recorder


def test_coverage_against_declared_codes() -> None:
    """Every operation is listed with declared codes; never-2xx operations are flagged, undeclared codes marked."""
    recorder = _recorder()
    rows = {r.operation_id: r for r in recorder.coverage_rows(("virtuousai",))}
    assert set(rows) == {"list_memories", "create_memory", "backfill_entities", "get_memory", "delete_memory"}
    assert rows["create_memory"].declared == (201, 401, 403, 413, 422) and rows["create_memory"].undeclared == [500]
    assert {r.operation_id for r in recorder.uncovered(("virtuousai",))} == set(rows) - {"list_memories"}
    text = recorder.text_summary(("virtuousai",))
    assert re.search(r"create_memory +422x4 500x1! +\[201 401 403 413\]  << no 2xx", text), text
    assert "1/5 with a 2xx" in text and "never a 2xx (4): create_memory" in text
    assert "<< no 2xx" not in next(line for line in text.splitlines() if "list_memories" in line)


def test_html_opens_with_the_failures_linked_to_their_evidence(secrets: dict[str, str]) -> None:
    """The failure list comes before everything else, each item links to an anchor holding its evidence."""
    recorder = _recorder()
    exchange = Exchange("GET", "http://h/api/v1/memory", {"Authorization": "Bearer s3cr3t-vai"}, None, 500, {}, b"oops")
    for n in range(2):
        recorder.add_failure(FailureRecord(f"t::check{n}", f"rule.{n}", "broken", [exchange], "memmock check ...",
                                           "list_memories"))
    page = recorder.html(("virtuousai",), "report", "failed", {"target": "http://h"})
    body = page.split("<body>", 1)[1]
    assert body.index("Failures (2)") < body.index("<table>")
    links = re.findall(r"href='#(failure-\d)'", body)
    assert links == ["failure-1", "failure-2"]
    for anchor in links:
        evidence = body.split(f"id='{anchor}'", 1)[1].split("</details>", 1)[0]
        assert "curl -sS -X GET" in evidence and "oops" in evidence
    assert "s3cr3t-vai" not in page and "$VAI_TOKEN" in page
    assert "no 2xx" in body and "never a 2xx: create_memory" in body


# -------------------------------------------------------------------------------------- redaction
def test_redaction_names_the_variable(secrets: dict[str, str]) -> None:
    """Each secret value becomes $NAME, wherever it appears."""
    assert redact("key s3cr3t-user-token, cookie vai_token=s3cr3t-vai") == "key $IBL_USER_TOKEN, cookie vai_token=$VAI_TOKEN"


def test_redacted_curl_still_runs(secrets: dict[str, str]) -> None:
    """The curl rendering references the variable, so a shell with it set sends the real header."""
    cmd = curl_command("POST", "http://h/x", {"Authorization": "Api-Token s3cr3t-user-token"}, b'{"a": "$HOME"}')
    assert "s3cr3t" not in cmd and "-H \"Authorization: Api-Token $IBL_USER_TOKEN\"" in cmd
    argv = cmd.removeprefix("curl ")
    shown = subprocess.run(["sh", "-c", f"printf '%s\\n' {argv}"], capture_output=True, text=True, check=True,
                           env={**os.environ, "IBL_USER_TOKEN": "s3cr3t-user-token", "HOME": "/nowhere"}).stdout
    assert "Authorization: Api-Token s3cr3t-user-token" in shown.splitlines()
    assert '{"a": "$HOME"}' in shown.splitlines()  # other dollars stay literal


# ----------------------------------------------------------------------------------------- replay
def test_replay_line_names_target_case_and_options() -> None:
    """The replay keeps the target and what shapes the run, and selects one node id (and one hypothesis case)."""
    config = HarnessConfig(target="https://staging.example", apis=("ibl",), read_only=True, seed=7,
                           credentials_file="staging.env", cli=True)
    node = "contract_tests/test_stateless.py::test_operation_conforms[ibl:ai_mentor_orgs_users_artifacts_list]"
    assert config.replay_command(node, "AXic") == (
        "memmock check --target https://staging.example --api ibl --profile quick --seed 7 --credentials staging.env "
        f"--read-only --hypothesis-case AXic --replay '{node}'")
    in_process = HarnessConfig(mock_fault="page-overlap", allow_destructive=True)
    assert in_process.replay_command("contract_tests/test_scenarios.py::test_vai_pagination") == (
        "python -m pytest contract_tests/test_scenarios.py::test_vai_pagination -p no:cacheprovider --mock-fault "
        "page-overlap --api all --profile quick --seed 20240701 --allow-destructive")
