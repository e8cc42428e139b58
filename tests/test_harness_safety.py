"""The safety gate and ledger (no server): what the spec makes a create, what the run may touch, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from contract_tests.client import INTERRUPTS, Exchange, Refused, WriteGuard, guarded_httpx_client
from contract_tests.safety import Contract, Safety, minimal_body
from tests.paths import ROOT

CONTRACT = Contract()
T = "http://target.invalid"
AUTH = {"Authorization": "Api-Token k"}
IBL = "/api/ai-mentor/orgs/main/users/johndoe"
PROFILE = f"{IBL}/ai-user-profile-memory/"
ARTIFACTS = f"{IBL}/artifacts/"


def safety(destructive: bool = False, answers: dict[str, Any] | None = None) -> Safety:
    """A Safety whose snapshot GETs are answered from ``answers`` (path -> JSON; others 404)."""
    s = Safety(T, CONTRACT, destructive, {"ibl": AUTH, "virtuousai": {"Authorization": "Bearer v"}})

    def handler(request: httpx.Request) -> httpx.Response:
        body = (answers or {}).get(request.url.path)
        return httpx.Response(200, json=body) if body is not None else httpx.Response(404, json={"detail": "Not found."})

    s._probe = httpx.Client(base_url=T, transport=httpx.MockTransport(handler))
    return s


def answer(method: str, path: str, status: int, body: Any, sent: Any = None) -> Exchange:
    return Exchange(method, T + path, dict(AUTH), json.dumps(sent).encode() if sent is not None else None, status,
                    {"content-type": "application/json"}, json.dumps(body).encode())


def test_creators_come_from_the_specs_links() -> None:
    """Every POST whose success links to a DELETE is a create; profile memory is an upsert keyed by tag."""
    creators = {op: (c.delete.operation_id, c.key) for op, c in CONTRACT.creators.items()}
    assert creators == {
        "ai_prompt_orgs_users_all_chats_memory_create": ("ai_prompt_orgs_users_all_chats_memory_destroy2", None),
        "ai_mentor_orgs_users_ai_user_profile_memory_create": ("ai_mentor_orgs_users_ai_user_profile_memory_destroy",
                                                                "tag"),
        "ai_mentor_orgs_users_artifacts_create": ("ai_mentor_orgs_users_artifacts_destroy", None),
        "ai_analytics_orgs_users_chat_history_create": ("ai_analytics_orgs_users_chat_history_destroy", None),
        "create_memory": ("delete_memory", None),
    }
    owner = CONTRACT.owner(CONTRACT.by_id["ai_mentor_orgs_users_artifacts_versions_set_current_create"])
    assert owner is not None and owner[0].op.operation_id == "ai_mentor_orgs_users_artifacts_create"
    assert CONTRACT.owner(CONTRACT.by_id["ai_mentor_orgs_users_edx_memory_destroy"]) is None


def test_tracker_records_what_creates_answer_and_a_2xx_delete_forgets_it() -> None:
    """201 with an id and the 200 upsert by tag are recorded; a DELETE's 404 does not prove the object gone."""
    s = safety()
    s.track(answer("POST", ARTIFACTS, 201, {"id": 41, "title": "x"}))
    s.track(answer("POST", PROFILE, 200, {"tag": "a b/é", "detail": "x"}, {"tag": "a b/é", "detail": "x"}))
    s.track(answer("POST", ARTIFACTS, 400, {"title": ["required"]}))
    assert [o.path for o in s.owned.values()] == [f"{ARTIFACTS}41/", f"{PROFILE}a%20b%2F%C3%A9/"]
    s.track(answer("DELETE", f"{ARTIFACTS}41/?search=zzz", 404, {"detail": "Not found."}))
    assert s.owns_live(f"{ARTIFACTS}41/")
    s.track(answer("DELETE", f"{ARTIFACTS}41/", 204, None))
    assert not s.owns_live(f"{ARTIFACTS}41/")


def test_objects_of_others_are_refused() -> None:
    """PUT/PATCH/DELETE on an id the run did not create never leave; on its own objects they do."""
    s = safety()
    with pytest.raises(Refused, match="did not create: needs --allow-destructive"):
        s.gate("PATCH", f"{T}{ARTIFACTS}1/", AUTH, b"{}")
    with pytest.raises(Refused, match="no operation creates"):
        s.gate("DELETE", f"{T}{IBL}/edx-memory/1/", AUTH, None)
    s.record(f"{ARTIFACTS}7/", AUTH)
    s.gate("PATCH", f"{T}{ARTIFACTS}7/", AUTH, b"{}")
    s.gate("POST", f"{T}{ARTIFACTS}7/versions/set-current/", AUTH, b'{"version_id": 3}')
    safety(destructive=True).gate("DELETE", f"{T}{ARTIFACTS}1/", AUTH, None)


