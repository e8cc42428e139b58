"""Ids are never handed out twice: not after an import without counters, a reset, or a restart."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.clock import FixedClock
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store
from tests.api.conftest import ADMIN, JOHN, MENTOR_A, NOW, TESTSERVER, analytics, conversation_body, ibl, mentor, vai

SETTINGS = Settings(fixtures=None, strict=True, admin_hosts=TESTSERVER)
HISTORY = analytics("chat-history/")
ARTIFACTS = mentor("artifacts/")


@pytest.fixture
def client() -> Iterator[TestClient]:
    """A strict in-process mock with the default fixtures, on a fixed clock."""
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW))
    with TestClient(create_app(SETTINGS, store=store)) as test_client:
        yield test_client


def every_page(client: TestClient, path: str, headers: dict[str, str]) -> list[dict]:
    """Every item of a DRF-paginated list, page by page."""
    items, url = [], f"{path}?page_size=100"
    while url:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text[:200]
        items += r.json()["results"]
        url = r.json()["next"]
    return items


def memories(client: TestClient) -> list[dict]:
    """Every memory of the dev organization, newest first."""
    out: list[dict] = []
    while True:
        r = client.get(f"/api/v1/memory?limit=100&offset={len(out)}", headers=vai())
        assert r.status_code == 200, r.text[:200]
        page = r.json()["memories"]
        if not page:
            return out
        out += page


def assert_lists_and_export_are_consistent(client: TestClient, memory_total: int, conversation_total: int) -> None:
    """Each list holds each id once, with the expected totals; the export too."""
    mems = memories(client)
    assert len(mems) == len({m["id"] for m in mems}) == memory_total
    assert client.get("/api/v1/memory", headers=vai()).json()["total"] == memory_total
    convs = every_page(client, HISTORY, ibl(ADMIN))
    assert len(convs) == len({c["id"] for c in convs}) == conversation_total
    arts = every_page(client, ARTIFACTS, ibl(JOHN))
    assert len(arts) == len({a["id"] for a in arts})
    r = client.get("/_mock/state")
    assert r.status_code == 200
    state = r.json()
    for family in (state["vai"]["memories"], state["ibl"]["chat_history"], state["ibl"]["artifacts"]):
        ids = [item["id"] for item in family]
        assert len(ids) == len(set(ids))


def create_some(client: TestClient, n: int) -> tuple[list[str], list[str]]:
    """``n`` memories and ``n`` conversations: their ids."""
    mems = [client.post("/api/v1/memory", headers=vai(), json={"content": f"m{i}"}).json()["id"] for i in range(n)]
    convs = [client.post(HISTORY, headers=ibl(ADMIN), json=conversation_body()).json()["id"] for _ in range(n)]
    return mems, convs


def test_import_without_a_uuid_counter_never_reuses_a_stored_id(client: TestClient) -> None:
    first_mems, first_convs = create_some(client, 5)
    document = client.get("/_mock/state").json()
    del document["ids"]["uuid_counter"]  # the shape fixtures/default.yaml has: ids: {seed: 0}
    assert client.put("/_mock/state", json=document).status_code == 204
    stored = {m["id"] for m in memories(client)} | {c["id"] for c in every_page(client, HISTORY, ibl(ADMIN))}
    mems, convs = create_some(client, 5)
    assert not (set(mems) | set(convs)) & stored
    assert_lists_and_export_are_consistent(client, 30 + 10, 42 + 10)
    for mid in mems[:2] + first_mems[:2]:
        assert client.delete(f"/api/v1/memory/{mid}", headers=vai()).status_code == 204
    for cid in convs[:2] + first_convs[:2]:
        assert client.delete(f"{HISTORY}{cid}/", headers=ibl(ADMIN)).status_code == 204
    assert_lists_and_export_are_consistent(client, 30 + 6, 42 + 6)


def test_import_without_any_counters_continues_above_the_stored_integer_ids(client: TestClient) -> None:
    document = client.get("/_mock/state").json()
    document["ids"] = {"seed": document["ids"]["seed"]}
    assert client.put("/_mock/state", json=document).status_code == 204
    created = client.post(ARTIFACTS, headers=ibl(JOHN), json={"title": "after import"}).json()
    assert created["id"] == 17  # the fixtures hold artifacts 1..16
    assert_lists_and_export_are_consistent(client, 30, 42)


def test_a_reset_does_not_hand_out_ids_again(client: TestClient) -> None:
    before_mems, before_convs = create_some(client, 3)
    before_artifact = client.post(ARTIFACTS, headers=ibl(JOHN), json={"title": "a"}).json()["id"]
    assert client.post("/_mock/reset", headers={"Content-Type": "application/json"}).status_code == 204
    mems, convs = create_some(client, 3)
    artifact = client.post(ARTIFACTS, headers=ibl(JOHN), json={"title": "b"}).json()["id"]
    assert not set(mems) & set(before_mems) and not set(convs) & set(before_convs)
    assert artifact == before_artifact + 1
    assert_lists_and_export_are_consistent(client, 33, 45)
    # The data is the fixtures' again: only the counters stay ahead.
    assert client.get(f"{HISTORY}{before_convs[0]}/", headers=ibl(ADMIN)).status_code == 404


def test_a_restart_hands_out_new_uuids_unless_the_seed_is_pinned() -> None:
    def first_memory(settings: Settings) -> str:
        with TestClient(create_app(settings)) as c:
            return c.post("/api/v1/memory", headers=vai(), json={"content": "x"}).json()["id"]

    unpinned = Settings(strict=True)
    assert first_memory(unpinned) != first_memory(unpinned)
    pinned = Settings(strict=True, seed=7)
    assert first_memory(pinned) == first_memory(pinned)


def test_the_seed_of_a_served_mock_wins_over_the_document(tmp_path) -> None:
    document = Store.from_file(DEFAULT_FIXTURES).export()
    document["ids"] = {"seed": 0}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(document))
    with TestClient(create_app(Settings(strict=True, fixtures=path, seed=7, admin_hosts=TESTSERVER))) as c:
        assert c.get("/_mock/state").json()["ids"]["seed"] == 7
        made = c.post("/api/v1/memory", headers=vai(), json={"content": "x"}).json()["id"]
    assert made == Store(seed=7).vai_memory.create("o", "x")["id"]


def test_reloading_an_export_into_a_fresh_store_continues_its_sequence() -> None:
    # The library keeps its determinism: same document, same calls, same ids.
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW))
    store.vai_memory.create("7bc05553-4b68-44e8-b7bc-37be63c6d9e9", "a")
    copy_of = Store(clock=FixedClock(NOW))
    copy_of.load(copy.deepcopy(store.export()))
    org = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
    assert copy_of.vai_memory.create(org, "b")["id"] == store.vai_memory.create(org, "b")["id"]
    assert copy_of.chat_history.create("main", "johndoe", conversation_body(mentor=MENTOR_A))["id"] == \
        store.chat_history.create("main", "johndoe", conversation_body(mentor=MENTOR_A))["id"]
