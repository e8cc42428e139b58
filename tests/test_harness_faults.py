"""The harness catches every injected fault, and passes the healthy mock.

Each run is the quick profile in a subprocess (`python -m pytest contract_tests --mock-fault NAME`)
with every check selected: no per-fault subset, so a fault must be caught by the harness as shipped.
Two runs go at a time (2 cores), each with a reduced example budget.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mock_server.faults import fault_names

ROOT = Path(__file__).resolve().parent.parent
BUDGET = ["--max-examples", "5"]

# The check family expected to catch each fault (observed, and what the fault is about); the run
# must name at least one failed check starting with it. Other checks may fail too.
CATCHER = {
    "analytics-round-down": "analytics.average_rounds_half_up",
    "analytics-stale": "analytics.sessions_follow_history",
    "artifact-missing-field": "schemathesis.response_schema_conformance",
    "auth-bypass": "schemathesis.ignored_auth",
    "backfill-skips-skipped": "backfill.",
    "conversation-null-email": "schemathesis.response_schema_conformance",
    "count-off-by-one": "pagination.",
    "create-returns-200": "schemathesis.status_code_conformance",
    "delete-noop": "",  # any *.delete_then_404
    "lost-update": "custom_instruction.update_then_read",
    "ordering-ignored": "pagination.artifacts.ordering_honoured",
    "org-leak": "isolation.",
    "page-overlap": "pagination.",
    "server-error-edx": "schemathesis.not_a_server_error",
    "stale-read": "chat_memory_status.read_your_writes",
    "status-id-as-string": "schemathesis.response_schema_conformance",
    "timestamp-frozen": "custom_instruction.timestamps",
    "user-leak": "isolation.user_cannot_reach_other_user_403",
    "vai-total-all-orgs": "pagination.vai.total_matches_items",
    "vai-wrong-content-type": "schemathesis.content_type_conformance",
    "validation-off": "schemathesis.negative_data_rejection",
}


def _run(fault: str | None) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "contract_tests"), "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", *BUDGET] + (["--mock-fault", fault] if fault else [])
    env = {k: v for k, v in os.environ.items() if k not in ("TARGET_URL", "MEMMOCK_FAULT")}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def runs() -> dict[str | None, tuple[int, str]]:
    """The healthy run and one run per fault, two at a time."""
    names: list[str | None] = [None, *fault_names()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(_run, names)))


def failed_checks(output: str) -> set[str]:
    """The rules the summary lists under 'failed checks:'."""
    section = output.split("failed checks:", 1)[1] if "failed checks:" in output else ""
    return {m.group(1) for m in re.finditer(r"^  (\S[^(]*?)  \(", section, re.M)}


def test_every_fault_has_an_expected_catcher() -> None:
    """The table above covers exactly the faults the mock offers."""
    assert set(CATCHER) == set(fault_names())


def test_healthy_mock_conforms(runs: dict[str | None, tuple[int, str]]) -> None:
    """The quick profile passes against the healthy mock (exit 0, no failed checks)."""
    code, output = runs[None]
    assert code == 0, output[-4000:]
    assert "failed checks:" not in output


@pytest.mark.parametrize("fault", fault_names())
def test_fault_is_caught(runs: dict[str | None, tuple[int, str]], fault: str) -> None:
    """Each fault makes the harness fail, and the output names the check that caught it."""
    code, output = runs[fault]
    assert code != 0, f"{fault} went unnoticed:\n{output[-3000:]}"
    caught = failed_checks(output)
    assert caught, f"{fault}: failed, but no check named:\n{output[-3000:]}"
    expected = CATCHER[fault] or ".delete_then_404"
    assert any(expected in rule for rule in caught) if not CATCHER[fault] else any(
        rule.startswith(expected) or expected in rule for rule in caught), (fault, sorted(caught), output[-3000:])
