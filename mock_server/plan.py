"""One plan per operation, compiled from the spec at startup: everything a request to it runs.

connexion loads and resolves each spec (``Specification``, ``OpenAPIOperation``, ``Resolver``);
from each operation this module builds, once: its security (``security.py``), its parameter and
body validators (``validation.py``), its handler, its error style and, in strict mode, its
response check (connexion's own response validators). A request then runs
``authenticate → parameters → body → handler`` with no lookup left to do.

Plugins attach through public hooks (``Plugin``): one wraps an operation's whole run (the
ASGI app from security to the handler's reply), one its authentication, one its handler, and two
see each state the mock serves (where the models' policies are) come and go. The core never imports a plugin; ``app.py``
finds the ones the settings name by entry point. Plans hold no state: a request runs on the
state of its namespace, which the request path leaves on the scope.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import NonConformingResponseHeaders
from connexion.operations import OpenAPIOperation
from connexion.resolver import Resolver
from connexion.spec import Specification
from connexion.utils import is_nullable, split_content_type
from connexion.validators import VALIDATOR_MAP as CONNEXION_VALIDATORS
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import Style, UnsupportedMediaType
from .headers import first_header
from .memo import Memo
from .security import Authenticator, PrincipalFunction, compile_security
from .state import STATE_KEY, MockState
from .validation import BODY_VALIDATORS, BodyValidator, ParameterValidator, request_data

Handler = Callable[[], Awaitable[Response]]
Authenticate = Callable[[Scope], Any]  # scope → the principal (None for an open operation)
# The request being handled, for its handler (``api/_call.current``).
CURRENT_CALL: ContextVar[Any] = ContextVar("memmock.call")

# Per operation: distinct Content-Type values, and body validators by (media type, charset). A
# client picks both freely: every memo is bounded (memo.py).
CONTENT_TYPE_MEMORY = 64
CONTENT_TYPE_BUDGET = 64 * 1024
BODY_VALIDATOR_MEMORY = 16
BODY_VALIDATOR_BUDGET = 64 * 1024
VALIDATOR_COST = 4096  # what one body validator object and its key hold, about


class Plugin:
    """A hook into every operation's plan and every state; each method's default stays out of the way.

    In ``compile_plans``'s list, a later plugin's wrappers wrap the earlier ones' (the last is
    outermost). ``around`` sees the request before security and the reply after strict response
    validation; ``handler`` is called in the handler's place once the request is authenticated
    and valid (``CURRENT_CALL`` holds it); ``authenticate`` may change the principal.
    """

    def attach(self, state: MockState) -> None:
        """See a state the mock serves (the default namespace's, then each new one's), before its first request."""

    def detach(self, state: MockState) -> None:
        """Let go of a state the mock serves no more (a namespace dropped, or past ``--max-namespaces``)."""

    def around(self, plan: OperationPlan, app: ASGIApp) -> ASGIApp:
        """The ASGI app that runs ``plan`` from security to the reply (``app``), or a wrapper of it."""
        return app

    def authenticate(self, plan: OperationPlan, authenticate: Authenticate) -> Authenticate:
        """``plan``'s authentication (``authenticate``), or a wrapper of it."""
        return authenticate

    def handler(self, plan: OperationPlan, handler: Handler) -> Handler:
        """``plan``'s handler, or a wrapper of it (called once the request is authenticated and valid)."""
        return handler


class BodyReader:
    """An operation's request bodies: the media types it takes, and a validator per type and charset."""

    def __init__(self, operation: OpenAPIOperation) -> None:
        self.operation = operation
        self.consumes = MediaTypeDict([(media_type.lower(), None) for media_type in operation.consumes])
        self.content = MediaTypeDict(operation.request_body.get("content", {}))
        self.required = bool(operation.request_body.get("required", False))
        self.default_type = operation.consumes[0] if operation.consumes else "application/octet-stream"
        self._validators: Memo[tuple[str, str], BodyValidator | None] = Memo(
            BODY_VALIDATOR_MEMORY, BODY_VALIDATOR_BUDGET, lambda key, _: VALIDATOR_COST + len(key[0]) + len(key[1]))
        self._content_types: Memo[bytes | None, tuple[str, str]] = Memo(
            CONTENT_TYPE_MEMORY, CONTENT_TYPE_BUDGET, lambda raw, _: 3 * len(raw or b"") + 300)

    async def read(self, scope: Scope, receive: Receive) -> Receive:
        """Validate the body (raising the API's errors) and return a ``receive`` that replays it."""
        raw = first_header(scope["headers"], b"content-type", any_case=True)
        key = self._media_type(raw)
        validator = self._validators.get(key, False)
        if validator is False:
            if key[0] not in self.consumes:
                # The header as sent, its parameters left out (what a 415 names).
                raise UnsupportedMediaType((raw or b"").decode("latin-1").split(";")[0].strip())
            validator = self._validators.put(key, self._validator(*key))
        if validator is None:
            return receive
        return await validator.wrap_receive(receive, scope)

    def _media_type(self, raw: bytes | None) -> tuple[str, str]:
        """(media type lowercased, charset) of a Content-Type header, as connexion splits it."""
        found = self._content_types.get(raw)
        if found is None:
            mime_type, encoding = split_content_type(None if raw is None else raw.decode("latin-1"))
            # Media types are case-insensitive; the spec's are lowercase.
            found = self._content_types.put(raw, ((mime_type or self.default_type).strip().lower(), encoding or "utf-8"))
        return found

    def _validator(self, mime_type: str, encoding: str) -> BodyValidator | None:
        """The body validator for a media type (None: the spec gives no schema the mock checks)."""
        definition = self.content.get(mime_type, {})
        validator_cls = BODY_VALIDATORS.get(mime_type)
        if not definition.get("schema") or validator_cls is None:
            return None
        return validator_cls(definition["schema"], required=self.required, nullable=is_nullable(definition),
                             encoding=encoding)


