"""The journal, through HTTP: /_mock/requests lists, counts and clears the requests the mock answered."""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from contract_tests.inprocess import start_mock
from mock_server.app import create_app
from mock_server.journal import ENTRY_COST
from mock_server.settings import Settings
from tests.served import serve

VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
JOHN = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
JSON = {"Content-Type": "application/json"}
STATUS = "/api/ai-prompt/orgs/main/users/johndoe/chat-memory-status/"
ARTIFACTS = "/api/ai-mentor/orgs/main/users/johndoe/artifacts/"


def ns(name: str) -> dict[str, str]:
    return {"X-Memmock-Namespace": name}


def mock(**settings: Any) -> TestClient:
    return TestClient(create_app(Settings(**settings)), base_url="http://127.0.0.1")


def listed(client: httpx.Client | TestClient, **params: Any) -> list[dict[str, Any]]:
    reply = client.get("/_mock/requests", params=params)
    assert reply.status_code == 200, reply.text
    requests: list[dict[str, Any]] = reply.json()["requests"]
    return requests


def count(client: httpx.Client | TestClient, headers: dict[str, str] | None = None, **params: Any) -> int:
    reply = client.get("/_mock/requests/count", params=params, headers=headers or {})
    assert reply.status_code == 200, reply.text
    assert set(reply.json()) == {"count"}
    return int(reply.json()["count"])


@pytest.fixture
def client() -> TestClient:
    return mock()


def test_the_count_matches_what_a_test_sent_in_parallel() -> None:
    running = start_mock()
    try:
        with httpx.Client(base_url=running.url, timeout=30) as served:
            parallel_calls_are_counted(served)
    finally:
        running.stop()


def parallel_calls_are_counted(served: httpx.Client) -> None:
    room = ns("parallel-count")
    calls = {
        "list_memories": lambda: served.get("/api/v1/memory", params={"limit": 2}, headers={**VAI, **room}),
        "create_memory": lambda: served.post("/api/v1/memory", json={"content": "x"}, headers={**VAI, **room}),
        "ai_prompt_orgs_users_chat_memory_status_retrieve": lambda: served.get(STATUS, headers={**JOHN, **room}),
        "ai_mentor_orgs_users_artifacts_list": lambda: served.get(ARTIFACTS, headers={**JOHN, **room}),
    }
    sent = 25
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda call: call(), [call for call in calls.values() for _ in range(sent)]))
    assert all(reply.status_code < 300 for reply in replies)
    for operation in calls:
        assert count(served, room, operation=operation) == sent
    assert count(served, room) == sent * len(calls)
    assert count(served, room, operation="mock_server.api.vai_memory.create_memory") == sent
    # Every one of them is in its namespace only.
    assert count(served, operation="create_memory", namespace="parallel-count-other") == 0


def test_an_entry_says_what_was_asked_and_answered(client: TestClient) -> None:
    before = datetime.now(timezone.utc) - timedelta(milliseconds=5)
    created = client.post("/api/v1/memory?x=1", json={"content": "prefers short answers"}, headers=VAI)
    [entry] = listed(client)
    assert entry["method"] == "POST" and entry["path"] == "/api/v1/memory" and entry["query"] == "x=1"
    assert entry["operation"] == "create_memory" and entry["namespace"] == "default"
    assert entry["status"] == 201 and entry["unmatched"] is None
    moment = datetime.fromisoformat(entry["time"])
    assert entry["time"].endswith("Z") and len(entry["time"]) == len("2026-01-01T00:00:00.000Z")
    assert before <= moment <= datetime.now(timezone.utc) and entry["duration_ms"] > 0
    assert entry["request"]["headers"]["content-type"] == "application/json"
    assert entry["request"]["body"] == {"size": len(created.request.content), "truncated": False, "base64": False,
                                        "content": created.request.content.decode()}
    assert entry["response"]["body"]["content"] == created.text
    assert entry["response"]["headers"]["content-type"] == "application/json"


def test_newest_first_and_the_admin_plane_is_not_recorded(client: TestClient) -> None:
    client.get(STATUS, headers=JOHN)
    client.get("/_mock/health")
    client.get("/api/v1/memory", headers=VAI)
    client.get("/_mock/requests")
    assert [e["path"] for e in listed(client)] == ["/api/v1/memory", STATUS]


