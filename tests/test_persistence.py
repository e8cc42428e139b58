"""--state-file in-process: a restart gives back the same state byte for byte, whatever the writes were.

The mock is built twice on the same file (the first app closed in between, as a stopped server
leaves it); the exports (``GET /_mock/state``) of every namespace are compared as bytes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from mock_server.api import admin  # noqa: E402
from mock_server.app import create_app  # noqa: E402
from mock_server.persistence import plugin  # noqa: E402
from mock_server.persistence.log import CommandLog, log_path, next_log_path  # noqa: E402
from mock_server.persistence.records import frame  # noqa: E402
from mock_server.settings import Settings, StartupError  # noqa: E402

from tests.api.conftest import ADMIN, JOHN, analytics, conversation_body, ibl, mentor, prompt, vai  # noqa: E402

IBL, ADMIN_IBL, VAI = ibl(JOHN), ibl(ADMIN), vai()
HISTORY = analytics("chat-history/", user="johndoe")
SESSION = "0f8fad5b-d9cb-469f-a165-70867728950e"
JSON = {"Content-Type": "application/json"}  # what the admin plane's writes must say


def settings(path: Path, **changes: Any) -> Settings:
    """A mock kept in ``path``, its admin plane answering the test client's Host."""
    return Settings(state_file=path, seed=11, admin_hosts=("testserver",), **changes)


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "state.json"


@pytest.fixture
def running(state_file: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(state_file))) as client:
        yield client


def exports(client: TestClient, *namespaces: str) -> dict[str, bytes]:
    """Each namespace's whole state, as the bytes the admin plane sends."""
    found = {}
    for name in namespaces:
        headers = {"X-Memmock-Namespace": name} if name != "default" else {}
        response = client.get("/_mock/state", headers=headers)
        assert response.status_code == 200
        found[name] = response.content
    return found


def restarted(state_file: Path, *namespaces: str, **changes: Any) -> dict[str, bytes]:
    """The exports of a mock built anew on ``state_file``."""
    with TestClient(create_app(settings(state_file, **changes))) as client:
        return exports(client, *namespaces)


def ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200, 201, 204)), (response.status_code, response.text)
    return response.json() if response.content else None


def mixed_writes(client: TestClient, ns: dict[str, str]) -> None:
    """Every kind of write of both APIs and the admin plane, some failing, in the namespace ``ns`` names."""
    as_john, as_admin, as_vai = {**IBL, **ns}, {**ADMIN_IBL, **ns}, {**VAI, **ns}
    ok(client.put(prompt("chat-memory-status/"), headers=as_john, json={"enabled": False}))
    ok(client.put(prompt("chat-memory-status/"), headers=as_john, data={"enabled": "on"}))  # a form body
    memory = ok(client.post(prompt("all-chats-memory/"), headers=as_john, json={
        "content": "Likes puzzles.", "session_id": SESSION, "username": "johndoe", "platform_key": "main"}))
    ok(client.put(prompt(f"all-chats-memory/{memory['id']}/"), headers=as_john,
                  json={"username": "johndoe", "platform_key": "main", "content": "Likes chess."}))
    ok(client.post(prompt("all-chats-memory/"), headers=as_john, json={"content": 5, "session_id": "nope"}), 400)
    ok(client.post(mentor("ai-user-profile-memory/"), headers=as_john, json={"tag": "pet", "detail": "a cat"}))
    ok(client.delete(mentor("ai-user-profile-memory/favorite-animal/"), headers=as_john))
    ok(client.delete(mentor("ai-user-profile-memory/favorite-animal/"), headers=as_john), 404)
    ok(client.put(mentor("custom-instruction/"), headers=as_john, json={"mentor_tone": "formal"}))
    artifact = ok(client.post(mentor("artifacts/"), headers=as_john, json={"title": "Notes", "content": "draft"}))
    ok(client.put(mentor(f"artifacts/{artifact['id']}/"), headers=as_john, json={"title": "Notes v2"}))
    ok(client.patch(mentor(f"artifacts/{artifact['id']}/"), headers=as_john, json={"content": "second draft"}))
    ok(client.post(mentor("artifacts/3/versions/set-current/"), headers=as_john, json={"version_id": 4}))
    ok(client.delete(mentor("artifacts/1/"), headers=as_john))
    ok(client.delete(mentor("edx-memory/1/"), headers=as_john), 204, 404)
    conversation = ok(client.post(HISTORY, headers=as_admin, json=conversation_body()))
    ok(client.patch(HISTORY + f"{conversation['id']}/", headers=as_admin, json={"is_shared": True}))
    ok(client.post(f"/_mock/ibl/orgs/main/chat-history/{conversation['id']}/messages", headers=ns,
                   json={"messages": [{"type": "human", "content": "hi"}, {"type": "ai", "content": "hello"}]}))
    ids = [ok(client.post("/api/v1/memory", headers=as_vai, json={"content": f"fact {i}"}))["id"] for i in range(5)]
    ok(client.delete(f"/api/v1/memory/{ids[1]}", headers=as_vai))
    ok(client.post("/api/v1/memory", headers=as_vai, json={}), 422)
    ok(client.post("/api/v1/memory/backfill-entities", headers=as_vai, params={"limit": 3}))


