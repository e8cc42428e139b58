"""VirtuousAI Memory API: memories per organization and the entity backfill."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import VAI_DEV_ORG, VAI_OTHER, VAI_OTHER_ORG, vai


def test_list_defaults_newest_first_with_total(client: TestClient) -> None:
    r = client.get("/api/v1/memory", headers=vai())
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 30 and len(body["memories"]) == 30
    keys = [(m["createdAt"], m["id"]) for m in body["memories"]]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    assert all(m["organizationId"] == VAI_DEV_ORG for m in body["memories"])
    other = client.get("/api/v1/memory", headers=vai(VAI_OTHER)).json()
    assert other["total"] == 5 and all(m["organizationId"] == VAI_OTHER_ORG for m in other["memories"])


def test_limit_and_offset_window(client: TestClient) -> None:
    everything = client.get("/api/v1/memory", headers=vai(), params={"limit": 100}).json()["memories"]
    window = client.get("/api/v1/memory", headers=vai(), params={"limit": 7, "offset": 5}).json()
    assert window["total"] == 30 and window["memories"] == everything[5:12]
    past = client.get("/api/v1/memory", headers=vai(), params={"offset": 1000}).json()
    assert past == {"memories": [], "total": 30}
    assert len(client.get("/api/v1/memory", headers=vai(), params={"limit": 1}).json()["memories"]) == 1


@pytest.mark.parametrize(("params", "loc", "type_"), [
    ({"limit": "0"}, ["query", "limit"], "greater_than_equal"),
    ({"limit": "101"}, ["query", "limit"], "less_than_equal"),
    ({"limit": "abc"}, ["query", "limit"], "int_parsing"),
    ({"offset": "-1"}, ["query", "offset"], "greater_than_equal"),
])
def test_out_of_range_window_422(client: TestClient, params: dict, loc: list, type_: str) -> None:
    r = client.get("/api/v1/memory", headers=vai(), params=params)
    assert r.status_code == 422
    (item,) = r.json()["detail"]
    assert item["type"] == type_ and item["loc"] == loc and item["msg"]
    assert item["input"] == next(iter(params.values()))


def test_limit_bounds_in_ctx(client: TestClient) -> None:
    item = client.get("/api/v1/memory", headers=vai(), params={"limit": "101"}).json()["detail"][0]
    assert item["msg"] == "Input should be less than or equal to 100" and item["ctx"] == {"le": 100}


def test_create_get_delete(client: TestClient, clock) -> None:
    clock.advance(timedelta(days=1))
    r = client.post("/api/v1/memory", headers=vai(), json={"content": "Likes tea."})
    assert r.status_code == 201
    mem = r.json()
    uuid.UUID(mem["id"])
    assert mem == {"id": mem["id"], "content": "Likes tea.", "createdAt": "2024-07-02T12:00:00Z",
                   "organizationId": VAI_DEV_ORG, "source": "explicit", "sourceThreadId": None,
                   "sourceTurnId": None}
    listed = client.get("/api/v1/memory", headers=vai(), params={"limit": 1}).json()
    assert listed == {"memories": [mem], "total": 31}
    assert client.get(f"/api/v1/memory/{mem['id']}", headers=vai()).json() == mem
    d = client.delete(f"/api/v1/memory/{mem['id']}", headers=vai())
    assert d.status_code == 204 and d.content == b""
    gone = client.get(f"/api/v1/memory/{mem['id']}", headers=vai())
    assert gone.status_code == 404 and gone.json() == {"detail": "Memory not found"}
    assert client.delete(f"/api/v1/memory/{mem['id']}", headers=vai()).json() == {"detail": "Memory not found"}
    assert client.get("/api/v1/memory", headers=vai()).json()["total"] == 30


def test_create_with_own_organization_id(client: TestClient) -> None:
    r = client.post("/api/v1/memory", headers=vai(), json={"content": "x", "organizationId": VAI_DEV_ORG})
    assert r.status_code == 201 and r.json()["organizationId"] == VAI_DEV_ORG
    r = client.post("/api/v1/memory", headers=vai(), json={"content": "y", "organizationId": None})
    assert r.status_code == 201


def test_create_with_foreign_organization_id_403(client: TestClient) -> None:
    r = client.post("/api/v1/memory", headers=vai(), json={"content": "x", "organizationId": VAI_OTHER_ORG})
    assert r.status_code == 403 and r.json() == {"detail": "Not allowed for this organization"}
    assert client.get("/api/v1/memory", headers=vai(VAI_OTHER)).json()["total"] == 5


def test_create_validation_422(client: TestClient) -> None:
    r = client.post("/api/v1/memory", headers=vai(), json={})
    assert r.status_code == 422
    assert r.json()["detail"] == [{"type": "missing", "loc": ["body", "content"], "msg": "Field required",
                                   "input": None}]
    r = client.post("/api/v1/memory", headers=vai(), json={"content": 5, "organizationId": "nope"})
    locs = sorted(tuple(d["loc"]) for d in r.json()["detail"])
    assert r.status_code == 422 and locs == [("body", "content"), ("body", "organizationId")]


def test_another_organizations_memory_is_not_found(client: TestClient) -> None:
    foreign = client.get("/api/v1/memory", headers=vai(VAI_OTHER)).json()["memories"][0]["id"]
    for method in ("GET", "DELETE"):
        r = client.request(method, f"/api/v1/memory/{foreign}", headers=vai())
        assert r.status_code == 404 and r.json() == {"detail": "Memory not found"}
    assert client.get(f"/api/v1/memory/{foreign}", headers=vai(VAI_OTHER)).status_code == 200


def test_non_uuid_memory_id_422(client: TestClient) -> None:
    for method in ("GET", "DELETE"):
        r = client.request(method, "/api/v1/memory/not-a-uuid", headers=vai())
        assert r.status_code == 422
        (item,) = r.json()["detail"]
        assert item["type"] == "uuid_parsing" and item["loc"] == ["path", "memory_id"]
        assert item["input"] == "not-a-uuid" and item["msg"].startswith("Input should be a valid UUID")


def test_backfill_walks_to_the_end(client: TestClient) -> None:
    # The fixtures mark some of the 30 memories backfilled already; count them through the first pass.
    seen = processed = skipped = 0
    offset = 0
    calls = 0
    while True:
        r = client.post("/api/v1/memory/backfill-entities", headers=vai(),
                        params={"limit": 7, "offset": offset, "chunk_size": 3})
        assert r.status_code == 200
        b = r.json()
        calls += 1
        assert b["limit"] == 7 and b["offset"] == offset and b["failed"] == 0
        assert b["examined"] == b["processed"] + b["skipped"] + b["failed"]
        assert b["nextOffset"] == offset + b["examined"]
        assert b["hasMore"] == (b["nextOffset"] < 30)
        seen += b["examined"]
        processed += b["processed"]
        skipped += b["skipped"]
        offset = b["nextOffset"]
        if not b["hasMore"]:
            break
    assert calls == 5 and seen == 30 and offset == 30 and processed + skipped == 30
    assert skipped > 0 and processed > 0
    # A second pass finds everything marked.
    again = client.post("/api/v1/memory/backfill-entities", headers=vai(), params={"limit": 50}).json()
    assert again == {"examined": 30, "processed": 0, "skipped": 30, "failed": 0, "nextOffset": 30,
                     "hasMore": False, "limit": 50, "offset": 0}
    past = client.post("/api/v1/memory/backfill-entities", headers=vai(), params={"offset": 40}).json()
    assert past["examined"] == 0 and past["nextOffset"] == 40 and past["hasMore"] is False


def test_backfill_defaults_and_bounds(client: TestClient) -> None:
    b = client.post("/api/v1/memory/backfill-entities", headers=vai()).json()
    assert b["limit"] == 20 and b["offset"] == 0 and b["examined"] == 20 and b["hasMore"] is True
    for params in ({"limit": 51}, {"limit": 0}, {"chunk_size": 11}, {"chunk_size": 0}, {"offset": -1}):
        r = client.post("/api/v1/memory/backfill-entities", headers=vai(), params=params)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", next(iter(params))]


def test_an_offset_beyond_64_bits_is_answered_not_a_server_error(client):
    """FastAPI takes any int; the echo of a huge offset must still serialise (orjson refuses > 64 bits)."""
    huge = 10**20
    r = client.post(f"/api/v1/memory/backfill-entities?offset={huge}", headers={"Authorization": "Bearer dev-vai-virtuous-dev-0001"})
    assert r.status_code == 200
    assert r.json() == {"examined": 0, "processed": 0, "skipped": 0, "failed": 0, "nextOffset": huge,
                        "hasMore": False, "limit": 20, "offset": huge}
    r = client.get(f"/api/v1/memory?offset={huge}", headers={"Authorization": "Bearer dev-vai-virtuous-dev-0001"})
    assert r.status_code == 200 and r.json()["memories"] == []
