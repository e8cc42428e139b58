"""Domain errors, and the one place that renders them in each API's house style.

The tree::

    MockError
    ├── NotAuthenticated      401 (credential missing, or unknown)
    ├── PermissionDenied      403 (a known credential used outside its reach)
    ├── NotFound              404 (absent, foreign, or an invalid page)
    ├── MethodNotAllowed      405
    ├── RequestTimeout        408 (headers or body too slow to arrive)
    ├── StoreFull             409 (the store holds --max-items items)
    ├── PayloadTooLarge       413
    ├── UnsupportedMediaType  415
    └── InvalidRequest        400 (ibl, DRF field errors) / 422 (VirtuousAI, FastAPI detail list)
        └── MalformedJSON     400 "JSON parse error - ..." / 422 json_invalid

Models raise these with no HTTP in them; ``render`` turns one into ``(status, body)``
for the API it happened in. Messages for field problems are chosen here, per style, from
the problem's ``kind``, so a rule written once speaks DRF to ibl clients and pydantic to
VirtuousAI clients.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Style(enum.Enum):
    """The house style of an API's error bodies."""

    DRF = "drf"  # ibl.ai data manager (Django REST Framework)
    FASTAPI = "fastapi"  # VirtuousAI Memory API (FastAPI, pydantic v2)


class MockError(Exception):
    """Base of every error the mock answers with on purpose."""


@dataclass
class NotAuthenticated(MockError):
    """No usable credential: ``missing`` (none sent, or wrong form) or ``invalid`` (unknown).

    ``challenge``, when given, is sent as ``WWW-Authenticate``: how to authenticate.
    """

    reason: str = "missing"
    challenge: str | None = None


@dataclass
class PermissionDenied(MockError):
    """A known credential used outside its reach; ``detail`` overrides the house message."""

    detail: str | None = None


@dataclass
class NotFound(MockError):
    """An absent object (or one of another tenant); ``detail`` overrides the house message."""

    detail: str | None = None


class InvalidPage(NotFound):
    """A DRF page number past the end, or not a number."""

    def __init__(self) -> None:
        super().__init__("Invalid page.")


@dataclass
class MethodNotAllowed(MockError):
    """The path exists but not with this method; ``allow``: the methods it has (the ``Allow`` header)."""

    method: str
    allow: tuple[str, ...] = ()


@dataclass
class PayloadTooLarge(MockError):
    """The body is over the configured limit."""

    limit: int


@dataclass
class RequestTimeout(MockError):
    """A request's ``phase`` (``headers`` or ``body``) did not arrive within ``seconds``."""

    phase: str
    seconds: float


@dataclass
class StoreFull(MockError):
    """The store holds as many items as it may (``--max-items``): nothing more can be created."""

    limit: int


@dataclass
class UnsupportedMediaType(MockError):
    """The request's Content-Type is not one the operation accepts."""

    media_type: str


@dataclass
class Problem:
    """One thing wrong with one input field.

    ``location`` is ``body``, ``query``, ``path`` or ``header``; ``name`` the field (a path of
    names and indexes for nested body fields); ``kind`` one of the keys of ``_DRF`` / ``_PYDANTIC``
    below; ``params`` fills the message (``limit``, ``choices``, ...); ``input`` is what was sent.
    """

    location: str
    name: tuple[str | int, ...]
    kind: str
    input: Any = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class InvalidRequest(MockError):
    """One or more field problems; DRF answers 400, FastAPI 422."""

    problems: list[Problem]

    @classmethod
    def one(cls, location: str, name: str, kind: str, input: Any = None, **params: Any) -> InvalidRequest:
        """A request with a single problem."""
        return cls([Problem(location, (name,), kind, input, params)])


class NonFieldError(InvalidRequest):
    """A DRF ``non_field_errors`` entry (e.g. creating a singleton twice)."""

    def __init__(self, message: str) -> None:
        super().__init__([Problem("body", ("non_field_errors",), "custom", None, {"message": message})])


@dataclass
class MalformedJSON(MockError):
    """The body is not JSON; ``reason`` is the parser's message, ``position`` its offset."""

    reason: str
    position: int = 0


