"""ai-prompt: all-chats-memory entries, scheduled memory updates and chat-memory-status."""

from __future__ import annotations

from typing import Any

from mock_server.errors import NotFound
from mock_server.models.common import Context, DocReader, Path, norm_uuid, ts

UPDATE_MESSAGE = "Chat memory update scheduled."

_ENTRY_SPEC = {
    "id": ("int", True, None),
    "org": ("str", True, None),
    "username": ("str", True, None),
    "content": ("str?", False, None),
    "session_id": ("uuid?", False, None),
    "created_at": ("datetime", True, None),
}
_STATUS_SPEC = {
    "id": ("int", True, None),
    "org": ("str", True, None),
    "username": ("str", True, None),
    "enabled": ("bool", True, None),
}
_TASK_SPEC = {
    "task_id": ("uuid", True, None),
    "org": ("str", True, None),
    "username": ("str", True, None),
    "content": ("str?", False, None),
    "session_id": ("uuid?", False, None),
    "created_at": ("datetime", True, None),
}


class ChatMemoryBackend:
    """All-chats-memory entries per (org, username), the user's memory switch, and update tasks."""

    SECTIONS = ("all_chats_memory", "chat_memory_status", "chat_memory_tasks")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._entries: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._statuses: dict[tuple[str, str], dict[str, Any]] = {}
        self.tasks: list[dict[str, Any]] = []

    # --- all-chats-memory ------------------------------------------------------------------

    def retrieve_newest(self, org: str, username: str) -> dict[str, Any]:
        """The user's newest entry (latest created_at, then highest id); NotFound if none."""
        entries = self._entries.get((org, username))
        if not entries:
            raise NotFound()
        newest = max(entries.values(), key=lambda e: (e["created_at"], e["id"]))
        return _entry_out(newest)

    def create(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a new entry from ``content`` and ``session_id`` (both optional, nullable)."""
        self._ctx.items.take()
        entry = {
            "id": self._ctx.ids.next_int("all_chats_memory"),
            "org": org,
            "username": username,
            "content": fields.get("content"),
            "session_id": norm_uuid(fields.get("session_id")),
            "created_at": self._ctx.clock.now(),
        }
        self._entries.setdefault((org, username), {})[entry["id"]] = entry
        return _entry_out(entry)

    def schedule_update(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Record an update task (the real service runs it later) and answer its id."""
        self._ctx.items.take()
        task = {
            "task_id": self._ctx.ids.uuid4(),
            "org": org,
            "username": username,
            "content": fields.get("content"),
            "session_id": norm_uuid(fields.get("session_id")),
            "created_at": self._ctx.clock.now(),
        }
        self.tasks.append(task)
        return {"task_id": task["task_id"], "message": UPDATE_MESSAGE}

    def update_one(self, org: str, username: str, memory_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Write ``content``/``session_id`` of one of the user's entries; NotFound if absent or foreign."""
        entry = self._own(org, username, memory_id)
        if "content" in fields:
            entry["content"] = fields["content"]
        if "session_id" in fields:
            entry["session_id"] = norm_uuid(fields["session_id"])
        return _entry_out(entry)

    def destroy_one(self, org: str, username: str, memory_id: int) -> None:
        """Delete one of the user's entries; NotFound if absent, foreign or already deleted."""
        self._own(org, username, memory_id)
        del self._entries[(org, username)][memory_id]
        self._ctx.items.give_back()

    def destroy_all(self, org: str, username: str) -> None:
        """Delete every entry of the user; NotFound if there is none."""
        if not self._entries.get((org, username)):
            raise NotFound()
        self._ctx.items.give_back(len(self._entries.pop((org, username))))

    def list_entries(self, org: str, username: str) -> list[dict[str, Any]]:
        """Every entry of the user, by id (for the admin plane and tests)."""
        entries = self._entries.get((org, username), {})
        return [_entry_out(entries[k]) for k in sorted(entries)]

    def _own(self, org: str, username: str, memory_id: int) -> dict[str, Any]:
        entry = self._entries.get((org, username), {}).get(memory_id) if isinstance(memory_id, int) else None
        if entry is None:
            raise NotFound()
        return entry

    # --- chat-memory-status ----------------------------------------------------------------

    def get_status(self, org: str, username: str) -> dict[str, Any]:
        """The user's memory switch; NotFound before the first PUT."""
        status = self._statuses.get((org, username))
        if status is None:
            raise NotFound()
        return _status_out(status)

    def put_status(self, org: str, username: str, enabled: bool) -> dict[str, Any]:
        """Upsert the user's memory switch (the id stays on later PUTs)."""
        status = self._statuses.get((org, username))
        if status is None:
            self._ctx.items.take()
            status = {"id": self._ctx.ids.next_int("chat_memory_status"), "org": org, "username": username}
            self._statuses[(org, username)] = status
        status["enabled"] = bool(enabled)
        return _status_out(status)

    # --- state -----------------------------------------------------------------------------

    def item_count(self) -> int:
        """How many items this family holds: entries, statuses and tasks (for the store's limit)."""
        return sum(len(e) for e in self._entries.values()) + len(self._statuses) + len(self.tasks)

    def clear(self) -> None:
        """Drop everything."""
        self._entries.clear()
        self._statuses.clear()
        self.tasks.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's sections of a fixtures document."""
        ids = self._ctx.ids
        seen: set[int] = set()
        for i, raw in enumerate(sections["all_chats_memory"]):
            rec = reader.record(raw, path + ("all_chats_memory", i), _ENTRY_SPEC)
            if rec is None:
                continue
            if rec["id"] in seen:
                reader.fail(path + ("all_chats_memory", i, "id"), "custom", rec["id"], message="Duplicate id.")
                continue
            seen.add(rec["id"])
            ids.seen_int("all_chats_memory", rec["id"])
            self._entries.setdefault((rec["org"], rec["username"]), {})[rec["id"]] = rec
        seen_users: set[tuple[str, str]] = set()
        for i, raw in enumerate(sections["chat_memory_status"]):
            rec = reader.record(raw, path + ("chat_memory_status", i), _STATUS_SPEC)
            if rec is None:
                continue
            key = (rec["org"], rec["username"])
            if key in seen_users:
                reader.fail(path + ("chat_memory_status", i, "username"), "custom", rec["username"],
                            message="Duplicate status for this user.")
                continue
            seen_users.add(key)
            ids.seen_int("chat_memory_status", rec["id"])
            self._statuses[key] = rec
        for i, raw in enumerate(sections["chat_memory_tasks"]):
            rec = reader.record(raw, path + ("chat_memory_tasks", i), _TASK_SPEC)
            if rec is not None:
                self.tasks.append(rec)

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's sections, in the fixtures format."""
        entries = sorted((e for d in self._entries.values() for e in d.values()), key=lambda e: e["id"])
        statuses = sorted(self._statuses.values(), key=lambda s: s["id"])
        return {
            "all_chats_memory": [{**e, "created_at": ts(e["created_at"])} for e in entries],
            "chat_memory_status": [dict(s) for s in statuses],
            "chat_memory_tasks": [{**t, "created_at": ts(t["created_at"])} for t in self.tasks],
        }


def _entry_out(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": entry["id"],
        "username": entry["username"],
        "platform_key": entry["org"],
        "content": entry["content"],
        "session_id": entry["session_id"],
    }


def _status_out(status: dict[str, Any]) -> dict[str, Any]:
    return {"id": status["id"], "username": status["username"], "platform_key": status["org"],
            "enabled": status["enabled"]}


__all__ = ["ChatMemoryBackend", "UPDATE_MESSAGE"]