def test_upserts_never_overwrite_or_strand() -> None:
    """A tag that existed before the run, or one its DELETE could not address, is refused."""
    s = safety(answers={PROFILE: [{"tag": "favorite-animal", "detail": "cat"}]})
    body = {"Content-Type": "application/json", **AUTH}
    for tag, reason in (("favorite-animal", "existed before the run"), (" favorite-animal ", "existed before the run"),
                        ("", "could not remove"), ("a/b", "could not remove"), ("..", "could not remove")):
        with pytest.raises(Refused, match=reason):
            s.gate("POST", T + PROFILE, body, json.dumps({"tag": tag, "detail": "x"}).encode())
    s.gate("POST", T + PROFILE, body, json.dumps({"tag": "new one", "detail": "x"}).encode())
    s.track(answer("POST", PROFILE, 200, {"tag": "favorite-animal", "detail": "x"}))  # e.g. --allow-destructive
    assert not s.owned


def test_settings_are_put_back_or_refused() -> None:
    """chat-memory-status is snapshotted for restore; refused when none exists; custom-instruction PUT refused."""
    status = "/api/ai-prompt/orgs/main/users/johndoe/chat-memory-status/"
    s = safety(answers={status: {"id": 1, "enabled": True, "username": "johndoe"}})
    s.gate("PUT", T + status, AUTH, b'{"enabled": false}')
    assert s.restores[status][2] == {"enabled": True}
    with pytest.raises(Refused, match="would get one"):
        safety().gate("PUT", T + status, AUTH, b'{"enabled": false}')
    with pytest.raises(Refused, match="updated_at"):
        s.gate("PUT", f"{T}{IBL}/custom-instruction/", AUTH, b"{}")


def test_backfill_is_confined_to_the_runs_memories() -> None:
    """The window starts at the organization's count before the run's first write there."""
    s = safety(answers={"/api/v1/memory": {"total": 30, "memories": []}})
    vai = {"Authorization": "Bearer v"}
    assert s.window("backfill_entities", vai) == {"offset": 30}
    with pytest.raises(Refused, match=r"offset 29 < 30"):
        s.gate("POST", f"{T}/api/v1/memory/backfill-entities?offset=29", vai, None)
    s.gate("POST", f"{T}/api/v1/memory/backfill-entities?offset=30&limit=5", vai, None)


def test_minimal_body_is_tagged_and_valid_in_shape() -> None:
    """Required fields filled, tenant fields from the path's org and user, strings carry the label."""
    schema = CONTRACT.by_id["ai_analytics_orgs_users_chat_history_create"].raw["requestBody"]["content"][
        "application/json"]["schema"]
    body = minimal_body(schema, "memmock-check-x", "main", "johndoe")
    assert body["platform"] == "main" and body["topics"] == [] and body["title"] == "memmock-check-x"
    assert len(body["mentor"]) == 36 and set(schema["required"]) <= set(body)


def test_a_signal_waits_for_the_write_in_flight_to_be_tracked() -> None:
    """SIGINT during an unsafe request: the answer is tracked first, then KeyboardInterrupt."""
    tracked: list[int] = []
    guard = WriteGuard(tracker=lambda exchange: tracked.append(exchange.status))

    def handler(request: httpx.Request) -> httpx.Response:
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the request is in flight
        return httpx.Response(201, json={"id": 1})

    client = guarded_httpx_client(guard, T, transport=httpx.MockTransport(handler))
    INTERRUPTS.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            client.post("/api/v1/memory", json={"content": "x"})
        assert tracked == [201]
        with INTERRUPTS.shielded():
            os.kill(os.getpid(), signal.SIGTERM)  # ignored: cleanup goes on
    finally:
        INTERRUPTS.uninstall()


LINELESS_INTERRUPT = """
import contextlib
import types


def interrupted():
    with contextlib.nullcontext():
        raise KeyboardInterrupt("SIGINT")


def test_interrupted():
    try:
        interrupted()
    except KeyboardInterrupt as exc:
        inner = exc.__traceback__.tb_next
        offset = next(start for start, _, line in interrupted.__code__.co_lines() if line is None)
        raise exc.with_traceback(types.TracebackType(None, inner.tb_frame, offset, -1))
"""


def test_a_run_interrupted_on_a_lineless_instruction_ends_interrupted(tmp_path: Path) -> None:
    """With the harness's hooks, pytest reports such an interrupt and exits 2 (alone, it crashes: exit 1)."""
    (tmp_path / "test_lineless.py").write_text(LINELESS_INTERRUPT)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           "-p", "contract_tests.conftest", str(tmp_path / "test_lineless.py")],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "KeyboardInterrupt: SIGINT" in output and "TypeError" not in output, output


def test_a_key_holding_the_run_tag_is_the_runs_own() -> None:
    """A DELETE of a never-created key that carries the run's tag may go out (it cannot name an older object)."""
    from contract_tests.safety import Contract, Safety

    safety = Safety("http://target.invalid", Contract(), False, {}, run_tag="memmock-check-0123abcd")
    base = "http://target.invalid/api/ai-mentor/orgs/main/users/u/ai-user-profile-memory/"
    assert safety.refusal("DELETE", base + "memmock-check-0123abcd-3/", {}, None) is None
    assert "did not create" in (safety.refusal("DELETE", base + "favorite-animal/", {}, None) or "")
