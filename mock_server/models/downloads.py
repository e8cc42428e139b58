"""ai-mentor: chat-history download tasks; only tasks known as finished have a result."""

from __future__ import annotations

from typing import Any

from mock_server.clock import parse_datetime
from mock_server.models.common import Context, DocReader, Path, norm_uuid, ts

NOT_READY = {"state": "task_not_ready"}

_SPEC = {
    "task_id": ("uuid", True, None),
    "org": ("str", True, None),
    "username": ("str", True, None),
    "type": ("str", True, None),
    "content": ("str", True, None),
    "timestamp": ("datetime", True, None),
}


class DownloadsBackend:
    """Finished download tasks per (org, username); every other id is reported as not ready."""

    SECTIONS = ("download_tasks",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._tasks: dict[tuple[str, str, str], dict[str, Any]] = {}

    def get(self, org: str, username: str, task_id: Any) -> dict[str, Any]:
        """A finished task's ChatHistoryItem, else ``{"state": "task_not_ready"}`` (as a task queue does)."""
        key = norm_uuid(task_id) or str(task_id)
        task = self._tasks.get((org, username, key))
        if task is None:
            return dict(NOT_READY)
        return {"type": task["type"], "content": task["content"], "timestamp": ts(task["timestamp"])}

    def finish(self, org: str, username: str, task_id: str, item: dict[str, Any]) -> None:
        """Mark a task finished with a ChatHistoryItem ``{type, content, timestamp}`` (admin plane, tests)."""
        key = norm_uuid(task_id) or str(task_id)
        if (org, username, key) not in self._tasks:
            self._ctx.items.take()
        self._tasks[(org, username, key)] = {"task_id": key, "org": org, "username": username,
                                             "type": item["type"], "content": item["content"],
                                             "timestamp": parse_datetime(item["timestamp"]) if item.get("timestamp")
                                             else self._ctx.clock.now()}

    def item_count(self) -> int:
        """How many items this family holds: finished tasks (for the store's limit)."""
        return len(self._tasks)

    def clear(self) -> None:
        """Drop everything."""
        self._tasks.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document."""
        for i, raw in enumerate(sections["download_tasks"]):
            rec = reader.record(raw, path + ("download_tasks", i), _SPEC)
            if rec is not None:
                self._tasks[(rec["org"], rec["username"], rec["task_id"])] = rec

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's section, in the fixtures format."""
        return {"download_tasks": [{**t, "timestamp": ts(t["timestamp"])}
                                   for _, t in sorted(self._tasks.items())]}
