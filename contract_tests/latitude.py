"""The contract's latitude (``spec/latitude.yaml``): choices a correct server may make, and the
predicates the checks consult so that none fails a server for such a choice.

Checks name the point they honour with ``allows("<id>")``; ``tests/test_latitude.py`` checks that
every point is honoured somewhere and that no check names an unknown one.
"""

from __future__ import annotations

import copy
import functools
import math
from datetime import datetime
from importlib.resources.abc import Traversable
from typing import Any

import yaml
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker

from .specs import SPEC_DIR, resolved_operation

LATITUDE_FILE = SPEC_DIR / "latitude.yaml"

# Statuses any HTTP deployment may answer on any operation (point protocol-statuses).
PROTOCOL_STATUSES = frozenset({406, 413, 415, 429})

_DRF_TRUE = frozenset({"t", "y", "yes", "true", "on", "1"})
_DRF_FALSE = frozenset({"f", "n", "no", "false", "off", "0"})
_PYDANTIC_TRUE = frozenset({"t", "y", "yes", "true", "on", "1"})
_PYDANTIC_FALSE = frozenset({"f", "n", "no", "false", "off", "0"})


@functools.lru_cache(maxsize=1)
def points(path: Traversable = LATITUDE_FILE) -> dict[str, dict[str, Any]]:
    """Every latitude point by id."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {p["id"]: p for p in document["points"]}


def allows(point_id: str) -> str:
    """The id of a latitude point the calling check honours (KeyError for an unknown id)."""
    points()[point_id]  # noqa: B018 - an unknown id is a harness bug: fail loudly at import
    return point_id


def instant(value: str) -> datetime:
    """A wire timestamp as an instant, whatever its fractional digits."""
    allows("timestamp-precision")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- schemas -----------------------------------------------------------------------------------


def request_schema(api: str, operation_id: str, media_type: str = "application/json") -> dict[str, Any] | None:
    """The operation's request body schema for ``media_type`` (None when it takes no such body)."""
    content = resolved_operation(api, operation_id).get("requestBody", {}).get("content", {})
    media = content.get(media_type)
    return None if media is None else media.get("schema")


def body_valid(schema: dict[str, Any], body: Any) -> bool:
    """Whether ``body`` is a valid request body for ``schema`` (OpenAPI 3.0 write semantics)."""
    return OAS30WriteValidator(schema, format_checker=oas30_format_checker).is_valid(body)


# --- relaxations ---------------------------------------------------------------------------------


def freed_by(node: dict[str, Any]) -> str | None:
    """The latitude point a spec property or parameter names in ``x-latitude`` (None when it names none)."""
    point = node.get("x-latitude")
    return None if point is None else allows(point)


def unchecked(prop: dict[str, Any]) -> bool:
    """A request property a server may ignore: readOnly, or freed by a latitude point in the spec."""
    allows("read-only-request-fields")
    return bool(prop.get("readOnly")) or freed_by(prop) is not None


def without_unchecked(schema: dict[str, Any], value: Any, read_only_only: bool = False) -> Any:
    """``value`` without the properties a server may ignore (``unchecked``; only the readOnly ones when
    ``read_only_only``), at any depth."""
    drop = (lambda p: bool(p.get("readOnly"))) if read_only_only else unchecked
    if isinstance(value, dict) and schema.get("type", "object") == "object":
        props = schema.get("properties", {})
        return {k: without_unchecked(props.get(k, {}), v, read_only_only) for k, v in value.items()
                if not drop(props.get(k, {}))}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [without_unchecked(schema["items"], v, read_only_only) for v in value]
    return value


def coerced(api: str, schema: dict[str, Any], value: Any) -> Any:
    """``value`` as the API's framework would coerce it to ``schema`` (DRF for ibl, pydantic lax for VirtuousAI)."""
    allows("scalar-coercion")
    kind = schema.get("type")
    if isinstance(value, dict) and (kind in (None, "object")):
        props = schema.get("properties", {})
        return {k: coerced(api, props[k], v) if k in props else v for k, v in value.items()}
    if isinstance(value, list) and kind == "array" and isinstance(schema.get("items"), dict):
        return [coerced(api, schema["items"], v) for v in value]
    if kind == "string" and api == "ibl" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # DRF's CharField takes numbers
    if kind == "integer":
        return _as_integer(api, value)
    if kind == "number" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    if kind == "boolean":
        return _as_boolean(api, value)
    return value


def _as_integer(api: str, value: Any) -> Any:
    if isinstance(value, bool):
        return int(value) if api == "virtuousai" else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if api == "ibl" and text.endswith(".0"):
            text = text[:-2]  # DRF strips a zero decimal part
        if text.lstrip("-").isascii() and text.lstrip("-").isdigit() and len(text) < 40:
            return int(text)
    return value


def _as_boolean(api: str, value: Any) -> Any:
    truthy, falsy = (_DRF_TRUE, _DRF_FALSE) if api == "ibl" else (_PYDANTIC_TRUE, _PYDANTIC_FALSE)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in truthy | falsy:
        return value.strip().lower() in truthy
    return value


def body_valid_within_latitude(api: str, operation_id: str, body: Any, media_type: str = "application/json") -> bool:
    """Whether a body the spec rejects is valid once the latitude's relaxations apply.

    Undeclared properties are already valid (the specs' objects are open: unknown-request-fields);
    readOnly and latitude-freed properties are dropped; scalars are coerced as the API's framework does.
    """
    allows("unknown-request-fields")
    schema = request_schema(api, operation_id, media_type)
    if schema is None:
        return False
    relaxed = coerced(api, schema, without_unchecked(schema, copy.deepcopy(body)))
    return body_valid(_without_unchecked_properties(schema), relaxed)


