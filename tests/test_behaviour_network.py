"""Network faults seen from real clients, on the servers memmock runs on: in-process uvicorn and ``memmock serve``."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from contract_tests.inprocess import start_mock
from mock_server.app import create_app, load_spec
from mock_server.behaviour.latency import MAX_DELAY_MS
from mock_server.behaviour.network import FAULTS, MAX_RETRY_AFTER
from mock_server.settings import Settings
from tests.served import serve

VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
JOHN = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
JSON = {"Content-Type": "application/json"}
MEMORIES = "/api/v1/memory"
STATUS = "/api/ai-prompt/orgs/main/users/johndoe/chat-memory-status/"


@pytest.fixture(scope="module", params=["in-process uvicorn", "memmock serve"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "memmock serve":
        with serve() as served:
            yield served.url
        return
    mock = start_mock()
    try:
        yield mock.url
    finally:
        mock.stop()


def raw(url: str, preference: str, path: str = MEMORIES, headers: dict[str, str] = VAI) -> socket.socket:
    """A connection that has sent one GET with ``Prefer: preference``."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", f"Prefer: {preference}",
             *(f"{name}: {value}" for name, value in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_reset_resets_the_connection(url: str) -> None:
    with raw(url, "fault=reset") as sock, pytest.raises(ConnectionResetError):
        read_all(sock)
    with pytest.raises(httpx.ReadError, match="reset"):
        httpx.get(url + MEMORIES, headers={**VAI, "Prefer": "fault=reset"})


def test_empty_closes_without_a_byte(url: str) -> None:
    with raw(url, "fault=empty") as sock:
        assert read_all(sock) == b""
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(url + MEMORIES, headers={**VAI, "Prefer": "fault=empty"})


def test_truncated_sends_the_head_and_half_the_body(url: str) -> None:
    with raw(url, "fault=truncated") as sock:
        head, _, body = read_all(sock).partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    assert head.startswith(b"HTTP/1.1 200") and b"preference-applied: fault=truncated" in head.lower()
    assert len(body) == length // 2
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        httpx.get(url + MEMORIES, headers={**VAI, "Prefer": "fault=truncated"})


def test_dribble_sends_the_body_in_pieces_over_the_stated_time(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client, \
            client.stream("GET", MEMORIES, headers={**VAI, "Prefer": "fault=dribble; duration=800"}) as reply:
        head = time.monotonic()
        arrivals = [(time.monotonic() - head, piece) for piece in reply.iter_raw()]
    assert reply.headers["preference-applied"] == "fault=dribble; duration=800"
    assert len(arrivals) >= 5
    assert arrivals[0][0] < 0.4 and arrivals[-1][0] >= 0.75
    assert json.loads(b"".join(piece for _, piece in arrivals))["memories"]


def test_status_faults_answer_with_retry_after_in_each_apis_style(url: str) -> None:
    vai = httpx.get(url + MEMORIES, headers={**VAI, "Prefer": "fault=503; retry-after=4"})
    assert (vai.status_code, vai.headers["retry-after"], vai.json()) == (503, "4", {"detail": "Service Unavailable"})
    ibl = httpx.get(url + STATUS, headers={**JOHN, "Prefer": "fault=429; retry-after=2"})
    assert (ibl.status_code, ibl.headers["retry-after"]) == (429, "2")
    assert ibl.json() == {"detail": "Request was throttled. Expected available in 2 seconds."}
    server_error = httpx.get(url + STATUS, headers={**JOHN, "Prefer": "fault=500"})
    assert (server_error.status_code, server_error.headers["retry-after"]) == (500, "1")
    assert server_error.json() == {"detail": "A server error occurred."}


def test_a_configured_fault_strikes_by_probability_and_seed(url: str) -> None:
    document = {"seed": 7, "operations": {"list_memories": {"fault": "reset", "probability": 0.5}}}

    def outcomes() -> list[str]:
        assert httpx.put(url + "/_mock/behaviour", json=document, headers=JSON).status_code == 200
        seen = []
        for _ in range(16):
            try:
                seen.append(str(httpx.get(url + MEMORIES, headers=VAI).status_code))
            except httpx.ReadError:
                seen.append("reset")
        return seen

    try:
        first = outcomes()
        assert 3 <= first.count("reset") <= 13 and set(first) == {"200", "reset"}
        assert outcomes() == first
        assert httpx.get(url + "/_mock/health").status_code == 200  # never the admin plane
    finally:
        httpx.delete(url + "/_mock/behaviour", headers=JSON)
    assert httpx.get(url + MEMORIES, headers=VAI).status_code == 200


def test_the_server_serves_on_after_every_fault(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for preference in ("fault=reset", "fault=empty", "fault=truncated"):
            with pytest.raises(httpx.TransportError):
                client.get(MEMORIES, headers={**VAI, "Prefer": preference})
            assert client.get(MEMORIES, headers=VAI).status_code == 200


def test_a_client_that_gives_up_during_a_delay_leaves_the_server_well(url: str) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(url + MEMORIES, headers={**VAI, "Prefer": "delay=2000"}, timeout=0.2)
    assert httpx.get(url + MEMORIES, headers=VAI).status_code == 200


def test_without_a_socket_a_connection_fault_says_so() -> None:
    client = TestClient(create_app(Settings()), base_url="http://127.0.0.1")
    reply = client.get(MEMORIES, headers={**VAI, "Prefer": "fault=reset"})
    assert reply.status_code == 400
    assert "no socket memmock can reach" in reply.json()["detail"]


def test_configured_status_faults_follow_the_seed_in_memory_too() -> None:
    client = TestClient(create_app(Settings()), base_url="http://127.0.0.1")
    document = {"seed": 1, "fault": "429", "retry_after": 3, "probability": 0.3}
    runs = []
    for _ in range(2):
        client.put("/_mock/behaviour", json=document, headers=JSON)
        runs.append([client.get(MEMORIES, headers=VAI).status_code for _ in range(30)])
    assert runs[0] == runs[1] and set(runs[0]) == {200, 429}


def test_the_admin_spec_names_the_faults_and_bounds_the_mock_has() -> None:
    rule = load_spec("admin")["components"]["schemas"]["BehaviourRule"]["properties"]
    assert tuple(rule["fault"]["enum"]) == FAULTS
    assert (rule["retry_after"]["maximum"], rule["duration"]["maximum"]) == (MAX_RETRY_AFTER, MAX_DELAY_MS)
