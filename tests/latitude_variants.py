"""Test-only variants of the mock: each answers one point of the contract's latitude the other way.

``spec/latitude.yaml`` lists the choices a correct server may make; the mock makes one of each.
A variant is the real mock app (``create_app``) inside one ASGI layer that makes another of
those choices, as a Django REST Framework (ibl) or FastAPI/pydantic v2 (VirtuousAI) server
would, and changes nothing else. ``tests/test_latitude_variants.py`` runs the harness against
each one: it must stay green. Nothing in ``mock_server/`` knows about these layers.

The layers touch only the two APIs' paths; the admin plane (``/_mock``) and the docs pass as
they are. Request bodies are read when JSON or ``application/x-www-form-urlencoded``; multipart
bodies pass unchanged (the harness sends none).
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import orjson
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contract_tests.specs import load_contract, resolved_operation
from contract_tests.validate import operations
from mock_server.app import create_app
from mock_server.errors import MalformedJSON
from mock_server.settings import Settings
from mock_server.wire import dumps, loads

IBL_PREFIXES = ("/api/ai-prompt/", "/api/ai-mentor/", "/api/ai-analytics/")
VAI_BASE = "/api/v1/memory"
WRITES = ("POST", "PUT", "PATCH")
JSON, FORM = "application/json", "application/x-www-form-urlencoded"


def api_of(path: str) -> str | None:
    """Which API a request path belongs to (None for the admin plane, the docs and other paths)."""
    if path.startswith(IBL_PREFIXES):
        return "ibl"
    if path == VAI_BASE or path.startswith(VAI_BASE + "/"):
        return "virtuousai"
    return None


# --- requests and replies ------------------------------------------------------------------------


@dataclass
class Reply:
    """A whole response: status, raw ASGI headers, body."""

    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """One header's value, or None."""
        key = name.lower().encode("latin-1")
        return next((v.decode("latin-1") for k, v in self.headers if k.lower() == key), None)

    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON."""
        if not self.body or not (self.header("content-type") or "").startswith(JSON):
            return None
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return None

    def with_json(self, value: Any) -> Reply:
        """The same reply with ``value`` as its JSON body."""
        return with_body(self, dumps(value), JSON)

    async def send(self, send: Send) -> None:
        """Send it as one ASGI response."""
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def with_body(reply: Reply, body: bytes, content_type: str, status: int | None = None,
              headers: Mapping[str, str] | None = None) -> Reply:
    """``reply`` with another body and Content-Type, and optionally another status and more headers."""
    replaced = {"content-type": content_type, "content-length": str(len(body)), **(headers or {})}
    kept = [(k, v) for k, v in reply.headers if k.lower().decode("latin-1") not in replaced]
    return Reply(reply.status if status is None else status,
                 kept + [(k.encode("latin-1"), v.encode("latin-1")) for k, v in replaced.items()], body)


def json_reply(status: int, value: Any, headers: Mapping[str, str] | None = None) -> Reply:
    """A JSON reply a variant makes itself."""
    return with_body(Reply(status), dumps(value), JSON, headers=headers)


def request_header(scope: Scope, name: str) -> str | None:
    """One request header's value, or None."""
    key = name.lower().encode("latin-1")
    return next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == key), None)


async def read_body(receive: Receive) -> bytes:
    """The whole request body."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``body`` once, then defers to the server's (a disconnect)."""
    pending = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive_() -> Message:
        return next(pending, None) or await receive()

    return receive_


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def capture(app: ASGIApp, scope: Scope, receive: Receive = _no_body) -> Reply:
    """Run ``app`` on one request and keep its whole response."""
    reply, chunks = Reply(500), []

    async def collect(message: Message) -> None:
        if message["type"] == "http.response.start":
            reply.status, reply.headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, collect)
    reply.body = b"".join(chunks)
    return reply


def inner_scope(scope: Scope, **changes: Any) -> Scope:
    """A new request for the mock made from ``scope``: what the mock's routing left on it dropped."""
    kept = {k: v for k, v in scope.items() if k not in ("path_params", "extensions", "route", "endpoint")}
    return {**kept, "extensions": {}, **changes}


def with_request_body(scope: Scope, body: bytes, content_type: str) -> Scope:
    """``scope`` for ``body`` sent as ``content_type`` (its Content-Length follows)."""
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"content-length", b"content-type")]
    headers += [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(body)).encode())]
    return {**scope, "headers": headers}


# --- the contract: operations and schemas --------------------------------------------------------


def operation_id(api: str, method: str, path: str) -> str | None:
    """The operation a request goes to (literal paths win over templated ones, as in the mock)."""
    return next((op.operation_id for op in operations(api) if op.method == method and op.pattern.match(path)), None)


def allowed_methods(api: str, path: str) -> list[str]:
    """The methods the spec declares on the path item ``path`` belongs to (empty when none)."""
    matching = [op for op in operations(api) if op.pattern.match(path)]
    if not matching:
        return []
    fewest = min(op.template.count("{") for op in matching)
    return [op.method for op in matching if op.template.count("{") == fewest]


def body_schema(api: str, op_id: str, media_type: str) -> dict[str, Any] | None:
    """An operation's request body schema for one media type."""
    content = resolved_operation(api, op_id).get("requestBody", {}).get("content", {})
    return content.get(media_type, {}).get("schema")


def parameters(api: str, op_id: str, location: str) -> dict[str, dict[str, Any]]:
    """An operation's parameters in one location (``query``, ``path``): name -> parameter."""
    return {p["name"]: p for p in resolved_operation(api, op_id).get("parameters", []) if p.get("in") == location}


