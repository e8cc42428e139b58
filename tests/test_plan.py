"""Each operation's plan: compiled once, from the spec, with the stages its settings ask for."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from connexion.exceptions import NonConformingResponse
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.app import APIS, create_app, load_spec
from mock_server.plan import OperationPlan, Plugin, ResponseCheck
from mock_server.security import Authenticator
from mock_server.settings import Settings
from mock_server.store import Store

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
DELETE_MEMORY = "mock_server.api.vai_memory.delete_memory"
IMPORT_STATE = "mock_server.api.admin.import_state"
HEALTH = "mock_server.api.admin.health"


def plan(settings: Settings, operation_id: str) -> OperationPlan:
    app = create_app(settings, store=Store())
    return next(p for p in app.plans if p.operation_id == operation_id)


def test_every_operation_of_the_specs_has_one_plan() -> None:
    app = create_app(Settings(fixtures=None), store=Store())
    keys = [(p.base_path, p.method, p.path) for p in app.plans]
    documented = [(api.base_path, method.upper(), path) for api in APIS
                  for path, item in load_spec(api.name)["paths"].items() for method in item if method in METHODS]
    assert sorted(keys) == sorted(documented) and len(set(keys)) == len(keys)


def test_a_secured_operation_authenticates_then_validates_then_calls_its_handler() -> None:
    delete = plan(Settings(fixtures=None), DELETE_MEMORY)
    assert isinstance(getattr(delete.authenticate, "__self__", None), Authenticator)
    assert [p["name"] for p in delete.parameters.parameters] == ["memory_id"]
    assert delete.body is None and delete.response_check is None
    assert delete.run.__wrapped__ == delete.serve  # only the built-in behaviour plugin wraps it


def test_the_admin_plane_is_open_to_its_locks_only_and_reads_bodies() -> None:
    imported = plan(Settings(fixtures=None), IMPORT_STATE)
    assert imported.authenticate(scope={}) is None
    assert imported.body is not None and "application/json" in imported.body.consumes


def test_strict_mode_adds_the_response_check() -> None:
    assert isinstance(plan(Settings(fixtures=None, strict=True), DELETE_MEMORY).response_check, ResponseCheck)


def _send_through(check: ResponseCheck, body: bytes) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def reply() -> None:
        checked = check.wrap({"type": "http"}, send)
        await checked({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await checked({"type": "http.response.body", "body": body})

    asyncio.run(reply())
    return sent


def test_the_response_check_stops_a_nonconforming_reply_before_anything_is_sent() -> None:
    check = plan(Settings(fixtures=None, strict=True), HEALTH).response_check
    assert check is not None
    good = orjson.dumps({"status": "ok", "version": "1", "apis": []})
    assert [m["type"] for m in _send_through(check, good)] == ["http.response.start", "http.response.body"]
    with pytest.raises(NonConformingResponse):
        _send_through(check, b'{"status": 1}')


class BreaksHealth(Plugin):
    """A plugin that answers health with a reply the spec does not allow."""

    def around(self, plan: OperationPlan, app: ASGIApp) -> ASGIApp:
        if plan.operation_id != HEALTH:
            return app

        async def broken(scope: Scope, receive: Receive, send: Send) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"status": 1}'})

        return broken


@pytest.mark.parametrize("strict", [False, True])
def test_a_plugin_wraps_the_whole_run_so_its_replies_get_past_strict_mode(strict: bool) -> None:
    app = create_app(Settings(fixtures=None, strict=strict), store=Store(), plugins=[BreaksHealth()])
    reply = TestClient(app, base_url="http://127.0.0.1").get("/_mock/health")
    assert (reply.status_code, reply.json()) == (200, {"status": 1})