def test_credentials_are_redacted_keeping_the_scheme() -> None:
    client = mock(admin_token="s3cret-admin")
    admin = {"Authorization": "Bearer s3cret-admin"}
    client.get(STATUS, headers={**JOHN, "Proxy-Authorization": "Basic dXNlcjpwYXNz", "X-Debug": "token=s3cret-admin"})
    client.get("/api/v1/memory", headers={"X-API-Key": "dev-vai-virtuous-dev-0001",
                                          "Cookie": "theme=dark; vai_token=dev-vai-virtuous-dev-0001; memmock_ns=c"})
    vai, ibl = client.get("/_mock/requests", params={"namespace": "*"}, headers=admin).json()["requests"]
    assert ibl["request"]["headers"]["authorization"] == "Api-Token <redacted>"
    assert ibl["request"]["headers"]["proxy-authorization"] == "Basic <redacted>"
    assert ibl["request"]["headers"]["x-debug"] == "token=<redacted>"
    assert vai["request"]["headers"]["x-api-key"] == "<redacted>"
    assert vai["request"]["headers"]["cookie"] == "theme=<redacted>; vai_token=<redacted>; memmock_ns=c"
    assert vai["namespace"] == "c" and vai["status"] == 200
    assert "dev-vai-virtuous-dev-0001" not in str([vai, ibl]) and "s3cret-admin" not in str([vai, ibl])


def test_bodies_are_kept_up_to_the_limit() -> None:
    client = mock(journal_body_bytes=16)
    client.post("/api/v1/memory", json={"content": "é" * 40}, headers=VAI)
    [entry] = listed(client)
    sent = entry["request"]["body"]
    assert sent["truncated"] and sent["size"] > 16 and not sent["base64"]
    # A character the limit cut is left out, not turned into base64.
    assert sent["content"] == '{"content":"éé' and len(sent["content"].encode()) <= 16
    answered = entry["response"]["body"]
    assert answered["truncated"] and answered["size"] > 16 and len(answered["content"].encode()) <= 16


def test_a_body_that_is_not_text_is_base64() -> None:
    client = mock()
    assert client.post("/api/v1/memory", content=b"\xff\xfe\x00{", headers={**VAI, **JSON}).status_code == 422
    [entry] = listed(client)
    body = entry["request"]["body"]
    assert body["base64"] and base64.b64decode(body["content"]) == b"\xff\xfe\x00{" and body["size"] == 4


def test_a_body_answered_before_it_was_read_is_listed_as_not_read(client: TestClient) -> None:
    client.post("/api/v1/memory", json={"content": "no credential"})
    [entry] = listed(client)
    assert entry["status"] == 401 and entry["operation"] == "create_memory"
    assert entry["request"]["body"] == {"size": len(b'{"content":"no credential"}'), "truncated": False,
                                        "base64": False, "content": None}


def test_filters(client: TestClient) -> None:
    client.get(STATUS, headers=JOHN)
    client.put(STATUS, json={"enabled": False}, headers=JOHN)
    client.get("/api/v1/memory", headers=VAI)
    client.get("/api/v1/memory/not-there", headers=VAI)
    client.get("/api/v1/memory")
    middle = datetime.now(timezone.utc)
    time.sleep(0.01)
    client.delete("/api/v1/memory", headers=VAI)
    assert count(client) == 6
    assert count(client, operation="list_memories") == 2
    assert count(client, operation="ai_prompt_orgs_users_chat_memory_status_update") == 1
    assert count(client, method="get") == 4
    assert count(client, path="/api/v1/") == 4
    assert count(client, path="/api/v1/memory/*") == 1
    assert count(client, path="*/chat-memory-status/") == 2
    assert count(client, status="200") == 3
    assert count(client, status="4xx") == 3
    assert count(client, status="401,405") == 2
    assert count(client, since=middle.isoformat()) == 1
    assert count(client, until=middle.isoformat()) == 5
    assert count(client, until=middle.replace(tzinfo=None).isoformat()) == 5  # no offset: UTC
    assert count(client, method="GET", status="2xx", path="/api/v1") == 1
    reply = client.get("/_mock/requests", params={"limit": 2})
    assert reply.json()["count"] == 6 and [e["method"] for e in reply.json()["requests"]] == ["DELETE", "GET"]


