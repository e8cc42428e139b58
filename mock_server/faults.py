"""Deliberate contract breaches: ``memmock serve --fault NAME`` makes the mock misbehave on purpose.

Each fault is a bug a real backend could ship (a wrong status, a missing field, a lost write, a
leak across users...). They exist to prove that a conformance harness catches what it claims to
catch: run the harness against the mock with each fault and every run must fail.

One ASGI middleware (``FaultMiddleware``) applies the chosen fault. It sits after routing (so the
operation id is known) and before security, outside response validation (so a mutated response
is not stopped by ``--strict``). It touches only the operations its fault targets; the healthy
mock does not install it at all. Faults are deterministic: no randomness, no timing.

How a fault acts, from the most to the least common:

- rewrite the response of the targeted operations (status, body, headers), buffering only those;
- rewrite the request before security (a credential, a body, a query parameter);
- answer itself without calling the handler (``delete-noop``);
- change which principal security hands to the handler (``user-leak``, ``org-leak``), through
  the connexion context dict the security layer fills in;
- use a generic hook the domain offers (``AnalyticsBackend.average``) or read/write the store
  through the backends' public methods.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from connexion.lifecycle import ConnexionRequest
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import ibl_api_key, vai_api_key, vai_bearer
from .errors import MockError
from .headers import first_header
from .models.common import DocReader, norm_uuid
from .state import IblPrincipal, MockState, VaiPrincipal
from .store import Credentials, Store
from .validation import SCOPE_KEY, request_data
from .wire import dumps

__all__ = ["FAULTS", "Fault", "FaultMiddleware", "Exchange", "Reply", "fault_names", "unknown_fault_message"]

ROUTING_KEY = "connexion_routing"
CONTEXT_KEY = "connexion_context"
VAI_MODULE = "mock_server.api.vai_memory"
ADMIN_MODULE = "mock_server.api.admin"

Action = Callable[["Exchange"], Awaitable["Reply | None"]]
Setup = Callable[[MockState, dict[str, Any]], None]


# --- the exchange a fault works on --------------------------------------------------------


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
    operation_id: str  # the full dotted name
    memo: dict[str, Any]  # the fault's own memory, kept for the life of the app

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
        extensions = {k: v for k, v in self.scope.get("extensions", {}).items() if k not in (SCOPE_KEY, CONTEXT_KEY)}
        return {**self.scope, "extensions": extensions, **changes}

    def principal(self, scope: Scope | None = None) -> Any:
        """The principal security found, once the request has been forwarded."""
        context = (scope or self.scope).get("extensions", {}).get(CONTEXT_KEY) or {}
        return (context.get("token_info") or {}).get("principal")

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


@dataclass(frozen=True)
class Fault:
    """One deliberate breach of the contract."""

    name: str
    category: str
    description: str
    catch: str  # the kind of harness check that should catch it
    operations: frozenset[str] | None  # short operation ids it acts on; None: every operation
    action: Action | None = None  # what it does to a request of a targeted operation
    setup: Setup | None = None  # what it does once, when the app is built

    def targets(self, operation: str) -> bool:
        """Whether a request to this operation (short id) goes through the fault's action."""
        return self.action is not None and (self.operations is None or operation in self.operations)


