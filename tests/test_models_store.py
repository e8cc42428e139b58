"""The store: credentials, load/export/reset, document checks, default fixtures, determinism."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from mock_server.clock import FixedClock
from mock_server.errors import InvalidRequest, Style, render
from mock_server.store import DEFAULT_FIXTURES, IblPrincipal, Store, VaiPrincipal

UTC = timezone.utc
DEV = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
OTHER = "3f2c9e8a-51d4-4b7e-9a06-c1d2e3f4a5b6"


def test_default_fixture_tokens(store):
    creds = store.credentials
    assert creds.ibl("dev-ibl-admin-main-0001") == IblPrincipal("main", "admin", True)
    john = creds.ibl("dev-ibl-user-johndoe-0001")
    assert john == IblPrincipal("main", "johndoe", False)
    assert creds.ibl("dev-ibl-user-janedoe-0001") == IblPrincipal("main", "janedoe", False)
    assert creds.ibl("dev-ibl-admin-acme-0001") == IblPrincipal("acme", "acme-admin", True)
    assert creds.ibl("nope") is None and creds.vai("nope") is None
    assert creds.vai("dev-vai-virtuous-dev-0001") == VaiPrincipal(DEV, "Virtuous Dev")
    assert creds.vai("dev-vai-other-org-0001") == VaiPrincipal(OTHER, "Other Org")


def test_reach_rules(store):
    creds = store.credentials
    admin = creds.ibl("dev-ibl-admin-main-0001")
    john = creds.ibl("dev-ibl-user-johndoe-0001")
    assert creds.ibl_can_reach(john, "main", "johndoe")
    assert not creds.ibl_can_reach(john, "main", "janedoe")
    assert not creds.ibl_can_reach(john, "acme", "johndoe")
    assert creds.ibl_can_reach(admin, "main", "janedoe") and creds.ibl_can_reach(admin, "main", "anyone")
    assert not creds.ibl_can_reach(admin, "acme", "acme-admin")


def test_default_fixture_counts(store):
    assert store.chat_memory.get_status("main", "johndoe") == {"id": 1, "username": "johndoe",
                                                                "platform_key": "main", "enabled": True}
    assert store.chat_memory.retrieve_newest("main", "johndoe")["id"] == 4
    assert len(store.chat_memory.list_entries("main", "johndoe")) == 3
    assert [p["tag"] for p in store.profile_memory.list("main", "johndoe")] == [
        "favorite-animal", "learning-style", "profession"]
    ci = store.custom_instruction.get("main", "johndoe")
    assert ci["content"] == "Always explain concepts in simple terms with examples and analogies."
    assert (ci["created_at"], ci["updated_at"]) == ("2023-01-01T12:00:00Z", "2023-01-02T14:30:00Z")
    assert store.artifacts.list("main", "johndoe").count == 13
    assert store.artifacts.list("main", "janedoe").count == 2
    assert store.edx_memory.list("main", "johndoe").count == 3
    assert store.chat_history.count("main") == 42 and store.chat_history.count("acme") == 2
    mentors = {c["mentor"] for c in store.chat_history.list("main", page_size="100").results}
    assert len(mentors) == 2
    days = {c["inserted_at"][:10] for c in store.chat_history.list("main", page_size="100").results}
    assert len(days) == 21
    assert store.vai_memory.count(DEV) == 30 and store.vai_memory.count(OTHER) == 5
    assert len(DEFAULT_FIXTURES.read_text().splitlines()) < 2000


def test_export_round_trip_is_equal_and_json(store):
    store.artifacts.create("main", "johndoe", {"title": "new"})
    store.chat_history.create("main", "johndoe", {"topics": [], "mentor": DEV, "model": "m", "platform": "p"})
    store.vai_memory.create(DEV, "fresh")
    exported = store.export()
    json.dumps(exported)
    other = Store(clock=FixedClock(datetime(2030, 1, 1, tzinfo=UTC)))
    other.load(json.loads(json.dumps(exported)))
    assert other.export() == exported


def test_counters_continue_after_round_trip(store):
    a = store.artifacts.create("main", "johndoe", {"title": "x"})
    other = Store(clock=store.clock)
    other.load(store.export())
    b = other.artifacts.create("main", "johndoe", {"title": "y"})
    c = store.artifacts.create("main", "johndoe", {"title": "y"})
    assert b["id"] == c["id"] == a["id"] + 1
    assert b["session_id"] == c["session_id"] != a["session_id"]
    assert other.vai_memory.create(DEV, "z")["id"] == store.vai_memory.create(DEV, "z")["id"]


def test_reset_returns_to_the_loaded_document(store):
    store.custom_instruction.update("main", "johndoe", {"content": "changed"})
    store.vai_memory.create(DEV, "extra")
    store.chat_history.destroy("main", store.chat_history.list("main").results[0]["id"])
    store.reset()
    assert store.custom_instruction.get("main", "johndoe")["content"].startswith("Always explain")
    assert store.vai_memory.count(DEV) == 30 and store.chat_history.count("main") == 42
    assert Store().export()["ibl"]["artifacts"] == []


def test_determinism_same_fixtures_same_ids():
    def run() -> list:
        s = Store.from_file(clock=FixedClock(datetime(2024, 7, 1, tzinfo=UTC), timedelta(seconds=1)))
        return [
            s.artifacts.create("main", "johndoe", {"title": "t"}),
            s.chat_memory.schedule_update("main", "johndoe", {}),
            s.chat_history.create("main", "janedoe", {"topics": [], "mentor": DEV, "model": "m", "platform": "p"}),
            s.vai_memory.create(DEV, "x"),
            s.edx_memory.upsert("main", "johndoe", 1, "course-v1:new+X+1", {}),
        ]
    assert run() == run()
    assert Store(seed=1).vai_memory.create(DEV, "x")["id"] != Store(seed=2).vai_memory.create(DEV, "x")["id"]


def test_from_json_file(tmp_path, store):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(store.export()))
    assert Store.from_file(path, clock=store.clock).export() == store.export()


@pytest.mark.parametrize("document, field", [
    ([], ()),
    ({"bogus": 1}, ("bogus",)),
    ({"version": 2}, ("version",)),
    ({"tokens": {"ibl": [{"key": "k", "org": "main"}]}}, ("tokens", "ibl", 0, "username")),
    ({"tokens": {"vai": [{"key": "k", "organization_id": "not-a-uuid"}]}}, ("tokens", "vai", 0, "organization_id")),
    ({"ibl": {"artifacts": "nope"}}, ("ibl", "artifacts")),
    ({"ibl": {"chat_memory_status": [{"id": "1", "org": "main", "username": "u", "enabled": True}]}},
     ("ibl", "chat_memory_status", 0, "id")),
    ({"ibl": {"chat_history": [{"id": "3f2c9e8a-51d4-4b7e-9a06-c1d2e3f4a5b6", "org": "o", "student": "s",
                                "mentor": DEV, "inserted_at": "yesterday"}]}}, ("ibl", "chat_history", 0, "inserted_at")),
    ({"vai": {"memories": [{"id": DEV, "organizationId": DEV, "content": "x", "createdAt": "2024-01-01T00:00:00Z",
                            "extra": 1}]}}, ("vai", "memories", 0, "extra")),
    ({"ids": {"seed": -1}}, ("ids", "seed")),
])
def test_bad_documents_raise_invalid_request(document, field):
    store = Store()
    with pytest.raises(InvalidRequest) as info:
        store.load(document)
    names = [p.name for p in info.value.problems]
    assert field in names and all(p.location == "body" for p in info.value.problems)
    status, _ = render(info.value, Style.DRF)
    assert status == 400


def test_bad_document_leaves_state_alone(store):
    before = store.export()
    with pytest.raises(InvalidRequest):
        store.load({"ibl": {"artifacts": [{"id": 1}]}})
    assert store.export() == before
    store.reset()
    assert store.export()["ibl"]["chat_history"] == before["ibl"]["chat_history"]


def test_id_source_uuids_are_the_hashed_version_4_uuids() -> None:
    # The fast formatting must hand out exactly what uuid.UUID(bytes=..., version=4) would:
    # exported documents record the counter and reloads continue the same sequence.
    import hashlib
    import uuid

    from mock_server.models.common import IdSource

    for seed in (0, 7, 2**40):
        source = IdSource(seed)
        for n in range(300):
            digest = hashlib.blake2b(f"{seed}:{n}".encode(), digest_size=16).digest()
            assert source.uuid4() == str(uuid.UUID(bytes=digest, version=4))
