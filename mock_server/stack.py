"""The middleware stack, in request order, and the connexion layers the mock trims.

Every request runs: server errors → CORS (not on /_mock) → exception handlers (errors.render) →
state, admin locks (/_mock only) and body limit → Swagger UI (docs paths only) → routing (a
segment tree, routes.py) → [fault] → security (connexion's checks on a lean request) → request
validation (validation.py, prepared once per operation) → [response validation, strict mode] →
lifespan → dispatch.py → the handler.
Once routed, a request goes from one operation object to the next (``linked``) rather than
through each middleware's lookup of its operation.
"""

from __future__ import annotations

import functools
from typing import Any

from connexion.middleware.abstract import ROUTING_CONTEXT, RoutedMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
    RequestValidationOperation,
)
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.security import SecurityAPI, SecurityMiddleware, SecurityOperation
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.utils import is_nullable
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.convertors import register_url_convertor
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admin_guard import ADMIN_PREFIX, is_admin_path
from .errors import MethodNotAllowed
from .headers import first_header
from .memo import Memo
from .routes import PathInteger, RouteTable
from .settings import Settings
from .state import MockState, StateMiddleware

# Per operation: distinct Content-Type values, and body validators by (media type, charset).
CONTENT_TYPE_MEMORY = 64
CONTENT_TYPE_BUDGET = 64 * 1024
BODY_VALIDATOR_MEMORY = 16
BODY_VALIDATOR_BUDGET = 64 * 1024
VALIDATOR_COST = 4096  # what one body validator object and its key hold, about


class IndexedRoutingMiddleware(RoutingMiddleware):
    """connexion's routing, answered from a ``RouteTable`` whenever it is sure (see routes.py).

    The table is built from connexion's own Starlette routes once every API is added; requests it
    cannot place (404, 405, slash redirects) go through connexion's router as before. A request
    it places goes straight to its operation's chain (``linked``), not through each routed
    middleware's lookup of the same operation.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(self._routed)
        # After connexion's own registration, so the specs' integer path parameters use it.
        register_url_convertor("int", PathInteger())
        self.next_app = app
        self._table: RouteTable | None = None
        self._chains: dict[tuple[str, str], ASGIApp] = {}

    def add_api(self, *args: Any, **kwargs: Any) -> None:
        """Add an API to connexion's router; the table is rebuilt on the next request."""
        super().add_api(*args, **kwargs)
        self._table = None
        self._chains.clear()

    async def _routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.next_app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._table is None:
                self._table = RouteTable(self.router)
            routed = self._table.find(scope["method"], scope["path"])
            if routed is not None:
                # What connexion's RoutingOperation leaves on the scope (it, too, edits it in place).
                scope.setdefault("path_params", {}).update(routed.path_params)
                scope.setdefault("extensions", {}).setdefault(ROUTING_CONTEXT, {}).update(
                    api_base_path=routed.base_path, operation_id=routed.operation_id)
                key = (routed.base_path, routed.operation_id)
                chain = self._chains.get(key)
                if chain is None:
                    chain = self._chains[key] = linked(self.next_app, *key)
                await chain(scope, receive, send)
                return
            allowed = self._table.allowed(scope["path"])
            if allowed:
                # The path is a route's, the method none of its routes': Starlette's own 405 names
                # only the first route's methods.
                raise MethodNotAllowed(scope["method"], allowed)
        await super().__call__(scope, receive, send)


def linked(layer: ASGIApp, base_path: str, operation_id: str) -> ASGIApp:
    """Where a request routed to this operation goes from ``layer``, with the lookups done now.

    Each routed middleware (security, validation, response validation, dispatch) finds the
    request's operation object by base path and operation id and calls it; that answer never
    changes, so each operation object is pointed at the next one directly. The lifespan layer
    passes HTTP through; any other layer (a fault) ends the chain and routes as before.
    """
    while isinstance(layer, LifespanMiddleware):
        layer = layer.next_app
    if not isinstance(layer, RoutedMiddleware):
        return layer
    if base_path not in layer.apis:  # RoutedMiddleware passes such requests on
        return linked(layer.app, base_path, operation_id)
    operation = next((api.operations[operation_id] for api in layer.apis[base_path]
                      if operation_id in api.operations), None)
    if operation is None:  # the middleware itself raises connexion's MissingOperation
        return layer
    if hasattr(operation, "next_app"):
        operation.next_app = linked(operation.next_app, base_path, operation_id)
    return operation  # type: ignore[no-any-return]