class _PrincipalSwap(dict):  # type: ignore[type-arg]
    """A connexion context dict that lets a fault replace the principal security stores in it.

    connexion's security layer calls ``request.context.update({"user": ..., "token_info": ...})``
    on ``scope["extensions"]["connexion_context"]``; pre-seeding the scope with this dict is the one
    place a middleware in front of security can see and change the principal.
    """

    def __init__(self, swap: Callable[[Any], Any]) -> None:
        super().__init__()
        self._swap = swap

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Store the context, with the principal swapped."""
        values = dict(*args, **kwargs)
        info = values.get("token_info")
        if isinstance(info, dict) and "principal" in info:
            values["token_info"] = {**info, "principal": self._swap(info["principal"])}
        super().update(values)


class FaultMiddleware:
    """Applies one fault from ``FAULTS`` to the operations it targets; others pass untouched."""

    def __init__(self, app: ASGIApp, state: MockState, fault_name: str) -> None:
        if fault_name not in FAULTS:
            raise ValueError(unknown_fault_message(fault_name))
        self.app = app
        self.state = state
        self.fault = FAULTS[fault_name]
        self.memo: dict[str, Any] = {}
        if self.fault.setup is not None:
            self.fault.setup(state, self.memo)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation_id = None
        if scope["type"] == "http":
            operation_id = scope.get("extensions", {}).get(ROUTING_KEY, {}).get("operation_id")
        if not operation_id or not self.fault.targets(operation_id.rpartition(".")[2]):
            await self.app(scope, receive, send)
            return
        exchange = Exchange(self.app, scope, receive, send, self.state, operation_id, self.memo)
        assert self.fault.action is not None
        reply = await self.fault.action(exchange)
        if reply is not None:
            await reply.send(send)


def fault_names() -> list[str]:
    """Every fault's name, sorted."""
    return sorted(FAULTS)


def unknown_fault_message(name: str) -> str:
    """What startup says about a fault name it does not know."""
    return f"unknown fault {name!r}; valid faults: {', '.join(fault_names())}"


# --- helpers ------------------------------------------------------------------------------


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _on_success(change: Callable[[Exchange, Reply], None], *statuses: int) -> Action:
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


def _json_change(change: Callable[[Exchange, Any], Any]) -> Callable[[Exchange, Reply], None]:
    """A response change that works on the parsed JSON body."""

    def apply(ex: Exchange, reply: Reply) -> None:
        reply.set_json(change(ex, reply.json()))

    return apply


