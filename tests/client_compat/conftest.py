"""The mock under a real HTTP server, for the official ``iblai`` client to talk to."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from importlib.metadata import version

import pytest
import uvicorn

from mock_server.app import create_app
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store

IBLAI_VERSION = version("iblai")

_outcomes: Counter[str] = Counter()
# Loopback only: never route the readiness and reset requests through an environment proxy.
_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    """Base URL of a strict mock with the default fixtures, served by uvicorn on 127.0.0.1.

    The fixture that starts the server stops it when the module is done.
    """
    app = create_app(Settings(strict=True, fixtures=None), store=Store.from_file(DEFAULT_FIXTURES))
    # Bind before starting, so the port is ours (no pick-then-bind race with other processes).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, thread)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive(), "the mock's server thread did not stop"


def _wait_until_up(url: str, thread: threading.Thread, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the mock's server thread died while starting")
        try:
            with _direct.open(f"{url}/_mock/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the mock did not answer at {url} within {timeout}s")


@pytest.fixture(autouse=True)
def fresh_state(mock_url: str) -> None:
    """Every test starts from the default fixtures, so tests do not depend on their order."""
    request = urllib.request.Request(f"{mock_url}/_mock/reset", method="POST",
                                     headers={"Content-Type": "application/json"})
    with _direct.open(request, timeout=5) as resp:
        assert resp.status == 204


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count outcomes of the operation tests, for the per-version summary."""
    if "test_official_client.py::test_operation" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _outcomes[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line that says how many operations the installed client drove."""
    if _outcomes:
        terminalreporter.write_line(
            f"client-compat iblai {IBLAI_VERSION}: {_outcomes['passed']} operations passed, "
            f"{_outcomes['skipped']} skipped, {_outcomes['failed']} failed"
        )