# --- rendering -----------------------------------------------------------------------------

_DRF: dict[str, str] = {
    "required": "This field is required.",
    "null": "This field may not be null.",
    "blank": "This field may not be blank.",
    "string": "Not a valid string.",
    "integer": "A valid integer is required.",
    "number": "A valid number is required.",
    "boolean": "Must be a valid boolean.",
    "object": 'Expected a dictionary of items but got type "{type}".',
    "array": 'Expected a list of items but got type "{type}".',
    "max_length": "Ensure this field has no more than {limit} characters.",
    "min_length": "Ensure this field has at least {limit} characters.",
    "minimum": "Ensure this value is greater than or equal to {limit}.",
    "maximum": "Ensure this value is less than or equal to {limit}.",
    "choice": '"{input}" is not a valid choice.',
    "date": "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
    "date-time": (
        "Datetime has wrong format. Use one of these formats instead: "
        "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
    ),
    "uuid": "Must be a valid UUID.",
    "uri": "Enter a valid URL.",
    "root_object": "Invalid data. Expected a dictionary, but got {type}.",
    "custom": "{message}",
}

_PYDANTIC: dict[str, tuple[str, str]] = {
    "required": ("missing", "Field required"),
    "null": ("string_type", "Input should be a valid string"),
    "blank": ("string_too_short", "String should have at least 1 character"),
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_parsing", "Input should be a valid integer, unable to parse string as an integer"),
    "number": ("float_parsing", "Input should be a valid number, unable to parse string as a number"),
    "boolean": ("bool_parsing", "Input should be a valid boolean, unable to interpret input"),
    "object": ("model_attributes_type", "Input should be a valid dictionary or object to extract fields from"),
    "array": ("list_type", "Input should be a valid list"),
    "max_length": ("string_too_long", "String should have at most {limit} characters"),
    "min_length": ("string_too_short", "String should have at least {limit} characters"),
    "minimum": ("greater_than_equal", "Input should be greater than or equal to {limit}"),
    "maximum": ("less_than_equal", "Input should be less than or equal to {limit}"),
    "choice": ("enum", "Input should be {choices}"),
    "date": ("date_from_datetime_parsing", "Input should be a valid date"),
    "date-time": ("datetime_from_date_parsing", "Input should be a valid datetime"),
    "uuid": ("uuid_parsing", "Input should be a valid UUID, invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-]"),
    "uri": ("url_parsing", "Input should be a valid URL"),
    "root_object": ("model_attributes_type", "Input should be a valid dictionary or object to extract fields from"),
    "custom": ("value_error", "Value error, {message}"),
}

_PYDANTIC_CTX: dict[str, str] = {
    "max_length": "max_length",
    "min_length": "min_length",
    "minimum": "ge",
    "maximum": "le",
}

_DRF_DETAIL = {
    401: {"missing": "Authentication credentials were not provided.", "invalid": "Invalid token."},
    403: "You do not have permission to perform this action.",
    404: "Not found.",
}
_FASTAPI_DETAIL = {
    401: {"missing": "Not authenticated", "invalid": "Invalid authentication credentials"},
    403: "Not allowed for this organization",
    404: "Memory not found",
}


def _type_name(value: Any) -> str:
    return {dict: "dict", list: "list", str: "str", bool: "bool", int: "int", float: "float"}.get(
        type(value), type(value).__name__
    )


def _fmt(template: str, problem: Problem) -> str:
    values = {"input": problem.input, "type": _type_name(problem.input), **problem.params}
    if "choices" in values and not isinstance(values["choices"], str):
        choices = [repr(c) for c in values["choices"]]
        values["choices"] = ", ".join(choices[:-1]) + (" or " if len(choices) > 1 else "") + choices[-1]
    return template.format(**values)


def field_message(problem: Problem) -> str:
    """What DRF says of one problem (the text a 400 body lists under the field)."""
    return _fmt(_DRF[problem.kind], problem)


