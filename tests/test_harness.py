"""Unit tests of the harness's safety and evidence pieces (no server needed)."""

from __future__ import annotations

import httpx
import pytest

from contract_tests.client import (
    Exchange, GuardedSession, ReadOnlyViolation, WriteBudgetExhausted, WriteGuard, curl_command, guarded_httpx_client,
)
from contract_tests.specs import lenient_parameters, load_contract
from contract_tests.validate import SpecViolation, match_operation, validate_exchange


def _client(guard: WriteGuard, sent: list[str]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        return httpx.Response(204)

    # The guard wraps the transport: a refused request never reaches the handler.
    return guarded_httpx_client(guard, "http://target.invalid", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_read_only_refuses_before_sending(method: str) -> None:
    """Read-only: an unsafe request raises in the guard and never reaches the transport."""
    sent: list[str] = []
    client = _client(WriteGuard(read_only=True), sent)
    with pytest.raises(ReadOnlyViolation):
        client.request(method, "/api/v1/memory")
    assert sent == []
    client.get("/api/v1/memory")
    assert sent == ["GET"]


def test_read_only_guards_the_schemathesis_session_too() -> None:
    """The requests session schemathesis sends with goes through the same guard."""
    session = GuardedSession(WriteGuard(read_only=True))
    with pytest.raises(ReadOnlyViolation):
        session.post("http://target.invalid/api/v1/memory", json={})


def test_max_writes_counts_unsafe_requests_only() -> None:
    """--max-writes: GETs are free, the cap'th+1 write is refused, cleanups may go past the cap."""
    sent: list[str] = []
    guard = WriteGuard(max_writes=2)
    client = _client(guard, sent)
    client.get("/x")
    client.post("/x")
    client.delete("/x")
    with pytest.raises(WriteBudgetExhausted):
        client.post("/x")
    client.request("DELETE", "/x", extensions={"memmock_cleanup": True})
    assert sent == ["GET", "POST", "DELETE", "DELETE"]
    assert guard.writes == 3 and guard.refused == 1


def test_curl_command_is_replayable() -> None:
    """The reproduction keeps method, URL, auth header and body, quoted for a shell."""
    cmd = curl_command("PUT", "http://h/a b/", {"Authorization": "Api-Token k", "User-Agent": "x"}, b'{"enabled": true}')
    assert cmd == "curl -sS -X PUT 'http://h/a b/' -H 'Authorization: Api-Token k' --data-raw '{\"enabled\": true}'"


def test_lenient_parameters_are_page_and_page_size() -> None:
    """The ibl spec marks exactly DRF's page and page_size as lenient."""
    assert lenient_parameters(load_contract("ibl")) == {"page", "page_size"}


def test_operation_matching_prefers_literal_paths() -> None:
    """set-current is its own operation, not versions/{version_id}."""
    op = match_operation("POST", "http://h/api/ai-mentor/orgs/o/users/u/artifacts/1/versions/set-current/")
    assert op is not None and op.operation_id == "ai_mentor_orgs_users_artifacts_versions_set_current_create"
    assert match_operation("GET", "http://h/_mock/health") is None


def _status_exchange(body: bytes) -> Exchange:
    return Exchange("GET", "http://h/api/ai-prompt/orgs/main/users/u/chat-memory-status/", {}, None, 200,
                    {"content-type": "application/json"}, body)


def test_openapi_core_validation_catches_a_wrong_type() -> None:
    """A conformant body passes; an id sent as a string is a SpecViolation naming the operation."""
    good = b'{"id": 1, "username": "u", "platform_key": "main", "enabled": true}'
    assert validate_exchange(_status_exchange(good)).operation_id == "ai_prompt_orgs_users_chat_memory_status_retrieve"
    with pytest.raises(SpecViolation, match="chat_memory_status_retrieve"):
        validate_exchange(_status_exchange(good.replace(b'"id": 1', b'"id": "1"')))
