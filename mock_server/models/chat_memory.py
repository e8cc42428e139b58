"""ai-prompt: all-chats-memory entries, scheduled memory updates and chat-memory-status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from mock_server.errors import NotFound
from mock_server.models.collection import Collection, Family, Layout, Log, PerScope, field
from mock_server.models.common import Context

UPDATE_MESSAGE = "Chat memory update scheduled."
_USER = ("org", "username")


@dataclass(slots=True, eq=False)
class Entry:
    """One all-chats-memory entry of a user."""

    id: int = field("int")
    org: str = field("str")
    username: str = field("str")
    content: str | None = field("str?", None, write=True)
    session_id: str | None = field("uuid?", None, write=True)
    created_at: datetime = field("datetime")


@dataclass(slots=True, eq=False)
class Status:
    """A user's chat memory switch."""

    id: int = field("int")
    org: str = field("str")
    username: str = field("str")
    enabled: bool = field("bool")


@dataclass(slots=True, eq=False)
class Task:
    """A scheduled memory update (the real service runs it later; the mock only records it)."""

    task_id: str = field("uuid")
    org: str = field("str")
    username: str = field("str")
    content: str | None = field("str?", None, write=True)
    session_id: str | None = field("uuid?", None, write=True)
    created_at: datetime = field("datetime")


ENTRY, STATUS, TASK = Layout(Entry), Layout(Status), Layout(Task)
_entry_out = ENTRY.view("id", "username", ("platform_key", "org"), "content", "session_id")
_status_out = STATUS.view("id", "username", ("platform_key", "org"), "enabled")
_newest = attrgetter("created_at", "id")


class ChatMemoryBackend(Family):
    """All-chats-memory entries per (org, username), the user's memory switch, and update tasks."""

    def __init__(self, ctx: Context) -> None:
        self._entries = Collection(ENTRY, "all_chats_memory", ctx.ids, scope=_USER, counter="all_chats_memory",
                                   duplicate=("id", "Duplicate id."))
        self._statuses = PerScope(STATUS, "chat_memory_status", ctx.ids, scope=_USER, counter="chat_memory_status",
                                  duplicate=("username", "Duplicate status for this user."))
        self.tasks = Log(TASK, "chat_memory_tasks", ctx.ids)
        super().__init__(ctx, self._entries, self._statuses, self.tasks)

    # --- all-chats-memory ------------------------------------------------------------------

    def retrieve_newest(self, org: str, username: str) -> dict[str, Any]:
        """The user's newest entry (latest created_at, then highest id); NotFound if none."""
        entries = self._entries.in_scope((org, username))
        if not entries:
            raise NotFound()
        return _entry_out(max(entries.values(), key=_newest))

    def create(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Store a new entry from ``content`` and ``session_id`` (both optional, nullable)."""
        self._ctx.items.take()
        entry = ENTRY.new(fields, id=self._entries.next_id(), org=org, username=username,
                          created_at=self._ctx.clock.now())
        self._entries.add(entry)
        return _entry_out(entry)

    def schedule_update(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Record an update task (the real service runs it later) and answer its id."""
        self._ctx.items.take()
        task = TASK.new(fields, task_id=self._ctx.ids.uuid4(), org=org, username=username,
                        created_at=self._ctx.clock.now())
        self.tasks.append(task)
        return {"task_id": task.task_id, "message": UPDATE_MESSAGE}

    def update_one(self, org: str, username: str, memory_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Write ``content``/``session_id`` of one of the user's entries; NotFound if absent or foreign."""
        entry = self._entries.get((org, username), memory_id)
        ENTRY.write(entry, fields)
        return _entry_out(entry)

    def destroy_one(self, org: str, username: str, memory_id: int) -> None:
        """Delete one of the user's entries; NotFound if absent, foreign or already deleted."""
        self._entries.remove(self._entries.get((org, username), memory_id))
        self._ctx.items.give_back()

    def destroy_all(self, org: str, username: str) -> None:
        """Delete every entry of the user; NotFound if there is none."""
        if not self._entries.in_scope((org, username)):
            raise NotFound()
        self._ctx.items.give_back(len(self._entries.pop_scope((org, username))))

    def list_entries(self, org: str, username: str) -> list[dict[str, Any]]:
        """Every entry of the user, by id (for faults and tests)."""
        entries = self._entries.in_scope((org, username))
        return [_entry_out(entries[k]) for k in sorted(entries)]

    # --- chat-memory-status ----------------------------------------------------------------

    def get_status(self, org: str, username: str) -> dict[str, Any]:
        """The user's memory switch; NotFound before the first PUT."""
        return _status_out(self._statuses.get((org, username)))

    def put_status(self, org: str, username: str, enabled: bool) -> dict[str, Any]:
        """Upsert the user's memory switch (the id stays on later PUTs)."""
        status = self._statuses.find((org, username))
        if status is None:
            self._ctx.items.take()
            status = Status(self._statuses.next_id(), org, username, bool(enabled))
            self._statuses.put(status)
        else:
            status.enabled = bool(enabled)
        return _status_out(status)


__all__ = ["ChatMemoryBackend", "UPDATE_MESSAGE"]