def _caller(ex: Exchange) -> Any:
    """The principal the request's credential names, checked by the mock's own auth functions.

    For faults that answer without calling the handler: they must still honour authentication.
    """
    headers = Headers(scope=ex.scope)
    request = ConnexionRequest(ex.scope)
    try:
        if ex.is_vai:
            scheme, _, token = (headers.get("authorization") or "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return vai_bearer(token, request)["principal"]
            key = headers.get("x-api-key") or Request(ex.scope).cookies.get("vai_token")
            return vai_api_key(key, request)["principal"] if key else None
        credential = headers.get("authorization")
        return ibl_api_key(credential, request)["principal"] if credential else None
    except MockError:
        return None


def _ibl_token_owner(ex: Exchange) -> IblPrincipal | None:
    """Whose ibl token the request carries, whatever path it asks for (no reach check)."""
    scheme, _, key = (Headers(scope=ex.scope).get("authorization") or "").strip().partition(" ")
    if scheme.lower() != "api-token" or ex.state.settings.auth != "tokens":
        return None
    return ex.store.credentials.ibl(key.strip())


def _set_header(scope: Scope, name: str, value: str) -> Scope:
    """A copy of the scope with one request header set (replacing any of that name)."""
    key = name.lower().encode("latin-1")
    headers = [(k, v) for k, v in scope.get("headers", []) if k != key] + [(key, value.encode("latin-1"))]
    return {**scope, "headers": headers}


async def _read_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A receive callable that yields ``body`` once, then reports a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _patch_record(backend: Any, section: str, org: str, username: str,
                  patch: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrite one user's record of a one-section family through its public export/clear/load.

    Runs without awaiting, so no other request sees the family half restored.
    """
    records = backend.export()[section]
    for i, record in enumerate(records):
        if record.get("org") == org and record.get("username") == username:
            records[i] = patch(record)
    reader = DocReader()
    backend.clear()
    backend.load(reader, {section: records}, ("ibl",))
    reader.raise_if_failed()


def _own_record(backend: Any, section: str, org: str | None, username: str | None) -> dict[str, Any] | None:
    return next((r for r in backend.export()[section] if r.get("org") == org and r.get("username") == username), None)


# --- status --------------------------------------------------------------------------------


def _created_as_ok(ex: Exchange, reply: Reply) -> None:
    reply.status = 200


def _server_error(ex: Exchange, reply: Reply) -> None:
    reply.status = 500
    reply.headers = []
    reply.set_json({"detail": "Internal Server Error"})


# --- schema --------------------------------------------------------------------------------


def _drop_date_updated(ex: Exchange, body: Any) -> Any:
    body.pop("date_updated", None)
    return body


def _id_as_string(ex: Exchange, body: Any) -> Any:
    body["id"] = str(body["id"])
    return body


def _null_email(ex: Exchange, body: Any) -> Any:
    for item in body["results"] if "results" in body else [body]:
        item["email"] = None
    return body


def _text_plain(ex: Exchange, reply: Reply) -> None:
    reply.set_header("content-type", "text/plain; charset=utf-8")


# --- state ---------------------------------------------------------------------------------


async def _lost_update(ex: Exchange) -> Reply:
    """Answer the update, then put the user's instruction back as it was before."""
    org, user = ex.path("org"), ex.path("user_id")
    before = _own_record(ex.store.custom_instruction, "custom_instructions", org, user)
    reply = await ex.forward()
    if reply.status == 200 and before is not None and org and user:
        _patch_record(ex.store.custom_instruction, "custom_instructions", org, user, lambda _: before)
    return reply


async def _timestamp_frozen(ex: Exchange) -> Reply:
    """Store and answer the update with ``updated_at`` as it was before."""
    org, user = ex.path("org"), ex.path("user_id")
    before = _own_record(ex.store.custom_instruction, "custom_instructions", org, user)
    reply = await ex.forward()
    if reply.status == 200 and before is not None and org and user:
        frozen = before["updated_at"]
        _patch_record(ex.store.custom_instruction, "custom_instructions", org, user,
                      lambda record: {**record, "updated_at": frozen})
        body = reply.json()
        body["updated_at"] = frozen
        reply.set_json(body)
    return reply


def _visible(ex: Exchange) -> bool:
    """Whether the caller may delete the path's object and it exists (else the real handler answers)."""
    principal = _caller(ex)
    if ex.is_vai:
        if not isinstance(principal, VaiPrincipal):
            return False
        try:
            ex.store.vai_memory.get(principal.organization_id, ex.path("memory_id"))
        except MockError:
            return False
        return True
    org, user = ex.path("org") or "", ex.path("user_id") or ""
    if not isinstance(principal, IblPrincipal) or not Credentials.ibl_can_reach(principal, org, user):
        return False
    if ex.operation == "ai_mentor_orgs_users_artifacts_destroy":
        artifact_id = _int(ex.path("id"))
        try:
            return artifact_id is not None and bool(ex.store.artifacts.retrieve(org, user, artifact_id))
        except MockError:
            return False
    memory_id = _int(ex.path("memory_id"))
    return any(entry["id"] == memory_id for entry in ex.store.chat_memory.list_entries(org, user))


async def _delete_noop(ex: Exchange) -> Reply | None:
    """204 for an object the caller could delete, without deleting it."""
    if _visible(ex):
        return Reply(204)
    await ex.pass_through()
    return None


async def _stale_read(ex: Exchange) -> Reply:
    """Serve the first status body seen per user, forever (a cache never invalidated)."""
    reply = await ex.forward()
    if reply.status == 200:
        cache = ex.memo.setdefault("first", {})
        reply.set_body(cache.setdefault((ex.path("org"), ex.path("user_id")), reply.body))
    return reply


# --- pagination ------------------------------------------------------------------------------


def _count_plus_one(ex: Exchange, body: Any) -> Any:
    body["count"] += 1
    return body


async def _page_overlap(ex: Exchange) -> Reply:
    """Pages after the first start one item early (offset ``(page - 1) * size - 1``)."""
    reply = await ex.forward()
    query = ex.query()
    number = _int(query.get("page"))
    if reply.status != 200 or number is None or number < 2:
        return reply
    previous_query = {k: v for k, v in query.items() if k != "page"}
    if number > 2:
        previous_query["page"] = str(number - 1)
    previous = await ex.forward(ex.with_query(previous_query), _replay(b""))
    if previous.status == 200 and previous.json()["results"]:
        body = reply.json()
        body["results"] = previous.json()["results"][-1:] + body["results"]
        reply.set_json(body)
    return reply


async def _ordering_ignored(ex: Exchange) -> Reply:
    """Drop ``ordering`` before the handler sees it; the page links still carry it."""
    query = ex.query()
    ordering = query.pop("ordering", None)
    if ordering is None:
        return await ex.forward()
    reply = await ex.forward(ex.with_query(query))
    if reply.status == 200:
        body = reply.json()
        for link in ("next", "previous"):
            if body.get(link):
                parts = urlsplit(body[link])
                params = parse_qsl(parts.query, keep_blank_values=True) + [("ordering", ordering)]
                body[link] = urlunsplit(parts._replace(query=urlencode(params)))
        reply.set_json(body)
    return reply


def _total_all_orgs(ex: Exchange, body: Any) -> Any:
    body["total"] = len(ex.store.vai_memory.export()["memories"])
    return body


# --- isolation -------------------------------------------------------------------------------


async def _user_leak(ex: Exchange) -> None:
    """A user token passes as any user of its own org (admin-only checks still hold).

    The reach check may run in the security function or in the handler, so both are fooled:
    security sees the token's own username in the path, then (when it stores the principal) the
    path gets its user back and the principal takes that user's name.
    """
    params = ex.scope.get("path_params", {})
    target = params.get("user_id")
    principal = _ibl_token_owner(ex)
    if (principal is None or principal.is_admin or target is None or principal.org != params.get("org")
            or principal.username == str(target)):
        await ex.pass_through()
        return

    def swap(found: Any) -> Any:
        params["user_id"] = target
        if isinstance(found, IblPrincipal) and found.username == principal.username:
            return dataclasses.replace(found, username=str(target))
        return found

    params["user_id"] = principal.username
    ex.scope.setdefault("extensions", {})[CONTEXT_KEY] = _PrincipalSwap(swap)
    try:
        await ex.pass_through()
    finally:
        params["user_id"] = target


async def _org_leak(ex: Exchange) -> None:
    """A memory id of another organization is looked up in that organization."""
    memory_id = norm_uuid(ex.path("memory_id"))

    def swap(principal: Any) -> Any:
        if not isinstance(principal, VaiPrincipal) or memory_id is None:
            return principal
        try:
            ex.store.vai_memory.get(principal.organization_id, memory_id)
            return principal
        except MockError:
            pass
        owner = next((m["organizationId"] for m in ex.store.vai_memory.export()["memories"] if m["id"] == memory_id),
                     None)
        return VaiPrincipal(owner, principal.name) if owner else principal

    ex.scope.setdefault("extensions", {})[CONTEXT_KEY] = _PrincipalSwap(swap)
    await ex.pass_through()


# --- auth ------------------------------------------------------------------------------------


async def _auth_bypass(ex: Exchange) -> None:
    """A request with no credential at all gets the fixtures' first admin (or first VAI token)."""
    headers = Headers(scope=ex.scope)
    credentials = ex.store.credentials
    scope = ex.scope
    if ex.operation_id.startswith(ADMIN_MODULE + "."):
        pass
    elif ex.is_vai:
        if not (headers.get("authorization") or headers.get("x-api-key") or Request(scope).cookies.get("vai_token")):
            key = next(iter(credentials.vai_tokens), None)
            if key is not None:
                scope = _set_header(scope, "authorization", f"Bearer {key}")
    elif not headers.get("authorization"):
        admins = [(k, p) for k, p in credentials.ibl_tokens.items() if p.is_admin]
        own_org = [k for k, p in admins if p.org == ex.path("org")]
        key = (own_org or [k for k, _ in admins] or [None])[0]
        if key is not None:
            scope = _set_header(scope, "authorization", f"Api-Token {key}")
    await ex.pass_through(scope)


# --- validation ------------------------------------------------------------------------------

_FORM_BOOLEANS = {"true", "false", "1", "0", "on", "off", "yes", "no", "y", "n"}


async def _validation_off(ex: Exchange) -> None:
    """``enabled`` missing or not a boolean is taken as true (JSON, url-encoded or no body)."""
    body = await _read_body(ex.receive)
    content_type = (Headers(scope=ex.scope).get("content-type") or "").split(";")[0].strip().lower()
    scope = ex.scope
    if not body.strip():
        body = b'{"enabled": true}'
        scope = _set_header(scope, "content-type", "application/json")
    elif content_type.endswith("json"):
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None  # malformed JSON still gets its parse error
        if isinstance(document, dict) and not isinstance(document.get("enabled"), bool):
            document["enabled"] = True
            body = dumps(document)
    elif content_type == "application/x-www-form-urlencoded":
        pairs = [(k, v) for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True) if k != "enabled"]
        values = [v for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True) if k == "enabled"]
        enabled = values[-1] if values and values[-1].lower() in _FORM_BOOLEANS else "true"
        body = urlencode(pairs + [("enabled", enabled)]).encode("latin-1")
    scope = _set_header(scope, "content-length", str(len(body)))
    await ex.pass_through(scope, _replay(body))


