"""VirtuousAI: /api/v1/memory."""

from __future__ import annotations

from starlette.responses import Response

from ._call import current, json, no_content


async def list_memories() -> Response:
    """A window of the caller's organization's memories, newest first."""
    call = current()
    return json(call.store.vai_memory.list(call.vai_org(), call.query("limit", 50), call.query("offset", 0)))


async def create_memory() -> Response:
    """Store an explicit memory for the caller's organization."""
    call = current()
    body = call.body
    return json(call.store.vai_memory.create(call.vai_org(), body["content"], body.get("organizationId")), 201)


async def backfill_entities() -> Response:
    """Backfill entities over a window of the organization's memories, oldest first."""
    call = current()
    return json(call.store.vai_memory.backfill(
        call.vai_org(), call.query("limit", 20), call.query("offset", 0), call.query("chunk_size", 5)
    ))


async def get_memory() -> Response:
    """One memory of the caller's organization."""
    call = current()
    return json(call.store.vai_memory.get(call.vai_org(), call.path("memory_id")))


async def delete_memory() -> Response:
    """Delete one memory of the caller's organization."""
    call = current()
    call.store.vai_memory.delete(call.vai_org(), call.path("memory_id"))
    return no_content()
