"""The harness leaves a target as it found it: a memmock's exported state is the same after a full run.

Each run is the whole harness (quick profile, both APIs) in a subprocess against a memmock started
here with the default fixtures: behind tests/proxy.py, which hides /_mock so the mock looks like a
real deployment, and as a plain memmock whose admin plane the harness can see. The same holds for a
run that fails (a faulty mock) and for runs stopped by SIGINT or SIGTERM part-way.

Only id counters may differ: the contract's creates answer new ids (integers for all-chats-memory
entries, artifacts and their versions; UUIDs for conversations and VirtuousAI memories).
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from contract_tests.inprocess import InProcessMock, dev_credentials_file, start_mock
from tests.paths import ROOT
from tests.proxy import start_hiding_proxy

# The families whose counters the contract's creates move (POST 201 with a new integer id).
NEW_IDS = frozenset({"all_chats_memory", "artifact", "artifact_version"})


def export(mock: InProcessMock) -> dict[str, Any]:
    """The mock's whole state (GET /_mock/state)."""
    response = httpx.get(mock.url + "/_mock/state", timeout=30)
    response.raise_for_status()
    return response.json()


def without_new_ids(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """``after`` with the counters new ids may move set back to ``before``'s, once they are seen not to go back."""
    result = copy.deepcopy(after)
    for family in NEW_IDS:
        assert after["ids"]["next"][family] >= before["ids"]["next"][family], family
        result["ids"]["next"][family] = before["ids"]["next"][family]
    assert after["ids"]["uuid_counter"] >= before["ids"]["uuid_counter"]
    result["ids"]["uuid_counter"] = before["ids"]["uuid_counter"]
    return result


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed, as JSON lines (empty when the states agree)."""
    a = json.dumps(before, indent=1, sort_keys=True).splitlines()
    b = json.dumps(without_new_ids(before, after), indent=1, sort_keys=True).splitlines()
    return [line for line in difflib.unified_diff(a, b, lineterm="", n=1)][:80]


def harness_command(target: str, *extra: str) -> list[str]:
    """The quick profile over both APIs against ``target``, with the dev credentials."""
    return [sys.executable, "-m", "pytest", str(ROOT / "contract_tests"), "-q", "-p", "no:cacheprovider",
            "-o", "addopts=", "--target", target, "--credentials", str(dev_credentials_file()), *extra]


def clean_env() -> dict[str, str]:
    """The environment without credentials or targets of the caller's."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("IBL_", "VAI_", "TARGET_URL", "MEMMOCK_"))}


def run_harness(mock: InProcessMock, hidden: bool, *extra: str) -> tuple[int, str, dict[str, Any]]:
    """Run the harness against ``mock`` (behind the hiding proxy when ``hidden``); exit code, output, state after."""
    with ExitStack() as stack:
        target = stack.enter_context(start_hiding_proxy(mock.url)).url if hidden else mock.url
        proc = subprocess.run(harness_command(target, *extra), cwd=ROOT, env=clean_env(), capture_output=True,
                              text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr, export(mock)


@pytest.fixture(scope="module")
def full_runs() -> Iterator[dict[str, tuple[dict[str, Any], int, str, dict[str, Any]]]]:
    """The full quick run through the hiding proxy and against a plain memmock, side by side."""
    mocks = {"hidden": start_mock(), "plain": start_mock()}
    try:
        before = {name: export(mock) for name, mock in mocks.items()}
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = dict(zip(mocks, pool.map(lambda n: run_harness(mocks[n], n == "hidden"), mocks)))
        yield {name: (before[name], *results[name]) for name in mocks}
    finally:
        for mock in mocks.values():
            mock.stop()


@pytest.mark.parametrize("mode", ["hidden", "plain"])
def test_full_run_leaves_nothing(full_runs: dict[str, tuple[dict[str, Any], int, str, dict[str, Any]]],
                                 mode: str) -> None:
    """After the whole quick profile the state is the state before (new-id counters aside)."""
    before, code, output, after = full_runs[mode]
    assert code in (0, 1), output[-3000:]  # 1: a check failed; the run still went through to the end
    sent = int(output.split("unsafe requests sent: ", 1)[1].split()[0])
    assert sent > 300, output[-2000:]  # it did write: hundreds of creates, updates and deletes
    assert "left behind" not in output, output[-2000:]
    assert differences(before, after) == []


def failing_run() -> tuple[dict[str, Any], int, str, dict[str, Any]]:
    """A run whose checks fail (the pages overlap), restricted to the checks that write many artifacts."""
    mock = start_mock(fault="page-overlap")
    try:
        before = export(mock)
        return (before, *run_harness(mock, False, "-k", "pagination or page_size or ordering"))
    finally:
        mock.stop()


def interrupted_run(signum: signal.Signals) -> tuple[dict[str, Any], int, str, dict[str, Any]]:
    """A run through the hiding proxy, sent ``signum`` as soon as it has created something."""
    mock = start_mock()
    with ExitStack() as stack:
        stack.callback(mock.stop)
        proxy = stack.enter_context(start_hiding_proxy(mock.url))
        before = export(mock)
        proc = subprocess.Popen(harness_command(proxy.url), cwd=ROOT, env=clean_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        stack.callback(proc.kill)
        # Until the run has created something; each export holds this process (and so the mock) a moment.
        while proc.poll() is None and export(mock)["ids"]["next"] == before["ids"]["next"]:
            time.sleep(0.25)
        if proc.poll() is None:
            proc.send_signal(signum)
        output, _ = proc.communicate(timeout=300)
        return before, proc.returncode, output, export(mock)


@pytest.fixture(scope="module")
def short_runs() -> dict[str, tuple[dict[str, Any], int, str, dict[str, Any]]]:
    """The failing run and the two interrupted ones, side by side."""
    jobs = {"failing": failing_run, "SIGINT": lambda: interrupted_run(signal.SIGINT),
            "SIGTERM": lambda: interrupted_run(signal.SIGTERM)}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


def test_failing_run_leaves_nothing(short_runs: dict[str, tuple[dict[str, Any], int, str, dict[str, Any]]]) -> None:
    """A run whose checks fail removes what it created all the same."""
    before, code, output, after = short_runs["failing"]
    assert code == 1 and "failed checks:" in output, output[-3000:]
    assert differences(before, after) == []


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_nothing(short_runs: dict[str, tuple[dict[str, Any], int, str, dict[str, Any]]],
                                        signum: str) -> None:
    """Stopped by a signal once it has written, the run still cleans up before it exits (status 2)."""
    before, code, output, after = short_runs[signum]
    assert code == 2 and f"KeyboardInterrupt: {signum}" in output, output[-3000:]  # pytest's "interrupted"
    assert "left behind" not in output and "created by the run, all removed" in output, output[-2000:]
    assert differences(before, after) == []