# --- analytics -------------------------------------------------------------------------------


def _floor_average(total: int, sessions: int) -> int:
    return total // sessions


def _install_floor(state: MockState, memo: dict[str, Any]) -> None:
    state.store.analytics.average = _floor_average


def _snapshot_store(state: MockState, memo: dict[str, Any]) -> None:
    """The analytics view as it was when the app was built (a materialised view never refreshed)."""
    snapshot = Store(clock=state.store.clock)
    snapshot.load(state.store.export())
    memo["snapshot"] = snapshot


async def _analytics_stale(ex: Exchange) -> Reply:
    """Once the real handler has accepted the request, answer from the startup snapshot."""
    reply = await ex.forward()
    principal = ex.principal()
    if reply.status == 200 and isinstance(principal, IblPrincipal):
        query = request_data(ex.scope).query
        snapshot: Store = ex.memo["snapshot"]
        reply.set_json(snapshot.analytics.average_messages_per_session(
            ex.path("org") or "", query.get("start_date"), query.get("end_date"),
            query.get("aggregation", "daily"), query.get("mentor_id"),
        ))
    return reply


# --- counters --------------------------------------------------------------------------------


def _next_offset_processed_only(ex: Exchange, body: Any) -> Any:
    principal = ex.principal()
    total = ex.store.vai_memory.count(principal.organization_id) if isinstance(principal, VaiPrincipal) else 0
    body["nextOffset"] = body["offset"] + body["processed"]
    body["hasMore"] = body["nextOffset"] < total
    return body


