"""The compiled security answers every credential as connexion's own security middleware does.

The reference is a stock connexion app serving the same specs through its documented API: its
router, its ``SecurityMiddleware`` calling the mock's principal functions (``x-apikeyInfoFunc``,
``x-bearerInfoFunc``), and the mock's error handlers. Ours is each operation's compiled
``authenticate``, fed the same request.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from connexion import AsyncApp
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.resolver import Resolver
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server import error_handlers
from mock_server.app import APIS, create_app, load_spec
from mock_server.auth import ibl_api_key, vai_token
from mock_server.error_handlers import error_reply
from mock_server.plan import OperationPlan
from mock_server.settings import Settings
from mock_server.state import OPERATION_KEY, STATE_KEY

VAI_OK, VAI_OTHER = "dev-vai-virtuous-dev-0001", "dev-vai-other-org-0001"
IBL_USER, IBL_ADMIN, IBL_OTHER_ORG = "dev-ibl-user-johndoe-0001", "dev-ibl-admin-main-0001", "dev-ibl-admin-acme-0001"
VAI_PATH = "/api/v1/memory"
IBL_PATHS = ["/api/ai-prompt/orgs/main/users/johndoe/chat-memory-status/",
             "/api/ai-prompt/orgs/main/users/someone-else/chat-memory-status/"]
Answer = tuple[int, Any]  # status, and the principal (200) or the error body


def reference_ibl(api_key: str, request: ConnexionRequest) -> dict[str, Any]:
    """connexion's view of the mock's ibl principal function."""
    return {"sub": "ibl", "principal": ibl_api_key(api_key, request.scope)}


def reference_vai(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """connexion's view of the mock's VirtuousAI principal function."""
    return {"sub": "vai", "principal": vai_token(token, request.scope)}


FUNCTIONS = {"PlatformApiKeyAuthentication": ("x-apikeyInfoFunc", "tests.test_security.reference_ibl"),
             "HTTPBearer": ("x-bearerInfoFunc", "tests.test_security.reference_vai"),
             "APIKeyHeader": ("x-apikeyInfoFunc", "tests.test_security.reference_vai"),
             "APIKeyCookie": ("x-apikeyInfoFunc", "tests.test_security.reference_vai")}


def _principal(operation_id: str) -> Any:
    def echo(*args: Any, **kwargs: Any) -> JSONResponse:
        from connexion import context

        return JSONResponse({"principal": repr(context.context["token_info"]["principal"])})

    return echo


class WithState:
    """Gives the reference's requests the mock's state, as the mock's request path does."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("extensions", {}).update({STATE_KEY: self.state, OPERATION_KEY: ""})
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def mock() -> Any:
    return create_app(Settings())


@pytest.fixture(scope="module")
def reference(mock: Any) -> AsyncApp:
    import functools

    app = AsyncApp(__name__, middlewares=[ServerErrorMiddleware, ExceptionMiddleware,
                                          functools.partial(WithState, state=mock.state), RoutingMiddleware,
                                          SecurityMiddleware, ContextMiddleware, LifespanMiddleware])
    for api in APIS:
        spec = load_spec(api.name)
        for name, scheme in spec.get("components", {}).get("securitySchemes", {}).items():
            key, function = FUNCTIONS[name]
            scheme[key] = function
        app.add_api(spec, name=api.name, resolver=Resolver(function_resolver=_principal))
    error_handlers.install(app)
    return app


def _scope(path: str, headers: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "http", "http_version": "1.1", "method": "GET", "path": path, "raw_path": path.encode(),
            "root_path": "", "scheme": "http", "query_string": b"", "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 1),
            "headers": [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]}


def reference_answer(reference: AsyncApp, path: str, headers: list[tuple[str, str]]) -> Answer:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(reference(_scope(path, headers), receive, send))
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    return sent[0]["status"], body["principal"] if sent[0]["status"] == 200 else body


def our_answer(mock: Any, path: str, headers: list[tuple[str, str]]) -> Answer:
    routed = next(p for p in mock.plans if p.method == "GET" and _fits(p, path))
    scope = _scope(path, headers)
    scope["extensions"] = {STATE_KEY: mock.state, OPERATION_KEY: ""}
    scope["path_params"] = dict(zip(("org", "user_id"), path.split("/")[4:7:2]))
    try:
        return 200, repr(routed.authenticate(scope))
    except Exception as exc:  # noqa: BLE001 - the answer it gives is what is compared
        reply = error_reply(exc, scope)
        assert reply is not None, exc
        return reply[0], reply[1]


