"""The contract under test: the spec files in spec/, as plain dicts, and where each API lives.

The harness reads the spec files itself, from the data-only package ``memmock_spec`` (the repo's
spec/, installed under that name), so that nothing here loads the mock.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import urlsplit

import yaml

SPEC_DIR: Traversable = files("memmock_spec")
# The two APIs under test (not the mock's own admin plane) and their spec files.
SPEC_FILES = {"ibl": "ibl-data-manager.yaml", "virtuousai": "virtuousai-memory.yaml"}
# Where memmock serves each spec as JSON (--spec-source served); a deployment serving its
# document elsewhere is checked with the file. tests/test_harness_independent.py keeps these in
# agreement with the mock.
SERVED_SPECS = {"ibl": "/docs/ibl/openapi.json", "virtuousai": "/api/v1/docs/openapi.json"}
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=None)
def _read(api: str) -> dict[str, Any]:
    text = (SPEC_DIR / SPEC_FILES[api]).read_text(encoding="utf-8")
    # A JSON round trip unshares YAML aliases, so changing one copy of a shared node changes only that one.
    spec: dict[str, Any] = json.loads(json.dumps(yaml.load(text, Loader=_YAML_LOADER)))
    return spec


def base_path(spec: dict[str, Any]) -> str:
    """Where a spec's paths start on a target: the path of its first ``servers`` URL, without a trailing slash."""
    return urlsplit(spec["servers"][0]["url"]).path.rstrip("/")


# Each API's base path, from its own spec.
API_BASES = {api: base_path(_read(api)) for api in SPEC_FILES}


def load_contract(api: str) -> dict[str, Any]:
    """A fresh copy of one API's spec (spec/, or the document given to override_contract)."""
    if api in _OVERRIDES:
        return copy.deepcopy(_OVERRIDES[api])
    return copy.deepcopy(_read(api))


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
    _resolved_operations.cache_clear()
