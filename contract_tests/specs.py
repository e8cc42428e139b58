"""The contract under test: the spec files in spec/, as plain dicts, and where each API lives."""

from __future__ import annotations

import copy
import functools
from typing import Any

from mock_server.app import APIS, read_spec
from mock_server.settings import SPEC_DIR

# The two APIs under test (not the mock's own admin plane), as the mock declares them.
_APIS = {api.name: api for api in APIS if api.name != "admin"}
# Each spec's `servers` URL: where its paths start on a target.
API_BASES = {name: api.base_path for name, api in _APIS.items()}
# Where the mock serves each spec (used with --spec-source served).
SERVED_SPECS = {name: api.spec_path for name, api in _APIS.items()}


@functools.lru_cache(maxsize=None)
def _load(api: str) -> dict[str, Any]:
    return read_spec(SPEC_DIR / _APIS[api].spec_file)


def load_contract(api: str) -> dict[str, Any]:
    """A fresh copy of one API's spec (spec/, or the document given to override_contract)."""
    if api in _OVERRIDES:
        return copy.deepcopy(_OVERRIDES[api])
    return copy.deepcopy(_load(api))


def lenient_parameters(spec: dict[str, Any]) -> set[str]:
    """Names of parameters marked ``x-memmock-lenient: true`` (documented fallbacks on junk values)."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("x-memmock-lenient") is True and "name" in node:
                names.add(node["name"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(spec)
    return names


def _resolve(spec: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """``node`` with every local ``$ref`` replaced by its target (the specs have no cycles)."""
    if depth > 40:
        raise ValueError("schema nesting too deep (a $ref cycle?)")
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(spec, target, depth + 1)
        return {k: _resolve(spec, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(spec, v, depth + 1) for v in node]
    return node


@functools.lru_cache(maxsize=None)
def _resolved_operations(api: str) -> dict[str, dict[str, Any]]:
    spec = load_contract(api)
    found = {}
    for item in spec["paths"].values():
        shared = item.get("parameters", [])
        for op in item.values():
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = _resolve(spec, {**op, "parameters": shared + op.get("parameters", [])})
    return found


def resolved_operation(api: str, operation_id: str) -> dict[str, Any]:
    """One operation with every $ref resolved and its path item's parameters included (empty when unknown)."""
    return _resolved_operations(api).get(operation_id, {})


_OVERRIDES: dict[str, dict[str, Any]] = {}


def override_contract(api: str, spec: dict[str, Any]) -> None:
    """Use ``spec`` (e.g. the target's served document) instead of spec/ for ``api``."""
    _OVERRIDES[api] = spec
    _load.cache_clear()
    _resolved_operations.cache_clear()
