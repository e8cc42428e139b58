"""ai-mentor: the user's profile memory, a set of {tag, detail} pairs."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from mock_server.models.collection import Collection, Family, Layout, field
from mock_server.models.common import Context


@dataclass(slots=True, eq=False)
class Relation:
    """One tag of a user's profile memory, and its detail."""

    org: str = field("str")
    username: str = field("str")
    tag: str = field("str")
    detail: str | None = field("str?", None)


RELATION = Layout(Relation)
_out = RELATION.view("tag", "detail")


class ProfileMemoryBackend(Family):
    """Profile memory per (org, username), keyed by tag (a repeated tag in a document: the last one counts)."""

    def __init__(self, ctx: Context) -> None:
        self._tags = Collection(RELATION, "profile_memory", ctx.ids, scope=("org", "username"), key="tag",
                                order=attrgetter("org", "username", "tag"))
        super().__init__(ctx, self._tags)

    def list(self, org: str, username: str) -> list[dict[str, Any]]:
        """Every relation of the user, ordered by tag (a bare list, not paginated)."""
        tags = self._tags.in_scope((org, username))
        return [_out(tags[tag]) for tag in sorted(tags)]

    def upsert(self, org: str, username: str, tag: str, detail: str | None) -> dict[str, Any]:
        """Create the tag or replace its detail; returns the relation."""
        found = self._tags.find((org, username), tag)
        if found is None:
            self._ctx.items.take()
            found = Relation(org, username, tag, detail)
            self._tags.add(found)
        else:
            found.detail = detail
        return _out(found)

    def destroy(self, org: str, username: str, tag: str) -> None:
        """Delete the tag; NotFound if the user has no such tag."""
        self._tags.remove(self._tags.get((org, username), tag))
        self._ctx.items.give_back()
