"""ai-mentor: the user's custom instruction (one per user)."""

from __future__ import annotations

from typing import Any

from mock_server.errors import NonFieldError, NotFound
from mock_server.models.common import Context, DocReader, Path, ts

ALREADY_EXISTS = "Custom instruction already exists for this user."

# Writable fields and their defaults on create (the client's model: profession and traits are
# plain strings, the rest nullable).
WRITABLE: dict[str, Any] = {
    "content": None,
    "about_user": None,
    "mentor_tone": None,
    "profession": "",
    "desired_mentor_traits": "",
}

_SPEC = {
    "id": ("int", True, None),
    "org": ("str", True, None),
    "username": ("str", True, None),
    "content": ("str?", False, None),
    "about_user": ("str?", False, None),
    "mentor_tone": ("str?", False, None),
    "profession": ("str", False, ""),
    "desired_mentor_traits": ("str", False, ""),
    "created_at": ("datetime", True, None),
    "updated_at": ("datetime", True, None),
}


class CustomInstructionBackend:
    """One custom instruction per (org, username)."""

    SECTIONS = ("custom_instructions",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._items: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, org: str, username: str) -> dict[str, Any]:
        """The user's instruction; NotFound if none."""
        item = self._items.get((org, username))
        if item is None:
            raise NotFound()
        return _out(item)

    def create(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create it; NonFieldError if the user already has one."""
        if (org, username) in self._items:
            raise NonFieldError(ALREADY_EXISTS)
        self._ctx.items.take()
        now = self._ctx.clock.now()
        item = {"id": self._ctx.ids.next_int("custom_instruction"), "org": org, "username": username}
        for name, default in WRITABLE.items():
            item[name] = fields.get(name, default)
        item["created_at"] = now
        item["updated_at"] = now
        self._items[(org, username)] = item
        return _out(item)

    def update(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Write the given fields (others keep their values, as DRF does for optional fields).

        NotFound if the user has none; ``updated_at`` moves to now, ``created_at`` and ``id`` stay.
        """
        item = self._items.get((org, username))
        if item is None:
            raise NotFound()
        for name in WRITABLE:
            if name in fields:
                item[name] = fields[name]
        item["updated_at"] = self._ctx.clock.now()
        return _out(item)

    def item_count(self) -> int:
        """How many items this family holds (for the store's limit)."""
        return len(self._items)

    def clear(self) -> None:
        """Drop everything."""
        self._items.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document."""
        for i, raw in enumerate(sections["custom_instructions"]):
            rec = reader.record(raw, path + ("custom_instructions", i), _SPEC)
            if rec is None:
                continue
            key = (rec["org"], rec["username"])
            if key in self._items:
                reader.fail(path + ("custom_instructions", i, "username"), "custom", rec["username"],
                            message="Duplicate custom instruction for this user.")
                continue
            self._ctx.ids.seen_int("custom_instruction", rec["id"])
            self._items[key] = rec

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's section, in the fixtures format."""
        items = sorted(self._items.values(), key=lambda r: r["id"])
        return {"custom_instructions": [
            {**r, "created_at": ts(r["created_at"]), "updated_at": ts(r["updated_at"])} for r in items
        ]}


def _out(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "username": item["username"],
        "platform_key": item["org"],
        "content": item["content"],
        "about_user": item["about_user"],
        "mentor_tone": item["mentor_tone"],
        "profession": item["profession"],
        "desired_mentor_traits": item["desired_mentor_traits"],
        "created_at": ts(item["created_at"]),
        "updated_at": ts(item["updated_at"]),
    }
