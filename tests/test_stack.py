"""A routed request passes every layer's operation object, in order, whatever the settings."""

from __future__ import annotations

from typing import Any

from connexion.middleware.response_validation import ResponseValidationOperation
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.dispatch import DirectOperation
from mock_server.faults import FaultMiddleware
from mock_server.settings import Settings
from mock_server.stack import IndexedRoutingMiddleware, LeanSecurityOperation, PreparedRequestValidation, linked

DELETE_MEMORY = ("/api/v1", "mock_server.api.vai_memory.delete_memory")


def chain(settings: Settings) -> list[Any]:
    """The objects a routed DELETE /api/v1/memory/{id} passes after routing, outermost first."""
    app = create_app(settings)
    # connexion builds its middleware stack on first use; the admin plane answers a loopback Host
    TestClient(app, base_url="http://127.0.0.1").get("/_mock/health")
    routing = next(m for m in app.middleware.middleware_stack if isinstance(m, IndexedRoutingMiddleware))
    out, layer = [], linked(routing.next_app, *DELETE_MEMORY)
    while layer is not None and len(out) < 10:
        out.append(layer)
        layer = getattr(layer, "next_app", None) if not isinstance(layer, FaultMiddleware) else None
    return out


def test_default_chain_is_security_then_validation_then_the_handler() -> None:
    kinds = [type(layer) for layer in chain(Settings(fixtures=None))]
    assert kinds == [LeanSecurityOperation, PreparedRequestValidation, DirectOperation]


def test_strict_mode_validates_the_response_before_the_handler_runs() -> None:
    kinds = [type(layer) for layer in chain(Settings(fixtures=None, strict=True))]
    assert kinds == [LeanSecurityOperation, PreparedRequestValidation, ResponseValidationOperation, DirectOperation]


def test_a_fault_layer_ends_the_chain_so_it_still_sees_every_request() -> None:
    kinds = [type(layer) for layer in chain(Settings(fixtures=None, fault="delete-noop"))]
    assert kinds == [FaultMiddleware]


def test_the_linked_chain_answers_as_the_stack_does() -> None:
    client = TestClient(create_app(Settings()))
    headers = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
    created = client.post("/api/v1/memory", json={"content": "to delete"}, headers=headers).json()
    assert client.delete(f"/api/v1/memory/{created['id']}").status_code == 401  # security is on the way
    assert client.delete("/api/v1/memory/not-a-uuid", headers=headers).status_code == 422  # validation too
    assert client.delete(f"/api/v1/memory/{created['id']}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/memory/{created['id']}", headers=headers).status_code == 404