# --- the registry ----------------------------------------------------------------------------

_DRF_LISTS = frozenset({
    "ai_mentor_orgs_users_artifacts_list",
    "ai_mentor_orgs_users_artifacts_versions_list",
    "ai_mentor_orgs_users_edx_memory_list",
    "ai_analytics_orgs_users_chat_history_list",
})
# Every operation whose success is 201 in the specs (tests/test_faults.py checks this list).
CREATE_OPERATIONS = frozenset({
    "ai_prompt_orgs_users_all_chats_memory_create",
    "ai_mentor_orgs_users_artifacts_create",
    "ai_mentor_orgs_users_custom_instruction_create",
    "ai_analytics_orgs_users_chat_history_create",
    "create_memory",
})
_CHAT_HISTORY_OBJECTS = frozenset({
    "ai_analytics_orgs_users_chat_history_list",
    "ai_analytics_orgs_users_chat_history_retrieve",
    "ai_analytics_orgs_users_chat_history_create",
    "ai_analytics_orgs_users_chat_history_update",
    "ai_analytics_orgs_users_chat_history_partial_update",
})
_CUSTOM_INSTRUCTION_PUT = frozenset({"ai_mentor_orgs_users_custom_instruction_update"})
_STATUS_OPS = frozenset({"ai_prompt_orgs_users_chat_memory_status_retrieve",
                         "ai_prompt_orgs_users_chat_memory_status_update"})
_ANALYTICS = frozenset({"ai_analytics_orgs_users_average_messages_per_session_list"})

