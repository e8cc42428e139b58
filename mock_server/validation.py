"""Request validation from the spec, collecting every problem in the API's own terms.

The validators check parameters and bodies against the spec's schemas (compiled once per schema
object, so no request rebuilds them), report every bad field as an ``errors.Problem`` rather
than stopping at the first, parse forms with Django REST Framework's boolean rules, and leave the
coerced values on the request (``RequestData``) so handlers never parse anything twice. Each
operation's plan (``plan.py``) builds its validators once, at startup.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import parse_qsl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

import fastjsonschema
from fastjsonschema.draft04 import CodeGeneratorDraft04
from jsonschema import Draft4Validator, FormatChecker, ValidationError
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import FormParser, MultiPartParser
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope

from connexion.datastructures import MediaTypeDict
from connexion.json_schema import Draft4RequestValidator

from .errors import InvalidRequest, MalformedJSON, Problem, Style
from .memo import Memo
from .models.common import CANONICAL_UUID
from .heap import gc_paused
from .wire import codec_name, has_lone_surrogate, loads, loads_in_pieces

SCOPE_KEY = "memmock"
BIG_BODY = 1024 * 1024  # bytes
LENIENT = "x-memmock-lenient"
_TRUE = {"true", "True", "TRUE", "1", "on", "On", "ON", "yes", "Yes", "YES", "y", "Y"}
_FALSE = {"false", "False", "FALSE", "0", "off", "Off", "OFF", "no", "No", "NO", "n", "N"}
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CHARSET = re.compile(r'(;\s*charset\s*=\s*)("[^"]*"|[^;]*)', re.IGNORECASE)

FORMATS = FormatChecker(formats=())


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if isinstance(value, str):
        if not _DATE.match(value):
            return False
        date.fromisoformat(value)
    return True


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if isinstance(value, str):
        if len(value) < 11 or value[10] not in "Tt ":
            return False
        datetime.fromisoformat(value.replace("z", "Z"))
    return True


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    # DRF's UUIDField parses with uuid.UUID, which takes hyphens anywhere, braces and a urn prefix.
    if isinstance(value, str) and not CANONICAL_UUID.fullmatch(value):  # the usual form, checked cheaply
        uuid.UUID(value)
    return True


# FastAPI's checks: the same, except UUIDs as pydantic parses them (the Rust uuid crate's forms:
# hyphenated, 32 hex digits, braced, or urn:uuid:-prefixed; ASCII hex digits of either case).
FASTAPI_FORMATS = FormatChecker(formats=())
FASTAPI_FORMATS.checkers = dict(FORMATS.checkers)
_HYPHENATED = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_PYDANTIC_UUID = re.compile(f"{_HYPHENATED}|[0-9a-fA-F]{{32}}|\\{{{_HYPHENATED}\\}}|urn:uuid:{_HYPHENATED}")


@FASTAPI_FORMATS.checks("uuid")
def _is_pydantic_uuid(value: object) -> bool:
    return not isinstance(value, str) or _PYDANTIC_UUID.fullmatch(value) is not None


@dataclass
class RequestData:
    """What validation learnt about one request: typed parameters and the parsed body."""

    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    raw_query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    raw: bytes | None = None  # the body as sent


def request_data(scope: Scope) -> RequestData:
    """The ``RequestData`` of a request, created on first use."""
    extensions = scope.setdefault("extensions", {})
    data = extensions.get(SCOPE_KEY)
    if data is None:
        data = extensions[SCOPE_KEY] = RequestData()
    return data


def style_of(scope: Scope) -> Style:
    """Which API's house style a request is answered in, from its path."""
    return Style.FASTAPI if scope.get("path", "").startswith("/api/v1/") else Style.DRF


# --- schema problems ---------------------------------------------------------------------

def _conforms(check: Callable[[Any], bool], raises: Any) -> Callable[[Any], bool]:
    """``FORMATS.conforms`` for one format, without its per-call lookup."""

    def conforms(value: Any) -> bool:
        try:
            return bool(check(value))
        except raises:
            return False

    return conforms


