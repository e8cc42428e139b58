"""ai-prompt: all-chats-memory and chat-memory-status."""

from __future__ import annotations

from starlette.responses import Response

from ._call import current, json, no_content


async def ai_prompt_orgs_users_all_chats_memory_retrieve() -> Response:
    """The user's newest chat memory entry (one object, as the official client reads it)."""
    call = current()
    return json(call.store.chat_memory.retrieve_newest(*call.ibl_user()))


async def ai_prompt_orgs_users_all_chats_memory_create() -> Response:
    """Create a chat memory entry."""
    call = current()
    return json(call.store.chat_memory.create(*call.ibl_user(), call.body), 201)


async def ai_prompt_orgs_users_all_chats_memory_update() -> Response:
    """Schedule an update of the user's chat memory; answers the task."""
    call = current()
    return json(call.store.chat_memory.schedule_update(*call.ibl_user(), call.body))


async def ai_prompt_orgs_users_all_chats_memory_destroy() -> Response:
    """Delete all of the user's chat memory."""
    call = current()
    call.store.chat_memory.destroy_all(*call.ibl_user())
    return no_content()


async def ai_prompt_orgs_users_all_chats_memory_update2() -> Response:
    """Replace one chat memory entry."""
    call = current()
    return json(call.store.chat_memory.update_one(*call.ibl_user(), call.path("memory_id"), call.body))


async def ai_prompt_orgs_users_all_chats_memory_destroy2() -> Response:
    """Delete one chat memory entry."""
    call = current()
    call.store.chat_memory.destroy_one(*call.ibl_user(), call.path("memory_id"))
    return no_content()


async def ai_prompt_orgs_users_chat_memory_status_retrieve() -> Response:
    """The user's chat memory status (404 before the first PUT)."""
    call = current()
    return json(call.store.chat_memory.get_status(*call.ibl_user()))


async def ai_prompt_orgs_users_chat_memory_status_update() -> Response:
    """Turn the user's chat memory on or off (an upsert)."""
    call = current()
    return json(call.store.chat_memory.put_status(*call.ibl_user(), call.body["enabled"]))