class ResponseCheck:
    """Strict mode: every reply checked against the spec by connexion's response validators."""

    def __init__(self, operation: OpenAPIOperation) -> None:
        self.operation = operation
        self.produces = MediaTypeDict([(p.lower(), None) for p in operation.produces])

    def wrap(self, scope: Scope, send: Send) -> Send:
        """A ``send`` that raises connexion's ``NonConformingResponse`` before a nonconforming reply leaves."""
        operation = self.operation
        sending = send

        async def checked(message: Message) -> None:
            nonlocal sending
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                raw = first_header(headers, b"content-type", any_case=True)
                mime_type, encoding = split_content_type(None if raw is None else raw.decode("latin-1"))
                mime_type = mime_type or (operation.produces[0] if operation.produces else "application/octet-stream")
                status = str(message["status"])
                if message["status"] < 400 and operation.produces and mime_type.lower() not in self.produces:
                    raise NonConformingResponseHeaders(
                        detail=f"Invalid Response Content-type ({mime_type}), expected {operation.produces}")
                definition = operation.response_definition(status, mime_type)
                _check_required_headers(headers, definition)
                validator_cls = CONNEXION_VALIDATORS["response"].get(mime_type)
                if validator_cls is not None:
                    sending = validator_cls(scope, schema=operation.response_schema(status, mime_type),
                                            nullable=is_nullable(definition), encoding=encoding or "utf-8").wrap_send(send)
            await sending(message)

        return checked


def _check_required_headers(headers: list[tuple[bytes, bytes]], definition: dict[str, Any]) -> None:
    required = {name.lower() for name, spec in definition.get("headers", {}).items() if spec.get("required", False)}
    missing = required - {key.decode("latin-1").lower() for key, _ in headers}
    if missing:
        raise NonConformingResponseHeaders(
            detail=f"Keys in response header don't match response specification. Difference: {', '.join(missing)}")


@dataclass(eq=False)
class OperationPlan:
    """One operation of one API, compiled: what its requests run, in order."""

    api: str
    base_path: str
    method: str
    path: str  # the spec's path template, below the base path
    operation: OpenAPIOperation  # connexion's view of the operation (its spec, resolved)
    style: Style
    authenticate: Authenticate
    parameters: ParameterValidator
    body: BodyReader | None
    handler: Handler
    response_check: ResponseCheck | None
    run: ASGIApp = field(init=False)  # what the request path calls: ``serve``, or a plugin's wrapper of it

    def __post_init__(self) -> None:
        self.run = self.serve

    @property
    def operation_id(self) -> str:
        """The operation's id as connexion resolves it: ``module.function`` of its handler."""
        return str(self.operation.operation_id)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate, validate, call the handler and send its reply (errors are raised, not sent)."""
        principal = self.authenticate(scope)
        self.parameters.validate(scope)
        if self.body is not None:
            try:
                receive = await self.body.read(scope, receive)
            except ClientDisconnect:
                return  # nobody left to answer, and a partial body changes nothing
        CURRENT_CALL.set((scope, scope["extensions"][STATE_KEY], request_data(scope), principal))
        response = await self.handler()
        await response(scope, receive, send if self.response_check is None else self.response_check.wrap(scope, send))


def _open(scope: Scope) -> None:
    return None


def _authenticate(authenticator: Authenticator | None) -> Authenticate:
    return _open if authenticator is None else authenticator.principal


@dataclass(frozen=True)
class ApiSpec:
    """One spec the mock serves: its name, its document (as JSON text) and where its paths start."""

    name: str
    text: str
    base_path: str
    style: Style


@functools.lru_cache(maxsize=16)
def _operations(text: str) -> tuple[OpenAPIOperation, ...]:
    # Validating and resolving a spec takes a tenth of a second; apps built from the same
    # document (a test suite builds hundreds) share connexion's read-only view of it.
    specification = Specification.from_dict(json.loads(text))
    resolver = Resolver()
    return tuple(OpenAPIOperation.from_spec(specification, path=path, method=method, resolver=resolver)
                 for path, methods in specification["paths"].items() for method in methods
                 if method in ("get", "put", "post", "delete", "options", "head", "patch", "trace"))


def operations(api: ApiSpec) -> tuple[OpenAPIOperation, ...]:
    """connexion's operations of one spec, in the spec's order, handlers resolved."""
    return _operations(api.text)


def compile_plans(apis: Sequence[ApiSpec], functions: dict[str, PrincipalFunction], *, strict: bool,
                  plugins: Sequence[Plugin] = ()) -> list[OperationPlan]:
    """Every operation of ``apis``, compiled, with ``plugins`` attached."""
    plans = []
    for api in apis:
        for operation in operations(api):
            schemes = operation.security_schemes or {}
            security = operation.security if operation.security is not None else api.document.get("security", [])
            plan = OperationPlan(
                api=api.name, base_path=api.base_path, method=operation.method.upper(), path=operation.path,
                operation=operation, style=api.style,
                authenticate=_authenticate(compile_security(security, schemes, functions)),
                parameters=ParameterValidator(operation.parameters),
                body=BodyReader(operation) if operation.request_body else None,
                handler=operation.function,
                response_check=ResponseCheck(operation) if strict else None,
            )
            for plugin in plugins:
                plan.authenticate = plugin.authenticate(plan, plan.authenticate)
                plan.handler = plugin.handler(plan, plan.handler)
                plan.run = plugin.around(plan, plan.run)
            plans.append(plan)
    return plans
