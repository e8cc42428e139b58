"""ai-mentor: ai-user-profile-memory."""

from __future__ import annotations

from starlette.responses import Response

from ._call import current, json, no_content


async def ai_mentor_orgs_users_ai_user_profile_memory_list() -> Response:
    """The user's profile memories, a bare array."""
    call = current()
    return json(call.store.profile_memory.list(*call.ibl_user()))


async def ai_mentor_orgs_users_ai_user_profile_memory_create() -> Response:
    """Create or replace the memory with this tag (200, as the official client expects)."""
    call = current()
    body = call.body
    return json(call.store.profile_memory.upsert(*call.ibl_user(), body["tag"], body.get("detail")))


async def ai_mentor_orgs_users_ai_user_profile_memory_destroy() -> Response:
    """Delete the memory with this tag."""
    call = current()
    call.store.profile_memory.destroy(*call.ibl_user(), call.path("tag"))
    return no_content()
