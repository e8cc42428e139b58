"""The /_mock admin plane: health, reset, export, import, appended messages."""

from __future__ import annotations

import copy
import uuid

from starlette.testclient import TestClient

from tests.api.conftest import JOHN, analytics, ibl, mentor, vai


def test_health(client: TestClient) -> None:
    r = client.get("/_mock/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert {a["name"] for a in body["apis"]} == {"ibl", "virtuousai", "admin"}
    for api in body["apis"]:
        assert client.get(api["spec"]).status_code == 200


def test_reset_restores_the_fixtures(client: TestClient) -> None:
    client.delete(mentor("artifacts/1/"), headers=ibl(JOHN))
    client.post("/api/v1/memory", headers=vai(), json={"content": "x"})
    assert client.get(mentor("artifacts/1/"), headers=ibl(JOHN)).status_code == 404
    r = client.post("/_mock/reset", headers={"Content-Type": "application/json"})
    assert r.status_code == 204 and r.content == b""
    assert client.get(mentor("artifacts/1/"), headers=ibl(JOHN)).status_code == 200
    assert client.get("/api/v1/memory", headers=vai()).json()["total"] == 30


def test_export_import_round_trip(client: TestClient) -> None:
    exported = client.get("/_mock/state")
    assert exported.status_code == 200
    document = exported.json()
    assert document["version"] == 1 and len(document["ibl"]["artifacts"]) == 16
    # Change the state, then import the earlier document: the change is gone.
    client.post(mentor("artifacts/"), headers=ibl(JOHN), json={"title": "temp"})
    assert client.put("/_mock/state", json=document).status_code == 204
    assert client.get("/_mock/state").json() == document
    assert client.get(mentor("artifacts/"), headers=ibl(JOHN)).json()["count"] == 13


def test_import_replaces_state_and_reset_returns_to_it(client: TestClient) -> None:
    document = client.get("/_mock/state").json()
    smaller = copy.deepcopy(document)
    smaller["ibl"]["artifacts"] = [a for a in smaller["ibl"]["artifacts"] if a["id"] == 1]
    smaller["vai"]["memories"] = smaller["vai"]["memories"][:3]
    assert client.put("/_mock/state", json=smaller).status_code == 204
    assert client.get(mentor("artifacts/"), headers=ibl(JOHN)).json()["count"] == 1
    client.delete(mentor("artifacts/1/"), headers=ibl(JOHN))
    client.post("/_mock/reset", headers={"Content-Type": "application/json"})
    # Reset goes back to the last imported document, not to the original fixtures.
    assert client.get(mentor("artifacts/"), headers=ibl(JOHN)).json()["count"] == 1


def test_import_can_revoke_tokens(client: TestClient) -> None:
    document = client.get("/_mock/state").json()
    document["tokens"]["ibl"] = [t for t in document["tokens"]["ibl"] if t["username"] != "johndoe"]
    assert client.put("/_mock/state", json=document).status_code == 204
    r = client.get(mentor("artifacts/"), headers=ibl(JOHN))
    assert r.status_code == 401 and r.json() == {"detail": "Invalid token."}


def test_import_bad_document_400_keeps_the_state(client: TestClient) -> None:
    r = client.put("/_mock/state", json={"version": 2, "users": "nope"})
    assert r.status_code == 400
    assert isinstance(r.json()["detail"], dict) and "version" in r.json()["detail"]
    assert client.get(mentor("artifacts/"), headers=ibl(JOHN)).json()["count"] == 13
    r = client.put("/_mock/state", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["detail"].startswith("JSON parse error - ")


def test_append_messages_errors(client: TestClient) -> None:
    missing = client.post(f"/_mock/ibl/orgs/main/chat-history/{uuid.uuid4()}/messages",
                          json={"messages": [{"type": "human", "content": "x"}]})
    assert missing.status_code == 404
    cid = client.get(analytics("chat-history/"), headers=ibl()).json()["results"][0]["id"]
    bad = client.post(f"/_mock/ibl/orgs/main/chat-history/{cid}/messages",
                      json={"messages": [{"type": "robot", "content": "x"}]})
    assert bad.status_code == 400
    r = client.post(f"/_mock/ibl/orgs/main/chat-history/{cid}/messages", json={})
    assert r.status_code == 400
