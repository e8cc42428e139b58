"""Raw ASGI header lookup, for the layers that read one header before any request object exists."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def first_header(headers: Iterable[tuple[bytes, bytes]], name: bytes, *, any_case: bool = False) -> bytes | None:
    """The first value of header ``name`` (lowercase), as Starlette's ``Headers.get``; None if absent.

    ASGI servers send names in lowercase; ``any_case`` also matches names that are not (connexion
    lowercases Content-Type before comparing, and response headers come from any app).
    """
    for key, value in headers:
        if key == name or (any_case and key.lower() == name):
            return value
    return None


def base_url(scope: dict[str, Any]) -> str:
    """``scheme://host`` as the client addressed the mock (its Host header, else the server's address)."""
    raw = first_header(scope.get("headers", ()), b"host")
    if raw is not None:
        host = raw.decode("latin-1")
    else:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"
