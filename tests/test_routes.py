"""The route table places every request where connexion's own router would, or declines.

The reference is a stock connexion app serving the same specs through its documented API: its
router, and a resolver that answers which operation it reached with which path parameters.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from connexion import AsyncApp, request
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.resolver import Resolver
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.convertors import register_url_convertor
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from mock_server.app import APIS, create_app, load_spec
from mock_server.routes import PathInteger, RouteTable
from mock_server.settings import Settings

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
SAMPLES = ["main", "johndoe", "1", "42", "-3", "007", "users", "artifacts", "a b", "ü", "x.y", "%2F",
           "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f", "versions", "set-current", "tasks", ""]
Decision = tuple[str, dict[str, Any]] | None  # (operation id, path parameters), or no operation


class DjangoIntegers:
    """Registers the mock's integer path convertor for the reference router's routes (built after this)."""

    def __init__(self, app: ASGIApp) -> None:
        register_url_convertor("int", PathInteger())
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _echo(operation_id: str) -> Any:
    def echo(*args: Any, **kwargs: Any) -> JSONResponse:
        return JSONResponse({"operation_id": operation_id, "path_params": dict(request.path_params)})

    return echo


@pytest.fixture(scope="module")
def table() -> RouteTable:
    return RouteTable(create_app(Settings(fixtures=None)).plans)


@pytest.fixture(scope="module")
def reference() -> AsyncApp:
    app = AsyncApp(__name__, middlewares=[ServerErrorMiddleware, ExceptionMiddleware, DjangoIntegers,
                                          RoutingMiddleware, ContextMiddleware, LifespanMiddleware])
    for api in APIS:
        spec = load_spec(api.name)
        spec["security"] = []
        app.add_api(spec, name=api.name, resolver=Resolver(function_resolver=_echo))
    return app


def decision(reference: AsyncApp, method: str, path: str) -> Decision:
    """Where connexion's own router sends the request (None: to no operation); any path, as a server decodes it."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "http_version": "1.1", "method": "GET" if method == "HEAD" else method, "path": path,
             "raw_path": path.encode("utf-8", "surrogateescape"), "root_path": "", "scheme": "http",
             "query_string": b"", "headers": [], "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
    asyncio.run(reference(scope, receive, send))
    if sent[0]["status"] != 200:
        return None
    found = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    return found["operation_id"], found["path_params"]


def ours(table: RouteTable, method: str, path: str) -> Decision:
    found = table.find(method, path)
    return None if found is None else (found.plan.operation_id, found.path_params)


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


def test_every_documented_operation_is_found_as_connexion_finds_it(table: RouteTable, reference: AsyncApp) -> None:
    operations = documented_paths()
    assert len(operations) == len(create_app(Settings(fixtures=None)).plans)
    for method, template in operations:
        for values in (["main", "johndoe", "1", "2"], ["acme", "a.b", "42", "7"]):
            path = fill(template, values)
            found = ours(table, method, path)
            assert found is not None, (method, path)
            assert found == decision(reference, method, path), (method, path)
        # An id that is not an integer where the spec wants one: neither routes it to the operation.
        path = fill(template, ["5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f"] * 4)
        assert ours(table, method, path) == decision(reference, method, path), (method, path)


@settings(max_examples=400, deadline=None, database=None)
@given(template=st.sampled_from([t for _, t in documented_paths()]), method=st.sampled_from(METHODS),
       values=st.lists(st.sampled_from(SAMPLES) | st.text(max_size=6), min_size=4, max_size=4),
       tweak=st.sampled_from(["", "drop-slash", "add-slash", "extra", "double-slash", "prefix"]))
def test_table_agrees_with_connexion(table: RouteTable, reference: AsyncApp, template: str, method: str,
                                     values: list[str], tweak: str) -> None:
    path = fill(template, values)
    path = {"": path, "drop-slash": path.rstrip("/"), "add-slash": path + "/", "extra": path + "x/",
            "double-slash": path.replace("/", "//", 1), "prefix": "/v2" + path}[tweak]
    assert ours(table, method, path) == decision(reference, method, path), (method, path)