class PreparedRequestValidation(RequestValidationOperation):
    """connexion's request validation for one operation, with its validators built once.

    Stock connexion builds a URI parser, a parameter validator and a body validator on every
    request; ours (``validation.py``) hold no per-request state, so each is built on first use.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parameters = self._validator_map["parameter"](self._operation.parameters)
        self._has_body = bool(self._operation.request_body)
        # A client picks the charset freely: every memo is bounded (memo.py).
        self._bodies: Memo[tuple[str, str], Any] = Memo(
            BODY_VALIDATOR_MEMORY, BODY_VALIDATOR_BUDGET, lambda key, _: VALIDATOR_COST + len(key[0]) + len(key[1]))
        self._content_types: Memo[bytes | None, tuple[str, str]] = Memo(
            CONTENT_TYPE_MEMORY, CONTENT_TYPE_BUDGET, lambda raw, _: 3 * len(raw or b"") + 300)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._parameters.validate(scope)
        if self._has_body:
            mime_type, encoding = self._content_type(scope["headers"])
            validator = self._bodies.get((mime_type, encoding))
            if validator is None:
                self.validate_mime_type(mime_type)  # raises 415 for a type the spec does not list
                validator = self._bodies.put((mime_type, encoding), self._body_validator(mime_type, encoding))
            if validator is not False:
                try:
                    receive, scope = await validator.wrap_receive(receive, scope=scope)
                except ClientDisconnect:
                    return  # nobody left to answer, and a partial body changes nothing
        await self.next_app(scope, receive, send)

    def _content_type(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, str]:
        """connexion's ``extract_content_type``, the media type lowercased, remembered per header value."""
        raw = first_header(headers, b"content-type", any_case=True)
        found = self._content_types.get(raw)
        if found is None:
            mime_type, encoding = self.extract_content_type([(b"content-type", raw)] if raw is not None else [])
            # Media types are case-insensitive; connexion looks bodies up by the spec's lowercase ones.
            found = self._content_types.put(raw, (mime_type.strip().lower(), encoding))
        return found

    def _body_validator(self, mime_type: str, encoding: str) -> Any:
        """The body validator for a media type, as connexion would build it (False: none applies)."""
        schema = self._operation.body_schema(mime_type)
        try:
            validator_cls = self._validator_map["body"][mime_type] if schema else None
        except KeyError:
            validator_cls = None
        if validator_cls is None:
            return False
        return validator_cls(
            schema=schema,
            required=self._operation.request_body.get("required", False),
            nullable=is_nullable(self._operation.body_definition(mime_type)),
            encoding=encoding,
            strict_validation=self.strict_validation,
        )


class PreparedRequestValidationAPI(RequestValidationAPI):
    """Builds ``PreparedRequestValidation`` operations."""

    def make_operation(self, operation: Any) -> PreparedRequestValidation:
        return PreparedRequestValidation(
            self.next_app, operation=operation, strict_validation=self.strict_validation,
            validator_map=self.validator_map,
        )


class PreparedRequestValidationMiddleware(RequestValidationMiddleware):
    """connexion's request validation middleware with prepared operations."""

    api_cls = PreparedRequestValidationAPI


class LeanExceptionMiddleware(ExceptionMiddleware):
    """connexion's exception handling (the handlers in error_handlers.py), set up only on failure.

    Starlette's version builds a request object and two wrappers around the app for every
    request, in case it fails; here a request that fails hands its exception to that same
    machinery, so every answer is the one connexion would give.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        started = False

        async def sender(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sender)
        except Exception as exc:
            if started:  # too late for an error response; the server error layer decides
                raise
            scope["starlette.exception_handlers"] = (self._exception_handlers, self._status_handlers)
            await wrap_app_handling_exceptions(_raising(exc), Request(scope, receive, send))(scope, receive, send)


def _raising(exc: Exception) -> ASGIApp:
    """An app that fails with ``exc``: hands a caught exception to Starlette's handler lookup."""

    async def fail(scope: Scope, receive: Receive, send: Send) -> None:
        raise exc

    return fail


