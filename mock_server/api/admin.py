"""The /_mock admin plane: health, reset, export, import, simulated chat."""

from __future__ import annotations

from starlette.responses import Response

from ..app import APIS
from ..errors import InvalidRequest, Style, render
from ..state import settle_heap
from ._call import current, json, no_content


async def health() -> Response:
    """Liveness, and where each API's docs are."""
    return json({
        "status": "ok",
        "apis": [{"name": a.name, "spec": a.spec_path, "docs": f"{a.docs_path}/"} for a in APIS],
    })


async def reset_state() -> Response:
    """Back to the loaded fixtures."""
    current().store.reset()
    settle_heap()
    return no_content()


async def export_state() -> Response:
    """The whole state, in the fixtures format."""
    return json(current().store.export())


async def import_state() -> Response:
    """Replace the whole state with a document in the fixtures format."""
    call = current()
    try:
        call.store.load(call.body)
    except InvalidRequest as exc:
        _, errors = render(exc, Style.DRF)
        return json({"detail": errors}, 400)
    call.data.body = None  # the parsed document is as big as the state: let settling reclaim it
    settle_heap()
    return no_content()


async def append_messages() -> Response:
    """Add chat messages to a conversation, as chat traffic would."""
    call = current()
    conversation = call.store.chat_history.append_messages(
        call.path("org"), call.path("conversation_id"), call.body["messages"]
    )
    return json(conversation)