def _fits(plan: OperationPlan, path: str) -> bool:
    return (plan.base_path + plan.path).count("/") == path.count("/") and path.startswith(plan.base_path) and \
        (plan.path.endswith("chat-memory-status/") == path.endswith("chat-memory-status/")) and \
        (plan.path == "/memory" if path == VAI_PATH else True)


VAI_HEADERS = [
    [], [("Authorization", f"Bearer {VAI_OK}")], [("Authorization", f"bearer {VAI_OTHER}")],
    [("Authorization", "Bearer wrong")], [("Authorization", "Bearer")], [("Authorization", "Bearer ")],
    [("Authorization", "Basic abc")], [("Authorization", f"Bearer   {VAI_OK}  ")], [("Authorization", "")],
    [("X-API-Key", VAI_OK)], [("X-API-Key", "wrong")], [("X-API-Key", "")], [("X-API-Key", " ")],
    [("Cookie", f"vai_token={VAI_OK}")], [("Cookie", "vai_token=wrong")], [("Cookie", "vai_token=")],
    [("Cookie", 'vai_token="unterminated')], [("Cookie", f"other=1; vai_token={VAI_OK}")],
    [("Authorization", "Bearer wrong"), ("X-API-Key", VAI_OK)], [("Authorization", "Bearer"), ("X-API-Key", VAI_OK)],
    [("Authorization", "Basic x"), ("Cookie", f"vai_token={VAI_OK}")], [("X-API-Key", "wrong"), ("Cookie", f"vai_token={VAI_OK}")],
    [("Authorization", "Bearer"), ("X-API-Key", "wrong")], [("Authorization", f"Bearer {VAI_OK}"), ("X-API-Key", "wrong")],
    [("Authorization", "Bearer wrong"), ("Authorization", f"Bearer {VAI_OK}")],
]
IBL_HEADERS = [
    [], [("Authorization", f"Api-Token {IBL_USER}")], [("Authorization", f"Api-Token {IBL_ADMIN}")],
    [("Authorization", f"Api-Token {IBL_OTHER_ORG}")], [("Authorization", "Api-Token wrong")],
    [("Authorization", "Api-Token")], [("Authorization", "Api-Token ")], [("Authorization", f"api-token   {IBL_USER}")],
    [("Authorization", f"Token {IBL_USER}")], [("Authorization", f"Bearer {IBL_USER}")], [("Authorization", "")],
    [("X-API-Key", IBL_USER)], [("Authorization", "Api-Token wrong"), ("Authorization", f"Api-Token {IBL_USER}")],
]


@pytest.mark.parametrize("headers", VAI_HEADERS, ids=str)
def test_virtuousai_credentials_are_answered_as_connexion_answers_them(mock: Any, reference: AsyncApp,
                                                                       headers: list[tuple[str, str]]) -> None:
    assert our_answer(mock, VAI_PATH, headers) == reference_answer(reference, VAI_PATH, headers)


@pytest.mark.parametrize("path", IBL_PATHS)
@pytest.mark.parametrize("headers", IBL_HEADERS, ids=str)
def test_ibl_credentials_are_answered_as_connexion_answers_them(mock: Any, reference: AsyncApp, path: str,
                                                                headers: list[tuple[str, str]]) -> None:
    assert our_answer(mock, path, headers) == reference_answer(reference, path, headers)


PIECES = ["Bearer", "bearer", "Api-Token", "Basic", "", " ", VAI_OK, VAI_OTHER, IBL_USER, IBL_ADMIN, "wrong", '"', ";", "="]


@settings(max_examples=300, deadline=None, database=None)
@given(path=st.sampled_from([VAI_PATH, *IBL_PATHS]),
       headers=st.lists(st.tuples(st.sampled_from(["Authorization", "X-API-Key", "Cookie"]),
                                  st.lists(st.sampled_from(PIECES), max_size=4).map(" ".join)
                                  | st.sampled_from([f"vai_token={VAI_OK}", f"vai_token={VAI_OK}; x=1", "vai_token"])),
                        max_size=3))
def test_any_credentials_are_answered_as_connexion_answers_them(mock: Any, reference: AsyncApp, path: str,
                                                                headers: list[tuple[str, str]]) -> None:
    ours, theirs = our_answer(mock, path, headers), reference_answer(reference, path, headers)
    if theirs[0] == 500:
        # connexion fails on a cookie header SimpleCookie cannot parse (a key such as "="); the mock
        # reads such a header as carrying no vai_token cookie, and answers as for no credential.
        assert ours == our_answer(mock, path, [(k, v) for k, v in headers if k != "Cookie"])
        return
    assert ours == theirs