_CHECKERS = {Style.DRF: FORMATS, Style.FASTAPI: FASTAPI_FORMATS}
# The compiled accepter checks formats exactly as the API's checker does, and no others.
_ACCEPTER_FORMATS: dict[Style, dict[str, Callable[[Any], bool]]] = {
    style: {
        **{name: (lambda value: True) for name in CodeGeneratorDraft04.FORMAT_REGEXS},
        **{name: _conforms(check, raises) for name, (check, raises) in checker.checkers.items()},
    }
    for style, checker in _CHECKERS.items()
}

# Built once per schema object, per API style (DRF first, FastAPI second; chosen with ``is``:
# hashing an Enum member runs Python code): id -> (the schema, what was built from it).
_validators: tuple[dict[int, tuple[Any, Any]], dict[int, tuple[Any, Any]]] = ({}, {})
_accepters: tuple[dict[int, tuple[Any, Any]], dict[int, tuple[Any, Any]]] = ({}, {})


def _per_schema(caches: tuple[dict[int, tuple[Any, Any]], ...], style: Style, schema: dict[str, Any],
                build: Callable[[dict[str, Any], Style], Any]) -> Any:
    """``build(schema, style)``, made once per schema object and style (the identity check guards reused ids)."""
    cache = caches[1] if style is Style.FASTAPI else caches[0]
    cached = cache.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = cache[id(schema)] = (schema, build(schema, style))
    return cached[1]


def _validator(schema: dict[str, Any], style: Style = Style.DRF) -> Draft4Validator:
    """A compiled validator for ``schema`` with the API's format checks, built once per schema object."""
    return _per_schema(_validators, style, schema, _build_validator)  # type: ignore[no-any-return]


def _build_validator(schema: dict[str, Any], style: Style) -> Draft4Validator:
    return Draft4RequestValidator(schema, format_checker=_CHECKERS[style])


def _accepter(schema: dict[str, Any], style: Style = Style.DRF) -> Callable[[Any], Any] | None:
    """``schema`` compiled to Python by fastjsonschema: raises on any instance it does not accept.

    jsonschema walks a schema object by object on every call (a third of a POST's cost); the
    compiled function does the same checks in straight-line code. OpenAPI's ``nullable`` becomes
    a JSON-Schema null type, as connexion's validator reads it. None when the schema cannot be
    compiled: then jsonschema alone decides.
    """
    return _per_schema(_accepters, style, schema, _compile_accepter)  # type: ignore[no-any-return]


def _compile_accepter(schema: dict[str, Any], style: Style) -> Callable[[Any], Any] | None:
    # connexion hands form schemas over with the spec's components attached; every $ref in
    # them is already inlined, so the components are not needed (and may be recursive).
    plain = {name: value for name, value in schema.items() if name != "components"}
    try:
        return fastjsonschema.compile({**_as_draft4(plain), "$schema": "http://json-schema.org/draft-04/schema#"},  # type: ignore[no-any-return]
                                      formats=_ACCEPTER_FORMATS[style], use_default=False)
    except Exception:  # noqa: BLE001 - a schema the compiler cannot take is left to jsonschema
        return None