class LeanCORSMiddleware(CORSMiddleware):
    """Starlette's CORS for the APIs, with a short way for requests that carry no ``Origin``.

    Those (not CORS requests) only get ``Vary: Origin`` added, as Starlette does, without parsing
    the request headers twice and the response headers once per request. The admin plane gets no
    CORS headers at all: no page on another origin may read it or pass a preflight to it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith(ADMIN_PREFIX) and is_admin_path(path):  # no other origin may read or preflight /_mock
                await self.app(scope, receive, send)
                return
            if first_header(scope["headers"], b"origin") is None:
                await self.app(scope, receive, _VaryOrigin(send))
                return
        await super().__call__(scope, receive, send)


class _VaryOrigin:
    """A ``send`` that adds ``Vary: Origin`` to the response, as Starlette's CORS does."""

    __slots__ = ("send",)

    def __init__(self, send: Send) -> None:
        self.send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.setdefault("headers", [])
            if first_header(headers, b"vary", any_case=True) is None:
                headers.append((b"vary", b"Origin"))
            else:
                vary = MutableHeaders(scope=message)
                vary["Vary"] = ", ".join([*vary.getlist("Vary"), "Origin"])
        await self.send(message)


class SecurityRequest:
    """What connexion's security checks read of a request, without a full ``ConnexionRequest``.

    The checks read headers (credentials), query parameters (API keys in the query), the scope
    (our functions, in ``auth.py``) and a context dict to leave ``token_info`` in; building a
    ``ConnexionRequest`` and a Starlette request for that cost a fifth of a small request.
    """

    __slots__ = ("scope", "_headers", "_query")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self._headers: Headers | None = None
        self._query: QueryParams | None = None

    @property
    def headers(self) -> Headers:
        """The request headers."""
        if self._headers is None:
            self._headers = Headers(scope=self.scope)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """The query parameters."""
        if self._query is None:
            self._query = QueryParams(self.scope.get("query_string", b""))
        return self._query

    @property
    def context(self) -> dict[str, Any]:
        """connexion's per-request context dict (``token_info`` goes here), as ConnexionRequest keeps it."""
        return self.scope.setdefault("extensions", {}).setdefault("connexion_context", {})  # type: ignore[no-any-return]


class LeanSecurityOperation(SecurityOperation):
    """connexion's security for one operation (same checks, same errors), on a ``SecurityRequest``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.security:
            await self.verification_fn(SecurityRequest(scope))
        await self.next_app(scope, receive, send)


class LeanSecurityAPI(SecurityAPI):
    """Builds ``LeanSecurityOperation`` operations."""

    def make_operation(self, operation: Any) -> SecurityOperation:
        return LeanSecurityOperation.from_operation(
            operation, next_app=self.next_app, security_handler_factory=self.security_handler_factory,
        )


class LeanSecurityMiddleware(SecurityMiddleware):
    """connexion's security middleware with lean operations."""

    api_cls = LeanSecurityAPI


class DocsSwaggerUIMiddleware(SwaggerUIMiddleware):
    """connexion's Swagger UI, consulted only for paths under a docs prefix."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        super().__init__(app)
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def middleware_stack(settings: Settings, state: MockState, docs_prefixes: tuple[str, ...]) -> list[Any]:
    """The middlewares ``create_app`` hands to connexion, outermost first."""
    stack: list[Any] = [ServerErrorMiddleware]
    if settings.cors:
        stack.append(functools.partial(LeanCORSMiddleware, allow_origins=["*"], allow_methods=["*"],
                                       allow_headers=["*"], expose_headers=["*"]))
    stack += [
        LeanExceptionMiddleware,
        functools.partial(StateMiddleware, state=state),
        functools.partial(DocsSwaggerUIMiddleware, prefixes=docs_prefixes),
        IndexedRoutingMiddleware,
    ]
    if settings.fault:
        # After routing (the operation id is known), outside response validation (a broken reply
        # gets out even with --strict); the healthy mock installs nothing.
        from .faults import FaultMiddleware

        stack.append(functools.partial(FaultMiddleware, state=state, fault_name=settings.fault))
    stack += [LeanSecurityMiddleware, PreparedRequestValidationMiddleware]
    if settings.strict:
        stack.append(ResponseValidationMiddleware)
    # No ContextMiddleware: dispatch.py hands handlers the scope itself.
    stack.append(LifespanMiddleware)
    return stack
