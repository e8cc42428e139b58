"""ai-mentor: edX course memory, one record per (student, course_id) of a user."""

from __future__ import annotations

from typing import Any

from mock_server.errors import NotFound
from mock_server.models.common import Context, DocReader, Path, ts
from mock_server.models.pagination import Page, order_items, paginate, parse_ordering

DEFAULT_ORDERING = "-last_modified"

_FIELDS = {
    "id": lambda r: r["id"],
    "student": lambda r: r["student"],
    "course_id": lambda r: r["course_id"],
    "date_created": lambda r: r["date_created"],
    "last_modified": lambda r: r["last_modified"],
}

_SPEC = {
    "id": ("int", True, None),
    "org": ("str", True, None),
    "username": ("str", True, None),
    "student": ("int", True, None),
    "course_id": ("str", True, None),
    "data": ("any", False, None),
    "date_created": ("datetime", True, None),
    "last_modified": ("datetime", True, None),
}


class EdxMemoryBackend:
    """edX memories per (org, username); the default-ordered view is cached until the next write."""

    SECTIONS = ("edx_memory",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._items: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._default_view: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def list(
        self,
        org: str,
        username: str,
        *,
        page: str | int | None = None,
        page_size: str | int | None = None,
        ordering: str | None = None,
        course_id: str | None = None,
        student: int | str | None = None,
        username_filter: str | None = None,
    ) -> Page:
        """A page of the user's records, filtered (``username_filter`` is the ``username`` query)."""
        keys = parse_ordering(ordering, _FIELDS, DEFAULT_ORDERING)
        rows = self._view(org, username, keys)
        if course_id is not None:
            rows = [r for r in rows if r["course_id"] == course_id]
        if student is not None:
            wanted = _as_int(student)
            rows = [r for r in rows if r["student"] == wanted]
        if username_filter is not None:
            rows = [r for r in rows if r["username"] == username_filter]
        result = paginate(rows, page, page_size)
        result.results = [_out(r) for r in result.results]
        return result

    def retrieve(self, org: str, username: str, memory_id: int) -> dict[str, Any]:
        """One record; NotFound if absent or another user's."""
        return _out(self._own(org, username, memory_id))

    def destroy(self, org: str, username: str, memory_id: int) -> None:
        """Delete one record; NotFound if absent or another user's."""
        self._own(org, username, memory_id)
        del self._items[(org, username)][memory_id]
        self._default_view.pop((org, username), None)
        self._ctx.items.give_back()

    def upsert(self, org: str, username: str, student: int, course_id: str, data: Any) -> dict[str, Any]:
        """Create or replace the record of (student, course_id) (for the admin plane and tests)."""
        now = self._ctx.clock.now()
        items = self._items.setdefault((org, username), {})
        found = next((r for r in items.values() if r["student"] == student and r["course_id"] == course_id), None)
        if found is None:
            self._ctx.items.take()
            found = {"id": self._ctx.ids.next_int("edx_memory"), "org": org, "username": username,
                     "student": student, "course_id": course_id, "date_created": now}
            items[found["id"]] = found
        found["data"] = data
        found["last_modified"] = now
        self._default_view.pop((org, username), None)
        return _out(found)

    def _view(self, org: str, username: str, keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
        items = self._items.get((org, username), {})
        if keys == [("last_modified", True)]:
            cached = self._default_view.get((org, username))
            if cached is None:
                cached = order_items(list(items.values()), keys, _FIELDS, _FIELDS["id"])
                self._default_view[(org, username)] = cached
            return cached
        return order_items(list(items.values()), keys, _FIELDS, _FIELDS["id"])

    def _own(self, org: str, username: str, memory_id: int) -> dict[str, Any]:
        found = self._items.get((org, username), {}).get(memory_id) if isinstance(memory_id, int) else None
        if found is None:
            raise NotFound()
        return found

    def item_count(self) -> int:
        """How many items this family holds (for the store's limit)."""
        return sum(len(items) for items in self._items.values())

    def clear(self) -> None:
        """Drop everything."""
        self._items.clear()
        self._default_view.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document."""
        seen_ids: set[int] = set()
        seen_pairs: set[tuple[str, str, int, str]] = set()
        for i, raw in enumerate(sections["edx_memory"]):
            where = path + ("edx_memory", i)
            rec = reader.record(raw, where, _SPEC)
            if rec is None:
                continue
            pair = (rec["org"], rec["username"], rec["student"], rec["course_id"])
            if rec["id"] in seen_ids:
                reader.fail(where + ("id",), "custom", rec["id"], message="Duplicate id.")
                continue
            if pair in seen_pairs:
                reader.fail(where + ("course_id",), "custom", rec["course_id"],
                            message="Only one record per (student, course_id) of a user.")
                continue
            seen_ids.add(rec["id"])
            seen_pairs.add(pair)
            self._ctx.ids.seen_int("edx_memory", rec["id"])
            self._items.setdefault((rec["org"], rec["username"]), {})[rec["id"]] = rec

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's section, in the fixtures format."""
        rows = sorted((r for d in self._items.values() for r in d.values()), key=lambda r: r["id"])
        return {"edx_memory": [{**r, "date_created": ts(r["date_created"]), "last_modified": ts(r["last_modified"])}
                               for r in rows]}


def _as_int(value: int | str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _out(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rec["id"],
        "username": rec["username"],
        "student": rec["student"],
        "course_id": rec["course_id"],
        "data": rec["data"],
        "date_created": ts(rec["date_created"]),
        "last_modified": ts(rec["last_modified"]),
    }
