"""Deterministic boundary cases from the spec: for each query parameter and JSON body field, the values
just inside and just outside what its schema allows.

Negative cases (one below a minimum, one above a maximum, blank where minLength is 1, one past
maxLength, a value outside an enum, a malformed date or UUID, a value of another JSON type, a
required field missing, null where it is not nullable) must be rejected naming that field; positive
cases (exactly at a bound) must be accepted. Values a framework may coerce or normalise are left out
(latitude points scalar-coercion and string-normalisation): numbers for strings, whitespace-only text.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .latitude import allows, body_valid, freed_by, query_param_free, unchecked, without_unchecked
from .specs import resolved_operation

_VALID_SCALARS = {"date": "2024-06-01", "date-time": "2024-06-01T00:00:00Z", "uuid": "6f1c3c2e-8e1a-4a51-9d5e-0c8b7f9a1b2c"}
# A value of another JSON type per declared type, which neither DRF nor pydantic coerces.
_WRONG_TYPE: dict[str, Any] = {"string": {"not": "a string"}, "integer": "abc", "number": "abc",
                               "boolean": "maybe", "array": "abc", "object": "abc"}


@dataclass(frozen=True)
class Boundary:
    """One deterministic case: where it changes the request, how, and whether it must be accepted."""

    location: str  # "query" or "body"
    name: str
    description: str
    accept: bool
    value: Any = None
    missing: bool = False
    query: dict[str, Any] = field(default_factory=dict, compare=False)
    body: Any = field(default=None, compare=False)


def _scalar(schema: dict[str, Any]) -> Any:
    """A simple valid value for a parameter or field schema."""
    if "enum" in schema:
        return schema["enum"][0]
    kind, fmt = schema.get("type", "string"), schema.get("format")
    if kind == "integer":
        return max(1, schema.get("minimum", 1)) if schema.get("maximum", 1) >= 1 else schema["maximum"]
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if fmt in _VALID_SCALARS:
        return _VALID_SCALARS[fmt]
    return "x" * max(1, schema.get("minLength", 1))


def _cases_for(schema: dict[str, Any], required: bool, query: bool) -> list[tuple[str, Any, bool]]:
    """(description, value, accept) for one parameter or field; "missing..." cases mean absence."""
    cases: list[tuple[str, Any, bool]] = []
    kind, fmt = schema.get("type"), schema.get("format")
    if kind in ("integer", "number"):
        for bound, step, word in (("minimum", -1, "below"), ("maximum", 1, "above")):
            if bound in schema:
                edge = schema[bound]
                cases += [(f"at its {bound} {edge}", edge, True), (f"one {word} its {bound}", edge + step, False)]
    elif kind == "string" and "enum" in schema:
        cases.append(("outside its enum", "memmock-not-a-choice", False))
    elif kind == "string" and fmt in ("date", "date-time"):
        cases.append((f"a malformed {fmt}", "2024-13-45", False))
    elif kind == "string" and fmt == "uuid" and not query:
        cases.append(("a malformed uuid", "not-a-uuid", False))
    elif kind == "string" and fmt is None:
        allows("string-normalisation")  # blank means "" only, never whitespace
        if schema.get("minLength", 0) >= 1:
            cases.append(("blank where minLength is 1", "", False))
        if "maxLength" in schema:
            top = schema["maxLength"]
            cases += [(f"exactly maxLength {top}", "x" * top, True), (f"one past maxLength {top}", "x" * (top + 1), False)]
    if kind in _WRONG_TYPE and (not query or kind in ("integer", "number", "boolean")):
        # Query values are all text; in a body, a type neither DRF nor pydantic coerces (scalar-coercion).
        allows("scalar-coercion")
        cases.append((f"not of type {kind}", _WRONG_TYPE[kind], False))
    if not query and kind is not None and not schema.get("nullable"):
        cases.append(("null where it is not nullable", None, False))
    if required:
        cases.append(("missing, though required", None, False))
    return cases


def query_boundaries(api: str, operation_id: str, lenient: set[str]) -> tuple[dict[str, Any], list[Boundary]]:
    """A valid query for the operation and its boundary cases (``lenient`` parameters have documented fallbacks)."""
    params = [p for p in resolved_operation(api, operation_id).get("parameters", [])
              if p.get("in") == "query" and p["name"] not in lenient and freed_by(p) is None]
    base = {p["name"]: _scalar(p.get("schema", {})) for p in params if p.get("required")}
    found = []
    for p in params:
        for description, value, accept in _cases_for(p.get("schema", {}), bool(p.get("required")), query=True):
            if not accept and query_param_free(api, p, value):
                continue
            missing = description.startswith("missing")
            q = {k: v for k, v in base.items() if k != p["name"]}
            if not missing:
                q[p["name"]] = value
            found.append(Boundary("query", p["name"], description, accept, value, missing, query=q))
    return base, found


def body_boundaries(api: str, operation_id: str) -> tuple[Any, list[Boundary]]:
    """A valid JSON body for the operation (its example, readOnly fields removed, or one built from the
    schema) and a boundary case per top-level writable field; (None, []) when it takes no JSON body."""
    op = resolved_operation(api, operation_id)
    media = op.get("requestBody", {}).get("content", {}).get("application/json")
    if media is None or "schema" not in media:
        return None, []
    schema = media["schema"]
    base = minimal_body(schema, media.get("example"))
    props = {k: v for k, v in schema.get("properties", {}).items() if not unchecked(v)}
    required = set(schema.get("required", ()))
    found = []
    for name, prop in props.items():
        for description, value, accept in _cases_for(prop, name in required, query=False):
            body = copy.deepcopy(base)
            missing = description.startswith("missing")
            if missing:
                body.pop(name, None)
            else:
                body[name] = value
            if accept and not body_valid(schema, body):
                continue  # a bound that other fields' rules make unreachable on its own
            found.append(Boundary("body", name, description, accept, value, missing, body=body))
    return base, found


def minimal_body(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    """The example without readOnly fields when it is valid; otherwise the required fields with simple values."""
    if isinstance(example, dict):
        # readOnly fields out, and optional fields a server may judge by its own data (x-latitude)
        required = set(schema.get("required", ()))
        candidate = {k: v for k, v in without_unchecked(schema, example, read_only_only=True).items()
                     if k in required or freed_by(schema.get("properties", {}).get(k, {})) is None}
        if body_valid(schema, candidate):
            return candidate
    props = schema.get("properties", {})
    body = {name: _scalar(props.get(name, {})) for name in schema.get("required", ()) if not props.get(name, {}).get("readOnly")}
    return body