def path_values(api: str, op_id: str, path: str) -> dict[str, str]:
    """The path parameters of a request to an operation, by name."""
    template = next(op.template for op in operations(api) if op.operation_id == op_id)
    pattern = re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    found = re.fullmatch(pattern, path)
    return found.groupdict() if found else {}


def without_query(scope: Scope, drop: Callable[[str, str], bool]) -> Scope:
    """``scope`` without the query pairs ``drop(name, value)`` picks."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not drop(k, v)]
    return scope if kept == pairs else {**scope, "query_string": urlencode(kept).encode("latin-1")}


def date_time_names() -> frozenset[str]:
    """Every property name the two specs declare with ``format: date-time``."""
    names: set[str] = set()
    stack: list[Any] = [load_contract("ibl"), load_contract("virtuousai")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and prop.get("format") == "date-time":
                    names.add(name)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(names)


def char_field(schema: dict[str, Any]) -> bool:
    """Whether DRF would read this string field with a ``CharField`` (not a UUID, date or choice field)."""
    return schema.get("type") == "string" and schema.get("format") in (None, "email", "uri") and "enum" not in schema


# --- request bodies ------------------------------------------------------------------------------


@dataclass
class Body:
    """A decoded request body: JSON (any value) or a form (a list of name, value pairs)."""

    media_type: str
    data: Any

    def encode(self) -> bytes:
        """The body as bytes in its media type (JSON in UTF-8)."""
        return dumps(self.data) if self.media_type == JSON else urlencode(self.data).encode("ascii")


def decode(scope: Scope, raw: bytes) -> Body | None:
    """The body as the mock would read it, or None (another media type, or a body the mock refuses)."""
    media_type, _, params = (request_header(scope, "content-type") or "").partition(";")
    media_type = media_type.strip().lower()
    charset = dict(p.strip().lower().partition("=")[::2] for p in params.split(";") if "=" in p).get("charset")
    try:
        if media_type == JSON:
            return Body(JSON, loads(raw, charset or "utf-8"))
        if media_type == FORM:
            return Body(FORM, parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict"))
    except (MalformedJSON, UnicodeDecodeError, ValueError):
        return None
    return None


def as_object(body: Body) -> Any:
    """A form as the object it stands for (the last value of a repeated name wins, as in DRF's QueryDict)."""
    return dict(body.data) if body.media_type == FORM else body.data


@dataclass(frozen=True)
class Problem:
    """One field a variant refuses: where it is, what was sent, what DRF and pydantic would say."""

    path: tuple[str | int, ...]
    input: Any
    drf: str
    pydantic: tuple[str, str] = ("value_error", "Value error")


def rejection(api: str, problems: list[Problem]) -> Reply:
    """400 in DRF's field style (nested as the data nests), or FastAPI's 422 detail list."""
    if api == "virtuousai":
        return json_reply(422, {"detail": [{"type": p.pydantic[0], "loc": ["body", *p.path], "msg": p.pydantic[1],
                                            "input": p.input} for p in problems]})
    tree: dict[str, Any] = {}
    for problem in problems:
        node: Any = tree
        for part, following in zip(problem.path, problem.path[1:]):
            if isinstance(part, int):  # a list of objects: DRF answers one dict per item, empty when it is fine
                node.extend({} for _ in range(part + 1 - len(node)))
                node = node[part]
            else:
                node = node.setdefault(part, [] if isinstance(following, int) else {})
        node.setdefault(problem.path[-1], []).append(problem.drf)
    return json_reply(400, tree)


def objects(schema: dict[str, Any], value: Any, path: tuple[str | int, ...] = ()) -> Iterator[
        tuple[dict[str, Any], dict[str, Any], tuple[str | int, ...]]]:
    """Every JSON object in ``value`` whose schema declares properties: (properties, object, path)."""
    props = schema.get("properties")
    if isinstance(value, dict) and isinstance(props, dict):
        yield props, value, path
        for name, item in value.items():
            if isinstance(props.get(name), dict):
                yield from objects(props[name], item, (*path, name))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from objects(schema["items"], item, (*path, index))


def mapped(schema: dict[str, Any], value: Any, leaf: Callable[[dict[str, Any], Any, tuple[str | int, ...]], Any],
           path: tuple[str | int, ...] = ()) -> Any:
    """``value`` with ``leaf(schema, scalar, path)`` applied to every scalar the schema types."""
    props = schema.get("properties")
    if isinstance(value, dict) and isinstance(props, dict):
        return {k: mapped(props[k], v, leaf, (*path, k)) if isinstance(props.get(k), dict) else v
                for k, v in value.items()}
    if isinstance(value, list) and schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return [mapped(schema["items"], v, leaf, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, (dict, list)) or "type" not in schema:
        return value
    return leaf(schema, value, path)


async def auth_failure(app: ASGIApp, api: str, scope: Scope) -> Reply | None:
    """The mock's 401/403 for the request's credential on its path, or None when it may go on.

    Asked with a GET that changes nothing: the same org and user (an admin-only view for
    chat-history paths, as those are) for ibl, the memory list for VirtuousAI.
    """
    if api == "virtuousai":
        raw = VAI_BASE.encode()
    else:
        parts = (scope.get("raw_path") or scope["path"].encode()).split(b"/")
        if len(parts) < 8 or parts[3] != b"orgs" or parts[5] != b"users":
            return None
        view = b"/api/ai-analytics/orgs/%s/users/%s/chat-history-filter/" if parts[7].startswith(b"chat-history") \
            else b"/api/ai-prompt/orgs/%s/users/%s/chat-memory-status/"
        raw = view % (parts[4], parts[6])
    headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"content-length", b"content-type")]
    probe = inner_scope(scope, method="GET", path=unquote(raw.decode("latin-1")), raw_path=raw, query_string=b"",
                        headers=headers)
    reply = await capture(app, probe)
    return reply if reply.status in (401, 403) else None