def _as_draft4(node: Any, inside: frozenset[int] = frozenset()) -> Any:
    """An OpenAPI 3.0 schema as plain draft 4: ``nullable`` lets null through ``type`` and ``enum`` only.

    A recursive schema (connexion inlines every ``$ref``) cannot be written out: it raises
    ``JsonSchemaDefinitionException``, leaving that schema to jsonschema.
    """
    if isinstance(node, (list, dict)):
        if id(node) in inside:
            raise fastjsonschema.JsonSchemaDefinitionException("recursive schema")
        inside = inside | {id(node)}
    if isinstance(node, list):
        return [_as_draft4(item, inside) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _as_draft4(value, inside) for key, value in node.items()}
    if node.get("nullable") is True or node.get("x-nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _kind(error: ValidationError) -> tuple[str, dict[str, Any]]:
    keyword, value = error.validator, error.validator_value
    if keyword == "type":
        if error.instance is None:
            return "null", {}
        expected = value[0] if isinstance(value, list) else value
        return str(expected), {}
    if keyword == "maxLength":
        return "max_length", {"limit": value}
    if keyword == "minLength":
        return ("blank" if error.instance == "" else "min_length"), {"limit": value}
    if keyword == "minimum":
        return "minimum", {"limit": value}
    if keyword == "maximum":
        return "maximum", {"limit": value}
    if keyword == "enum":
        return "choice", {"choices": value}
    if keyword == "format" and value in ("date", "date-time", "uuid", "uri"):
        return str(value), {}
    if keyword == "x-nullable" or (keyword == "nullable" and error.instance is None):
        return "null", {}
    return "custom", {"message": error.message}


def schema_problems(
    schema: dict[str, Any], instance: Any, location: str, prefix: tuple[str | int, ...] = (),
    style: Style = Style.DRF,
) -> list[Problem]:
    """Every way ``instance`` breaks ``schema`` (with ``style``'s format checks), as problems at ``location``."""
    accept = _accepter(schema, style)
    if accept is not None:
        try:
            accept(instance)
            return []
        except Exception:  # noqa: BLE001 - anything but a clean accept: jsonschema decides and explains
            pass
    problems: list[Problem] = []
    for error in _validator(schema, style).iter_errors(instance):
        path = prefix + tuple(error.absolute_path)
        if error.validator == "required":
            for name in error.validator_value:
                if isinstance(error.instance, dict) and name not in error.instance:
                    problems.append(Problem(location, path + (name,), "required", None))
            continue
        if not path and location == "body" and error.validator == "type":
            problems.append(Problem(location, (), "root_object", instance))
            continue
        kind, params = _kind(error)
        problems.append(Problem(location, path, kind, error.instance, params))
    # Report each field once, in a stable order.
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for problem in sorted(problems, key=lambda p: tuple(str(part) for part in p.name)):
        key = (problem.name, problem.kind)
        if key not in seen:
            seen.add(key)
            unique.append(problem)
    return unique


# --- parameters --------------------------------------------------------------------------


def coerce(value: str, schema: dict[str, Any], style: Style = Style.DRF) -> Any:
    """A query/path/form string as the schema's type, as the API's framework reads it; unchanged when it does not parse.

    DRF reads integers with ``int()``, which takes any Unicode digits; pydantic only ASCII ones.
    """
    kind = schema.get("type")
    if kind == "integer" and _INTEGER.match(value) and (style is Style.DRF or value.isascii()):
        try:
            return int(value)
        except ValueError:  # past Python's digit limit: not an integer the mock can hold or write
            return value
    if kind == "number" and _NUMBER.match(value):
        return float(value)
    if kind == "boolean":
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    if kind in ("object", "array") and value[:1] in ("{", "["):
        try:
            return loads(value)
        except MalformedJSON:
            return value
    return value


_PLAIN_TYPES = {"string": str, "integer": int}
_NON_VALIDATING = {"type", "description", "example", "examples", "title"}


class ParameterValidator:
    """Validates an operation's path, query and header parameters in one pass."""

    def __init__(self, parameters: list[dict[str, Any]]) -> None:
        self.parameters = parameters
        self._has_headers = any(p["in"] == "header" for p in parameters)
        # What each parameter needs, read from the spec once: (in, name, schema, required, lenient,
        # plain type). Parameters whose schema says only "a string" / "an integer" (org, user_id,
        # ids) are checked by type here, which is all jsonschema's `type` keyword would do.
        self._checks = [
            (p["in"], p["name"], p.get("schema", {}), bool(p.get("required")), bool(p.get(LENIENT)),
             _PLAIN_TYPES.get(p.get("schema", {}).get("type")) if set(p.get("schema", {})) <= _NON_VALIDATING else None)
            for p in parameters if p["in"] in ("query", "path", "header")
        ]

    def validate(self, scope: Scope) -> None:
        """Check every parameter; raise ``InvalidRequest`` listing all that are wrong."""
        data = request_data(scope)
        raw_query = _query_dict(scope)
        data.raw_query = raw_query
        path_params = scope.get("path_params", {})
        headers = Headers(scope=scope) if self._has_headers else None
        style: Style | None = None  # found when a parameter needs coercing (most requests have none)
        problems: list[Problem] = []
        for where, name, schema, required, lenient, plain in self._checks:
            if where == "query":
                raw = raw_query.get(name)
            elif where == "path":
                raw = path_params.get(name)
                raw = None if raw is None else str(raw)
            else:
                raw = headers.get(name) if headers is not None else None
            target = data.path if where == "path" else data.query
            if raw is None:
                if required:
                    problems.append(Problem(where, (name,), "required", None))
                elif "default" in schema:
                    target[name] = schema["default"]
                continue
            if lenient or plain is str:  # a plain string parameter needs no coercion and no schema
                target[name] = raw
                continue
            if style is None:
                style = style_of(scope)
            value = coerce(raw, schema, style)
            if plain is not None and type(value) is plain:
                target[name] = value
                continue
            found = schema_problems(schema, value, where, (name,), style)
            if found:
                for problem in found:  # FastAPI echoes the string that was sent ("101"), not 101
                    problem.input = raw
                problems.extend(found)
            else:
                target[name] = value
        if problems:
            raise InvalidRequest(problems)


def _query_dict(scope: Scope) -> dict[str, str]:
    """The query string as a dict; a repeated key keeps its last value, as Django does."""
    raw = scope.get("query_string", b"")
    if not raw:
        return {}
    return dict(_parsed_query(raw))


# Clients repeat the same few query strings (a page size, a filter): each is parsed once. A query
# string can be as long as the server lets a request line be, hence the budget in bytes.
_QUERIES: Memo[bytes, tuple[tuple[str, str], ...]] = Memo(
    1024, 4 * 1024 * 1024, lambda raw, pairs: 2 * len(raw) + 160 * len(pairs) + 100)


def _parsed_query(raw: bytes) -> tuple[tuple[str, str], ...]:
    found = _QUERIES.get(raw)
    if found is None:
        found = _QUERIES.put(raw, tuple(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)))
    return found