_ALL = (
    Fault("create-returns-200", "status", "every create answers 200 instead of 201",
          "status code conformance", CREATE_OPERATIONS, _on_success(_created_as_ok, 201)),
    Fault("server-error-edx", "status", 'edx-memory retrieve answers 500 {"detail": "Internal Server Error"}',
          "status code conformance", frozenset({"ai_mentor_orgs_users_edx_memory_retrieve"}),
          _on_success(_server_error)),
    Fault("artifact-missing-field", "schema", "artifact retrieve omits the required date_updated",
          "response schema", frozenset({"ai_mentor_orgs_users_artifacts_retrieve"}),
          _on_success(_json_change(_drop_date_updated))),
    Fault("status-id-as-string", "schema", "chat-memory-status id is serialised as a string",
          "response schema", _STATUS_OPS, _on_success(_json_change(_id_as_string))),
    Fault("conversation-null-email", "schema", "chat-history conversations have email null",
          "response schema", _CHAT_HISTORY_OBJECTS, _on_success(_json_change(_null_email), 200, 201)),
    Fault("vai-wrong-content-type", "schema", "the VirtuousAI list answers Content-Type text/plain",
          "content type", frozenset({"list_memories"}), _on_success(_text_plain)),
    Fault("lost-update", "state", "custom-instruction PUT answers the new content but does not store it",
          "read-your-writes", _CUSTOM_INSTRUCTION_PUT, _lost_update),
    Fault("delete-noop", "state",
          "DELETE of all-chats-memory/{id}, artifacts/{id} and /api/v1/memory/{id} answers 204 but keeps the object",
          "delete-then-404",
          frozenset({"ai_prompt_orgs_users_all_chats_memory_destroy2", "ai_mentor_orgs_users_artifacts_destroy",
                     "delete_memory"}),
          _delete_noop),
    Fault("stale-read", "state", "chat-memory-status GET keeps answering the first value it served per user",
          "read-your-writes", frozenset({"ai_prompt_orgs_users_chat_memory_status_retrieve"}), _stale_read),
    Fault("timestamp-frozen", "state", "custom-instruction PUT does not move updated_at",
          "timestamps", _CUSTOM_INSTRUCTION_PUT, _timestamp_frozen),
    Fault("count-off-by-one", "pagination", "DRF count is one more than the number of matching items",
          "pagination invariants", _DRF_LISTS, _on_success(_json_change(_count_plus_one))),
    Fault("page-overlap", "pagination", "each page after the first repeats the previous page's last item",
          "pagination invariants", _DRF_LISTS, _page_overlap),
    Fault("ordering-ignored", "pagination", "the ordering query parameter is ignored on artifacts",
          "ordering", frozenset({"ai_mentor_orgs_users_artifacts_list"}), _ordering_ignored),
    Fault("vai-total-all-orgs", "pagination", "VirtuousAI total counts every organization's memories",
          "pagination invariants", frozenset({"list_memories"}), _on_success(_json_change(_total_all_orgs))),
    Fault("user-leak", "isolation", "an ibl user token may read and write other users of its org (no 403)",
          "isolation", None, _user_leak),
    Fault("org-leak", "isolation", "VirtuousAI GET /memory/{id} finds another organization's memory instead of 404",
          "isolation", frozenset({"get_memory"}), _org_leak),
    Fault("auth-bypass", "auth",
          "a request with no credential at all is served as the fixtures' first admin / first VAI organization",
          "auth enforced", None, _auth_bypass),
    Fault("validation-off", "validation",
          "PUT chat-memory-status without enabled, or with a non-boolean, is accepted as enabled: true",
          "negative data rejected", frozenset({"ai_prompt_orgs_users_chat_memory_status_update"}), _validation_off),
    Fault("analytics-round-down", "analytics", "avg_messages floors instead of rounding half up",
          "analytics consistency", frozenset(), None, _install_floor),
    Fault("analytics-stale", "analytics", "analytics ignore conversations created (or changed) after startup",
          "analytics consistency", _ANALYTICS, _analytics_stale, _snapshot_store),
    Fault("backfill-skips-skipped", "counters",
          "backfill nextOffset = offset + processed, so skipped memories are re-examined and hasMore misleads",
          "backfill counters", frozenset({"backfill_entities"}),
          _on_success(_json_change(_next_offset_processed_only))),
)

FAULTS: dict[str, Fault] = {fault.name: fault for fault in _ALL}