def test_a_restart_gives_the_same_state_byte_for_byte(state_file: Path, running: TestClient) -> None:
    mixed_writes(running, {})
    mixed_writes(running, {"X-Memmock-Namespace": "team-a"})
    before = exports(running, "default", "team-a")
    running.app.persistence.close()  # type: ignore[attr-defined]
    assert restarted(state_file, "default", "team-a") == before
    # ... and again, from the restarted mock's own files.
    assert restarted(state_file, "default", "team-a") == before


def test_reset_import_and_a_dropped_namespace_come_back_as_they_were(state_file: Path, running: TestClient) -> None:
    b = {"X-Memmock-Namespace": "b"}
    ok(running.post("/api/v1/memory", headers={**VAI, **b}, json={"content": "in b"}))
    document = ok(running.get("/_mock/state", headers=b))
    document["vai"]["memories"] = document["vai"]["memories"][:3]
    ok(running.put("/_mock/state", headers={"X-Memmock-Namespace": "c"}, json=document))
    ok(running.post("/api/v1/memory", headers={**VAI, "X-Memmock-Namespace": "c"}, json={"content": "in c"}))
    ok(running.post("/api/v1/memory", headers=VAI, json={"content": "in default"}))
    ok(running.post("/_mock/reset", headers=JSON))
    ok(running.delete("/_mock/namespaces/b", headers=JSON))
    ok(running.post("/_mock/reset", headers={**JSON, "X-Memmock-Namespace": "c"}))  # to the import, not the fixtures
    before = exports(running, "default", "c")
    listed = [n["name"] for n in ok(running.get("/_mock/namespaces"))["namespaces"]]
    running.app.persistence.close()  # type: ignore[attr-defined]
    with TestClient(create_app(settings(state_file))) as client:
        assert exports(client, "default", "c") == before
        assert [n["name"] for n in ok(client.get("/_mock/namespaces"))["namespaces"]] == listed
        # What a reset returns to came back too: c's import, the default's fixtures.
        ok(client.post("/api/v1/memory", headers={**VAI, "X-Memmock-Namespace": "c"}, json={"content": "later"}))
        ok(client.post("/_mock/reset", headers={**JSON, "X-Memmock-Namespace": "c"}))
        again, then = json.loads(exports(client, "c")["c"]), json.loads(before["c"])
        assert again.pop("ids")["uuid_counter"] == then.pop("ids")["uuid_counter"] + 1  # ids handed out stay so
        assert again == then