def _without_unchecked_properties(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` no longer declaring (nor requiring) the top-level properties a server may ignore."""
    props = schema.get("properties", {})
    dropped = {k for k, v in props.items() if unchecked(v)}
    if not dropped:
        return schema
    return {**schema, "properties": {k: v for k, v in props.items() if k not in dropped},
            "required": [k for k in schema.get("required", []) if k not in dropped]}


def normalisable_string(value: Any) -> bool:
    """A string a DRF CharField may refuse: whitespace-only, or holding NUL or an unpaired surrogate."""
    allows("string-normalisation")
    if not isinstance(value, str):
        return False
    return value.strip() == "" or "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def rejected_fields(body: Any) -> set[str] | None:
    """The top-level field names a 400 (DRF) or 422 (FastAPI) body blames, or None when it names none."""
    if not isinstance(body, dict) or not body:
        return None
    detail = body.get("detail")
    if isinstance(detail, list) and detail and all(isinstance(item, dict) for item in detail):  # FastAPI
        names = {str(item["loc"][1]) for item in detail
                 if isinstance(item.get("loc"), list) and len(item["loc"]) > 1 and item["loc"][0] == "body"}
        return names or None
    # DRF field errors: each value a list of messages (or nested errors); {"detail": "..."} is not one
    if all(isinstance(v, (list, dict)) for v in body.values()):
        return set(body)
    return None


def rejection_within_latitude(api: str, operation_id: str, status: int, request_body: Any, response_body: Any) -> bool:
    """A rejection of a valid request that a conformant server may give: every field or parameter it
    names is freed in the spec, is a body field the schema does not declare, or holds a string a
    framework may normalise away."""
    fields, params = freed_names(api, operation_id)
    if status == 404:
        op = resolved_operation(api, operation_id)
        return any(p["name"] in params and p.get("in") == "path" for p in op.get("parameters", []))
    names = rejected_fields(response_body) if status in (400, 422) else None
    if not names:
        return False
    body = request_body if isinstance(request_body, dict) else {}
    schema = request_schema(api, operation_id) or {}
    errors = response_body if api == "ibl" else {name: [] for name in names}
    return all(name in fields | params or (name in body and _error_within_latitude(
        schema.get("properties", {}).get(name), body[name], errors.get(name))) for name in names)


def _error_within_latitude(schema: dict[str, Any] | None, sent: Any, errors: Any) -> bool:
    """Whether one field's rejection is one a conformant server may give: the field is undeclared,
    holds a normalisable string, or (DRF's nested errors) every nested field it names is so."""
    allows("unknown-request-fields")
    if schema is None:
        return True  # a field the schema does not declare
    if errors is None or (isinstance(errors, list) and all(isinstance(e, str) for e in errors)):
        return _holds_normalisable(sent)  # messages about the field itself
    item_schema = schema.get("items") if isinstance(schema.get("items"), dict) else None
    if isinstance(errors, list) and errors and all(isinstance(e, dict) for e in errors) and item_schema:
        pairs = list(zip(sent if isinstance(sent, list) else [], errors))  # DRF: one entry per item
    elif isinstance(errors, dict) and item_schema and isinstance(sent, list):  # {"0": {...}} per item index
        pairs = [(sent[int(k)], v) for k, v in errors.items() if k.isdigit() and int(k) < len(sent)]
    elif isinstance(errors, dict) and isinstance(sent, dict):  # a nested object
        return all(_error_within_latitude(schema.get("properties", {}).get(k), sent.get(k), v)
                   for k, v in errors.items())
    else:
        return False
    if not pairs:
        return False
    return all(isinstance(item, dict) and isinstance(err, dict) and all(
        _error_within_latitude(item_schema.get("properties", {}).get(k), item.get(k), v) for k, v in err.items())
        for item, err in pairs)


def throttled_probe(message: str) -> bool:
    """A schemathesis auth probe that met a throttle (429), which says nothing about authentication."""
    allows("protocol-statuses")
    return "`429 " in message


def advanced(before: str, after: str, elapsed_s: float | None) -> bool:
    """Whether a timestamp moved forward, for a server whose clock may have whole seconds only: a
    strictly later instant, or the same whole second (no fractional digits on either side) when
    the harness wrote both less than a second apart (``elapsed_s``; None: ``before`` is older)."""
    allows("timestamp-precision")
    if instant(after) > instant(before):
        return True
    return (instant(after) == instant(before) and "." not in before and "." not in after
            and elapsed_s is not None and elapsed_s < 1.0)


def _holds_normalisable(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_normalisable(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_normalisable(v) for v in value)
    return normalisable_string(value)


def query_param_free(api: str, param: dict[str, Any], value: Any) -> bool:
    """Whether a server may take this query value without a rejection, whatever the schema says of it:
    the parameter is freed in the spec (``x-latitude``), or it is an optional ibl filter sent empty."""
    if freed_by(param) is not None:
        return True
    allows("blank-filters")
    return (api == "ibl" and value == "" and not param.get("required")
            and param.get("schema", {}).get("type", "string") == "string")


def undecodable_body_rejection(api: str, status: int, body: bytes | None) -> bool:
    """FastAPI's 400 for a request body that is not UTF-8 (it fails before validation)."""
    allows("undecodable-body")
    if api != "virtuousai" or status != 400 or not body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def freed_names(api: str, operation_id: str) -> tuple[set[str], set[str]]:
    """(body fields, path and query parameters) of an operation that the spec frees with ``x-latitude``."""
    op = resolved_operation(api, operation_id)
    params = {p["name"] for p in op.get("parameters", []) if freed_by(p) is not None}
    schema = request_schema(api, operation_id) or {}
    fields = {k for k, v in schema.get("properties", {}).items() if freed_by(v) is not None}
    return fields, params
