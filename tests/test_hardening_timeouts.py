"""Slow headers and slow bodies get a 408 and the connection back; complete requests are served.

On both servers ``memmock serve`` runs on; granian closes a request late in its headers at the
deadline without an answer (hyper answers no header timeout), uvicorn answers it 408.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.api.conftest import VAI_DEV
from tests.served import Served, exchange, serve

# Short deadlines so each test waits a moment, not ten seconds; the defaults are checked apart.
TIMEOUT = "0.5"
AUTH = f"Authorization: Bearer {VAI_DEV}\r\n".encode()


@pytest.fixture(scope="module")
def granian() -> Iterator[Served]:
    """A mock served by granian with half-second deadlines."""
    with serve("--server", "granian", "--header-timeout", TIMEOUT, "--body-timeout", TIMEOUT) as served:
        yield served


@pytest.fixture(scope="module")
def uvicorn() -> Iterator[Served]:
    """A mock served by uvicorn with half-second deadlines."""
    with serve("--server", "uvicorn", "--header-timeout", TIMEOUT, "--body-timeout", TIMEOUT) as served:
        yield served


@pytest.fixture(params=["granian", "uvicorn"])
def mock(request: pytest.FixtureRequest) -> Served:
    """The mock on each server."""
    served: Served = request.getfixturevalue(request.param)
    return served


def total_memories(mock: Served) -> int:
    """The dev organization's memory count, through a plain request."""
    request = urllib.request.Request(f"{mock.url}/api/v1/memory?limit=1", headers={"Authorization": f"Bearer {VAI_DEV}"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5) as response:
        return int(json.loads(response.read())["total"])


def test_headers_that_never_finish_get_408(uvicorn: Served) -> None:
    reply = exchange(uvicorn.port, b"GET /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert reply.status == 408
    assert json.loads(reply.body) == {"detail": "The request's headers did not arrive within 0.5 s (--header-timeout)."}
    assert b"connection: close" in reply.raw.lower()


def test_headers_dripping_in_get_408_as_a_whole_not_per_byte(uvicorn: Served) -> None:
    with socket.create_connection(("127.0.0.1", uvicorn.port), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/memory HTTP/1.1\r\n")
        got = b""
        for _ in range(20):  # a byte every 0.1 s: each arrives well within the deadline
            try:
                sock.sendall(b"X")
            except OSError:
                break
            time.sleep(0.1)
            sock.setblocking(False)
            try:
                got += sock.recv(4096)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
            if got:
                break
        sock.settimeout(10)
        while not got.endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    assert got.startswith(b"HTTP/1.1 408 ")


def test_on_granian_headers_that_never_finish_are_closed_at_the_deadline(granian: Served) -> None:
    started = time.monotonic()
    reply = exchange(granian.port, b"GET /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert reply.raw == b""  # closed, not answered
    assert 0.4 < time.monotonic() - started < 5


def test_on_granian_headers_dripping_in_are_closed_as_a_whole_not_per_byte(granian: Served) -> None:
    with socket.create_connection(("127.0.0.1", granian.port), timeout=10) as sock:
        sock.sendall(b"GET /api/v1/memory HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        for _ in range(30):  # a byte every 0.1 s: each arrives well within the deadline
            try:
                sock.sendall(b"X")
                time.sleep(0.1)
                sock.setblocking(False)
                closed = sock.recv(4096) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed = True
            finally:
                sock.setblocking(True)
            if closed:
                break
    assert closed and time.monotonic() - started < 2


def test_a_body_that_never_finishes_gets_408_and_stores_nothing(mock: Served) -> None:
    before = total_memories(mock)
    body = b'{"content": "never sent in full"}'
    head = (b"POST /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + AUTH +
            b"Content-Length: %d\r\n\r\n" % (len(body) + 50))  # a lying Content-Length
    reply = exchange(mock.port, head + body)
    assert reply.status == 408
    assert json.loads(reply.body) == {"detail": "The request's body did not arrive within 0.5 s (--body-timeout)."}
    assert total_memories(mock) == before


def test_a_chunked_body_that_stops_gets_408(mock: Served) -> None:
    before = total_memories(mock)
    head = (b"POST /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + AUTH +
            b"Transfer-Encoding: chunked\r\n\r\n")
    reply = exchange(mock.port, head + b'10\r\n{"content": "x"}\r\n')  # and no last chunk
    assert reply.status == 408
    assert total_memories(mock) == before


def test_an_early_answer_keeps_its_status_and_the_connection_is_closed(mock: Served) -> None:
    # No credential: 401 before the body is read; the rest of the body never comes.
    head = b"POST /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    with socket.create_connection(("127.0.0.1", mock.port), timeout=10) as sock:
        sock.sendall(head + b'{"content"')
        got = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    assert got.startswith(b"HTTP/1.1 401 ") and b" 408 " not in got  # then closed: recv returned b""


def test_a_connection_that_sends_nothing_is_closed_without_an_answer(mock: Served) -> None:
    with socket.create_connection(("127.0.0.1", mock.port), timeout=10) as sock:
        assert sock.recv(4096) == b""


def test_complete_requests_in_pieces_and_chunks_are_served(mock: Served) -> None:
    head = (b"POST /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + AUTH +
            b"Transfer-Encoding: chunked\r\n\r\n")
    reply = exchange(mock.port, head + b'10\r\n{"content": "x"}', then=b"\r\n0\r\n\r\n", pause=0.1)
    assert reply.status == 201 and json.loads(reply.body)["content"] == "x"
    body = b'{"content": "in two parts"}'
    head = (b"POST /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + AUTH +
            b"Content-Length: %d\r\n\r\n" % len(body))
    reply = exchange(mock.port, head[:20], then=head[20:] + body, pause=0.1)
    assert reply.status == 201 and json.loads(reply.body)["content"] == "in two parts"


def test_keep_alive_requests_after_a_slow_one_still_work(mock: Served) -> None:
    request = b"GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", mock.port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(request)
            got = b""
            while b"}" not in got:
                got += sock.recv(4096)
            assert got.startswith(b"HTTP/1.1 200 ")
            time.sleep(0.3)  # idle between requests is the keep-alive timeout's business, not a 408


def test_timeouts_are_settings() -> None:
    from mock_server.cli import main
    from mock_server.settings import Settings

    assert (Settings().header_timeout, Settings().body_timeout) == (10.0, 10.0)
    assert Settings.from_env({"MEMMOCK_HEADER_TIMEOUT": "2.5", "MEMMOCK_BODY_TIMEOUT": "30"}).body_timeout == 30.0
    with pytest.raises(ValueError):
        Settings(header_timeout=0)
    with pytest.raises(SystemExit):
        main(["serve", "--body-timeout", "-1"])


# --- the framing the deadlines follow ---------------------------------------------------------

POST = (b"POST /api/v1/memory HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"
        b'{"content": "x"}')
CHUNKED = (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n"
           b"Trailer: 1\r\n\r\n")
GET = b"GET /api/v1/memory?limit=1 HTTP/1.1\r\nHost: h\r\n\r\n"


@pytest.mark.parametrize("request_bytes", [POST, CHUNKED, GET, GET.replace(b"\r\n", b"\n")])
def test_framing_finds_the_end_of_a_request_however_it_is_split(request_bytes: bytes) -> None:
    from mock_server.server import HEAD, IDLE, Framing

    for cut in range(1, len(request_bytes)):
        framing = Framing()
        framing.feed(request_bytes[:cut])
        assert framing.state != IDLE, cut
        framing.feed(request_bytes[cut:])
        assert framing.state == IDLE and framing.requests == 1, cut
    framing = Framing()
    framing.feed(request_bytes[:5])
    assert framing.state == HEAD


def test_framing_follows_pipelined_requests_and_names_the_path() -> None:
    from mock_server.server import HEAD, LENGTH, Framing

    framing = Framing()
    framing.feed(POST + GET + CHUNKED + POST[:-4])
    assert framing.requests == 4 and framing.state == LENGTH and framing.path == "/api/v1/memory"
    framing.feed(POST[-4:] + GET[:10])
    assert framing.requests == 5 and framing.state == HEAD
