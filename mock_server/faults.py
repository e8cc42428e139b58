"""Deliberate contract breaches: ``memmock serve --fault NAME`` makes the mock misbehave on purpose.

Each fault is a bug a real backend could ship (a wrong status, a missing field, a lost write, a
leak across users...). They exist to prove that a conformance harness catches what it claims to
catch: run the harness against the mock with each fault and every run must fail.

One plugin (``FaultPlugin``, see ``plan.Plugin``) applies the chosen fault. It wraps the whole run
of the operations its fault targets (so it sees the request before security, and the reply after
strict response validation: a mutated reply is not stopped by ``--strict``) and their
authentication (so it can change the principal); the healthy mock does not load it at all.
Faults are deterministic: no randomness, no timing.

How a fault acts, from the most to the least common:

- rewrite the response of the targeted operations (status, body, headers), buffering only those;
- rewrite the request before security (a credential, a body, a query parameter);
- answer itself without calling the handler (``delete-noop``);
- change which principal security hands to the handler (``user-leak``, ``org-leak``), through
  the plugin's authentication hook;
- use a generic hook the domain offers (``AnalyticsBackend.average``) or read/write the store
  through the backends' public methods.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api._call import Call
from .clock import parse_date, parse_datetime
from .errors import InvalidPage, InvalidRequest, MockError, NotFound
from .headers import first_header
from .models.analytics import MAX_BUCKETS, AnalyticsBackend
from .models.common import DocReader, norm_uuid
from .plan import Authenticate, OperationPlan, Plugin
from .models.pagination import MAX_PAGE_SIZE, Page, order_items, paginate, parse_ordering, parse_page_size
from .state import STATE_KEY, IblPrincipal, MockState, VaiPrincipal
from .store import Credentials, Store
from .validation import SCOPE_KEY, replay, request_data
from .wire import dumps

__all__ = ["FAULTS", "Fault", "FaultPlugin", "Exchange", "Reply", "fault_names", "unknown_fault_message"]

# What a fault leaves on the scope for its authentication hook, and what that hook saw.
SWAP_KEY = "memmock.fault.swap"  # principal → the principal the handler gets
PRINCIPAL_KEY = "memmock.fault.principal"
MEMO_KEY = "fault"  # each state's memory of the fault (MockState.extensions)
VAI_MODULE = "mock_server.api.vai_memory"
ADMIN_MODULE = "mock_server.api.admin"

Action = Callable[["Exchange"], Awaitable["Reply | None"]]
Change = Callable[["Exchange", "Reply"], None]  # what a response-rewriting fault does to a buffered reply
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
    plan: OperationPlan
    memo: dict[str, Any]  # the fault's own memory, kept for the life of the app

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


def swap_principal(scope: Scope, swap: Callable[[Any], Any]) -> None:
    """Have the handler of this request get ``swap(principal)`` instead of the principal security found."""
    scope.setdefault("extensions", {})[SWAP_KEY] = swap


class FaultPlugin(Plugin):
    """Applies one fault from ``FAULTS`` to the operations it targets; others run untouched."""

    def __init__(self, fault_name: str) -> None:
        if fault_name not in FAULTS:
            raise ValueError(unknown_fault_message(fault_name))
        self.fault = FAULTS[fault_name]
    def attach(self, state: MockState) -> None:
        """Break a new state as the fault breaks every state (its setup), with a memory of its own."""
        memo = state.extensions[MEMO_KEY] = {}
        if self.fault.setup is not None:
            self.fault.setup(state, memo)

    def _targets(self, plan: OperationPlan) -> bool:
        return self.fault.targets(plan.operation_id.rpartition(".")[2])

    def around(self, plan: OperationPlan, app: ASGIApp) -> ASGIApp:
        """The fault's action in front of a targeted operation's run."""
        if not self._targets(plan):
            return app
        action = self.fault.action
        assert action is not None

        async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
            state = scope["extensions"][STATE_KEY]
            reply = await action(Exchange(app, scope, receive, send, state, plan, state.extensions[MEMO_KEY]))
            if reply is not None:
                await reply.send(send)

        return faulty

    def authenticate(self, plan: OperationPlan, authenticate: Authenticate) -> Authenticate:
        """A targeted operation's authentication, with the principal the fault's action asked for."""
        if not self._targets(plan):
            return authenticate

        def faulty(scope: Scope) -> Any:
            principal = authenticate(scope)
            extensions = scope.setdefault("extensions", {})
            swap = extensions.get(SWAP_KEY)
            if swap is not None:
                principal = swap(principal)
            extensions[PRINCIPAL_KEY] = principal
            return principal

        return faulty


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


def _on_success(change: Change, *statuses: int) -> Action:
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


def _json_change(change: Callable[[Exchange, Any], Any]) -> Change:
    """A response change that works on the parsed JSON body."""

    def apply(ex: Exchange, reply: Reply) -> None:
        reply.set_json(change(ex, reply.json()))

    return apply


def _when(condition: Callable[[Exchange], bool], change: Change) -> Change:
    """A response change applied only to requests that meet ``condition``."""

    def apply(ex: Exchange, reply: Reply) -> None:
        if condition(ex):
            change(ex, reply)

    return apply


def _json_object(ex: Exchange, body: bytes) -> dict[str, Any] | None:
    """The request body as a JSON object, or None (another media type, malformed, not an object)."""
    content_type = (Headers(scope=ex.scope).get("content-type") or "").split(";")[0].strip().lower()
    if not content_type.endswith("json"):
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _with_body(scope: Scope, body: bytes) -> tuple[Scope, Receive]:
    """A scope and receive callable that carry ``body`` instead of the request's own."""
    return _set_header(scope, "content-length", str(len(body))), _replay(body)


