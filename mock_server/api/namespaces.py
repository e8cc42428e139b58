"""/_mock/namespaces: the namespaces the mock keeps, and dropping one."""

from __future__ import annotations

from datetime import datetime, timezone

from starlette.responses import Response

from ..errors import NotFound
from ..namespaces import DEFAULT
from ._call import current, json, no_content


def _instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


async def list_namespaces() -> Response:
    """The default namespace, then the named ones, the most recently used first."""
    namespaces = current().namespaces
    return json({"limit": namespaces.limit, "namespaces": [
        {"name": n.name, "items": n.state.store.items.used, "created": _instant(n.created), "last_used": _instant(n.used)}
        for n in namespaces.all()]})


async def delete_namespace() -> Response:
    """Forget a named namespace (404 for the default one or an unknown name)."""
    call = current()
    name = call.path("name")
    if name == DEFAULT or not call.namespaces.drop(name):
        raise NotFound(f"No namespace {name!r} (the default one cannot be dropped: reset it instead).")
    return no_content()
