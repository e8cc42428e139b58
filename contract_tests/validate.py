"""Validate any response the harness sees against the spec with openapi-core (compiled once per API)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jsonschema_path import SchemaPath
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.response.validators import V30ResponseValidator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from .client import Exchange
from .latitude import allows
from .specs import API_BASES, load_contract

__all__ = ["SpecViolation", "validate_exchange", "match_operation", "Operation"]


class SpecViolation(AssertionError):
    """A response that does not match its operation in the spec."""


@dataclass(frozen=True)
class Operation:
    """One operation of one API, with a regex for its full path."""

    api: str
    operation_id: str
    method: str
    template: str  # the full path template, base path included
    pattern: re.Pattern[str]


@functools.lru_cache(maxsize=None)
def _compiled(api: str) -> SchemaPath:
    return SchemaPath.from_dict(load_contract(api))


@functools.lru_cache(maxsize=None)
def _validator(api: str, base_url: str) -> V30ResponseValidator:
    # Building a validator is ~100x the cost of using one (spec walking): build once per API and host.
    return V30ResponseValidator(_compiled(api), base_url=base_url)


@functools.lru_cache(maxsize=None)
def operations(api: str) -> tuple[Operation, ...]:
    """Every operation of ``api`` (literal paths before templated ones, so set-current wins over {version_id})."""
    spec = load_contract(api)
    found = []
    for path, item in spec["paths"].items():
        full = API_BASES[api] + path
        regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(full)) + "$"
        for method, op in item.items():
            if method in ("get", "put", "post", "patch", "delete", "head", "options"):
                found.append(Operation(api, op["operationId"], method.upper(), full, re.compile(regex)))
    found.sort(key=lambda o: o.template.count("{"))
    return tuple(found)


def match_operation(method: str, url: str) -> Operation | None:
    """The operation a request addresses, if any API of the mock declares it."""
    path = urlsplit(url).path
    for api in API_BASES:
        for op in operations(api):
            if op.method == method.upper() and op.pattern.match(path):
                return op
    return None


class _Request:
    """An openapi-core request built from an exchange (host_url carries the API's base path)."""

    def __init__(self, exchange: Exchange, api: str) -> None:
        parts = urlsplit(exchange.url)
        self.host_url = f"{parts.scheme}://{parts.netloc}{API_BASES[api]}"
        self.path = parts.path
        self.method = exchange.method.lower()
        self.body = exchange.request_body
        self.content_type = exchange.request_headers.get("content-type", "application/json")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(parts.query)),
            header=Headers(exchange.request_headers),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    def __init__(self, exchange: Exchange) -> None:
        self.data = exchange.response_body
        self.status_code = exchange.status
        self.content_type = exchange.response_headers.get("content-type", "")
        self.headers = Headers(exchange.response_headers)


def validate_exchange(exchange: Exchange, api: str | None = None) -> Operation | None:
    """Raise SpecViolation when the response breaks its operation's contract; returns the operation.

    The specs' objects are open, so fields a server adds pass (latitude point extra-response-fields).
    """
    allows("extra-response-fields")
    op = match_operation(exchange.method, exchange.url)
    if op is None:
        return None  # e.g. the admin plane: not part of the contract under test
    request = _Request(exchange, op.api)
    try:
        _validator(op.api, request.host_url).validate(request, _Response(exchange))
    except Exception as exc:  # openapi-core raises a family of errors; all mean "does not conform"
        reasons = _reasons(exc)
        raise SpecViolation(f"{op.operation_id}: response does not match the spec: {reasons}") from None
    return op


def _reasons(exc: BaseException) -> str:
    """The schema errors behind an openapi-core exception, flattened (its __cause__ carries them)."""
    parts = [f"{type(exc).__name__}: {exc}"]
    cause: Any = exc.__cause__
    while cause is not None:
        errors = getattr(cause, "schema_errors", None)
        if errors:
            for err in list(errors)[:5]:
                where = "/".join(str(p) for p in err.absolute_path) or "(root)"
                parts.append(f"at /{where}: {err.message}")
        else:
            parts.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__
    return "; ".join(parts)
