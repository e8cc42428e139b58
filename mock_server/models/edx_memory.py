"""ai-mentor: edX course memory, one record per (student, course_id) of a user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from mock_server.models.collection import Collection, Family, Layout, field
from mock_server.models.common import Context, DocReader, Path
from mock_server.models.pagination import Page, paginate, parse_ordering

DEFAULT_ORDERING = "-last_modified"


@dataclass(slots=True, eq=False)
class EdxMemory:
    """A user's memory of one student's course."""

    id: int = field("int")
    org: str = field("str")
    username: str = field("str")
    student: int = field("int")
    course_id: str = field("str")
    data: Any = field("any", None)
    date_created: datetime = field("datetime")
    last_modified: datetime = field("datetime")


EDX_MEMORY = Layout(EdxMemory)
_out = EDX_MEMORY.view("id", "username", "student", "course_id", "data", "date_created", "last_modified")
_FIELDS = {name: attrgetter(name) for name in ("id", "student", "course_id", "date_created", "last_modified")}
_DEFAULT_KEYS = parse_ordering(DEFAULT_ORDERING, _FIELDS, DEFAULT_ORDERING)


class EdxMemoryBackend(Family):
    """edX memories per (org, username); the default-ordered view is cached until the next write."""

    def __init__(self, ctx: Context) -> None:
        self._items = Collection(EDX_MEMORY, "edx_memory", ctx.ids, scope=("org", "username"), counter="edx_memory",
                                 duplicate=("id", "Duplicate id."))
        super().__init__(ctx, self._items)

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
        rows = self._items.ordered((org, username), keys, _FIELDS, _DEFAULT_KEYS)
        if course_id is not None:
            rows = [r for r in rows if r.course_id == course_id]
        if student is not None:
            wanted = _as_int(student)
            rows = [r for r in rows if r.student == wanted]
        if username_filter is not None:
            rows = [r for r in rows if r.username == username_filter]
        result = paginate(rows, page, page_size)
        result.results = [_out(r) for r in result.results]
        return result

    def retrieve(self, org: str, username: str, memory_id: int) -> dict[str, Any]:
        """One record; NotFound if absent or another user's."""
        return _out(self._items.get((org, username), memory_id))

    def destroy(self, org: str, username: str, memory_id: int) -> None:
        """Delete one record; NotFound if absent or another user's."""
        self._items.remove(self._items.get((org, username), memory_id))
        self._ctx.items.give_back()

    def upsert(self, org: str, username: str, student: int, course_id: str, data: Any) -> dict[str, Any]:
        """Create or replace the record of (student, course_id) (for tests: no route writes one)."""
        now = self._ctx.clock.now()
        found = next((r for r in self._items.in_scope((org, username)).values()
                      if r.student == student and r.course_id == course_id), None)
        if found is None:
            self._ctx.items.take()
            found = EdxMemory(self._items.next_id(), org, username, student, course_id, data, now, now)
            self._items.add(found)
        else:
            found.data = data
            found.last_modified = now
            self._items.touch((org, username))
        return _out(found)

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document: one record per (student, course_id) of a user."""
        courses: set[tuple[Any, ...]] = set()

        def one_per_course(reader: DocReader, rec: EdxMemory, at: Path) -> bool:
            course = (rec.org, rec.username, rec.student, rec.course_id)
            if course in courses:
                reader.fail(at + ("course_id",), "custom", rec.course_id,
                            message="Only one record per (student, course_id) of a user.")
                return False
            courses.add(course)
            return True

        self._items.load(reader, sections[self._items.section], path, one_per_course)


def _as_int(value: int | str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
