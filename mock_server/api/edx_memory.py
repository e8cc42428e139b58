"""ai-mentor: edx-memory."""

from __future__ import annotations

from starlette.responses import Response

from ._call import current, json, no_content


async def ai_mentor_orgs_users_edx_memory_list() -> Response:
    """A page of the user's edX memories."""
    call = current()
    page = call.store.edx_memory.list(
        *call.ibl_user(),
        page=call.query("page"),
        page_size=call.query("page_size"),
        ordering=call.query("ordering"),
        course_id=call.query("course_id"),
        student=call.query("student"),
        username_filter=call.query("username"),
    )
    return json(call.page_body(page))


async def ai_mentor_orgs_users_edx_memory_retrieve() -> Response:
    """One edX memory."""
    call = current()
    return json(call.store.edx_memory.retrieve(*call.ibl_user(), call.path("id")))


async def ai_mentor_orgs_users_edx_memory_destroy() -> Response:
    """Delete one edX memory."""
    call = current()
    call.store.edx_memory.destroy(*call.ibl_user(), call.path("id"))
    return no_content()
