"""Raw ASGI header lookup, for the layers that read one header before any request object exists."""

from __future__ import annotations

from collections.abc import Iterable


def first_header(headers: Iterable[tuple[bytes, bytes]], name: bytes, *, any_case: bool = False) -> bytes | None:
    """The first value of header ``name`` (lowercase), as Starlette's ``Headers.get``; None if absent.

    ASGI servers send names in lowercase; ``any_case`` also matches names that are not (connexion
    lowercases Content-Type before comparing, and response headers come from any app).
    """
    for key, value in headers:
        if key == name or (any_case and key.lower() == name):
            return value
    return None
