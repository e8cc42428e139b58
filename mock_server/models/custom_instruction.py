"""ai-mentor: the user's custom instruction (one per user)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mock_server.errors import NonFieldError
from mock_server.models.collection import Family, Layout, PerScope, field
from mock_server.models.common import Context

ALREADY_EXISTS = "Custom instruction already exists for this user."


@dataclass(slots=True, eq=False)
class CustomInstruction:
    """A user's custom instruction (as the client's model: profession and traits plain strings, the rest nullable)."""

    id: int = field("int")
    org: str = field("str")
    username: str = field("str")
    content: str | None = field("str?", None, write=True)
    about_user: str | None = field("str?", None, write=True)
    mentor_tone: str | None = field("str?", None, write=True)
    profession: str = field("str", "", write=True)
    desired_mentor_traits: str = field("str", "", write=True)
    created_at: datetime = field("datetime")
    updated_at: datetime = field("datetime")


INSTRUCTION = Layout(CustomInstruction)
_out = INSTRUCTION.view("id", "username", ("platform_key", "org"), "content", "about_user", "mentor_tone",
                        "profession", "desired_mentor_traits", "created_at", "updated_at")


class CustomInstructionBackend(Family):
    """One custom instruction per (org, username)."""

    def __init__(self, ctx: Context) -> None:
        self._items = PerScope(INSTRUCTION, "custom_instructions", ctx.ids, scope=("org", "username"),
                               counter="custom_instruction",
                               duplicate=("username", "Duplicate custom instruction for this user."))
        super().__init__(ctx, self._items)

    def get(self, org: str, username: str) -> dict[str, Any]:
        """The user's instruction; NotFound if none."""
        return _out(self._items.get((org, username)))

    def create(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create it from the writable fields given (others at their defaults); NonFieldError if the user has one."""
        if (org, username) in self._items:
            raise NonFieldError(ALREADY_EXISTS)
        self._ctx.items.take()
        now = self._ctx.clock.now()
        item = INSTRUCTION.new(fields, id=self._items.next_id(), org=org, username=username, created_at=now,
                               updated_at=now)
        self._items.put(item)
        return _out(item)

    def update(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Write the given fields (others keep their values, as DRF does for optional fields).

        NotFound if the user has none; ``updated_at`` moves to now, ``created_at`` and ``id`` stay.
        """
        item = self._items.get((org, username))
        INSTRUCTION.write(item, fields)
        item.updated_at = self._ctx.clock.now()
        return _out(item)