# --- bodies ------------------------------------------------------------------------------


class BodyValidator:
    """Shared body flow: read, parse, validate, and stash the result for the handler."""

    def __init__(self, schema: dict[str, Any], *, required: bool, nullable: bool, encoding: str) -> None:
        self.schema = schema
        self.required = required
        self.nullable = nullable
        self.encoding = encoding

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client left mid-body: what arrived is not the request it meant to send.
                raise ClientDisconnect()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def wrap_receive(self, receive: Receive, scope: Scope) -> Receive:
        """Validate the body and keep it; replay the original bytes downstream, as one message."""
        raw = await self._read(receive)
        data = request_data(scope)
        data.raw = raw
        sent = bool(raw.strip())
        body = await self._parse_bytes(raw, scope) if sent else None
        if sent and body is None and not self.nullable:
            # A JSON null is a body, not a missing one: DRF says "No data provided", FastAPI "missing".
            if style_of(scope) is Style.FASTAPI:
                raise InvalidRequest([Problem("body", (), "required", None)])
            raise InvalidRequest([Problem("body", (), "custom", None, {"message": "No data provided"})])
        if body is None:
            if style_of(scope) is Style.FASTAPI and self.required:
                raise InvalidRequest([Problem("body", (), "required", None)])
            # DRF reads a missing body as an empty form: required fields then say so.
            body = {} if self.schema.get("type") == "object" else None
        if body is not None or not self.nullable:
            problems = schema_problems(self.schema, body, "body", style=style_of(scope))
            if problems:
                raise InvalidRequest(problems)
        data.body, data.has_body = body, sent
        return replay(raw, receive)

    async def _parse_bytes(self, raw: bytes, scope: Scope) -> Any:
        raise NotImplementedError


