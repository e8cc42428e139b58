"""The one JSON encoder for everything the mock sends."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(body: Any) -> bytes:
    """``body`` as JSON bytes: orjson, or the stdlib for what orjson refuses (integers over 64 bits)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        # A client may send (and have echoed back) an integer Python holds but orjson does not.
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