@pytest.mark.parametrize(("name", "value", "says"), [
    ("operation", "list_memorys", "Did you mean list_memories"),
    ("operation", "health", "is journaled"),
    ("status", "4x", "A status is a code"),
    ("since", "yesterday", "ISO 8601"),
])
def test_a_filter_that_cannot_be_one_is_refused(client: TestClient, name: str, value: str, says: str) -> None:
    for path in ("/_mock/requests", "/_mock/requests/count"):
        reply = client.get(path, params={name: value})
        assert reply.status_code == 400
        assert says in reply.json()[name][0]
    assert client.get("/_mock/requests", params={"limit": 0}).status_code == 400


def test_each_namespace_sees_its_own_requests(client: TestClient) -> None:
    client.get("/api/v1/memory", headers=VAI)
    client.get("/api/v1/memory", headers={**VAI, **ns("a")})
    client.get("/api/v1/memory", headers={**VAI, **ns("a")})
    client.get("/api/v1/memory", headers={**VAI, "Cookie": "memmock_ns=b"})
    assert count(client) == 1
    assert count(client, ns("a")) == 2
    assert count(client, namespace="b") == 1
    assert count(client, ns("a"), namespace="b") == 1  # the filter names it
    assert count(client, namespace="*") == 4
    assert {e["namespace"] for e in listed(client, namespace="*")} == {"default", "a", "b"}
    assert client.delete("/_mock/requests", headers={**JSON, **ns("a")}).status_code == 204
    assert count(client, ns("a")) == 0 and count(client, namespace="*") == 2
    assert client.delete("/_mock/requests", headers=JSON).status_code == 204
    assert count(client, namespace="*") == 1
    assert client.delete("/_mock/requests", params={"namespace": "*"}, headers=JSON).status_code == 204
    assert count(client, namespace="*") == 0
    assert client.delete("/_mock/requests").status_code == 415  # an admin write needs a JSON Content-Type


def test_a_request_refused_for_its_namespace_name_has_none(client: TestClient) -> None:
    assert client.get("/api/v1/memory", headers={**VAI, **ns("no spaces")}).status_code == 422
    [entry] = listed(client, namespace="*")
    assert entry["namespace"] is None and entry["operation"] == "list_memories" and entry["status"] == 422


@pytest.mark.parametrize(("method", "path", "nearest", "reason"), [
    ("POST", STATUS, "ai_prompt_orgs_users_chat_memory_status_retrieve", "method POST not allowed: GET, PUT, HEAD"),
    ("GET", ARTIFACTS + "abc/", "ai_mentor_orgs_users_artifacts_retrieve", "segment 8: 'abc' is not an integer"),
    ("GET", "/api/v1/memory/a/b/c/d", "get_memory", "no template has 7 segments"),
    ("GET", STATUS.rstrip("/"), "ai_prompt_orgs_users_chat_memory_status_retrieve",
     f"trailing slash: did you mean {STATUS}"),
    ("GET", "/api/v1/memories", "list_memories", "segment 3: 'memories' is not 'memory'"),
    ("GET", ARTIFACTS.replace("artifacts", "artifact"), "ai_mentor_orgs_users_artifacts_list",
     "segment 7: 'artifact' is not 'artifacts'"),
    ("DELETE", "/api/v1/memory", "list_memories", "method DELETE not allowed: GET, POST, HEAD"),
])
def test_a_request_no_operation_took_names_the_nearest_and_why(client: TestClient, method: str, path: str,
                                                              nearest: str, reason: str) -> None:
    reply = client.request(method, path, headers=VAI, follow_redirects=False)
    assert reply.status_code in (307, 404, 405)
    [entry] = listed(client)
    assert entry["operation"] is None and entry["status"] == reply.status_code
    assert entry["unmatched"]["nearest"] == nearest and entry["unmatched"]["reason"] == reason
    assert count(client, status=str(reply.status_code)) == 1


def test_swagger_ui_pages_are_recorded_and_not_unmatched(client: TestClient) -> None:
    assert client.get("/api/v1/docs/").status_code == 200
    [entry] = listed(client)
    assert entry["path"] == "/api/v1/docs/" and entry["operation"] is None and entry["unmatched"] is None


