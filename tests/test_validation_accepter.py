"""The compiled accepter (fastjsonschema) and jsonschema agree on every request schema of the specs.

``validation.schema_problems`` lets a request through when the compiled function accepts it and
asks jsonschema only otherwise; so an instance the accepter takes but jsonschema rejects would be
a contract check lost. Instances are drawn from each schema, mostly near-valid, with junk mixed in.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest
from connexion.json_schema import resolve_refs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.app import APIS, load_spec
from mock_server.validation import _accepter, _validator

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
JSON_ANY = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                        max_leaves=6)
FORMAT_SAMPLES = {
    "date": st.sampled_from(["2024-06-01", "2024-02-30", "2024-6-1", "20240601", "2024-06-01T00:00:00Z"]),
    "date-time": st.sampled_from(["2024-06-01T09:00:00Z", "2024-06-01 09:00:00+02:00", "2024-06-01", "yesterday",
                                  "2024-06-01T25:00:00Z", "2024-06-01t09:00:00z"]),
    "uuid": st.sampled_from(["5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f", "5B1F0C3E8D2A4C6B9E7F0A1B2C3D4E5F", "not-a-uuid",
                             "{5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f}", ""]),
    "uri": st.sampled_from(["https://example.com/x", "not a uri", "", "ftp://h"]),
}


def near(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by ``schema``: valid ones, boundary ones, and junk."""
    options: list[st.SearchStrategy[Any]] = [JSON_LEAF if depth > 2 else JSON_ANY]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    if schema.get("nullable"):
        options.append(st.none())
    for key in ("anyOf", "oneOf", "allOf"):
        options += [near(branch, depth + 1) for branch in schema.get(key, [])]
    kind = schema.get("type")
    if kind == "string":
        options.append(st.text(max_size=(schema.get("maxLength") or 20) + 2))
        if schema.get("format") in FORMAT_SAMPLES:
            options.append(FORMAT_SAMPLES[schema["format"]])
    elif kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        edges = [v for bound in (low, high) if bound is not None for v in (bound - 1, bound, bound + 1)]
        options.append(st.integers(min_value=low, max_value=high) | st.sampled_from(edges or [0, 2**63]))
        if kind == "number":
            options.append(st.floats(allow_nan=False))
    elif kind == "boolean":
        options.append(st.booleans())
    elif kind == "array" and depth < 4:
        options.append(st.lists(near(schema.get("items", {}), depth + 1), max_size=3))
    elif kind == "object" and depth < 4:
        properties = schema.get("properties", {})
        required = [name for name in schema.get("required", []) if name in properties]
        options.append(st.fixed_dictionaries(
            {name: near(properties[name], depth + 1) for name in required},
            optional={name: near(sub, depth + 1) for name, sub in properties.items() if name not in required}))
    return st.one_of(options)


def request_schemas() -> Iterator[Any]:
    """Every body and parameter schema of the three specs, refs inlined as connexion does."""
    for api in APIS:
        spec = resolve_refs(load_spec(api.name))
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for media, content in (operation.get("requestBody") or {}).get("content", {}).items():
                    if "schema" in content:
                        yield pytest.param(content["schema"], id=f"{api.name} {method} {path} body {media}")
                for parameter in operation.get("parameters", []) + item.get("parameters", []):
                    if "schema" in parameter:
                        yield pytest.param(parameter["schema"],
                                           id=f"{api.name} {method} {path} {parameter['in']} {parameter['name']}")


SCHEMAS = list(request_schemas())


def test_every_request_schema_compiles() -> None:
    assert len(SCHEMAS) > 50
    assert [p.id for p in SCHEMAS if _accepter(p.values[0]) is None] == []


@pytest.mark.parametrize("schema", SCHEMAS)
def test_accepter_agrees_with_jsonschema(schema: dict[str, Any]) -> None:
    accept, validator = _accepter(schema), _validator(schema)
    assert accept is not None

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(near(schema))
    def agree(instance: Any) -> None:
        try:
            accept(instance)
            accepted = True
        except Exception:
            accepted = False
        assert accepted == (not list(validator.iter_errors(instance))), instance

    agree()


def test_accepter_rejects_what_jsonschema_rejects_in_a_real_body() -> None:
    body = next(p.values[0] for p in SCHEMAS if p.id.startswith("ibl post") and "chat-history" in p.id
                and p.id.endswith("application/json"))
    accept = _accepter(body)
    assert accept is not None
    good = {"topics": [{"name": "t"}], "mentor": "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f", "model": "m", "platform": "main"}
    accept(good)
    for bad in ({**good, "mentor": "nope"}, {**good, "topics": "t"}, {**good, "tools": [2**64]}, {"model": "m"}):
        with pytest.raises(Exception):
            accept(bad)
        assert list(_validator(body).iter_errors(bad))
