"""What a fault works on: the ``Exchange`` of one request, its buffered ``Reply``, and their helpers.

A fault's action gets an ``Exchange``: it may rewrite the request (a header, the body, the
query), forward it to the rest of the stack and rewrite the buffered reply, or answer itself.
To change the principal the handler gets, it leaves a swap on the scope (``swap_principal``)
for the plugin's authentication hook, which also records the principal security found.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..headers import first_header
from ..plan import OperationPlan
from ..state import MockState
from ..store import Store
from ..validation import SCOPE_KEY, replay
from ..wire import dumps

# What a fault leaves on the scope for the plugin's authentication hook, and what that hook saw.
SWAP_KEY = "memmock.fault.swap"  # principal → the principal the handler gets
PRINCIPAL_KEY = "memmock.fault.principal"
VAI_MODULE = "mock_server.api.vai_memory"

Action = Callable[["Exchange"], Awaitable["Reply | None"]]
Change = Callable[["Exchange", "Reply"], None]  # what a response-rewriting fault does to a buffered reply


@dataclass
class Reply:
    """A buffered response: status, raw ASGI headers and the whole body."""

    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return orjson.loads(self.body) if self.body else None

    def set_json(self, value: Any) -> None:
        """Replace the body with ``value`` as JSON."""
        self.set_body(dumps(value))
        self.set_header("content-type", "application/json")

    def set_body(self, body: bytes) -> None:
        """Replace the body, keeping Content-Length right."""
        self.body = body
        self.set_header("content-length", str(len(body)))

    def set_header(self, name: str, value: str) -> None:
        """Set one header, replacing any with the same name."""
        key = name.lower().encode("latin-1")
        self.headers = [(k, v) for k, v in self.headers if k != key] + [(key, value.encode("latin-1"))]

    def header(self, name: str) -> str | None:
        """One header's value, or None."""
        value = first_header(self.headers, name.lower().encode("latin-1"))
        return None if value is None else value.decode("latin-1")

    async def send(self, send: Send) -> None:
        """Send it as one ASGI response."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


@dataclass
class Exchange:
    """One request to a targeted operation, as a fault's action sees it."""

    app: ASGIApp
    scope: Scope
    receive: Receive
    send: Send
    state: MockState
    plan: OperationPlan
    memo: dict[str, Any]  # the fault's own memory, kept for the life of the state

    @property
    def operation_id(self) -> str:
        """The full dotted operation id (``module.function``)."""
        return self.plan.operation_id

    @property
    def operation(self) -> str:
        """The operation id without its module (``ai_mentor_orgs_users_artifacts_retrieve``)."""
        return self.operation_id.rpartition(".")[2]

    @property
    def store(self) -> Store:
        """The app's store."""
        return self.state.store

    @property
    def is_vai(self) -> bool:
        """Whether the request is for the VirtuousAI API."""
        return self.operation_id.startswith(VAI_MODULE + ".")

    def path(self, name: str) -> str | None:
        """A raw path parameter (routing has resolved them)."""
        value = self.scope.get("path_params", {}).get(name)
        return None if value is None else str(value)

    def query(self) -> dict[str, str]:
        """The raw query string as a dict (a repeated key keeps its last value, as Django does)."""
        return dict(parse_qsl(self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))

    def with_query(self, query: dict[str, str]) -> Scope:
        """A copy of the scope with another query string, for a rewritten or extra request."""
        return self.subscope(query_string=urlencode(query).encode("latin-1"))

    def subscope(self, **changes: Any) -> Scope:
        """A copy of the scope that the layers below can fill in afresh (validation, security)."""
        extensions = {k: v for k, v in self.scope.get("extensions", {}).items()
                      if k not in (SCOPE_KEY, SWAP_KEY, PRINCIPAL_KEY)}
        return {**self.scope, "extensions": extensions, **changes}

    def principal(self, scope: Scope | None = None) -> Any:
        """The principal security found, once the request has been forwarded."""
        return (scope or self.scope).get("extensions", {}).get(PRINCIPAL_KEY)

    async def forward(self, scope: Scope | None = None, receive: Receive | None = None) -> Reply:
        """Run the rest of the stack and buffer its response."""
        reply = Reply(500)
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                reply.status = message["status"]
                reply.headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope or self.scope, receive or self.receive, capture)
        reply.body = b"".join(chunks)
        return reply

    async def pass_through(self, scope: Scope | None = None, receive: Receive | None = None) -> None:
        """Run the rest of the stack, streaming its response unchanged."""
        await self.app(scope or self.scope, receive or self.receive, self.send)


def swap_principal(scope: Scope, swap: Callable[[Any], Any]) -> None:
    """Have the handler of this request get ``swap(principal)`` instead of the principal security found."""
    scope.setdefault("extensions", {})[SWAP_KEY] = swap


# --- reply helpers -------------------------------------------------------------------------


def on_success(change: Change, *statuses: int) -> Action:
    """An action that forwards, then changes a response with one of ``statuses`` (default 200).

    Error responses are exceptions at this depth (the exception middleware renders them above
    us), so they pass through unchanged.
    """
    wanted = statuses or (200,)

    async def action(ex: Exchange) -> Reply:
        reply = await ex.forward()
        if reply.status in wanted:
            change(ex, reply)
        return reply

    return action


def json_change(change: Callable[[Exchange, Any], Any]) -> Change:
    """A response change that works on the parsed JSON body."""

    def apply(ex: Exchange, reply: Reply) -> None:
        reply.set_json(change(ex, reply.json()))

    return apply


def when(condition: Callable[[Exchange], bool], change: Change) -> Change:
    """A response change applied only to requests that meet ``condition``."""

    def apply(ex: Exchange, reply: Reply) -> None:
        if condition(ex):
            change(ex, reply)

    return apply


# --- request helpers -----------------------------------------------------------------------


def as_int(raw: str | None) -> int | None:
    """A raw parameter as an int; None when absent or not a number."""
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def json_object(ex: Exchange, body: bytes) -> dict[str, Any] | None:
    """The request body as a JSON object, or None (another media type, malformed, not an object)."""
    content_type = (Headers(scope=ex.scope).get("content-type") or "").split(";")[0].strip().lower()
    if not content_type.endswith("json"):
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def with_body(scope: Scope, body: bytes) -> tuple[Scope, Receive]:
    """A scope and receive callable that carry ``body`` instead of the request's own."""
    return set_header(scope, "content-length", str(len(body))), replay_body(body)


def set_header(scope: Scope, name: str, value: str) -> Scope:
    """A copy of the scope with one request header set (replacing any of that name)."""
    key = name.lower().encode("latin-1")
    headers = [(k, v) for k, v in scope.get("headers", []) if k != key] + [(key, value.encode("latin-1"))]
    return {**scope, "headers": headers}


async def read_body(receive: Receive) -> bytes:
    """The whole request body, read from ``receive``."""
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


def replay_body(body: bytes) -> Receive:
    """A receive callable that yields ``body`` once, then reports a disconnect."""
    return replay(body, _disconnected)
