"""ai-mentor: custom-instruction."""

from __future__ import annotations

from starlette.responses import Response

from ._call import current, json


async def ai_mentor_orgs_users_custom_instruction_retrieve() -> Response:
    """The user's custom instruction."""
    call = current()
    return json(call.store.custom_instruction.get(*call.ibl_user()))


async def ai_mentor_orgs_users_custom_instruction_create() -> Response:
    """Create the user's custom instruction (400 if one exists)."""
    call = current()
    return json(call.store.custom_instruction.create(*call.ibl_user(), call.body or {}), 201)


async def ai_mentor_orgs_users_custom_instruction_update() -> Response:
    """Update the user's custom instruction (404 if none)."""
    call = current()
    return json(call.store.custom_instruction.update(*call.ibl_user(), call.body or {}))