class JSONBodyValidator(BodyValidator):
    """JSON bodies: malformed JSON gets the API's parse error."""

    async def _parse_bytes(self, raw: bytes, scope: Scope) -> Any:
        if len(raw) > BIG_BODY:  # a state import, say: parsed beside the loop, which keeps answering
            return await asyncio.to_thread(_parse_big, raw, self.encoding)
        return loads(raw, self.encoding)


def _parse_big(raw: bytes, encoding: str) -> Any:
    with gc_paused():  # see heap.gc_paused
        return loads_in_pieces(raw, encoding)


class FormBodyValidator(BodyValidator):
    """URL-encoded and multipart forms, typed by the schema with DRF's rules."""

    async def _parse_bytes(self, raw: bytes, scope: Scope) -> Any:
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "")
        parser_cls = MultiPartParser if content_type.lower().startswith("multipart/") else FormParser
        charset = _CHARSET.search(content_type)
        if charset is not None and codec_name(charset.group(2).strip().strip('"')) is None:
            # What Starlette reads an unknown charset as, without asking the codec registry (which
            # would remember the name for ever).
            mutable = headers.mutablecopy()
            mutable["content-type"] = content_type[:charset.start(2)] + "latin-1" + content_type[charset.end(2):]
            headers = mutable

        async def stream() -> AsyncIterator[bytes]:
            yield raw
            yield b""

        try:
            form = await parser_cls(headers, stream()).parse()
        except Exception as exc:  # starlette raises several types for broken forms
            raise InvalidRequest([Problem("body", (), "custom", None,
                                          {"message": f"Malformed form data: {exc}"})]) from None
        properties = self.schema.get("properties", {})
        body: dict[str, Any] = {}
        for key in form.keys():
            values = [v.filename if isinstance(v, UploadFile) else v for v in form.getlist(key)]
            schema = properties.get(key, {})
            if schema.get("type") == "array":
                items = schema.get("items", {})
                if len(values) == 1 and values[0][:1] == "[":
                    body[key] = coerce(values[0], schema)
                else:
                    body[key] = [coerce(v, items) for v in values]
            elif values[-1] == "" and schema.get("nullable") and (schema.get("type") != "string" or "format" in schema):
                # DRF reads an empty form value of a nullable field that takes no blank text as null:
                # a form cannot send null (a blank uuid, date or number is no value).
                body[key] = None
            else:
                body[key] = coerce(values[-1], schema)
        # A multipart charset such as UTF-7 can decode to lone surrogates, which no reply could carry.
        bad = [key for key, value in body.items() if _lone_surrogate_in(key, value)]
        if bad:
            raise InvalidRequest([Problem("body", (key,), "custom", None, {"message": "Not valid Unicode (a lone surrogate)."})
                                  for key in bad])
        return body


def _lone_surrogate_in(key: str, value: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    return has_lone_surrogate(key) or any(isinstance(v, str) and has_lone_surrogate(v) for v in values)


# The validator for each kind of body, by media type (ranges allowed, as in a spec's ``content``).
BODY_VALIDATORS: MediaTypeDict = MediaTypeDict({
    "*/*json": JSONBodyValidator,
    "application/x-www-form-urlencoded": FormBodyValidator,
    "multipart/form-data": FormBodyValidator,
})


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands on ``body`` as one message, then what ``receive`` says (a disconnect).

    One message, not the server's chunks: a 100 MB state import arrives as hundreds of chunks that
    would otherwise live (and pin heap pages) until the response is sent.
    """
    sent = False

    async def receive_() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_