def _drf_field_errors(problems: list[Problem]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for problem in problems:
        message = field_message(problem)
        head, *rest = problem.name or ("non_field_errors",)
        if rest:
            # Nested field: DRF nests the errors the way the data nests (e.g. topics[0].name).
            node = body.setdefault(str(head), {})
            for part in rest[:-1]:
                node = node.setdefault(str(part), {})
            node.setdefault(str(rest[-1]), []).append(message)
        else:
            entry = body.setdefault(str(head), [])
            if message not in entry:
                entry.append(message)
    return body


def _fastapi_detail(problems: list[Problem]) -> list[dict[str, Any]]:
    detail = []
    for problem in problems:
        type_, template = _PYDANTIC[problem.kind]
        item: dict[str, Any] = {
            "type": type_,
            "loc": [problem.location, *problem.name],
            "msg": _fmt(template, problem),
            "input": problem.input,
        }
        ctx_key = _PYDANTIC_CTX.get(problem.kind)
        if ctx_key and "limit" in problem.params:
            item["ctx"] = {ctx_key: problem.params["limit"]}
        detail.append(item)
    return detail


def headers_for(error: MockError) -> dict[str, str]:
    """The response headers an error carries besides its body (``WWW-Authenticate``, ``Allow``)."""
    if isinstance(error, NotAuthenticated) and error.challenge:
        return {"WWW-Authenticate": error.challenge}
    if isinstance(error, MethodNotAllowed) and error.allow:
        return {"Allow": ", ".join(error.allow)}
    return {}


def not_found(style: Style) -> NotFound:
    """The 404 for a path no operation has: Django's "Not found.", Starlette's "Not Found"."""
    return NotFound("Not Found") if style is Style.FASTAPI else NotFound()


def render(error: MockError, style: Style) -> tuple[int, dict[str, Any]]:
    """Turn a domain error into ``(status, body)`` in the API's own style."""
    drf = style is Style.DRF
    if isinstance(error, NotAuthenticated):
        table = _DRF_DETAIL if drf else _FASTAPI_DETAIL
        return 401, {"detail": table[401][error.reason]}  # type: ignore[index]
    if isinstance(error, PermissionDenied):
        return 403, {"detail": error.detail or (_DRF_DETAIL if drf else _FASTAPI_DETAIL)[403]}
    if isinstance(error, NotFound):
        return 404, {"detail": error.detail or (_DRF_DETAIL if drf else _FASTAPI_DETAIL)[404]}
    if isinstance(error, MethodNotAllowed):
        return 405, {"detail": f'Method "{error.method}" not allowed.' if drf else "Method Not Allowed"}
    if isinstance(error, RequestTimeout):
        flag = "--header-timeout" if error.phase == "headers" else "--body-timeout"
        return 408, {"detail": f"The request's {error.phase} did not arrive within {error.seconds:g} s ({flag})."}
    if isinstance(error, StoreFull):
        return 409, {"detail": f"This mock holds its limit of {error.limit} items (--max-items): delete some, "
                               "reset, or start it with a higher limit."}
    if isinstance(error, PayloadTooLarge):
        if drf:
            return 413, {"detail": f"Request body is larger than the limit of {error.limit} bytes."}
        return 413, {"detail": "Request Entity Too Large"}
    if isinstance(error, UnsupportedMediaType):
        if drf:
            return 415, {"detail": f'Unsupported media type "{error.media_type}" in request.'}
        # FastAPI reads a non-JSON body as a missing model: answer as it does.
        return 422, {"detail": [{"type": "model_attributes_type", "loc": ["body"],
                                 "msg": "Input should be a valid dictionary or object to extract fields from",
                                 "input": error.media_type}]}
    if isinstance(error, MalformedJSON):
        if drf:
            return 400, {"detail": f"JSON parse error - {error.reason}"}
        return 422, {"detail": [{"type": "json_invalid", "loc": ["body", error.position],
                                 "msg": "JSON decode error", "input": {}, "ctx": {"error": error.reason}}]}
    if isinstance(error, InvalidRequest):
        if drf:
            return 400, _drf_field_errors(error.problems)
        return 422, {"detail": _fastapi_detail(error.problems)}
    raise TypeError(f"not a renderable error: {error!r}")  # pragma: no cover - programming error
