"""Every memo is bounded by bytes as well as entries: a flood of distinct, large requests holds little."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.clock import FixedClock
from mock_server.memo import Memo
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store
from tests.api.conftest import ADMIN, JOHN, NOW, TESTSERVER, analytics, ibl, mentor, prompt, vai

MB = 1024 * 1024


@pytest.fixture(scope="module")
def app() -> object:
    """A mock with the default fixtures (not strict: only memory is measured here)."""
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW))
    return create_app(Settings(fixtures=None, admin_hosts=TESTSERVER), store=store)


@pytest.fixture(scope="module")
def client(app: object) -> Iterator[TestClient]:
    """A client of that mock."""
    with TestClient(app) as test_client:
        yield test_client


Request = tuple[str, str, bytes, dict[str, str], bytes]  # method, path, query string, headers, body


async def _status(app: Any, request: Request) -> int:
    """One request straight through the ASGI app (no client library that remembers URLs of its own)."""
    method, path, query, headers, body = request
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in headers.items())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def held_after(app: object, requests: Iterable[Request], expected: int) -> float:
    """MB the mock still holds (as tracemalloc counts) after answering ``requests``, each with ``expected``."""

    async def run() -> None:
        for request in requests:
            assert await _status(app, request) == expected, request[:2]

    asyncio.run(_status(app, ("GET", "/api/v1/memory", b"", vai(), b"")))  # build the stack first
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(run())
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / MB
    finally:
        tracemalloc.stop()


def test_long_distinct_query_strings_are_not_all_remembered(app: object) -> None:
    # 1,000 x 70 KB: 70 MB of query strings, all parsed and remembered on the landed main
    requests = (("GET", "/api/v1/memory", f"limit=5&pad={n:05d}{'x' * 70_000}".encode(), vai(), b"")
                for n in range(1_000))
    assert held_after(app, requests, 200) < 8


def test_long_distinct_paths_are_not_all_remembered(app: object) -> None:
    requests = (("GET", f"/api/v1/{n:05d}{'p' * 70_000}", b"", vai(), b"") for n in range(1_000))
    assert held_after(app, requests, 404) < 8


def test_distinct_analytics_ranges_are_not_all_remembered(app: object) -> None:
    requests = (("GET", analytics("average-messages-per-session/"),
                 f"start_date={2000 + n}-01-01&end_date={2000 + n}-12-20&aggregation=hourly".encode(), ibl(ADMIN), b"")
                for n in range(16))  # 16 ranges of about 8,500 hourly buckets each: 2.3 MB of series apiece
    assert held_after(app, requests, 200) < 14


def test_distinct_charsets_are_not_all_remembered(app: object) -> None:
    # Python's codec registry remembers every name it is asked for, unknown ones too.
    form = b'--b\r\nContent-Disposition: form-data; name="enabled"\r\n\r\ntrue\r\n--b--\r\n'
    path = prompt("chat-memory-status/")
    json_requests = (("PUT", path, b"", {**ibl(JOHN), "Content-Type": f"application/json;charset=x-{n}-{'c' * 200}"},
                      b'{"enabled": true}') for n in range(1_000))
    assert held_after(app, json_requests, 400) < 0.5  # an unknown charset
    form_requests = (("PUT", path, b"", {**ibl(JOHN), "Content-Type": f"multipart/form-data; boundary=b; "
                                                                       f"charset=x-{n}-{'c' * 200}"}, form)
                     for n in range(1_000))
    assert held_after(app, form_requests, 200) < 0.5  # read as Latin-1, as Starlette reads an unknown charset


def test_media_types_are_case_insensitive(client: TestClient) -> None:
    for content_type in ("APPLICATION/JSON", "Application/Json; charset=UTF-8", "application/JSON ; q=1"):
        r = client.post("/api/v1/memory", headers={**vai(), "Content-Type": content_type}, content=b'{"content": "x"}')
        assert r.status_code == 201, (content_type, r.text[:200])
        r = client.post(mentor("artifacts/"), headers={**ibl(JOHN), "Content-Type": content_type},
                        content=b'{"title": "x"}')
        assert r.status_code == 201, (content_type, r.text[:200])


# --- the memo itself --------------------------------------------------------------------------

def test_a_memo_forgets_everything_when_it_would_hold_too_many_entries() -> None:
    memo: Memo[int, str] = Memo(3, 1_000, lambda key, value: 1)
    for n in range(3):
        memo.put(n, str(n))
    assert len(memo) == 3 and memo.get(2) == "2"
    memo.put(3, "3")
    assert len(memo) == 1 and memo.get(0) is None and memo.get(3) == "3"


def test_a_memo_forgets_everything_when_it_would_hold_too_many_bytes() -> None:
    memo: Memo[str, str] = Memo(100, 100, lambda key, value: len(value))
    memo.put("a", "x" * 60)
    memo.put("b", "x" * 30)
    assert memo.used == 90 and len(memo) == 2
    memo.put("c", "x" * 20)
    assert memo.used == 20 and memo.get("a") is None and memo.get("c") == "x" * 20


def test_a_memo_keeps_nothing_larger_than_its_budget_and_replaces_in_place() -> None:
    memo: Memo[str, str] = Memo(100, 100, lambda key, value: len(value))
    memo.put("a", "x" * 10)
    assert memo.put("big", "x" * 101) == "x" * 101 and memo.get("big") is None and memo.get("a") == "x" * 10
    memo.put("a", "y" * 40)
    assert memo.used == 40 and memo.get("a") == "y" * 40
    assert memo.get("missing", "default") == "default"
