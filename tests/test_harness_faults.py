"""The harness catches every injected fault through a proxy that hides /_mock, and passes the healthy mock.

Each run is what a user does against a real deployment: ``memmock serve --fault NAME`` in a
subprocess on a free loopback port, behind ``tests/proxy.py`` (everything forwarded, 404 under
``/_mock``), and ``python -m pytest contract_tests --target <proxy>`` with the development
credentials in the environment. Every check is selected: no per-fault subset, so a fault must be
caught by the harness as shipped, without the admin plane. Two runs go at a time (2 cores), each
with a reduced example budget.

The runs take minutes: they carry the ``sweep`` marker, which the default test run deselects;
``make sweep`` runs them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest

from contract_tests.config import CREDENTIAL_VARS, read_dotenv
from contract_tests.inprocess import dev_credentials_file, free_port
from mock_server.faults import fault_names
from tests.paths import ROOT
from tests.proxy import start_hiding_proxy

# A reduced example budget; and --allow-destructive, as for a staging deployment the run may change:
# the mock is thrown away after the run, and some faults (a lost custom-instruction update) show
# only by changing what existed before it.
HARNESS_OPTIONS = ["--max-examples", "5", "--allow-destructive"]
STARTUP_S = 30.0  # how long memmock serve may take to answer its health check
RUN_S = 600  # one harness run, at most

# The check expected to catch each fault (what the fault is about, and observed): the run must
# name a failed check containing it. Other checks may fail too.
CATCHER = {
    "analytics-round-down": "analytics.predicted_from_history",
    "analytics-stale": "analytics.sessions_follow_history",
    "artifact-missing-field": "schemathesis.response_schema_conformance",
    "auth-bypass": "schemathesis.ignored_auth",
    "backfill-skips-skipped": "backfill.",
    "conversation-null-email": "schemathesis.response_schema_conformance",
    "count-off-by-one": "pagination.",
    "create-returns-200": "schemathesis.status_code_conformance",
    "delete-noop": ".delete_then_404",
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
    # second round
    "cross-org-admin": "isolation.other_org_admin_403",
    "chat-history-user-token": "auth.chat_history_admin_only",
    "chat-history-all-orgs": "isolation.chat_history_org_only",
    "analytics-all-orgs": "isolation.analytics_org_only",
    "edx-memory-any-user": "isolation.edx_other_user_404",
    "all-chats-delete-any-user": "isolation.chat_memory_other_user_404",
    "page-size-uncapped": "pagination.page_size_rules",
    "default-page-size-20": "pagination.page_size_rules",
    "next-link-drops-query": ".next_keeps_query",
    "first-page-link-numbered": "pagination.link_to_page_1_has_no_page",
    "ordering-ties-unstable": "pagination.ties_never_repeat",
    "unknown-ordering-400": "pagination.unknown_ordering_ignored",
    "ordering-first-field-only": "pagination.multi_field_ordering",
    "analytics-weeks-from-sunday": "analytics.weekly_mondays",
    "analytics-end-exclusive": "analytics.one_bucket_per_day",
    "analytics-hourly-gaps": "analytics.hourly_buckets",
    "vai-limit-uncapped": "boundaries.rejected_past_bound",
    "vai-negative-offset": "boundaries.rejected_past_bound",
    "analytics-cap-too-high": "analytics.bucket_cap_400",
    "patch-keeps-date-updated": "artifacts.date_updated_moves",
    "vai-create-drops-content": "vai.create_fields",
    "profile-upsert-duplicates": "profile_memory.read_your_writes",
    "search-non-ascii-500": "openapi_core.response_conforms",  # an undeclared 500
    "title-max-length-500": "openapi_core.response_conforms",
    "page-size-100-500": "openapi_core.response_conforms",
}


@contextmanager
def _serve(fault: str | None) -> Iterator[str]:
    """``memmock serve`` (with ``fault``) on a free loopback port, until the block ends; yields its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "mock_server", "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMMOCK_")}  # nothing but the flags counts
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd + (["--fault", fault] if fault else []), cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + STARTUP_S
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"memmock serve {fault or ''} did not start: {log.read().decode()[-2000:]}")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_mock/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _run(fault: str | None) -> tuple[int, str]:
    """One harness run through the hiding proxy, as against a real deployment: (exit code, output)."""
    with _serve(fault) as upstream, start_hiding_proxy(upstream) as proxy:
        hidden = httpx.get(f"{proxy.url}/_mock/health", timeout=5).status_code
        assert hidden == 404, f"the proxy must hide /_mock, got {hidden}"
        env = {k: v for k, v in os.environ.items()
               if k not in CREDENTIAL_VARS and k not in ("TARGET_URL", "MEMMOCK_FAULT")}
        env.update(read_dotenv(dev_credentials_file()))  # the fixtures' development tokens, as variables
        cmd = [sys.executable, "-m", "pytest", "contract_tests", "--target", proxy.url, "-q", "-p", "no:cacheprovider",
               *HARNESS_OPTIONS]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_S)
    return proc.returncode, proc.stdout + proc.stderr


def _run_or_why(fault: str | None) -> tuple[int, str]:
    """``_run``, or (-1, why) when the run could not be made: one broken run must not hide the others."""
    try:
        return _run(fault)
    except (RuntimeError, AssertionError, OSError, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
        return -1, f"the run could not be made: {exc}"


@pytest.fixture(scope="module")
def runs() -> dict[str | None, tuple[int, str]]:
    """The healthy run and one run per fault, two at a time."""
    names: list[str | None] = [None, *fault_names()]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(_run_or_why, names)))


def failed_checks(output: str) -> set[str]:
    """The rules the summary lists under 'failed checks:'."""
    section = output.split("failed checks:", 1)[1] if "failed checks:" in output else ""
    return {m.group(1) for m in re.finditer(r"^  (\S[^(]*?)  \(", section, re.M)}


def test_every_fault_has_an_expected_catcher() -> None:
    """The table above covers exactly the faults the mock offers."""
    assert set(CATCHER) == set(fault_names())


@pytest.mark.sweep
def test_healthy_mock_conforms(runs: dict[str | None, tuple[int, str]]) -> None:
    """The quick profile passes against the healthy mock behind the proxy (exit 0, no failed checks)."""
    code, output = runs[None]
    assert code == 0, output[-4000:]
    assert "failed checks:" not in output


@pytest.mark.sweep
@pytest.mark.parametrize("fault", fault_names())
def test_fault_is_caught(runs: dict[str | None, tuple[int, str]], fault: str) -> None:
    """Each fault makes the harness fail through the proxy, and the output names the check that caught it."""
    code, output = runs[fault]
    assert code != 0, f"{fault} went unnoticed:\n{output[-3000:]}"
    caught = failed_checks(output)
    assert caught, f"{fault}: failed, but no check named:\n{output[-3000:]}"
    assert any(CATCHER[fault] in rule for rule in caught), (fault, sorted(caught), output[-3000:])