def _caller(ex: Exchange) -> Any:
    """The principal the request's credential names, as the operation's own security finds it.

    For faults that answer without calling the handler: they must still honour authentication.
    """
    try:
        return ex.plan.authenticate(ex.scope)
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


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


def _replay(body: bytes) -> Receive:
    """A receive callable that yields ``body`` once, then reports a disconnect."""
    return replay(body, _disconnected)


Match = Callable[[dict[str, Any]], bool]


def _user_record(org: str | None, username: str | None) -> Match:
    """Matches the exported record of one user (a family with one record per user)."""
    return lambda record: record.get("org") == org and record.get("username") == username


def _patch_record(backend: Any, section: str, match: Match, patch: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrite the matching records of a one-section family through its public export/clear/load.

    Runs without awaiting, so no other request sees the family half restored.
    """
    records = backend.export()[section]
    for i, record in enumerate(records):
        if match(record):
            records[i] = patch(record)
    reader = DocReader()
    backend.clear()
    backend.load(reader, {section: records}, ("ibl",))
    reader.raise_if_failed()


def _own_record(backend: Any, section: str, match: Match) -> dict[str, Any] | None:
    return next((r for r in backend.export()[section] if match(r)), None)


# --- DRF pages -------------------------------------------------------------------------------


def _page_link(ex: Exchange, query: dict[str, str], number: int) -> str:
    """A page link as the mock builds them: ``query`` without ``page``, plus ``page`` past the first."""
    params = {k: v for k, v in query.items() if k != "page"}
    if number > 1:
        params["page"] = str(number)
    base = Call(ex.scope, ex.state, request_data(ex.scope), None).base_url() + ex.scope["path"]
    return base + (f"?{urlencode(params)}" if params else "")


def _page_number(body: dict[str, Any]) -> int:
    """Which page a DRF body is, read from its ``previous`` link (the link to page 1 has no ``page``)."""
    if not body.get("previous"):
        return 1
    return int(dict(parse_qsl(urlsplit(body["previous"]).query)).get("page", "1")) + 1


async def _forward_rewritten(ex: Exchange, query: dict[str, str]) -> Reply:
    """Forward with another query string; the page links answer for the query the client sent."""
    reply = await ex.forward(ex.with_query(query))
    body = reply.json() if reply.status == 200 else None
    if isinstance(body, dict) and "next" in body:
        number, sent = _page_number(body), ex.query()
        body["next"] = _page_link(ex, sent, number + 1) if body["next"] else None
        body["previous"] = _page_link(ex, sent, number - 1) if body["previous"] else None
        reply.set_json(body)
    return reply


async def _all_items(ex: Exchange, query: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of the DRF list under ``query`` (its page and page_size aside), fetched page by page."""
    items: list[dict[str, Any]] = []
    number = 1
    while True:
        sub = {k: v for k, v in query.items() if k not in ("page", "page_size")}
        sub.update(page_size=str(MAX_PAGE_SIZE), page=str(number))
        body = (await ex.forward(ex.with_query(sub), _replay(b""))).json()
        items += body["results"]
        if not body["next"]:
            return items
        number += 1


def _every_row(page_of: Callable[[int], Page]) -> list[Any]:
    """Every row a backend's paginated list gives, page by page."""
    rows: list[Any] = []
    number = 1
    while True:
        page = page_of(number)
        rows += page.results
        if not page.has_next:
            return rows
        number += 1


def _link_query(link: str, change: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> str:
    """A page link with its query parameters passed through ``change``."""
    parts = urlsplit(link)
    return urlunsplit(parts._replace(query=urlencode(change(parse_qsl(parts.query, keep_blank_values=True)))))


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
    mine = _user_record(ex.path("org"), ex.path("user_id"))
    before = _own_record(ex.store.custom_instruction, "custom_instructions", mine)
    reply = await ex.forward()
    if reply.status == 200 and before is not None:
        _patch_record(ex.store.custom_instruction, "custom_instructions", mine, lambda _: before)
    return reply


def _frozen_stamp(backend: Callable[[Store], Any], section: str, stamp: str,
                  match: Callable[[Exchange], Match]) -> Action:
    """An action that stores and answers an update with the ``stamp`` field as it was before."""

    async def action(ex: Exchange) -> Reply:
        family, mine = backend(ex.store), match(ex)
        before = _own_record(family, section, mine)
        reply = await ex.forward()
        if reply.status == 200 and before is not None:
            frozen = before[stamp]
            _patch_record(family, section, mine, lambda record: {**record, stamp: frozen})
            body = reply.json()
            body[stamp] = frozen
            reply.set_json(body)
        return reply

    return action


def _path_artifact(ex: Exchange) -> Match:
    """Matches the exported artifact the path names."""
    org, user, artifact_id = ex.path("org"), ex.path("user_id"), _int(ex.path("id"))
    return lambda record: _user_record(org, user)(record) and record.get("id") == artifact_id


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


async def _create_drops_content(ex: Exchange) -> None:
    """Store every new memory with content "" (the handler reads a field the body does not have)."""
    body = await _read_body(ex.receive)
    document = _json_object(ex, body)
    if document is not None and isinstance(document.get("content"), str):
        body = dumps({**document, "content": ""})
    await ex.pass_through(*_with_body(ex.scope, body))


_PROFILE_CREATE = "ai_mentor_orgs_users_ai_user_profile_memory_create"
_PROFILE_DESTROY = "ai_mentor_orgs_users_ai_user_profile_memory_destroy"


async def _profile_duplicates(ex: Exchange) -> Reply:
    """An upsert of an existing tag inserts a second row: the list shows the old relation before the new.

    The store keeps one relation per tag, so the rows an upsert left behind live in the fault's
    memo (oldest first) until their tag is deleted; the list shows them beside their tag.
    """
    org, user = ex.path("org") or "", ex.path("user_id") or ""
    stale: list[dict[str, Any]] = ex.memo.setdefault((org, user), [])
    if ex.operation == _PROFILE_CREATE:
        before = {r["tag"]: r["detail"] for r in ex.store.profile_memory.list(org, user)}
        reply = await ex.forward()
        tag = reply.json()["tag"] if reply.status == 200 else None
        if tag in before:
            stale.append({"tag": tag, "detail": before[tag]})
        return reply
    reply = await ex.forward()
    if ex.operation == _PROFILE_DESTROY:
        stale[:] = [r for r in stale if r["tag"] != ex.path("tag")]  # the delete matches every row of the tag
    elif reply.status == 200:
        reply.set_json([row for current in reply.json()
                        for row in [*(r for r in stale if r["tag"] == current["tag"]), current]])
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
    if "ordering" not in query:
        return await ex.forward()
    return await _forward_rewritten(ex, {k: v for k, v in query.items() if k != "ordering"})


async def _uncapped_page(ex: Exchange) -> Reply:
    """A page_size above 100 is honoured, not clamped: the pages are cut from the whole list."""
    query = ex.query()
    size = _int(query.get("page_size"))
    reply = await ex.forward()
    if reply.status != 200 or size is None or size <= MAX_PAGE_SIZE:
        return reply
    items = await _all_items(ex, query)
    pages = max(1, -(-len(items) // size))
    raw = query.get("page", "").strip()
    number = pages if raw == "last" else (_int(raw) or 1)  # the healthy answer has vetted the number
    if number > pages:
        raise InvalidPage()
    body = reply.json()
    body["results"] = items[(number - 1) * size:number * size]
    body["next"] = _page_link(ex, query, number + 1) if number < pages else None
    body["previous"] = _page_link(ex, query, number - 1) if number > 1 else None
    reply.set_json(body)
    return reply


WRONG_DEFAULT_PAGE_SIZE = 20


async def _default_page_size(ex: Exchange) -> Reply:
    """page_size absent, zero, negative or not a number means 20 (the links keep what was sent)."""
    query = ex.query()
    size = _int(query.get("page_size"))
    if size is not None and size > 0:
        return await ex.forward()
    return await _forward_rewritten(ex, {**query, "page_size": str(WRONG_DEFAULT_PAGE_SIZE)})


def _links_page_only(ex: Exchange, body: Any) -> Any:
    for link in ("next", "previous"):
        if body.get(link):
            body[link] = _link_query(body[link], lambda params: [(k, v) for k, v in params if k == "page"])
    return body


def _first_page_numbered(ex: Exchange, body: Any) -> Any:
    if body.get("previous"):
        body["previous"] = _link_query(body["previous"], lambda params: params if any(k == "page" for k, _ in params)
                                       else params + [("page", "1")])
    return body


def _total_all_orgs(ex: Exchange, body: Any) -> Any:
    body["total"] = len(ex.store.vai_memory.export()["memories"])
    return body


# --- ordering ------------------------------------------------------------------------------

# The fields the artifacts list sorts by, and its default: the seed's, as the artifacts backend keeps them.
_ARTIFACT_ORDER_FIELDS = dict.fromkeys(("date_created", "date_updated", "title"))
_ARTIFACT_DEFAULT_ORDERING = "-date_updated"


async def _ties_unstable(ex: Exchange) -> Reply:
    """Rows that tie on the ordering key come in another order on each page query (no id tiebreak).

    Deterministically: by id on odd pages, by descending id on even ones, so a walk through the
    pages repeats some tied rows and skips others; every single page still looks sorted.
    """
    reply = await ex.forward()
    body = reply.json() if reply.status == 200 else None
    if body is None or _page_number(body) % 2:
        return reply
    query = ex.query()
    ordering = parse_ordering(query.get("ordering"), _ARTIFACT_ORDER_FIELDS, _ARTIFACT_DEFAULT_ORDERING)
    keys = [name for name, _ in ordering]
    items = await _all_items(ex, query)
    swapped = [row for _, run in groupby(items, key=lambda a: tuple(a[k] for k in keys)) for row in reversed(list(run))]
    size, number = parse_page_size(query.get("page_size")), _page_number(body)
    body["results"] = swapped[(number - 1) * size:number * size]
    reply.set_json(body)
    return reply


async def _unknown_ordering_400(ex: Exchange) -> Reply:
    """An ``ordering`` naming a field the list cannot sort by answers 400 instead of being ignored."""
    reply = await ex.forward()
    ordering = ex.query().get("ordering") or ""
    unknown = [part.strip() for part in ordering.split(",")
               if part.strip() and part.strip().lstrip("-") not in _ARTIFACT_ORDER_FIELDS]
    if reply.status == 200 and unknown:
        raise InvalidRequest.one("query", "ordering", "custom", ordering,
                                 message=f"Invalid ordering field: {unknown[0]}")
    return reply


async def _first_ordering_field_only(ex: Exchange) -> Reply:
    """``ordering=a,b`` sorts by ``a`` alone (ties then by id); the links keep what was sent."""
    query = ex.query()
    ordering = query.get("ordering") or ""
    if "," not in ordering:
        return await ex.forward()
    return await _forward_rewritten(ex, {**query, "ordering": ordering.split(",")[0].strip()})


# --- isolation -------------------------------------------------------------------------------


async def _reach_as(ex: Exchange, principal: IblPrincipal, name: str, own: str) -> None:
    """Let security check the path as if its ``name`` parameter were ``own`` (the token's own value).

    The reach check may run in the security function or in the handler, so both are fooled:
    security sees ``own`` in the path, then (when it stores the principal) the path gets its
    value back and the principal takes that value in place of its own.
    """
    params = ex.scope.get("path_params", {})
    target = params[name]
    field_name = {"user_id": "username", "org": "org"}[name]

    def swap(found: Any) -> Any:
        params[name] = target
        if found == principal:
            return dataclasses.replace(found, **{field_name: str(target)})
        return found

    params[name] = own
    swap_principal(ex.scope, swap)
    try:
        await ex.pass_through()
    finally:
        params[name] = target


async def _user_leak(ex: Exchange) -> None:
    """A user token passes as any user of its own org (admin-only checks still hold)."""
    params = ex.scope.get("path_params", {})
    target = params.get("user_id")
    principal = _ibl_token_owner(ex)
    if (principal is None or principal.is_admin or target is None or principal.org != params.get("org")
            or principal.username == str(target)):
        await ex.pass_through()
        return
    await _reach_as(ex, principal, "user_id", principal.username)


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

    swap_principal(ex.scope, swap)
    await ex.pass_through()


def _orgs(store: Store, org: str) -> list[str]:
    """Every ibl org the store knows of (its users' and its tokens'), and ``org``."""
    known = {user.org for user in store.users.all()} | {p.org for p in store.credentials.ibl_tokens.values()}
    return sorted(known | {org})


# chat-history's list filters and sort fields, read from the items the list answers.
_CHAT_HISTORY_FILTERS = ("start_date", "end_date", "filter_user_id", "mentor", "sentiment", "topics")
_CONVERSATION_ORDER: dict[str, Callable[[dict[str, Any]], Any]] = {
    "inserted_at": lambda c: parse_datetime(c["inserted_at"]),
    "rating": itemgetter("rating"),
    "student": itemgetter("student"),
    "sentiment": itemgetter("sentiment"),
}


async def _chat_history_all_orgs(ex: Exchange) -> Reply:
    """The chat-history list forgets the org: every org's conversations, filtered, ordered and paged as one."""
    sent = ex.query()
    checked = ex.with_query({k: v for k, v in sent.items() if k != "page"})  # the page may lie past the org's own
    reply = await ex.forward(checked)
    if reply.status != 200:
        return reply
    query = request_data(checked).query
    filters = {name: query[name] for name in _CHAT_HISTORY_FILTERS if query.get(name) is not None}

    def org_rows(org: str) -> list[Any]:
        return _every_row(lambda n: ex.store.chat_history.list(
            org, page=n, page_size=MAX_PAGE_SIZE, ordering=query.get("ordering"), **filters))

    rows = [row for org in _orgs(ex.store, ex.path("org") or "") for row in org_rows(org)]
    keys = parse_ordering(query.get("ordering"), _CONVERSATION_ORDER, "-inserted_at")
    page = paginate(order_items(rows, keys, _CONVERSATION_ORDER, itemgetter("id")), sent.get("page"),
                    query.get("page_size"))
    reply.set_json({"count": page.count,
                    "next": _page_link(ex, sent, page.number + 1) if page.has_next else None,
                    "previous": _page_link(ex, sent, page.number - 1) if page.has_previous else None,
                    "results": page.results})
    return reply


def _analytics_all_orgs(ex: Exchange, body: Any) -> Any:
    """average-messages-per-session counts the conversations of every org, not only the path's."""
    org, start, end, aggregation, mentor = _analytics_args(ex)
    per_org = [_bucket_totals(ex.store.analytics, o, start, end, aggregation, mentor) for o in _orgs(ex.store, org)]
    series = []
    for buckets in zip(*per_org):  # the buckets depend on the dates alone: the same for every org
        messages, sessions = sum(b[1] for b in buckets), sum(b[2] for b in buckets)
        series.append({"time": buckets[0][0], "total_sessions": sessions,
                       "avg_messages": ex.store.analytics.average(messages, sessions) if sessions else 0})
    return series


def _owner(rows: list[dict[str, Any]], org: str, record_id: int | None) -> str | None:
    """Which user of ``org`` owns the exported record with this id (None: nobody)."""
    return next((r["username"] for r in rows if r["org"] == org and r["id"] == record_id), None)


Found = Callable[[Exchange, Any, str, str, int], Reply]  # (exchange, backend, org, owner, id) -> the answer


def _any_user(backend_of: Callable[[Store], Any], section: str, id_param: str, found: Found) -> Action:
    """An action that, when the path's user has no object with the path's id, answers for the org user who has."""

    async def action(ex: Exchange) -> Reply:
        try:
            return await ex.forward()
        except NotFound:
            backend = backend_of(ex.store)
            org, record_id = ex.path("org") or "", _int(ex.path(id_param))
            owner = _owner(backend.export()[section], org, record_id)
            if owner is None or record_id is None:
                raise
        return found(ex, backend, org, owner, record_id)

    return action


def _edx_memory_found(ex: Exchange, backend: Any, org: str, owner: str, memory_id: int) -> Reply:
    if ex.operation == "ai_mentor_orgs_users_edx_memory_destroy":
        backend.destroy(org, owner, memory_id)
        return Reply(204)
    reply = Reply(200)
    reply.set_json(backend.retrieve(org, owner, memory_id))
    return reply


def _all_chats_found(ex: Exchange, backend: Any, org: str, owner: str, memory_id: int) -> Reply:
    backend.destroy_one(org, owner, memory_id)
    return Reply(204)


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


async def _cross_org_admin(ex: Exchange) -> None:
    """An admin token passes as an admin of whatever org the path names (the org is never compared)."""
    target = ex.scope.get("path_params", {}).get("org")
    principal = _ibl_token_owner(ex)
    if principal is None or not principal.is_admin or target is None or principal.org == str(target):
        await ex.pass_through()
        return
    await _reach_as(ex, principal, "org", principal.org)


async def _admin_check_skipped(ex: Exchange) -> None:
    """A user token that reaches the path passes chat-history's admin-only permission.

    Security is shown an admin key of the token's org (so only the admin-only check changes
    answer), and the handler gets the user's own principal back.
    """
    principal = _ibl_token_owner(ex)
    org, user = ex.path("org") or "", ex.path("user_id") or ""
    admin = None
    if principal is not None and not principal.is_admin and Credentials.ibl_can_reach(principal, org, user):
        admin = next((k for k, p in ex.store.credentials.ibl_tokens.items() if p.is_admin and p.org == org), None)
    if admin is None:
        await ex.pass_through()
        return
    scope = _set_header(ex.scope, "authorization", f"Api-Token {admin}")
    swap_principal(scope, lambda _: principal)
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


VAI_MAX_LIMIT = 100  # the VirtuousAI list's limit maximum in the spec


async def _limit_uncapped(ex: Exchange) -> Reply:
    """A VirtuousAI list ``limit`` above 100 is served (up to ``limit`` memories) instead of answering 422."""
    query = ex.query()
    limit = _int(query.get("limit"))
    if limit is None or limit <= VAI_MAX_LIMIT:
        return await ex.forward()
    sub = ex.with_query({**query, "limit": str(VAI_MAX_LIMIT)})  # every other check as usual
    reply = await ex.forward(sub)
    principal = ex.principal(sub)
    if reply.status == 200 and isinstance(principal, VaiPrincipal):
        offset = request_data(sub).query.get("offset", 0)
        reply.set_json(ex.store.vai_memory.list(principal.organization_id, limit, offset))
    return reply


async def _negative_offset(ex: Exchange) -> None:
    """A negative VirtuousAI list ``offset`` is read as 0 instead of answering 422."""
    query = ex.query()
    offset = _int(query.get("offset"))
    await ex.pass_through(ex.with_query({**query, "offset": "0"}) if offset is not None and offset < 0 else None)


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


def _analytics_args(ex: Exchange) -> tuple[str, date, date, str, str | None]:
    """(org, start, end, aggregation, mentor_id) of an analytics request the handler has accepted."""
    query = request_data(ex.scope).query
    return (ex.path("org") or "", parse_date(query["start_date"]), parse_date(query["end_date"]),
            query.get("aggregation") or "daily", query.get("mentor_id"))


def _message_total(total: int, sessions: int) -> int:
    return total


def _bucket_totals(analytics: AnalyticsBackend, org: str, start: date, end: date, aggregation: str,
                   mentor: str | None) -> list[tuple[str, int, int]]:
    """Each bucket's (time, messages, sessions), read through the domain's ``average`` hook.

    Runs without awaiting, so no other request sees the hook swapped.
    """
    average = analytics.average
    analytics.average = _message_total
    try:
        series = analytics.average_messages_per_session(org, start, end, aggregation, mentor)
    finally:
        analytics.average = average
    return [(b["time"], b["avg_messages"], b["total_sessions"]) for b in series]


def _weeks_from_sunday(ex: Exchange, body: Any) -> Any:
    """Weekly buckets start on the Sunday on or before start_date, not the Monday."""
    org, start, end, aggregation, mentor = _analytics_args(ex)
    if aggregation != "weekly" or end < start:
        return body
    first = start - timedelta(days=(start.weekday() + 1) % 7)
    weeks = [[0, 0] for _ in range((end - first).days // 7 + 1)]
    day = start
    while day <= end:  # daily totals, in calls of at most MAX_BUCKETS days
        stop = min(end, day + timedelta(days=MAX_BUCKETS - 1))
        for time, messages, sessions in _bucket_totals(ex.store.analytics, org, day, stop, "daily", mentor):
            week = weeks[(date.fromisoformat(time[:10]) - first).days // 7]
            week[0] += messages
            week[1] += sessions
        day = stop + timedelta(days=1)
    average = ex.store.analytics.average
    return [{"time": f"{(first + timedelta(weeks=n)).isoformat()}T00:00:00Z",
             "avg_messages": average(messages, sessions) if sessions else 0, "total_sessions": sessions}
            for n, (messages, sessions) in enumerate(weeks)]


def _end_exclusive(ex: Exchange, body: Any) -> Any:
    """end_date is exclusive: the series stops at its 00:00 (a one-day range is empty)."""
    org, start, end, aggregation, mentor = _analytics_args(ex)
    if end < start:
        return body
    return [] if end == start else ex.store.analytics.average_messages_per_session(
        org, start, end - timedelta(days=1), aggregation, mentor)


def _hourly_gaps(ex: Exchange, body: Any) -> Any:
    if request_data(ex.scope).query.get("aggregation") != "hourly":
        return body
    return [bucket for bucket in body if bucket["total_sessions"]]


WRONG_BUCKET_CAP = 100_000
_STEP = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
# What one call under the cap may cover: whole buckets (weekly ones from a Monday), at most MAX_BUCKETS.
_CALL_SPAN = {"hourly": timedelta(days=400), "daily": MAX_BUCKETS * _STEP["daily"],
              "weekly": MAX_BUCKETS * _STEP["weekly"]}


async def _cap_too_high(ex: Exchange) -> Reply:
    """A range past the 10,000-bucket cap but within 100,000 buckets is served, in calls under the cap."""
    try:
        return await ex.forward()
    except InvalidRequest as exc:
        cap_only = [(p.name, p.kind) for p in exc.problems] == [(("end_date",), "custom")]
        if not cap_only:
            raise
        org, start, end, aggregation, mentor = _analytics_args(ex)
        first = start - timedelta(days=start.weekday()) if aggregation == "weekly" else start
        if (end + timedelta(days=1) - first) / _STEP[aggregation] > WRONG_BUCKET_CAP:
            raise
    series: list[dict[str, Any]] = []
    chunk = first
    while chunk <= end:
        stop = min(end, chunk + _CALL_SPAN[aggregation] - timedelta(days=1))
        series += ex.store.analytics.average_messages_per_session(org, max(chunk, start), stop, aggregation, mentor)
        chunk = stop + timedelta(days=1)
    reply = Reply(200)
    reply.set_json(series)
    return reply


# --- counters --------------------------------------------------------------------------------


def _next_offset_processed_only(ex: Exchange, body: Any) -> Any:
    principal = ex.principal()
    total = ex.store.vai_memory.count(principal.organization_id) if isinstance(principal, VaiPrincipal) else 0
    body["nextOffset"] = body["offset"] + body["processed"]
    body["hasMore"] = body["nextOffset"] < total
    return body


# --- server errors on unusual but valid input ------------------------------------------------


def _non_ascii_search(ex: Exchange) -> bool:
    return not (ex.query().get("search") or "").isascii()


def _full_page(ex: Exchange) -> bool:
    return (_int(ex.query().get("page_size")) or 0) >= MAX_PAGE_SIZE


ARTIFACT_TITLE_MAX = 255  # the artifact title's maxLength in the spec


async def _full_length_title_500(ex: Exchange) -> Reply | None:
    """An artifact create whose title is exactly the spec's maxLength answers 500 (the column is one short).

    A copy of the request with a null title (never valid) goes through validation first: when
    the title is its only problem, the request is otherwise valid and gets the 500; any other
    answer (401, 403, 400 on another field...) is the one the request itself gets.
    """
    body = await _read_body(ex.receive)
    document = _json_object(ex, body)
    title = document.get("title") if document is not None else None
    if document is not None and isinstance(title, str) and len(title) == ARTIFACT_TITLE_MAX:
        try:
            await ex.forward(*_with_body(ex.subscope(), dumps({**document, "title": None})))
        except InvalidRequest as exc:
            if all(problem.location == "body" and problem.name[:1] == ("title",) for problem in exc.problems):
                reply = Reply(500)
                _server_error(ex, reply)
                return reply
    await ex.pass_through(receive=_replay(body))
    return None


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
_CHAT_HISTORY_ALL = _CHAT_HISTORY_OBJECTS | {"ai_analytics_orgs_users_chat_history_destroy",
                                             "ai_analytics_orgs_users_chat_history_filter_retrieve"}
_ARTIFACTS_LIST = frozenset({"ai_mentor_orgs_users_artifacts_list"})
_CHAT_HISTORY_LIST = frozenset({"ai_analytics_orgs_users_chat_history_list"})
_PROFILE_OPS = frozenset({"ai_mentor_orgs_users_ai_user_profile_memory_list", _PROFILE_CREATE, _PROFILE_DESTROY})

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
          "timestamps", _CUSTOM_INSTRUCTION_PUT,
          _frozen_stamp(lambda store: store.custom_instruction, "custom_instructions", "updated_at",
                        lambda ex: _user_record(ex.path("org"), ex.path("user_id")))),
    Fault("count-off-by-one", "pagination", "DRF count is one more than the number of matching items",
          "pagination invariants", _DRF_LISTS, _on_success(_json_change(_count_plus_one))),
    Fault("page-overlap", "pagination", "each page after the first repeats the previous page's last item",
          "pagination invariants", _DRF_LISTS, _page_overlap),
    Fault("ordering-ignored", "ordering", "the ordering query parameter is ignored on artifacts",
          "ordering", _ARTIFACTS_LIST, _ordering_ignored),
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
    # --- the faults of the second round: at least one per family of rules in the conventions
    Fault("cross-org-admin", "auth",
          "an ibl admin token reaches every org's paths, not only its own org's (the org is never compared)",
          "isolation: other org's admin gets 403", None, _cross_org_admin),
    Fault("chat-history-user-token", "auth",
          "a user token reaches chat-history (list, CRUD, filter data) on its own path: "
          "the admin-only check is missing",
          "chat-history refuses user tokens (403)", _CHAT_HISTORY_ALL, _admin_check_skipped),
    Fault("chat-history-all-orgs", "isolation",
          "the chat-history list (count, pages, filters) covers the conversations of every org, not only the path's",
          "isolation of org-wide lists", _CHAT_HISTORY_LIST, _chat_history_all_orgs),
    Fault("analytics-all-orgs", "isolation",
          "average-messages-per-session counts the conversations of every org, not only the path's",
          "isolation of analytics", _ANALYTICS, _on_success(_json_change(_analytics_all_orgs))),
    Fault("edx-memory-any-user", "isolation",
          "edx-memory GET/DELETE by id finds another user's record of the same org instead of 404",
          "isolation: another user's id answers 404",
          frozenset({"ai_mentor_orgs_users_edx_memory_retrieve", "ai_mentor_orgs_users_edx_memory_destroy"}),
          _any_user(lambda store: store.edx_memory, "edx_memory", "id", _edx_memory_found)),
    Fault("all-chats-delete-any-user", "isolation",
          "DELETE all-chats-memory/{id} deletes another user's entry of the same org (204) instead of 404",
          "isolation: another user's id answers 404",
          frozenset({"ai_prompt_orgs_users_all_chats_memory_destroy2"}),
          _any_user(lambda store: store.chat_memory, "all_chats_memory", "memory_id", _all_chats_found)),
    Fault("page-size-uncapped", "pagination",
          "DRF lists serve a page_size above 100 as asked instead of clamping it to 100",
          "page size cap", _DRF_LISTS, _uncapped_page),
    Fault("default-page-size-20", "pagination",
          "DRF lists default to 20 items a page (also for a zero, negative or non-numeric page_size), not 10",
          "default page size", _DRF_LISTS, _default_page_size),
    Fault("next-link-drops-query", "pagination",
          "DRF next/previous links keep only page, dropping page_size, ordering and the filters",
          "links keep the query", _DRF_LISTS, _on_success(_json_change(_links_page_only))),
    Fault("first-page-link-numbered", "pagination", "the DRF previous link to page 1 carries page=1",
          "the link to page 1 carries no page", _DRF_LISTS, _on_success(_json_change(_first_page_numbered))),
    Fault("ordering-ties-unstable", "ordering",
          "artifacts that tie on the ordering key come in another order on every other page (no id tiebreak), "
          "so a walk through the pages repeats some and skips others",
          "pages partition the list when the key ties", _ARTIFACTS_LIST, _ties_unstable),
    Fault("unknown-ordering-400", "ordering",
          "an artifacts ordering naming an unknown field answers 400 {\"ordering\": [...]} instead of being ignored",
          "unknown ordering ignored", _ARTIFACTS_LIST, _unknown_ordering_400),
    Fault("ordering-first-field-only", "ordering",
          "artifacts ordering=a,b sorts by a alone (ties by id), ignoring b",
          "multi-field ordering", _ARTIFACTS_LIST, _first_ordering_field_only),
    Fault("analytics-weeks-from-sunday", "analytics", "weekly buckets start on Sunday, not Monday",
          "weekly buckets start on Monday", _ANALYTICS, _on_success(_json_change(_weeks_from_sunday))),
    Fault("analytics-end-exclusive", "analytics",
          "end_date is exclusive: the series stops at end_date 00:00, so a one-day range answers []",
          "one bucket per day of the range", _ANALYTICS, _on_success(_json_change(_end_exclusive))),
    Fault("analytics-hourly-gaps", "analytics", "hourly series leave out the hours without sessions (no zero-fill)",
          "hourly series are zero-filled", _ANALYTICS, _on_success(_json_change(_hourly_gaps))),
    Fault("vai-limit-uncapped", "validation",
          "the VirtuousAI list serves limit above 100 (that many memories) instead of answering 422",
          "limit above its maximum rejected", frozenset({"list_memories"}), _limit_uncapped),
    Fault("vai-negative-offset", "validation",
          "a negative VirtuousAI list offset is read as 0 instead of answering 422",
          "offset below its minimum rejected", frozenset({"list_memories"}), _negative_offset),
    Fault("analytics-cap-too-high", "validation",
          "average-messages-per-session serves up to 100,000 buckets (a zero too many) instead of answering 400 "
          "past 10,000",
          "bucket cap", _ANALYTICS, _cap_too_high),
    Fault("patch-keeps-date-updated", "state", "artifact PATCH does not move date_updated (PUT still does)",
          "timestamps", frozenset({"ai_mentor_orgs_users_artifacts_partial_update"}),
          _frozen_stamp(lambda store: store.artifacts, "artifacts", "date_updated", _path_artifact)),
    Fault("vai-create-drops-content", "state",
          "VirtuousAI create stores (and answers) every memory with content \"\", whatever was sent",
          "created fields", frozenset({"create_memory"}), _create_drops_content),
    Fault("profile-upsert-duplicates", "state",
          "a profile-memory upsert of an existing tag adds a second relation: the list shows the old one, then the new",
          "upsert replaces", _PROFILE_OPS, _profile_duplicates),
    Fault("search-non-ascii-500", "server-error", "an artifacts search term with a non-ASCII character answers 500",
          "no 5xx on valid input", _ARTIFACTS_LIST, _on_success(_when(_non_ascii_search, _server_error))),
    Fault("title-max-length-500", "server-error",
          "a JSON artifact create whose title is exactly 255 characters (the spec's maxLength) answers 500",
          "no 5xx on valid input", frozenset({"ai_mentor_orgs_users_artifacts_create"}), _full_length_title_500),
    Fault("page-size-100-500", "server-error", "DRF lists answer 500 for page_size 100 or more (the largest page)",
          "no 5xx on valid input", _DRF_LISTS, _on_success(_when(_full_page, _server_error))),
)

FAULTS: dict[str, Fault] = {fault.name: fault for fault in _ALL}
