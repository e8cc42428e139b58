"""ai-mentor: the user's profile memory, a set of {tag, detail} pairs."""

from __future__ import annotations

from typing import Any

from mock_server.errors import NotFound
from mock_server.models.common import Context, DocReader, Path

_SPEC = {
    "org": ("str", True, None),
    "username": ("str", True, None),
    "tag": ("str", True, None),
    "detail": ("str?", False, None),
}


class ProfileMemoryBackend:
    """Profile memory per (org, username), keyed by tag."""

    SECTIONS = ("profile_memory",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._tags: dict[tuple[str, str], dict[str, str | None]] = {}

    def list(self, org: str, username: str) -> list[dict[str, Any]]:
        """Every relation of the user, ordered by tag (a bare list, not paginated)."""
        tags = self._tags.get((org, username), {})
        return [{"tag": tag, "detail": tags[tag]} for tag in sorted(tags)]

    def upsert(self, org: str, username: str, tag: str, detail: str | None) -> dict[str, Any]:
        """Create the tag or replace its detail; returns the relation."""
        tags = self._tags.setdefault((org, username), {})
        if tag not in tags:
            self._ctx.items.take()
        tags[tag] = detail
        return {"tag": tag, "detail": detail}

    def destroy(self, org: str, username: str, tag: str) -> None:
        """Delete the tag; NotFound if the user has no such tag."""
        tags = self._tags.get((org, username))
        if not tags or tag not in tags:
            raise NotFound()
        del tags[tag]
        self._ctx.items.give_back()

    def item_count(self) -> int:
        """How many items this family holds: tags (for the store's limit)."""
        return sum(len(tags) for tags in self._tags.values())

    def clear(self) -> None:
        """Drop everything."""
        self._tags.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document."""
        for i, raw in enumerate(sections["profile_memory"]):
            rec = reader.record(raw, path + ("profile_memory", i), _SPEC)
            if rec is not None:
                self._tags.setdefault((rec["org"], rec["username"]), {})[rec["tag"]] = rec["detail"]

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's section, in the fixtures format."""
        out = []
        for (org, username) in sorted(self._tags):
            tags = self._tags[(org, username)]
            out.extend({"org": org, "username": username, "tag": t, "detail": tags[t]} for t in sorted(tags))
        return {"profile_memory": out}
