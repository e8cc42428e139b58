"""The route table places every request where connexion's Starlette router would, or declines."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from connexion.middleware.abstract import ROUTING_CONTEXT
from connexion.middleware.routing import RoutingMiddleware
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mock_server.app import APIS, create_app, load_spec
from mock_server.routes import Routed
from mock_server.settings import Settings
from mock_server.stack import IndexedRoutingMiddleware

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
SAMPLES = ["main", "johndoe", "1", "42", "-3", "007", "users", "artifacts", "a b", "ü", "x.y", "%2F",
           "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f", "versions", "set-current", "tasks", ""]


@pytest.fixture(scope="module")
def routing() -> IndexedRoutingMiddleware:
    app = create_app(Settings(fixtures=None))
    # connexion builds its middleware stack on first use; the admin plane answers a loopback Host
    TestClient(app, base_url="http://127.0.0.1").get("/_mock/health")
    return next(m for m in app.middleware.middleware_stack if isinstance(m, IndexedRoutingMiddleware))


def starlette_decision(routing: IndexedRoutingMiddleware, method: str, path: str) -> Routed | None:
    """Where connexion's own router sends the request (None: not to an operation)."""
    seen: list[dict[str, Any]] = []

    async def capture(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    async def ignore(message: Any) -> None:
        return None

    scope = {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b"",
             "headers": [], "extensions": {}}
    original, routing.next_app = routing.next_app, capture
    try:
        try:
            asyncio.run(RoutingMiddleware.__call__(routing, scope, None, ignore))
        except Exception:  # a 404/405/redirect is raised or answered: no operation
            return None
    finally:
        routing.next_app = original
    if not seen or not seen[0].get("extensions", {}).get(ROUTING_CONTEXT, {}).get("operation_id"):
        return None
    context = seen[0]["extensions"][ROUTING_CONTEXT]
    return Routed(context["api_base_path"], context["operation_id"], dict(seen[0].get("path_params", {})))


def documented_paths() -> list[tuple[str, str]]:
    """Every documented operation's method and path template, with its API's base path."""
    out = []
    for api in APIS:
        spec = load_spec(api.name)
        base = spec["servers"][0]["url"].rstrip("/")
        for path, item in spec["paths"].items():
            for method in item:
                if method.upper() in METHODS:
                    out.append((method.upper(), base + path))
    return out


def fill(template: str, values: list[str]) -> str:
    parts = template.split("/")
    it = iter(values)
    return "/".join(next(it, "x") if p.startswith("{") else p for p in parts)


def test_every_documented_operation_is_found_as_starlette_finds_it(routing: IndexedRoutingMiddleware) -> None:
    table = routing._table
    assert table is not None
    operations = documented_paths()
    assert len(operations) == 45
    for method, template in operations:
        for values in (["main", "johndoe", "1", "2"], ["acme", "a.b", "42", "7"]):
            path = fill(template, values)
            found = table.find(method, path)
            assert found is not None, (method, path)
            assert found == starlette_decision(routing, method, path), (method, path)
        # An id that is not an integer where the spec wants one: neither routes it to the operation.
        path = fill(template, ["5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f"] * 4)
        assert table.find(method, path) == starlette_decision(routing, method, path), (method, path)


@settings(max_examples=400, deadline=None, database=None)
@given(template=st.sampled_from([t for _, t in documented_paths()]), method=st.sampled_from(METHODS),
       values=st.lists(st.sampled_from(SAMPLES) | st.text(max_size=6), min_size=4, max_size=4),
       tweak=st.sampled_from(["", "drop-slash", "add-slash", "extra", "double-slash", "prefix"]))
def test_table_agrees_with_starlette_or_declines(routing: IndexedRoutingMiddleware, template: str, method: str,
                                                 values: list[str], tweak: str) -> None:
    path = fill(template, values)
    path = {"": path, "drop-slash": path.rstrip("/"), "add-slash": path + "/", "extra": path + "x/",
            "double-slash": path.replace("/", "//", 1), "prefix": "/v2" + path}[tweak]
    table = routing._table
    assert table is not None
    found = table.find(method, path)
    if found is not None:  # when it answers, it answers as Starlette does
        assert found == starlette_decision(routing, method, path), (method, path)
    else:  # when it declines, Starlette finds no operation either
        assert starlette_decision(routing, method, path) is None, (method, path)
