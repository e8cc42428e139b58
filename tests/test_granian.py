"""``memmock serve`` on granian: requests kept apart, and the harness's artifacts machine green.

granian puts one ``extensions`` dict, shared by every request, in every ASGI scope. The app keeps
per-request data in the extensions (``validation.request_data``: the typed query and path parameters), so on
a bare granian a request inherits the parameters of the requests before it: a search after a
filtered list filters by both, and the harness's ``artifacts.search_read_your_writes`` finds
nothing. The request path gives each request a dict of its own; the bare app served by granian
is checked, as ``memmock serve`` serves it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server

from contract_tests.inprocess import free_port
from tests.api.conftest import JOHN
from tests.paths import ROOT
from tests.served import MEMMOCK, Served, exchange, serve

ARTIFACTS = "/api/ai-mentor/orgs/main/users/johndoe/artifacts/"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str) -> dict[str, Any]:
    """A GET as johndoe; the JSON answer."""
    request = urllib.request.Request(url, headers={"Authorization": f"Api-Token {JOHN}"})
    with _DIRECT.open(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def filtered_then_searched(base: str) -> tuple[int, int]:
    """Counts of a search for a fresh title, before and after a list filtered on another field."""
    title = f"granian-{time.monotonic_ns()}"
    request = urllib.request.Request(base + ARTIFACTS, data=json.dumps({"title": title}).encode(), method="POST",
                                     headers={"Authorization": f"Api-Token {JOHN}", "Content-Type": "application/json"})
    with _DIRECT.open(request, timeout=10) as response:
        assert response.status == 201
    before = get(f"{base}{ARTIFACTS}?search={title}")["count"]
    get(f"{base}{ARTIFACTS}?llm_name=gpt-4")
    return before, get(f"{base}{ARTIFACTS}?search={title}")["count"]


def harness_artifacts(base: str) -> subprocess.CompletedProcess[str]:
    """The quick harness's artifacts state machine against ``base``, after a client's filtered list."""
    get(f"{base}{ARTIFACTS}?llm_name=gpt-4&ordering=title")
    return subprocess.run([MEMMOCK, "check", "--target", base, "--credentials", "fixtures/dev-credentials.env",
                           "--", "-k", "test_artifacts"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """``memmock serve`` on granian."""
    with serve("--server", "granian") as mock:
        yield mock


@pytest.fixture
def bare() -> Iterator[str]:
    """``create_app()`` handed to granian as it is, in a thread; its base URL."""
    from mock_server.app import create_app
    from mock_server.settings import Settings

    port = free_port()
    server = Server(create_app(Settings(port=port, log_level="error")), address="127.0.0.1", port=port,
                    interface=Interfaces.ASGI, http=HTTPModes.http1, websockets=False, log_enabled=False)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            _DIRECT.open(f"{base}/_mock/health", timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield base
    finally:
        loop.call_soon_threadsafe(server.stop)
        thread.join(timeout=10)
        loop.close()


def test_served_requests_keep_their_own_parameters(served: Served) -> None:
    assert filtered_then_searched(served.url) == (1, 1)


def test_the_harness_artifacts_machine_passes_on_granian(served: Served) -> None:
    run = harness_artifacts(served.url)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "artifacts.search_read_your_writes" in run.stdout


# Until create_app() gives each request a scope of its own, whatever server it is handed to.
def test_the_bare_app_keeps_requests_apart_on_granian(bare: str) -> None:
    assert filtered_then_searched(bare) == (1, 1)


def test_the_harness_artifacts_machine_passes_on_the_bare_app_on_granian(bare: str) -> None:
    run = harness_artifacts(bare)
    assert run.returncode == 0, run.stdout[-3000:]


def test_a_malformed_chunk_is_answered_400_and_closed(served: Served) -> None:
    reply = exchange(served.port, b"POST /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer dev-vai-virtuous-dev-0001\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"zz\r\n{}\r\n0\r\n\r\n")
    assert reply.status == 400 and b"connection: close" in reply.raw.lower()


def test_bodies_of_a_declared_length_on_one_connection_are_each_read_whole(served: Served) -> None:
    # The request path is handed each body's end with its last bytes (granian sends one more, empty,
    # message); granian must still find every body read and keep the connection for the next request.
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        contents = [f"keep-alive {i}" + "x" * (40_000 * (i % 2)) for i in range(4)]
        for content in contents:
            connection.request("POST", "/api/v1/memory", body=json.dumps({"content": content}),
                               headers={"Authorization": "Bearer dev-vai-virtuous-dev-0001",
                                        "Content-Type": "application/json"})
            reply = connection.getresponse()
            assert reply.status == 201, reply.read()
            assert json.loads(reply.read())["content"] == content
    finally:
        connection.close()
