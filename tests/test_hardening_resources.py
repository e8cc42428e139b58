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
    """A mock with the default fixtures (not strict: only memory is measured here).

    Without the journal, which keeps recent requests on purpose (bounded by its own budget, checked
    below): here what is measured is what the mock remembers of requests it has answered.
    """
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW))
    return create_app(Settings(fixtures=None, admin_hosts=TESTSERVER, journal_size=0), store=store)


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


def test_the_journal_holds_long_distinct_requests_within_its_budget() -> None:
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW))
    journaled = create_app(Settings(fixtures=None, admin_hosts=TESTSERVER, journal_bytes=4 * MB), store=store)
    requests = (("GET", f"/api/v1/{n:05d}{'p' * 35_000}", f"pad={'q' * 35_000}".encode(), vai(), b"")
                for n in range(1_000))  # 70 MB of paths and query strings
    assert held_after(journaled, requests, 404) < 4 + 2


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


# --- the item cap -----------------------------------------------------------------------------

def recount(store: Store) -> int:
    """The store's items, counted afresh family by family."""
    return sum(backend.item_count() for backend in (store.chat_memory, store.profile_memory, store.custom_instruction,
                                                      store.artifacts, store.edx_memory, store.downloads,
                                                      store.chat_history, store.vai_memory))


def test_the_item_count_follows_every_create_and_delete() -> None:
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW), max_items=10_000)
    org = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
    assert store.items.used == recount(store) > 0
    mem = store.vai_memory.create(org, "m")
    conv = store.chat_history.create("main", "johndoe", {"topics": [], "mentor": org, "model": "m", "platform": "p"})
    store.chat_history.append_messages("main", conv["id"], [{"type": "human", "content": "hi"}, {"type": "ai", "content": "yo"}])
    art = store.artifacts.create("main", "johndoe", {"title": "t"})
    store.artifacts.add_version("main", "johndoe", art["id"], "v2")
    entry = store.chat_memory.create("main", "janedoe", {"content": "x"})
    store.chat_memory.schedule_update("main", "janedoe", {})
    store.chat_memory.put_status("main", "nobody", True)
    store.chat_memory.put_status("main", "nobody", False)  # an update: nothing new
    store.profile_memory.upsert("main", "janedoe", "new-tag", "d")
    store.profile_memory.upsert("main", "janedoe", "new-tag", "e")
    store.custom_instruction.create("main", "nobody", {"content": "c"})
    edx = store.edx_memory.upsert("main", "janedoe", 9, "course-v1:x+y+z", {})
    store.downloads.finish("main", "janedoe", "4b3f2a1c-0000-4f7a-b6c5-d4e3f2a1b0c9", {"type": "human", "content": "x"})
    assert store.items.used == recount(store)
    store.vai_memory.delete(org, mem["id"])
    store.chat_history.destroy("main", conv["id"])
    store.artifacts.destroy("main", "johndoe", art["id"])
    store.chat_memory.destroy_one("main", "janedoe", entry["id"])
    store.chat_memory.destroy_all("main", "johndoe")
    store.profile_memory.destroy("main", "janedoe", "new-tag")
    store.edx_memory.destroy("main", "janedoe", edx["id"])
    assert store.items.used == recount(store)
    store.reset()
    assert store.items.used == recount(store) == Store.from_file(DEFAULT_FIXTURES).items.used


@pytest.fixture
def capped() -> Iterator[TestClient]:
    """A mock with the default fixtures and room for two more items."""
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW))
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW), max_items=store.items.used + 2)
    with TestClient(create_app(Settings(fixtures=None, strict=True, admin_hosts=TESTSERVER), store=store)) as c:
        yield c


def test_a_full_store_answers_409_in_each_api_style_and_stores_nothing(capped: TestClient) -> None:
    history = analytics("chat-history/")
    conversation = {"topics": [], "mentor": "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f", "model": "m", "platform": "main"}
    assert capped.post(mentor("artifacts/"), headers=ibl(JOHN), json={"title": "fits"}).status_code == 201
    for method, path, headers, body in (("POST", "/api/v1/memory", vai(), {"content": "one too many"}),
                                        ("POST", mentor("artifacts/"), ibl(JOHN), {"title": "t"}),
                                        ("POST", history, ibl(ADMIN), conversation),
                                        ("POST", mentor("ai-user-profile-memory/"), ibl(JOHN), {"tag": "new", "detail": "d"})):
        r = capped.request(method, path, headers=headers, json=body)
        assert r.status_code == 409, (path, r.text)
        assert list(r.json()) == ["detail"] and "--max-items" in r.json()["detail"]
    assert capped.get("/api/v1/memory", headers=vai()).json()["total"] == 30
    assert capped.get(history, headers=ibl(ADMIN)).json()["count"] == 42
    # An update stores nothing new; a delete makes room.
    assert capped.put(prompt("chat-memory-status/"), headers=ibl(JOHN), json={"enabled": False}).status_code == 200
    first = capped.get("/api/v1/memory", headers=vai()).json()["memories"][0]["id"]
    assert capped.delete(f"/api/v1/memory/{first}", headers=vai()).status_code == 204
    assert capped.post("/api/v1/memory", headers=vai(), json={"content": "room again"}).status_code == 201
    assert capped.get("/_mock/state").status_code == 200


def test_an_import_past_the_cap_is_refused(capped: TestClient) -> None:
    document = capped.get("/_mock/state").json()
    extra = [{**document["vai"]["memories"][0], "id": f"00000000-0000-4000-8000-{n:012d}"} for n in range(3)]
    document["vai"]["memories"] += extra
    r = capped.put("/_mock/state", json=document)
    assert r.status_code == 400 and "--max-items" in str(r.json()["detail"])
    assert capped.get("/api/v1/memory", headers=vai()).json()["total"] == 30


def test_the_served_default_cap_is_a_million() -> None:
    assert Settings().max_items == 1_000_000
    with TestClient(create_app(Settings(admin_hosts=TESTSERVER))) as c:
        assert c.app.state.store.items.limit == 1_000_000  # type: ignore[attr-defined]
