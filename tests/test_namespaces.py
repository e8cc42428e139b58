"""Namespaces, through HTTP: each one a state of its own, named by a header or a cookie."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.testclient import TestClient

from contract_tests.inprocess import start_mock
from mock_server.app import create_app
from mock_server.settings import Settings

VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
JOHN = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
STATUS = "/api/ai-prompt/orgs/main/users/johndoe/chat-memory-status/"
JSON = {"Content-Type": "application/json"}


def ns(name: str) -> dict[str, str]:
    return {"X-Memmock-Namespace": name}


def contents(client: httpx.Client | TestClient, headers: dict[str, str]) -> set[str]:
    reply = client.get("/api/v1/memory", params={"limit": 100}, headers={**VAI, **headers})
    assert reply.status_code == 200
    return {memory["content"] for memory in reply.json()["memories"]}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Settings()), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def served() -> Iterator[httpx.Client]:
    mock = start_mock()
    try:
        with httpx.Client(base_url=mock.url, timeout=30) as client:
            yield client
    finally:
        mock.stop()


def test_two_namespaces_written_in_parallel_never_see_each_other(served: httpx.Client) -> None:
    fixtures = contents(served, {})

    def write(name: str) -> list[int]:
        return [served.post("/api/v1/memory", json={"content": f"{name}-{i}"}, headers={**VAI, **ns(name)}).status_code
                for i in range(40)]

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(write, ["left", "right", "left-2", "right-2"]))
    assert all(status == 201 for batch in statuses for status in batch)
    for name in ("left", "right", "left-2", "right-2"):
        assert contents(served, ns(name)) == fixtures | {f"{name}-{i}" for i in range(40)}
    assert contents(served, {}) == fixtures


def test_a_new_namespace_starts_as_the_fixtures_even_after_the_default_changed(client: TestClient) -> None:
    fixtures = contents(client, {})
    assert client.post("/api/v1/memory", json={"content": "only in default"}, headers=VAI).status_code == 201
    assert contents(client, ns("fresh")) == fixtures
    assert "only in default" in contents(client, {})


def test_every_new_namespace_starts_as_the_fixtures_whether_made_before_or_after_the_default_changed(
        client: TestClient) -> None:
    def state(headers: dict[str, str]) -> dict:
        reply = client.get("/_mock/state", headers=headers)
        assert reply.status_code == 200
        return reply.json()

    fixtures = state({})
    assert state(ns("first")) == fixtures  # made while the default is as loaded
    assert client.post("/api/v1/memory", json={"content": "first's"}, headers={**VAI, **ns("first")}).status_code == 201
    assert client.post("/api/v1/memory", json={"content": "default's"}, headers=VAI).status_code == 201
    assert state(ns("second")) == fixtures  # made after both changed
    assert client.post("/_mock/reset", headers={**JSON, **ns("first")}).status_code == 204
    reset = state(ns("first"))
    assert reset.pop("ids")["uuid_counter"] == 1  # a reset keeps counting ids: first's write took one
    assert reset == {key: value for key, value in fixtures.items() if key != "ids"}


def test_a_hook_set_on_the_default_store_does_not_follow_into_new_namespaces() -> None:
    app = create_app(Settings())
    client = TestClient(app, base_url="http://127.0.0.1")
    refused: list[str] = []
    app.state.store.vai_memory.fail_predicate = lambda memory: refused.append(memory["id"]) or True
    assert client.get("/api/v1/memory", headers={**VAI, **ns("hookless")}).status_code == 200
    assert app.namespaces.state("hookless").store.vai_memory.fail_predicate is None


def test_a_dropped_namespace_is_freed_though_it_was_frozen_as_long_lived() -> None:
    # A served mock freezes what outlives a full collection (heap.serve_gc), and the copy that starts
    # a namespace is frozen too: only reference counting can free a dropped one, so it holds no cycle.
    app = create_app(Settings())
    client = TestClient(app, base_url="http://127.0.0.1")
    assert client.get("/api/v1/memory", headers={**VAI, **ns("brief")}).status_code == 200
    store = weakref.ref(app.namespaces.state("brief").store)
    gc.collect()
    gc.freeze()
    try:
        assert client.delete("/_mock/namespaces/brief", headers=JSON).status_code == 204
        gc.collect()
        assert store() is None
    finally:
        gc.unfreeze()


def test_the_same_requests_give_the_same_ids_in_every_namespace(client: TestClient) -> None:
    ids = [client.post("/api/v1/memory", json={"content": "x"}, headers={**VAI, **ns(name)}).json()["id"]
           for name in ("one", "two")]
    assert ids[0] == ids[1]


def test_a_cookie_names_the_namespace_for_browser_apps(client: TestClient) -> None:
    client.post("/api/v1/memory", json={"content": "from the browser"}, headers={**VAI, **ns("tab")})
    assert "from the browser" in contents(client, {"Cookie": "theme=dark; memmock_ns=tab"})
    # The header wins over the cookie.
    assert "from the browser" not in contents(client, {"Cookie": "memmock_ns=tab", **ns("other")})


def test_a_name_that_cannot_be_a_namespace_is_refused_in_each_apis_style(client: TestClient) -> None:
    drf = client.get(STATUS, headers={**JOHN, **ns("no spaces")})
    assert drf.status_code == 400 and "X-Memmock-Namespace" in drf.json()
    fastapi = client.get("/api/v1/memory", headers={**VAI, "Cookie": "memmock_ns=" + "x" * 65})
    assert fastapi.status_code == 422
    assert fastapi.json()["detail"][0]["loc"] == ["cookie", "memmock_ns"]


def test_admin_calls_act_on_their_namespace_only(client: TestClient) -> None:
    client.post("/api/v1/memory", json={"content": "kept in default"}, headers=VAI)
    client.post("/api/v1/memory", json={"content": "in a"}, headers={**VAI, **ns("a")})
    exported = client.get("/_mock/state", headers=ns("a")).json()
    assert "in a" in {m["content"] for m in exported["vai"]["memories"]}
    assert "kept in default" not in {m["content"] for m in exported["vai"]["memories"]}
    assert client.post("/_mock/reset", headers={**JSON, **ns("a")}).status_code == 204
    assert "in a" not in contents(client, ns("a"))
    assert "kept in default" in contents(client, {})


def test_the_namespaces_are_listed_with_their_sizes_and_can_be_dropped(client: TestClient) -> None:
    client.post("/api/v1/memory", json={"content": "one more"}, headers={**VAI, **ns("sized")})
    listed = {n["name"]: n["items"] for n in client.get("/_mock/namespaces").json()["namespaces"]}
    assert listed["sized"] == listed["default"] + 1
    assert client.request("DELETE", "/_mock/namespaces/sized", headers=JSON).status_code == 204
    assert "sized" not in {n["name"] for n in client.get("/_mock/namespaces").json()["namespaces"]}
    assert client.request("DELETE", "/_mock/namespaces/default", headers=JSON).status_code == 404


def test_past_the_cap_the_least_recently_used_namespace_is_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(create_app(Settings(max_namespaces=2)), base_url="http://127.0.0.1")
    for name in ("first", "second"):
        client.post("/api/v1/memory", json={"content": name}, headers={**VAI, **ns(name)})
    contents(client, ns("first"))  # now "second" is the least recently used
    with caplog.at_level(logging.WARNING, logger="memmock"):
        contents(client, ns("third"))
    assert any("'second'" in record.getMessage() and "--max-namespaces" in record.getMessage()
               for record in caplog.records)
    assert [n["name"] for n in client.get("/_mock/namespaces").json()["namespaces"]] == ["default", "third", "first"]
    assert "first" in contents(client, ns("first"))
    assert "second" not in contents(client, ns("second"))  # it started afresh