def test_past_its_size_the_oldest_requests_are_dropped() -> None:
    client = mock(journal_size=3)
    for limit in range(1, 6):
        client.get("/api/v1/memory", params={"limit": limit}, headers=VAI)
    reply = client.get("/_mock/requests").json()
    assert [e["query"] for e in reply["requests"]] == ["limit=5", "limit=4", "limit=3"]
    assert reply["oldest"] == reply["requests"][-1]["time"]


def test_past_its_bytes_the_oldest_requests_are_dropped() -> None:
    # Each entry holds 2 × 4 KiB of bodies, ENTRY_COST and under 1,000 bytes of stamps, path and headers:
    # two fit, and three would not even with none of those.
    client = mock(journal_bytes=2 * (ENTRY_COST + 2 * 4096 + 1000), journal_body_bytes=4096)
    for i in range(5):
        client.post("/api/v1/memory", json={"content": f"{i}" + "x" * 5000}, headers=VAI)
    assert [e["request"]["body"]["content"][len('{"content":"')] for e in listed(client)] == ["4", "3"]


def test_journal_size_0_turns_it_off() -> None:
    client = mock(journal_size=0)
    client.get("/api/v1/memory", headers=VAI)
    for method, path in (("GET", "/_mock/requests"), ("GET", "/_mock/requests/count"), ("DELETE", "/_mock/requests")):
        reply = client.request(method, path, headers=JSON)
        assert reply.status_code == 404 and "--journal-size 0" in reply.json()["detail"]


def test_the_journal_answers_as_its_spec_says() -> None:
    client = mock(strict=True)
    client.post("/api/v1/memory", json={"content": "x"}, headers=VAI)
    client.get("/api/v1/memorie", headers=VAI)
    client.post("/api/v1/memory", content=b"\xff", headers={**VAI, **JSON})
    assert client.get("/_mock/requests").status_code == 200
    assert client.get("/_mock/requests/count", params={"status": "4xx"}).json() == {"count": 2}
    assert client.delete("/_mock/requests", headers=JSON).status_code == 204
    assert client.get("/_mock/requests").json() == {"count": 0, "oldest": None, "requests": []}


def test_the_bounds_are_flags_of_memmock_serve_and_variables() -> None:
    settings = Settings.from_env({"MEMMOCK_JOURNAL_SIZE": "5", "MEMMOCK_JOURNAL_BYTES": "100",
                                  "MEMMOCK_JOURNAL_BODY_BYTES": "7"})
    assert (settings.journal_size, settings.journal_bytes, settings.journal_body_bytes) == (5, 100, 7)
    with pytest.raises(ValueError, match="journal size must not be negative"):
        Settings(journal_size=-1)
    with pytest.raises(ValueError, match="MEMMOCK_JOURNAL_BYTES must be an integer"):
        Settings.from_env({"MEMMOCK_JOURNAL_BYTES": "8MiB"})
    with serve("--journal-size", "2", "--journal-body-bytes", "4") as running:
        for limit in (1, 2, 3):
            httpx.get(f"{running.url}/api/v1/memory", params={"limit": limit}, headers=VAI)
        entries = httpx.get(f"{running.url}/_mock/requests").json()["requests"]
    assert [e["query"] for e in entries] == ["limit=3", "limit=2"]
    assert entries[0]["response"]["body"]["content"] == '{"me'


def test_headers_sent_as_any_iterable_of_pairs_are_journaled() -> None:
    # The journal packs header lists with marshal, which takes lists and tuples of byte strings; an
    # app or plugin may hand the server any iterable of pairs (ASGI allows it).
    from mock_server.journal import Journal
    from mock_server.routes import RouteTable

    journal = Journal(Settings(), RouteTable([]))
    scope = {"method": "GET", "path": "/x", "query_string": b"a=1", "headers": {b"host": b"h"}.items()}
    start = {"type": "http.response.start", "status": 204, "headers": {b"x-reply": b"yes"}.items()}
    journal.record(scope, "default", 0.0, start, b"", 0)
    [view] = journal.views(journal.select(journal.query(namespace=None)))
    assert (view["query"], view["status"], view["request"]["headers"], view["response"]["headers"]) == (
        "a=1", 204, {"host": "h"}, {"x-reply": "yes"})
