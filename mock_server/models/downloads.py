"""ai-mentor: chat-history download tasks; only tasks known as finished have a result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from mock_server.clock import parse_datetime
from mock_server.models.collection import Family, Layout, PerScope, field
from mock_server.models.common import Context, norm_uuid

NOT_READY = {"state": "task_not_ready"}
_SCOPE = ("org", "username", "task_id")


@dataclass(slots=True, eq=False)
class DownloadTask:
    """A finished download task of a user, with its ChatHistoryItem."""

    task_id: str = field("uuid")
    org: str = field("str")
    username: str = field("str")
    type: str = field("str")
    content: str = field("str")
    timestamp: datetime = field("datetime")


TASK = Layout(DownloadTask)
_out = TASK.view("type", "content", "timestamp")


class DownloadsBackend(Family):
    """Finished download tasks per (org, username); every other id is reported as not ready."""

    def __init__(self, ctx: Context) -> None:
        self._tasks = PerScope(TASK, "download_tasks", ctx.ids, scope=_SCOPE, order=attrgetter(*_SCOPE))
        super().__init__(ctx, self._tasks)

    def get(self, org: str, username: str, task_id: Any) -> dict[str, Any]:
        """A finished task's ChatHistoryItem, else ``{"state": "task_not_ready"}`` (as a task queue does)."""
        task = self._tasks.find((org, username, norm_uuid(task_id) or str(task_id)))
        return dict(NOT_READY) if task is None else _out(task)

    def finish(self, org: str, username: str, task_id: str, item: dict[str, Any]) -> None:
        """Mark a task finished with a ChatHistoryItem ``{type, content, timestamp}`` (tests: no route finishes one)."""
        key = norm_uuid(task_id) or str(task_id)
        if (org, username, key) not in self._tasks:
            self._ctx.items.take()
        when = parse_datetime(item["timestamp"]) if item.get("timestamp") else self._ctx.clock.now()
        self._tasks.put(DownloadTask(key, org, username, item["type"], item["content"], when))