# No fixtures: a small snapshot, so that a few writes pass it and compact the log.
SMALL = {"compact_bytes": 3000, "fixtures": None, "auth": "open"}


def test_compaction_writes_a_snapshot_and_empties_the_log(state_file: Path) -> None:
    with TestClient(create_app(settings(state_file, **SMALL))) as client:
        for i in range(40):
            ok(client.post("/api/v1/memory", headers=VAI, json={"content": f"fact {i}"}))
            ok(client.post("/api/v1/memory", headers={**VAI, "X-Memmock-Namespace": "n"}, json={"content": f"{i}"}))
        before = exports(client, "default", "n")
    snapshot = json.loads(state_file.read_bytes())
    assert snapshot["seq"] > 40 and [n["name"] for n in snapshot["namespaces"]] == ["default", "n"]
    assert log_path(state_file).stat().st_size < 3000 + len(state_file.read_bytes())  # only what came since
    assert restarted(state_file, "default", "n", **SMALL) == before


@pytest.mark.parametrize("cut_short", ["snapshot", "retire"])
def test_a_compaction_cut_short_loses_nothing(state_file: Path, cut_short: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The snapshot never written (or written, the logs not yet swapped): startup reads both logs."""
    def fails(*args: Any) -> None:
        raise OSError(5, "Input/output error")

    with TestClient(create_app(settings(state_file, **SMALL))) as client:
        if cut_short == "snapshot":
            monkeypatch.setattr(plugin, "write_atomically", fails)
        else:
            monkeypatch.setattr(CommandLog, "_retire", fails)
        for i in range(40):
            ok(client.post("/api/v1/memory", headers=VAI, json={"content": f"fact {i}"}))
        before = exports(client, "default")
    assert next_log_path(state_file).exists()  # the writes after the rotation went on into it
    monkeypatch.undo()
    assert restarted(state_file, "default", **SMALL) == before
    assert not next_log_path(state_file).exists()  # one log again, after a snapshot at startup
    assert restarted(state_file, "default", **SMALL) == before


def test_an_import_whose_client_leaves_still_becomes_a_command(state_file: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """granian cancels a request whose client went away; an import cancelled after it swapped the state in
    (while the old one is freed) still writes its command, so later writes replay on the imported state."""
    app = create_app(settings(state_file))
    with TestClient(app) as client:
        document = ok(client.get("/_mock/state"))
        document["vai"]["memories"] = document["vai"]["memories"][:2]
        freeing = threading.Event()
        retire = admin._retire

        def slow_retire(replaced: list[Any]) -> None:
            freeing.set()
            time.sleep(0.3)
            retire(replaced)

        monkeypatch.setattr(admin, "_retire", slow_retire)

        async def leave_during_the_import() -> None:
            body = json.dumps(document).encode()
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT",
                     "scheme": "http", "path": "/_mock/state", "raw_path": b"/_mock/state", "root_path": "",
                     "query_string": b"", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
                     "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                                 (b"content-length", str(len(body)).encode())]}
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive() -> dict[str, Any]:
                return messages.pop() if messages else {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                pass

            request = asyncio.ensure_future(app(scope, receive, send))
            while not freeing.is_set():
                await asyncio.sleep(0.01)
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request

        client.portal.call(leave_during_the_import)  # type: ignore[union-attr]
        ok(client.post("/api/v1/memory", headers=VAI, json={"content": "after the import"}))
        before = exports(client, "default")
    assert len(json.loads(before["default"])["vai"]["memories"]) == 3
    assert restarted(state_file, "default") == before


def test_a_torn_last_record_is_dropped_with_a_warning(state_file: Path, running: TestClient,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    ok(running.post("/api/v1/memory", headers=VAI, json={"content": "kept"}))
    before = exports(running, "default")
    running.app.persistence.close()  # type: ignore[attr-defined]
    log = log_path(state_file)
    whole = log.stat().st_size
    with log.open("ab") as handle:  # a write cut off by the crash: half a record
        handle.write(frame({"seq": 2, "ns": "default", "op": "x"})[:30])
    with caplog.at_level(logging.WARNING, logger="memmock"):
        assert restarted(state_file, "default") == before
    torn = [r.getMessage() for r in caplog.records if "torn last record" in r.getMessage()]
    assert len(torn) == 1 and f"at byte {whole}" in torn[0]
    assert log.stat().st_size == whole  # cut off, so the next records follow whole ones


def test_a_damaged_record_in_the_middle_refuses_to_start(state_file: Path, running: TestClient) -> None:
    for i in range(3):
        ok(running.post("/api/v1/memory", headers=VAI, json={"content": f"fact {i}"}))
    running.app.persistence.close()  # type: ignore[attr-defined]
    log = log_path(state_file)
    lines = log.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"fact 1", b"fact X")  # its checksum no longer matches
    log.write_bytes(b"".join(lines))
    with pytest.raises(StartupError) as raised:
        create_app(settings(state_file))
    message = str(raised.value)
    assert str(log) in message and f"at byte {len(lines[0])}" in message and "truncate -s" in message
    # It let go of the file: fixing it and starting again works.
    log.write_bytes(lines[0])
    restarted(state_file, "default")


def test_a_second_mock_on_the_same_file_is_refused(state_file: Path, running: TestClient) -> None:
    with pytest.raises(StartupError, match="another memmock is using it"):
        create_app(settings(state_file))


def test_the_seed_of_the_file_wins(state_file: Path, running: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    seed = ok(running.get("/_mock/state"))["ids"]["seed"]
    running.app.persistence.close()  # type: ignore[attr-defined]
    with caplog.at_level(logging.WARNING, logger="memmock"):
        with TestClient(create_app(settings(state_file).with_(seed=12))) as client:
            assert ok(client.get("/_mock/state"))["ids"]["seed"] == seed
    assert any("--seed 12 ignored" in r.getMessage() for r in caplog.records)


def test_a_file_that_is_no_state_file_is_refused_with_its_name(state_file: Path) -> None:
    state_file.write_text("{not json")
    with pytest.raises(StartupError, match=f"state file {state_file}: not a memmock state file"):
        create_app(settings(state_file))
    state_file.write_text('{"format": "something else"}')
    with pytest.raises(StartupError, match="not a memmock state file"):
        create_app(settings(state_file))


def test_a_log_without_its_snapshot_is_refused(state_file: Path, running: TestClient) -> None:
    ok(running.post("/api/v1/memory", headers=VAI, json={"content": "x"}))
    running.app.persistence.close()  # type: ignore[attr-defined]
    state_file.unlink()
    with pytest.raises(StartupError, match="is missing, but its log"):
        create_app(settings(state_file))


def test_fsync_never_still_keeps_every_write(state_file: Path) -> None:
    with TestClient(create_app(settings(state_file, fsync="never"))) as client:
        for i in range(5):
            ok(client.post("/api/v1/memory", headers=VAI, json={"content": f"fact {i}"}))
        before = exports(client, "default")
    assert restarted(state_file, "default") == before


def test_a_log_that_cannot_be_written_answers_503_and_changes_nothing(state_file: Path, running: TestClient,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    log = running.app.persistence.log  # type: ignore[attr-defined]

    def full(data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(log, "_write", full)
    r = running.post("/api/v1/memory", headers=VAI, json={"content": "never acknowledged"})
    assert r.status_code == 503 and "No space left on device" in r.json()["detail"]
    assert running.get("/api/v1/memory", headers=VAI).status_code == 503  # it would show the write the file lacks
    items = running.app.state.store.items.used  # type: ignore[attr-defined]
    r = running.post("/api/v1/memory", headers=VAI, json={"content": "refused before it runs"})
    assert r.status_code == 503
    assert running.app.state.store.items.used == items  # type: ignore[attr-defined]
