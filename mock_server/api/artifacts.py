"""ai-mentor: artifacts and their versions."""

from __future__ import annotations

from starlette.responses import Response

from ._call import current, json, no_content

_LIST_FILTERS = ("search", "file_extension", "llm_name", "llm_provider", "session_id", "chat_message_id", "mentor_id")


async def ai_mentor_orgs_users_artifacts_list() -> Response:
    """A page of the user's artifacts, filtered, searched and ordered."""
    call = current()
    page = call.store.artifacts.list(
        *call.ibl_user(),
        page=call.query("page"),
        page_size=call.query("page_size"),
        ordering=call.query("ordering"),
        username_filter=call.query("username"),
        **{name: call.query(name) for name in _LIST_FILTERS},
    )
    return json(call.page_body(page))


async def ai_mentor_orgs_users_artifacts_create() -> Response:
    """Create an artifact with its first version (the real service makes them from chat)."""
    call = current()
    return json(call.store.artifacts.create(*call.ibl_user(), call.body), 201)


async def ai_mentor_orgs_users_artifacts_retrieve() -> Response:
    """One artifact, with its content."""
    call = current()
    return json(call.store.artifacts.retrieve(*call.ibl_user(), call.path("id")))


async def ai_mentor_orgs_users_artifacts_update() -> Response:
    """Replace an artifact's title and metadata."""
    call = current()
    return json(call.store.artifacts.update(*call.ibl_user(), call.path("id"), call.body))


async def ai_mentor_orgs_users_artifacts_partial_update() -> Response:
    """Change some of an artifact's title and metadata."""
    call = current()
    return json(call.store.artifacts.partial_update(*call.ibl_user(), call.path("id"), call.body or {}))


async def ai_mentor_orgs_users_artifacts_destroy() -> Response:
    """Delete an artifact and its versions."""
    call = current()
    call.store.artifacts.destroy(*call.ibl_user(), call.path("id"))
    return no_content()


async def ai_mentor_orgs_users_artifacts_versions_list() -> Response:
    """A page of an artifact's versions."""
    call = current()
    page = call.store.artifacts.list_versions(
        *call.ibl_user(), call.path("id"),
        page=call.query("page"), page_size=call.query("page_size"), ordering=call.query("ordering"),
    )
    return json(call.page_body(page))


async def ai_mentor_orgs_users_artifacts_versions_retrieve() -> Response:
    """One version of an artifact."""
    call = current()
    return json(call.store.artifacts.retrieve_version(*call.ibl_user(), call.path("id"), call.path("version_id")))


async def ai_mentor_orgs_users_artifacts_versions_set_current_create() -> Response:
    """Make a version the artifact's current one."""
    call = current()
    return json(call.store.artifacts.set_current(*call.ibl_user(), call.path("id"), call.body["version_id"]))
