"""The contract under test: the spec files in spec/, as plain dicts, and where each API lives."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import yaml

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"
SPEC_FILES = {"ibl": "ibl-data-manager.yaml", "virtuousai": "virtuousai-memory.yaml"}
# Each spec's `servers` URL: where its paths start on a target.
API_BASES = {"ibl": "", "virtuousai": "/api/v1"}
# Where the mock serves each spec (used with --spec-source served).
SERVED_SPECS = {"ibl": "/docs/ibl/openapi.json", "virtuousai": "/api/v1/docs/openapi.json"}


@functools.lru_cache(maxsize=None)
def _load(api: str) -> dict[str, Any]:
    with (SPEC_DIR / SPEC_FILES[api]).open(encoding="utf-8") as fh:
        return json.loads(json.dumps(yaml.safe_load(fh)))  # unshare YAML aliases


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


_OVERRIDES: dict[str, dict[str, Any]] = {}


def override_contract(api: str, spec: dict[str, Any]) -> None:
    """Use ``spec`` (e.g. the target's served document) instead of spec/ for ``api``."""
    _OVERRIDES[api] = spec
    _load.cache_clear()
