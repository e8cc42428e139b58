"""VirtuousAI memories: list order, create, get/delete, tenant separation, backfill."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from mock_server.clock import FixedClock
from mock_server.errors import NotFound, PermissionDenied, Style, render
from mock_server.store import Store

DEV = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
OTHER = "3f2c9e8a-51d4-4b7e-9a06-c1d2e3f4a5b6"


def test_create_get_delete(empty):
    vm = empty.vai_memory
    mem = vm.create(DEV, "likes tea")
    assert mem == {"id": mem["id"], "content": "likes tea", "createdAt": "2024-07-01T12:00:00Z",
                   "organizationId": DEV, "source": "explicit", "sourceThreadId": None, "sourceTurnId": None}
    assert uuid.UUID(mem["id"]).version == 4
    assert vm.get(DEV, mem["id"].upper()) == mem
    with pytest.raises(NotFound) as info:
        vm.get(OTHER, mem["id"])
    assert render(info.value, Style.FASTAPI) == (404, {"detail": "Memory not found"})
    with pytest.raises(NotFound):
        vm.delete(OTHER, mem["id"])
    vm.delete(DEV, mem["id"])
    with pytest.raises(NotFound):
        vm.get(DEV, mem["id"])
    with pytest.raises(NotFound):
        vm.delete(DEV, mem["id"])


def test_create_for_another_org_is_forbidden(empty):
    assert empty.vai_memory.create(DEV, "ok", organization_id=DEV.upper())["organizationId"] == DEV
    with pytest.raises(PermissionDenied) as info:
        empty.vai_memory.create(DEV, "no", organization_id=OTHER)
    assert render(info.value, Style.FASTAPI) == (403, {"detail": "Not allowed for this organization"})
    assert empty.vai_memory.list(DEV)["total"] == 1


def test_list_newest_first_ties_by_id_with_limit_offset(empty, clock):
    clock.step = timedelta(0)
    same = sorted(empty.vai_memory.create(DEV, f"m{i}")["id"] for i in range(3))
    clock.advance(timedelta(minutes=1))
    newest = empty.vai_memory.create(DEV, "newest")["id"]
    empty.vai_memory.create(OTHER, "elsewhere")
    listed = empty.vai_memory.list(DEV)
    assert [m["id"] for m in listed["memories"]] == [newest, *same] and listed["total"] == 4
    part = empty.vai_memory.list(DEV, limit=2, offset=1)
    assert [m["id"] for m in part["memories"]] == same[:2] and part["total"] == 4
    assert empty.vai_memory.list(DEV, limit=10, offset=10) == {"memories": [], "total": 4}


def test_fixture_counts(store):
    assert store.vai_memory.list(DEV, limit=100)["total"] == 30
    assert store.vai_memory.list(OTHER)["total"] == 5
    first = store.vai_memory.list(DEV, limit=100)["memories"]
    assert [m["createdAt"] for m in first] == sorted((m["createdAt"] for m in first), reverse=True)


def test_backfill_to_the_end(store):
    # The fixtures mark the 3 oldest Virtuous Dev memories as already backfilled.
    vm = store.vai_memory
    first = vm.backfill(DEV, limit=20, offset=0, chunk_size=5)
    assert first == {"examined": 20, "processed": 17, "skipped": 3, "failed": 0, "nextOffset": 20,
                     "hasMore": True, "limit": 20, "offset": 0}
    second = vm.backfill(DEV, limit=20, offset=first["nextOffset"], chunk_size=3)
    assert second == {"examined": 10, "processed": 10, "skipped": 0, "failed": 0, "nextOffset": 30,
                      "hasMore": False, "limit": 20, "offset": 20}
    beyond = vm.backfill(DEV, limit=5, offset=30)
    assert beyond == {"examined": 0, "processed": 0, "skipped": 0, "failed": 0, "nextOffset": 30,
                      "hasMore": False, "limit": 5, "offset": 30}
    again = vm.backfill(DEV, limit=50, offset=0)
    assert (again["processed"], again["skipped"], again["hasMore"]) == (0, 30, False)
    assert vm.backfill(OTHER, limit=2)["processed"] == 2


def test_backfill_oldest_first_and_failures(empty, clock):
    vm = empty.vai_memory
    ids = [vm.create(DEV, f"m{i}")["id"] for i in range(6)]
    vm.fail_predicate = lambda mem: mem["content"] in ("m1", "m4")
    result = vm.backfill(DEV, limit=4, offset=0, chunk_size=2)
    assert (result["examined"], result["processed"], result["failed"], result["nextOffset"]) == (4, 3, 1, 4)
    assert result["hasMore"] is True
    vm.fail_predicate = None
    retry = vm.backfill(DEV, limit=50, offset=0)
    assert (retry["processed"], retry["skipped"], retry["failed"]) == (3, 3, 0)
    assert len(ids) == 6


def test_fail_predicate_survives_reset(store):
    store.vai_memory.fail_predicate = lambda mem: True
    store.reset()
    assert store.vai_memory.backfill(DEV, limit=3)["failed"] == 3



def test_many_memories_with_one_timestamp_keep_order_and_delete_exactly():
    """Bulk writes can give one createdAt to many memories: order is by id, and deletes find theirs."""
    org = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
    store = Store(clock=FixedClock(datetime(2024, 6, 1, tzinfo=timezone.utc)))  # the clock never moves
    ids = [store.vai_memory.create(org, f"m{n}")["id"] for n in range(400)]
    assert len({m for m in ids}) == 400
    listed = [m["id"] for n in range(4) for m in store.vai_memory.list(org, limit=100, offset=100 * n)["memories"]]
    assert listed == sorted(ids)  # newest first, ties by id ascending
    doomed = set(ids[::3])
    for memory_id in doomed:
        store.vai_memory.delete(org, memory_id)
    left = [m["id"] for n in range(4) for m in store.vai_memory.list(org, limit=100, offset=100 * n)["memories"]]
    assert left == sorted(set(ids) - doomed)
    assert store.vai_memory.list(org, limit=1)["total"] == 400 - len(doomed)
