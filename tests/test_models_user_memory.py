"""ai-prompt chat memory and status, profile memory, custom instruction, downloads."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from mock_server.errors import NonFieldError, NotFound, Style, render


def test_all_chats_memory_create_and_newest(empty):
    cm = empty.chat_memory
    with pytest.raises(NotFound):
        cm.retrieve_newest("main", "johndoe")
    a = cm.create("main", "johndoe", {"content": "one", "session_id": "550E8400-E29B-41D4-A716-446655440000"})
    b = cm.create("main", "johndoe", {"content": None})
    assert a == {"id": 1, "username": "johndoe", "platform_key": "main", "content": "one",
                 "session_id": "550e8400-e29b-41d4-a716-446655440000"}
    assert b["id"] == 2 and b["session_id"] is None
    assert cm.retrieve_newest("main", "johndoe") == b
    with pytest.raises(NotFound):
        cm.retrieve_newest("main", "janedoe")


def test_all_chats_memory_newest_ties_by_id(empty, clock):
    clock.step = timedelta(0)
    empty.chat_memory.create("main", "u", {"content": "a"})
    second = empty.chat_memory.create("main", "u", {"content": "b"})
    assert empty.chat_memory.retrieve_newest("main", "u") == second


def test_all_chats_memory_update_and_delete_one(empty):
    cm = empty.chat_memory
    mine = cm.create("main", "johndoe", {"content": "x"})
    other = cm.create("main", "janedoe", {"content": "y"})
    assert cm.update_one("main", "johndoe", mine["id"], {"content": "z"})["content"] == "z"
    for call in (lambda: cm.update_one("main", "johndoe", other["id"], {"content": "no"}),
                 lambda: cm.destroy_one("main", "johndoe", other["id"]),
                 lambda: cm.destroy_one("main", "johndoe", 999),
                 lambda: cm.destroy_one("acme", "janedoe", other["id"])):
        with pytest.raises(NotFound):
            call()
    cm.destroy_one("main", "johndoe", mine["id"])
    with pytest.raises(NotFound):
        cm.destroy_one("main", "johndoe", mine["id"])
    assert cm.retrieve_newest("main", "janedoe")["content"] == "y"


def test_all_chats_memory_destroy_all(empty):
    cm = empty.chat_memory
    with pytest.raises(NotFound):
        cm.destroy_all("main", "johndoe")
    cm.create("main", "johndoe", {"content": "x"})
    cm.create("main", "johndoe", {"content": "y"})
    cm.destroy_all("main", "johndoe")
    with pytest.raises(NotFound):
        cm.retrieve_newest("main", "johndoe")


def test_schedule_update_records_a_task(empty):
    answer = empty.chat_memory.schedule_update("main", "johndoe", {"content": "new"})
    assert answer["message"] == "Chat memory update scheduled."
    assert uuid.UUID(answer["task_id"]).version == 4
    assert empty.chat_memory.tasks[-1].task_id == answer["task_id"]


def test_memory_status_404_then_upsert(empty):
    cm = empty.chat_memory
    with pytest.raises(NotFound):
        cm.get_status("main", "johndoe")
    first = cm.put_status("main", "johndoe", True)
    assert first == {"id": 1, "username": "johndoe", "platform_key": "main", "enabled": True}
    assert cm.put_status("main", "johndoe", False) == {**first, "enabled": False}
    assert cm.get_status("main", "johndoe")["enabled"] is False
    assert cm.put_status("main", "janedoe", True)["id"] == 2


def test_profile_memory(empty):
    pm = empty.profile_memory
    assert pm.list("main", "johndoe") == []
    assert pm.upsert("main", "johndoe", "zeta", "last") == {"tag": "zeta", "detail": "last"}
    pm.upsert("main", "johndoe", "alpha", "first")
    pm.upsert("main", "johndoe", "zeta", None)
    assert pm.list("main", "johndoe") == [{"tag": "alpha", "detail": "first"}, {"tag": "zeta", "detail": None}]
    assert pm.list("main", "janedoe") == []
    with pytest.raises(NotFound):
        pm.destroy("main", "janedoe", "alpha")
    pm.destroy("main", "johndoe", "alpha")
    with pytest.raises(NotFound):
        pm.destroy("main", "johndoe", "alpha")


def test_custom_instruction_lifecycle_and_timestamps(empty, clock):
    ci = empty.custom_instruction
    with pytest.raises(NotFound):
        ci.get("main", "johndoe")
    with pytest.raises(NotFound):
        ci.update("main", "johndoe", {"content": "x"})
    created = ci.create("main", "johndoe", {"content": "Be brief."})
    assert created == {"id": 1, "username": "johndoe", "platform_key": "main", "content": "Be brief.",
                       "about_user": None, "mentor_tone": None, "profession": "", "desired_mentor_traits": "",
                       "created_at": "2024-07-01T12:00:00Z", "updated_at": "2024-07-01T12:00:00Z"}
    with pytest.raises(NonFieldError) as info:
        ci.create("main", "johndoe", {"content": "again"})
    assert render(info.value, Style.DRF) == (400, {"non_field_errors": ["Custom instruction already exists for this user."]})
    clock.advance(timedelta(days=1))
    updated = ci.update("main", "johndoe", {"mentor_tone": "warm"})
    assert updated["id"] == 1 and updated["created_at"] == created["created_at"]
    assert updated["updated_at"] == "2024-07-02T12:00:01Z"
    assert updated["content"] == "Be brief." and updated["mentor_tone"] == "warm"
    assert ci.get("main", "johndoe") == updated
    with pytest.raises(NotFound):
        ci.get("acme", "johndoe")


def test_downloads(store):
    known = store.downloads.get("main", "johndoe", "4B3F2A1C-9D8E-4F7A-B6C5-D4E3F2A1B0C9")
    assert known == {"type": "ai", "content": "Here is your chat history export.", "timestamp": "2024-06-21T12:00:00Z"}
    assert store.downloads.get("main", "johndoe", str(uuid.uuid4())) == {"state": "task_not_ready"}
    assert store.downloads.get("main", "janedoe", "4b3f2a1c-9d8e-4f7a-b6c5-d4e3f2a1b0c9") == {"state": "task_not_ready"}
    assert store.downloads.get("main", "johndoe", "not-a-uuid") == {"state": "task_not_ready"}