Act = Callable[[ASGIApp, str, Scope, Receive], Awaitable[Reply]]
# What a body check makes of a body: its rewrite (None: as it came) and the fields it refuses.
Outcome = tuple[Body | None, list[Problem]]
Check = Callable[[str, Scope, dict[str, Any], Body], Outcome]


class Layer:
    """An ASGI layer in front of the mock: ``act`` answers each request to the two APIs."""

    def __init__(self, app: ASGIApp, act: Act) -> None:
        self.app = app
        self.act = act

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = api_of(scope["path"]) if scope["type"] == "http" else None
        if api is None:
            await self.app(scope, receive, send)
            return
        reply = await self.act(self.app, api, scope, receive)
        if scope["method"] == "HEAD":  # headers as for GET, no body (a reply made here may carry one)
            reply.body = b""
        await reply.send(send)


def replies(rewrite: Callable[[str, Scope, Reply], Reply]) -> Act:
    """An act that lets the mock answer, then rewrites its reply."""

    async def act(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
        return rewrite(api, scope, await capture(app, scope, receive))

    return act


def bodies(check: Check) -> Act:
    """An act that reads each write's body: ``check`` rewrites it, or refuses fields in it.

    A refusal comes after authentication and permissions, as DRF and FastAPI validate a body
    only in the view (a request the mock stops there goes to it as it came), and names every
    bad field at once, as they do: when the rest of the body is invalid too, the mock's own
    rejection of the rest is answered with the refused fields added.
    """

    async def act(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
        if scope["method"] not in WRITES:
            return await capture(app, scope, receive)
        raw = await read_body(receive)
        body = decode(scope, raw)
        op_id = operation_id(api, scope["method"], scope["path"])
        schema = body_schema(api, op_id, body.media_type) if body is not None and op_id else None
        if body is None or schema is None:
            return await capture(app, scope, replaying(raw, receive))
        changed, problems = check(api, scope, schema, body)
        if problems and await auth_failure(app, api, scope) is None:
            rest = without_fields(changed or body, [p.path for p in problems])
            read = mapped(schema, as_object(rest), drf_scalar) if rest.media_type == FORM else rest.data
            if valid_body(schema, read):
                return rejection(api, problems)
            # The mock refuses the rest too (it validates the same schema), so nothing is written;
            # were it to take it after all, its answer stands.
            return with_refused(api, await capture(app, *with_body_of(scope, receive, rest)), problems)
        if changed is None or problems:
            return await capture(app, scope, replaying(raw, receive))
        return await capture(app, *with_body_of(scope, receive, changed))

    return act


def with_body_of(scope: Scope, receive: Receive, body: Body) -> tuple[Scope, Receive]:
    """The request as the mock should get it with ``body`` instead of what was sent."""
    encoded = body.encode()
    return with_request_body(scope, encoded, body.media_type), replaying(encoded, receive)


def valid_body(schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` is a valid request body for ``schema`` (OpenAPI 3.0, as the mock validates it)."""
    return OAS30WriteValidator(schema, format_checker=oas30_format_checker).is_valid(value)


def without_fields(body: Body, paths: list[tuple[str | int, ...]]) -> Body:
    """``body`` without the fields at ``paths`` (a form has top-level fields only)."""
    if body.media_type == FORM:
        return Body(FORM, [(k, v) for k, v in body.data if (k,) not in paths])

    def drop(node: Any, here: tuple[str | int, ...]) -> Any:
        if isinstance(node, dict):
            return {k: drop(v, (*here, k)) for k, v in node.items() if (*here, k) not in paths}
        if isinstance(node, list):
            return [drop(v, (*here, i)) for i, v in enumerate(node)]
        return node

    return Body(JSON, drop(body.data, ()))


def with_refused(api: str, reply: Reply, problems: list[Problem]) -> Reply:
    """The mock's rejection of the rest of a body, with the refused fields named too (ours win a shared key:
    the mock saw those fields missing)."""
    theirs, ours = reply.json(), rejection(api, problems).json()
    # A DRF "detail" string is not a field's errors (a field named detail has a list).
    if reply.status == 400 and isinstance(theirs, dict) and not isinstance(theirs.get("detail"), str):
        return reply.with_json({**theirs, **ours})
    if reply.status == 422 and isinstance(theirs, dict) and isinstance(theirs.get("detail"), list):
        refused = {tuple(item["loc"]) for item in ours["detail"]}
        kept = [item for item in theirs["detail"] if tuple(item.get("loc", ())) not in refused]
        return reply.with_json({"detail": kept + ours["detail"]})
    return reply


# --- the variants, one point each ----------------------------------------------------------------

EXTRA_FIELD = "served_by"


def _grown(item: Any) -> Any:
    return {**item, EXTRA_FIELD: "a server that adds undeclared fields"} if isinstance(item, dict) else item


def extra_response_fields(api: str, scope: Scope, reply: Reply) -> Reply:
    """Every object of a 2xx body (the body, its items, ``results[]``, ``memories[]``) gains an undeclared field."""
    body = reply.json()
    if not 200 <= reply.status < 300 or body is None:
        return reply
    if isinstance(body, list):
        return reply.with_json([_grown(item) for item in body])
    if isinstance(body, dict):
        body = _grown(body)
        for key in ("results", "memories"):
            if isinstance(body.get(key), list):
                body[key] = [_grown(item) for item in body[key]]
        return reply.with_json(body)
    return reply


PARSE_PREFIX = "JSON parse error - "


def _reworded(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _reworded(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_reworded(v) for v in node]
    return "Enter a valid value." if isinstance(node, str) else node


def error_wording(api: str, scope: Scope, reply: Reply) -> Reply:
    """Field messages, pydantic ``msg`` texts and the JSON parse reason reworded; FastAPI items gain ``ctx``, ``url``.

    The texts the conventions fix (401/403/404/405/415 details, the parse prefix) stay.
    """
    body = reply.json()
    if api == "ibl" and reply.status == 400 and isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str) and detail.startswith(PARSE_PREFIX):
            return reply.with_json({"detail": PARSE_PREFIX + "the request body could not be decoded"})
        return reply.with_json(_reworded(body))
    if api == "virtuousai" and reply.status == 422 and isinstance(body, dict) and isinstance(body.get("detail"), list):
        items = [{**item, "msg": f"Invalid input ({item.get('type')})",
                  "ctx": item.get("ctx", {"reason": "reworded by this server"}),
                  "url": f"https://errors.pydantic.dev/2.14/v/{item.get('type')}"}
                 for item in body["detail"] if isinstance(item, dict)]
        return reply.with_json({"detail": items})
    return reply


async def check_order(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """Authentication and permissions come first: DRF checks them before it dispatches on the method or
    reads the body (so before 405 and 413); for VirtuousAI, as an authenticating middleware does (before 405)."""
    reply = await capture(app, scope, receive)
    if reply.status == 405 or (api == "ibl" and reply.status == 413):
        return await auth_failure(app, api, scope) or reply
    return reply


def _relative(location: str) -> str:
    parts = urlsplit(location)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def trailing_slash_301(api: str, scope: Scope, reply: Reply) -> Reply:
    """An ibl path without its slash: 301 with a relative Location, as Django's APPEND_SLASH answers."""
    if api != "ibl" or reply.status != 307 or scope["path"].endswith("/") or reply.header("location") is None:
        return reply
    location = _relative(reply.header("location") or "")
    return with_body(Reply(301), b"", "text/html; charset=utf-8", headers={"location": location})


DJANGO_404 = (b'<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
              b'  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n')


def trailing_slash_404(api: str, scope: Scope, reply: Reply) -> Reply:
    """An ibl path without its slash: Django's HTML 404 (APPEND_SLASH off)."""
    if api != "ibl" or reply.status != 307 or scope["path"].endswith("/"):
        return reply
    return with_body(Reply(404), DJANGO_404, "text/html; charset=utf-8")


DRF_RENDERS = ["application/json", "text/html"]
DRF_PARSES = [JSON, FORM, "multipart/form-data"]


async def implicit_methods(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """ibl OPTIONS answers DRF's metadata (200, Allow) after its permission checks; VirtuousAI HEAD is
    FastAPI's 405 (its GET routes do not take HEAD). A CORS preflight is still the CORS layer's."""
    methods = allowed_methods(api, scope["path"])
    preflight = request_header(scope, "access-control-request-method") is not None
    if api == "ibl" and scope["method"] == "OPTIONS" and methods and not preflight:
        failure = await auth_failure(app, api, scope)
        if failure is not None:
            return failure
        allow = [*methods, *(["HEAD"] if "GET" in methods else []), "OPTIONS"]
        template = next(op.template for op in operations(api) if op.pattern.match(scope["path"]))
        name = next(s for s in reversed(template.split("/")) if s and not s.startswith("{"))
        metadata = {"name": name.replace("-", " ").title(), "description": "", "renders": DRF_RENDERS,
                    "parses": DRF_PARSES}
        return json_reply(200, metadata, {"allow": ", ".join(allow), "vary": "Accept"})
    if api == "virtuousai" and scope["method"] == "HEAD" and methods:
        return json_reply(405, {"detail": "Method Not Allowed"}, {"allow": ", ".join(methods)})
    return await capture(app, scope, receive)


def _refused(schema: dict[str, Any], body: Body, judge: Callable[[dict[str, Any] | None], bool],
             drf: str) -> Outcome:
    """The fields ``judge`` refuses (given their schema, None when undeclared) in every object of the body."""
    extra = ("extra_forbidden", "Extra inputs are not permitted")
    return None, [Problem((*path, name), value, drf, extra)
                  for props, obj, path in objects(schema, as_object(body)) for name, value in obj.items()
                  if judge(props.get(name) if isinstance(props.get(name), dict) else None)]


def unknown_fields_refused(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    """Undeclared request fields refused: 400 ``{"<field>": ["Unknown field."]}`` / 422 ``extra_forbidden``."""
    return _refused(schema, body, lambda prop: prop is None, "Unknown field.")


def read_only_fields_refused(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    """readOnly request fields refused: 400 ``{"<field>": ["This field is read-only."]}`` / 422 ``extra_forbidden``."""
    return _refused(schema, body, lambda prop: prop is not None and prop.get("readOnly") is True,
                    "This field is read-only.")


def read_only_fields_dropped(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    """readOnly request fields dropped before the body is read, as DRF drops them: never stored, never refused."""
    if body.media_type == FORM:
        props = schema.get("properties", {})
        kept = [(k, v) for k, v in body.data if not (isinstance(props.get(k), dict) and props[k].get("readOnly"))]
        return (None if kept == body.data else Body(FORM, kept)), []
    data = _without_read_only(schema, body.data)
    return (None if data == body.data else Body(JSON, data)), []


def _without_read_only(schema: dict[str, Any], value: Any) -> Any:
    props = schema.get("properties")
    if isinstance(value, dict) and isinstance(props, dict):
        return {k: _without_read_only(props[k], v) if isinstance(props.get(k), dict) else v
                for k, v in value.items() if not (isinstance(props.get(k), dict) and props[k].get("readOnly"))}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_without_read_only(schema["items"], v) for v in value]
    return value


DRF_TRUE = {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1", 1, True}
DRF_FALSE = {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0", 0, 0.0, False}
_DRF_DECIMAL_TAIL = re.compile(r"\.0*\s*$")
DRF_MAX_STRING_LENGTH = 1000  # IntegerField refuses longer strings before it parses them


def drf_scalar(schema: dict[str, Any], value: Any, path: tuple[str | int, ...] = ()) -> Any:
    """``value`` as DRF's field for ``schema`` reads it (unchanged where DRF refuses it: the mock refuses it too).

    As in DRF 3.15: CharField takes numbers (``str``), IntegerField takes what ``int()`` parses once a
    zero decimal part is cut, BooleanField its TRUE_VALUES/FALSE_VALUES, UUIDField integers.
    """
    kind, fmt = schema.get("type"), schema.get("format")
    try:
        if kind == "string" and fmt == "uuid" and isinstance(value, int):
            return str(uuid.UUID(int=value))
        if char_field(schema) and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if kind == "integer" and not isinstance(value, (dict, list)):
            if isinstance(value, str) and len(value) > DRF_MAX_STRING_LENGTH:
                return value
            return int(_DRF_DECIMAL_TAIL.sub("", str(value)))
        if kind == "boolean" and not isinstance(value, (dict, list)):
            return True if value in DRF_TRUE else False if value in DRF_FALSE else value
    except ValueError:
        return value
    return value


_PYDANTIC = {"integer": TypeAdapter(int), "boolean": TypeAdapter(bool), "uuid": TypeAdapter(uuid.UUID)}


def pydantic_scalar(schema: dict[str, Any], value: Any, path: tuple[str | int, ...] = ()) -> Any:
    """``value`` as pydantic v2 (lax mode) reads it for ``schema`` (unchanged where pydantic refuses it)."""
    kind = "uuid" if schema.get("format") == "uuid" else schema.get("type")
    adapter = _PYDANTIC.get(str(kind))
    if adapter is None or value is None:
        return value
    try:
        parsed = adapter.validate_python(value)
    except ValidationError:
        return value
    return str(parsed) if isinstance(parsed, uuid.UUID) else parsed


def _coerced_body(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    if body.media_type != JSON:  # form values are text: the mock already reads them as DRF does
        return None, []
    data = mapped(schema, body.data, drf_scalar if api == "ibl" else pydantic_scalar)
    return (None if data == body.data and _same_types(data, body.data) else Body(JSON, data)), []


def _same_types(a: Any, b: Any) -> bool:
    """Equal values may differ in JSON type (1 == 1.0 == True): compare the types too."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b))
    return True


_coerce_bodies = bodies(_coerced_body)


async def scalar_coercion(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """JSON bodies coerced as DRF (ibl) or pydantic's lax mode (VirtuousAI) does before the mock reads them;
    VirtuousAI query integers too (pydantic takes ``" 7"``, ``"7.0"``, ``"1_0"``)."""
    op_id = operation_id(api, scope["method"], scope["path"]) if api == "virtuousai" else None
    if op_id is not None and scope.get("query_string"):
        params = {k: p.get("schema", {}) for k, p in parameters(api, op_id, "query").items()}
        pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        read = [(k, str(pydantic_scalar(params[k], v)) if k in params and params[k].get("type") == "integer" else v)
                for k, v in pairs]
        if read != pairs:
            scope = {**scope, "query_string": urlencode(read).encode("latin-1")}
    return await _coerce_bodies(app, api, scope, receive)


def string_normalisation(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    """ibl strings as DRF's CharField takes them: surrounding whitespace trimmed, empty or whitespace-only
    refused as blank (``allow_blank`` is off by default), NUL refused."""
    if api != "ibl":
        return None, []
    problems: list[Problem] = []

    def leaf(field_schema: dict[str, Any], value: Any, path: tuple[str | int, ...]) -> Any:
        if not isinstance(value, str) or not char_field(field_schema):
            return value
        if "\x00" in value:
            problems.append(Problem(path, value, "Null characters are not allowed."))
        elif not value.strip():
            problems.append(Problem(path, value, "This field may not be blank."))
        return value.strip()

    if body.media_type == FORM:
        props = schema.get("properties", {})
        data: Any = [(k, leaf(props[k], v, (k,)) if isinstance(props.get(k), dict) else v) for k, v in body.data]
    else:
        data = mapped(schema, body.data, leaf)
    return (None if data == body.data else Body(body.media_type, data)), problems


DATE_TIMES = date_time_names()
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z")


def _restamped(node: Any, digits: int) -> Any:
    if isinstance(node, dict):
        return {k: _stamp(v, digits) if k in DATE_TIMES else v if k == "metadata" else _restamped(v, digits)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_restamped(v, digits) for v in node]
    return node


def _stamp(value: Any, digits: int) -> Any:
    match = _STAMP.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return value
    return f"{match[1]}.{(match[2] or '').ljust(digits, '0')[:digits]}Z" if digits else f"{match[1]}Z"


def restamped(digits: int) -> Callable[[str, Scope, Reply], Reply]:
    """Every timestamp of a reply rendered with ``digits`` fractional digits, always (none at all for 0).

    Only the rendering changes: the stored instants, and so every ordering, keep their microseconds,
    as with DRF's ``DATETIME_FORMAT`` (``%Y-%m-%dT%H:%M:%SZ`` is a common one) or
    ``isoformat(timespec="milliseconds")``. ``metadata`` (user data) is left alone.
    """

    def rewrite(api: str, scope: Scope, reply: Reply) -> Reply:
        body = reply.json()
        return reply if body is None else reply.with_json(_restamped(body, digits))

    return rewrite


LINK_ORIGIN = ("https", "api.example.invalid")


def _relinked(url: Any) -> Any:
    if not isinstance(url, str):
        return url
    parts = urlsplit(url)
    # DRF's replace_query_param: parse_qs, then urlencode(sorted(...)): names in alphabetical order.
    query = urlencode(sorted(parse_qs(parts.query, keep_blank_values=True).items()), doseq=True)
    return urlunsplit((*LINK_ORIGIN, parts.path, query, ""))


def link_origin(api: str, scope: Scope, reply: Reply) -> Reply:
    """DRF page links built on another origin (a proxy's ``X-Forwarded-*``), query names in DRF's sorted order."""
    body = reply.json()
    if api != "ibl" or not isinstance(body, dict) or not {"next", "previous", "results"} <= set(body):
        return reply
    return reply.with_json({**body, "next": _relinked(body["next"]), "previous": _relinked(body["previous"])})


PROFILE_MEMORY_LIST = "ai_mentor_orgs_users_ai_user_profile_memory_list"
CHAT_HISTORY_FILTER = "ai_analytics_orgs_users_chat_history_filter_retrieve"


def _topics_reversed(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: v[::-1] if k == "topics" and isinstance(v, list) else v if k == "metadata" else _topics_reversed(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_topics_reversed(v) for v in node]
    return node


def unordered_lists(api: str, scope: Scope, reply: Reply) -> Reply:
    """Lists the contract leaves unordered come in reverse: profile memories, a conversation's topics, the
    chat-history filter data's lists."""
    body = reply.json()
    if api != "ibl" or body is None:
        return reply
    op_id = operation_id(api, scope["method"], scope["path"])
    if op_id == PROFILE_MEMORY_LIST and isinstance(body, list):
        return reply.with_json(body[::-1])
    if op_id == CHAT_HISTORY_FILTER and isinstance(body, dict):
        return reply.with_json({k: v[::-1] if isinstance(v, list) else v for k, v in body.items()})
    return reply.with_json(_topics_reversed(body))


CHAT_MEMORY_UPDATE = "ai_prompt_orgs_users_all_chats_memory_update"


def async_task_ids(api: str, scope: Scope, reply: Reply) -> Reply:
    """The all-chats-memory update task answers with another confirmation message."""
    body = reply.json()
    if (api != "ibl" or reply.status != 200 or not isinstance(body, dict)
            or operation_id(api, scope["method"], scope["path"]) != CHAT_MEMORY_UPDATE):
        return reply
    return reply.with_json({**body, "message": "Your chat memories will be refreshed shortly."})


# Ordering fields each DRF list honours (the rest are ignored), as the mock's ordering filters have them.
ORDERABLE = {
    "ai_mentor_orgs_users_artifacts_list": ("date_created", "date_updated", "title"),
    "ai_mentor_orgs_users_artifacts_versions_list": ("version_number", "date_created"),
    "ai_analytics_orgs_users_chat_history_list": ("inserted_at", "rating", "student", "sentiment"),
    "ai_mentor_orgs_users_edx_memory_list": ("id", "student", "course_id", "date_created", "last_modified"),
}


def collation_key(text: str) -> tuple[str, str, str]:
    """A locale-like collation: letters and digits first (accents, case and punctuation ignored), then case-
    insensitively with punctuation, then lowercase before uppercase."""
    primary = "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if c.isalnum())
    return primary, text.casefold(), text.swapcase()


def _sort_key(name: str, value: Any) -> tuple[bool, Any]:
    # NULLs first, as the mock (and PostgreSQL's DESC NULLS FIRST counterpart) orders them ascending.
    if value is None:
        return (False, 0)
    if name in DATE_TIMES and isinstance(value, str):
        return (True, datetime.fromisoformat(value.replace("Z", "+00:00")))
    return (True, collation_key(value) if isinstance(value, str) else value)


async def string_collation(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """Lists ordered on a string field sort by a locale collation (case- and punctuation-insensitive), not by
    code point: the page is cut from the whole list sorted that way (ties still by id)."""
    reply = await capture(app, scope, receive)
    op_id = operation_id(api, scope["method"], scope["path"]) if reply.status == 200 else None
    page = reply.json()
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    ordering = [v for k, v in pairs if k == "ordering"]
    if op_id not in ORDERABLE or not ordering or not isinstance(page, dict) or not page.get("results"):
        return reply
    keys: list[tuple[str, bool]] = []
    for part in (p.strip() for p in ordering[-1].split(",")):
        name = part[1:] if part.startswith("-") else part
        if name in ORDERABLE[op_id] and name not in {n for n, _ in keys}:
            keys.append((name, part.startswith("-")))
    texts = any(isinstance(row.get(name), str) and name not in DATE_TIMES
                for name, _ in keys for row in page["results"])
    page_param = dict(pairs).get("page") or "1"
    if not texts or not page_param.isdigit():
        return reply
    rest = [(k, v) for k, v in pairs if k not in ("page", "page_size")]
    rows: list[Any] = []
    for number in itertools.count(1):
        query = urlencode([*rest, ("page_size", "100"), ("page", str(number))]).encode("latin-1")
        part = (await capture(app, inner_scope(scope, query_string=query))).json()
        if not isinstance(part, dict):
            return reply
        rows += part["results"]
        if not part["next"]:
            break
    rows.sort(key=lambda row: row["id"])
    for name, desc in reversed(keys):
        rows.sort(key=lambda row: _sort_key(name, row.get(name)), reverse=desc)
    number = int(page_param)
    shown = len(page["results"])
    size = shown if page["next"] or number == 1 else (page["count"] - shown) // (number - 1)
    return reply.with_json({**page, "results": rows[(number - 1) * size:(number - 1) * size + shown]})


# Ids an ibl server hands out are any increasing integers: this one has gaps (7n + 5 for the mock's n).
ID_SEGMENTS = frozenset({b"artifacts", b"versions", b"edx-memory", b"all-chats-memory"})
ABSENT = 2**53  # an offset past every id the mock hands out: an id this server never gave is absent


def id_out(n: int) -> int:
    """The id this server shows for the mock's id ``n``."""
    return 7 * n + 5


def id_in(x: int) -> int:
    """The mock's id for an id this server shows (an absent one for ids it never gave)."""
    if x >= 12 and (x - 5) % 7 == 0:
        return (x - 5) // 7
    return x + ABSENT if 1 <= x < 2**62 else x


def _ids_out(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: id_out(v) if k == "id" and type(v) is int else v if k == "metadata" else _ids_out(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_ids_out(v) for v in node]
    return node


def _raw_ids_in(raw_path: bytes) -> bytes:
    parts = raw_path.split(b"/")
    return b"/".join(str(id_in(int(p))).encode() if i and parts[i - 1] in ID_SEGMENTS and p.isdigit() else p
                     for i, p in enumerate(parts))


def _version_in(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    data = as_object(body)
    if not isinstance(data, dict) or "version_id" not in schema.get("properties", {}):
        return None, []
    value = data.get("version_id")
    if body.media_type == JSON and type(value) is int:
        return Body(JSON, {**data, "version_id": id_in(value)}), []
    if body.media_type == FORM and isinstance(value, str) and value.isascii() and value.isdigit():
        return Body(FORM, [(k, str(id_in(int(v))) if k == "version_id" else v) for k, v in body.data]), []
    return None, []


_versions_in = bodies(_version_in)


async def id_values(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """ibl ids with gaps (7n + 5), in paths, the set-current body and every ``id`` of a reply."""
    if api != "ibl":
        return await capture(app, scope, receive)
    raw = _raw_ids_in(scope.get("raw_path") or scope["path"].encode())
    scope = {**scope, "raw_path": raw, "path": unquote(raw.decode("latin-1"))}
    reply = await _versions_in(app, api, scope, receive)
    body = reply.json()
    return reply if body is None else reply.with_json(_ids_out(body))


PATH_BOUND = {"username": "user_id", "platform_key": "org"}  # body field -> the path parameter it repeats


def path_bound_fields(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    """Body fields that repeat the path are not read: a serializer without them, the owner taken from the
    path. Whatever was sent for them (or nothing), the mock gets the path's values."""
    names = [n for n, p in schema.get("properties", {}).items() if p.get("x-latitude") == "path-bound-fields"]
    op_id = operation_id(api, scope["method"], scope["path"])
    if not names or op_id is None:
        return None, []
    path = path_values(api, op_id, scope["path"])
    values = {name: path[PATH_BOUND[name]] for name in names}
    if body.media_type == FORM:
        return Body(FORM, [(k, v) for k, v in body.data if k not in values] + list(values.items())), []
    return (Body(JSON, {**body.data, **values}) if isinstance(body.data, dict) else None), []


def _latitude_parameters(api: str, scope: Scope, point: str) -> set[str]:
    op_id = operation_id(api, scope["method"], scope["path"])
    query = parameters(api, op_id, "query") if op_id else {}
    return {name for name, p in query.items() if p.get("x-latitude") == point}


async def ignored_parameters(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """Parameters the sources document as accepted and ignored are not read at all: no validation."""
    names = _latitude_parameters(api, scope, "ignored-parameters")
    return await capture(app, without_query(scope, lambda k, v: k in names), receive)


def _blank_skipped(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and schema.get("minLength", 0) >= 1


async def blank_filters(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """An optional ibl query string sent empty is skipped, as django-filter skips empty values
    (``?sentiment=`` lists everything) where the mock refuses it for its minLength 1."""
    op_id = operation_id(api, scope["method"], scope["path"]) if api == "ibl" else None
    query = parameters(api, op_id, "query") if op_id else {}
    skipped = {name for name, p in query.items() if not p.get("required") and _blank_skipped(p.get("schema", {}))}
    return await capture(app, without_query(scope, lambda k, v: k in skipped and v == ""), receive)


async def undecodable_body(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """A VirtuousAI JSON body that is not text answers FastAPI's 400 "There was an error parsing the body"
    (FastAPI reads the body before it validates anything, credentials included)."""
    media_type = (request_header(scope, "content-type") or JSON).partition(";")[0].strip().lower()
    if api != "virtuousai" or scope["method"] not in WRITES or not (media_type == JSON or media_type.endswith("+json")):
        return await capture(app, scope, receive)
    raw = await read_body(receive)
    try:
        json.loads(raw)
    except UnicodeDecodeError:
        return json_reply(400, {"detail": "There was an error parsing the body"})
    except ValueError:
        pass  # malformed JSON: FastAPI's 422 json_invalid, as the mock answers
    return await capture(app, scope, replaying(raw, receive))


def _freed(schema: dict[str, Any], body: Body, point: str) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    """(path, name, value) of every JSON body field the spec frees with ``x-latitude: <point>``."""
    if body.media_type != JSON:
        return
    for props, obj, path in objects(schema, body.data):
        for name, value in obj.items():
            if isinstance(props.get(name), dict) and props[name].get("x-latitude") == point:
                yield path, name, value


def references(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    """Fields that name other objects are checked against what this server stores (none of them here,
    below 1 for a version id): DRF's ``Invalid pk "7" - object does not exist.`` and ``min_value`` 1."""
    problems = []
    for path, name, value in _freed(schema, body, "references"):
        if isinstance(value, list) and value:
            problems.append(Problem((*path, name), value, f'Invalid pk "{value[0]}" - object does not exist.'))
        elif type(value) is int and value < 1:
            problems.append(Problem((*path, name), value, "Ensure this value is greater than or equal to 1."))
    return None, problems


def superset_fields(api: str, scope: Scope, schema: dict[str, Any], body: Body) -> Outcome:
    """Fields only one source shows (custom-instruction's seed-only ``content``) are validated as
    a plain DRF CharField would be: null is refused."""
    return None, [Problem((*path, name), value, "This field may not be null.")
                  for path, name, value in _freed(schema, body, "superset-fields") if value is None]


async def alternative_formats(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """Path parameters the 4.x client types as UUIDs (the downloads task id) are validated as UUIDs: any
    other value is 404 ``Not found.``, after the permission checks, as a view that looks it up answers."""
    op_id = operation_id(api, scope["method"], scope["path"])
    names = {n for n, p in parameters(api, op_id, "path").items() if p.get("x-latitude") == "alternative-formats"} \
        if op_id else set()
    values = path_values(api, op_id, scope["path"]) if names and op_id else {}
    for name in names:
        try:
            uuid.UUID(values[name])
        except ValueError:
            return await auth_failure(app, api, scope) or json_reply(404, {"detail": "Not found."})
    return await capture(app, scope, receive)


async def as_it_is(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
    """The mock's own answer (for a variant that differs only in its settings)."""
    return await capture(app, scope, receive)


THROTTLE_EVERY = 97


def throttled() -> Act:
    """Every 97th request to the APIs answers 429 with Retry-After, in the API's style (a throttle)."""
    seen = itertools.count(1)

    async def act(app: ASGIApp, api: str, scope: Scope, receive: Receive) -> Reply:
        if next(seen) % THROTTLE_EVERY:
            return await capture(app, scope, receive)
        detail = "Request was throttled. Expected available in 1 second." if api == "ibl" else "Too Many Requests"
        return json_reply(429, {"detail": detail}, {"retry-after": "1"})

    return act


# --- the catalogue ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One other reading of one latitude point."""

    name: str
    point: str  # the id in spec/latitude.yaml
    act: Callable[[], Act]  # makes the act, one per app (a throttle keeps a count)
    settings: Mapping[str, Any] = field(default_factory=dict)
    green: bool = True  # the harness must pass it; False: checks may skip on it, but none may fail


VARIANTS: tuple[Variant, ...] = (
    Variant("unknown-request-fields", "unknown-request-fields", lambda: bodies(unknown_fields_refused)),
    Variant("read-only-request-fields", "read-only-request-fields", lambda: bodies(read_only_fields_refused)),
    Variant("read-only-request-fields-dropped", "read-only-request-fields", lambda: bodies(read_only_fields_dropped)),
    Variant("scalar-coercion", "scalar-coercion", lambda: scalar_coercion),
    Variant("string-normalisation", "string-normalisation", lambda: bodies(string_normalisation)),
    Variant("string-collation", "string-collation", lambda: string_collation),
    Variant("timestamp-milliseconds", "timestamp-precision", lambda: replies(restamped(3))),
    Variant("timestamp-seconds", "timestamp-precision", lambda: replies(restamped(0))),
    Variant("extra-response-fields", "extra-response-fields", lambda: replies(extra_response_fields)),
    Variant("error-wording", "error-wording", lambda: replies(error_wording)),
    Variant("check-order", "check-order", lambda: check_order),
    Variant("trailing-slash-301", "trailing-slash", lambda: replies(trailing_slash_301)),
    Variant("trailing-slash-404", "trailing-slash", lambda: replies(trailing_slash_404)),
    Variant("implicit-methods", "implicit-methods", lambda: implicit_methods),
    Variant("protocol-statuses", "protocol-statuses", throttled, green=False),
    Variant("body-limit", "body-limit", lambda: as_it_is, settings={"body_limit": 2_621_440}),
    Variant("link-origin", "link-origin", lambda: replies(link_origin)),
    Variant("unordered-lists", "unordered-lists", lambda: replies(unordered_lists)),
    Variant("id-values", "id-values", lambda: id_values),
    Variant("async-task-ids", "async-task-ids", lambda: replies(async_task_ids)),
    Variant("path-bound-fields", "path-bound-fields", lambda: bodies(path_bound_fields)),
    Variant("ignored-parameters", "ignored-parameters", lambda: ignored_parameters),
    Variant("blank-filters", "blank-filters", lambda: blank_filters),
    Variant("undecodable-body", "undecodable-body", lambda: undecodable_body),
    Variant("references", "references", lambda: bodies(references)),
    Variant("alternative-formats", "alternative-formats", lambda: alternative_formats),
    Variant("superset-fields", "superset-fields", lambda: bodies(superset_fields)),
)


def variant(name: str) -> Variant:
    """One variant by name (KeyError for an unknown one)."""
    found = {v.name: v for v in VARIANTS}
    return found[name]


def build(name: str, **settings: Any) -> ASGIApp:
    """The mock with the default fixtures inside the named variant's layer (``settings`` go to ``Settings``)."""
    chosen = variant(name)
    return Layer(create_app(Settings.from_env(**{**chosen.settings, **settings})), chosen.act())
