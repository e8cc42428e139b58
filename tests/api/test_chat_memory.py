"""ai-prompt: all-chats-memory and chat-memory-status through HTTP."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api.conftest import JANE, JOHN, ibl, prompt

SESSION = "0f8fad5b-d9cb-469f-a165-70867728950e"
# The client's model requires both in every all-chats-memory body; the path decides the owner.
OWNER = {"username": "johndoe", "platform_key": "main"}


def test_all_chats_memory_get_answers_the_newest_entry_as_one_object(client: TestClient) -> None:
    r = client.get(prompt("all-chats-memory/"), headers=ibl(JOHN))
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body, dict)
    assert body["id"] == 4 and body["username"] == "johndoe" and body["platform_key"] == "main"
    assert body["content"] == "Learns best from analogies to cooking."


def test_all_chats_memory_create_becomes_the_newest(client: TestClient, clock) -> None:
    from datetime import timedelta

    clock.advance(timedelta(minutes=1))
    r = client.post(prompt("all-chats-memory/"), headers=ibl(JOHN),
                    json={"content": "Likes puzzles.", "session_id": SESSION, "username": "ignored",
                          "platform_key": "elsewhere"})
    assert r.status_code == 201
    created = r.json()
    assert created["content"] == "Likes puzzles." and created["session_id"] == SESSION
    assert created["username"] == "johndoe" and created["platform_key"] == "main"
    assert created["id"] > 4
    newest = client.get(prompt("all-chats-memory/"), headers=ibl(JOHN)).json()
    assert newest == created


def test_all_chats_memory_get_404_for_a_user_without_entries(client: TestClient) -> None:
    r = client.get(prompt("all-chats-memory/", user="alice"), headers=ibl())
    assert r.status_code == 404
    assert r.json() == {"detail": "Not found."}


def test_all_chats_memory_put_collection_schedules_a_task(client: TestClient, store) -> None:
    before = len(store.chat_memory.tasks)
    r = client.put(prompt("all-chats-memory/"), headers=ibl(JOHN), json={**OWNER, "content": "refresh"})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"task_id", "message"}
    import uuid

    uuid.UUID(body["task_id"])
    assert body["message"]
    assert len(store.chat_memory.tasks) == before + 1
    assert store.chat_memory.tasks[-1].task_id == body["task_id"]


def test_all_chats_memory_update_one_then_get_shows_it(client: TestClient) -> None:
    r = client.put(prompt("all-chats-memory/4/"), headers=ibl(JOHN),
                   json={**OWNER, "content": "Changed.", "session_id": None})
    assert r.status_code == 200
    assert r.json()["content"] == "Changed." and r.json()["session_id"] is None and r.json()["id"] == 4
    assert client.get(prompt("all-chats-memory/"), headers=ibl(JOHN)).json()["content"] == "Changed."


def test_all_chats_memory_delete_one_twice_then_404(client: TestClient) -> None:
    r = client.delete(prompt("all-chats-memory/4/"), headers=ibl(JOHN))
    assert r.status_code == 204 and r.content == b""
    assert client.get(prompt("all-chats-memory/"), headers=ibl(JOHN)).json()["id"] != 4
    again = client.delete(prompt("all-chats-memory/4/"), headers=ibl(JOHN))
    assert again.status_code == 404 and again.json() == {"detail": "Not found."}


def test_all_chats_memory_foreign_and_absent_ids_404(client: TestClient) -> None:
    # An admin may reach janedoe's path, but johndoe's memory id is not janedoe's.
    for path in (prompt("all-chats-memory/1/", user="janedoe"), prompt("all-chats-memory/999/")):
        assert client.delete(path, headers=ibl()).json() == {"detail": "Not found."}
        r = client.put(path, headers=ibl(), json={**OWNER, "content": "x"})
        assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    # The id still exists for its owner.
    assert client.put(prompt("all-chats-memory/1/"), headers=ibl(JOHN), json={**OWNER, "content": "x"}).status_code == 200


def test_all_chats_memory_delete_collection(client: TestClient) -> None:
    assert client.delete(prompt("all-chats-memory/"), headers=ibl(JOHN)).status_code == 204
    assert client.get(prompt("all-chats-memory/"), headers=ibl(JOHN)).status_code == 404
    assert client.delete(prompt("all-chats-memory/"), headers=ibl(JOHN)).status_code == 404


def test_all_chats_memory_bad_fields_400(client: TestClient) -> None:
    r = client.post(prompt("all-chats-memory/"), headers=ibl(JOHN), json={**OWNER, "content": 5, "session_id": "nope"})
    assert r.status_code == 400
    assert r.json() == {"content": ["Not a valid string."], "session_id": ["Must be a valid UUID."]}


def test_all_chats_memory_writes_require_username_and_platform_key(client: TestClient) -> None:
    """Required in the client's model, so a DRF serializer answers 400 without them."""
    required = {"username": ["This field is required."], "platform_key": ["This field is required."]}
    for method, path in (("POST", "all-chats-memory/"), ("PUT", "all-chats-memory/"), ("PUT", "all-chats-memory/4/")):
        r = client.request(method, prompt(path), headers=ibl(JOHN), json={"content": "no owner"})
        assert (r.status_code, r.json()) == (400, required), f"{method} {path}"
    assert client.get(prompt("all-chats-memory/"), headers=ibl(JOHN)).json()["content"] != "no owner"


def test_all_chats_memory_non_integer_memory_id_is_not_found(client: TestClient) -> None:
    r = client.delete(prompt("all-chats-memory/abc/"), headers=ibl(JOHN))
    assert r.status_code in (400, 404)
    assert r.status_code < 500


def test_chat_memory_status_get_before_put_404_then_put_upserts(client: TestClient) -> None:
    path = prompt("chat-memory-status/", user="alice")
    r = client.get(path, headers=ibl())
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    created = client.put(path, headers=ibl(), json={"enabled": True})
    assert created.status_code == 200
    body = created.json()
    assert body["username"] == "alice" and body["platform_key"] == "main" and body["enabled"] is True
    assert client.get(path, headers=ibl()).json() == body
    updated = client.put(path, headers=ibl(), json={"enabled": False}).json()
    assert updated == {**body, "enabled": False}
    assert client.get(path, headers=ibl()).json()["enabled"] is False


def test_chat_memory_status_fixture_values(client: TestClient) -> None:
    assert client.get(prompt("chat-memory-status/"), headers=ibl(JOHN)).json() == {
        "id": 1, "username": "johndoe", "platform_key": "main", "enabled": True}
    assert client.get(prompt("chat-memory-status/", user="janedoe"), headers=ibl(JANE)).json()["enabled"] is False


def test_chat_memory_status_requires_enabled(client: TestClient) -> None:
    r = client.put(prompt("chat-memory-status/"), headers=ibl(JOHN), json={})
    assert r.status_code == 400 and r.json() == {"enabled": ["This field is required."]}
    r = client.put(prompt("chat-memory-status/"), headers=ibl(JOHN), json={"enabled": "maybe"})
    assert r.status_code == 400 and r.json() == {"enabled": ["Must be a valid boolean."]}
