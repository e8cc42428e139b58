"""ai-mentor: downloads/tasks."""

from __future__ import annotations

from starlette.responses import Response

from ._call import current, json


async def ai_mentor_orgs_users_downloads_tasks_retrieve() -> Response:
    """A download task: its chat history item when finished, else ``task_not_ready``."""
    call = current()
    return json(call.store.downloads.get(*call.ibl_user(), call.path("task_id")))
