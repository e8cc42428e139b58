"""The /_mock admin plane: health, reset, export, import, simulated chat.

A reset or an import reads a whole document into a new state: that runs in a worker thread, so
the loop keeps answering other clients meanwhile (their writes are then replaced, as an import
replaces everything); only the swap itself runs on the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import Response

from .. import __version__
from ..app import APIS
from ..errors import InvalidRequest, Style, render
from ..heap import dismantle, gc_paused, settle_replaced_state
from ..store import Staged, Store
from ._call import current, json, no_content


async def health() -> Response:
    """Liveness, the memmock version, and where each API's docs are."""
    return json({
        "status": "ok",
        "version": __version__,
        "apis": [{"name": a.name, "spec": a.spec_path, "docs": f"{a.docs_path}/"} for a in APIS],
    })


def _stage_import(store: Store, box: list[Any], raw: bytes | None) -> Staged:
    """The document (boxed: nothing else refers to it) read into a staged state; then it is freed, here."""
    try:
        with gc_paused():
            return store.stage(box[0], raw)
    finally:
        dismantle(box)


def _stage_reset(store: Store) -> Staged:
    """The last loaded document read anew into a staged state."""
    with gc_paused():
        return store.stage_reset()


def _retire(replaced: list[Any]) -> None:
    """Free a replaced state and settle the heap, in a worker thread."""
    dismantle(replaced)
    settle_replaced_state()


async def reset_state() -> Response:
    """Back to the loaded fixtures."""
    store = current().store
    replaced = store.adopt(await asyncio.to_thread(_stage_reset, store))
    await asyncio.to_thread(_retire, replaced)
    return no_content()


async def export_state() -> Response:
    """The whole state, in the fixtures format."""
    return json(current().store.export())


async def import_state() -> Response:
    """Replace the whole state with a document in the fixtures format."""
    call = current()
    # Boxed, with no other reference left: the worker thread frees the document after reading it.
    box, raw = [call.body], call.data.raw
    call.data.body = call.data.raw = None
    try:
        staged = await asyncio.to_thread(_stage_import, call.store, box, raw)
    except InvalidRequest as exc:
        _, errors = render(exc, Style.DRF)
        return json({"detail": errors}, 400)
    replaced = call.store.adopt(staged)
    await asyncio.to_thread(_retire, replaced)
    return no_content()


async def append_messages() -> Response:
    """Add chat messages to a conversation, as chat traffic would."""
    call = current()
    conversation = call.store.chat_history.append_messages(
        call.path("org"), call.path("conversation_id"), call.body["messages"]
    )
    return json(conversation)
