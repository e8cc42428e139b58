"""VirtuousAI Memory API: memories per organization, and the entity backfill."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from mock_server.clock import to_micros
from mock_server.errors import PermissionDenied
from mock_server.models.collection import Collection, Const, Family, Layout, field
from mock_server.models.common import Context, DocReader, Path, TimeIndex, norm_uuid

NOT_FOUND = "Memory not found"
FORBIDDEN = "Not allowed for this organization"


@dataclass(slots=True, eq=False)
class Memory:
    """One stored memory (slots: an organization can hold 100,000 of them)."""

    id: str = field("uuid")
    organization_id: str = field("uuid", key="organizationId")
    content: str = field("str")
    created_us: int = field("micros", key="createdAt")  # microseconds since the epoch (also the index key)
    backfilled: bool = field("bool", False)


MEMORY = Layout(Memory)
_out = MEMORY.view("id", "content", "createdAt", "organizationId", ("source", Const("explicit")),
                   ("sourceThreadId", Const(None)), ("sourceTurnId", Const(None)))


class VaiMemoryBackend(Family):
    """Memories per organization, indexed newest first (ties by id) so a page costs O(limit + log n)."""

    def __init__(self, ctx: Context) -> None:
        self._items = Collection(MEMORY, "memories", ctx.ids, scope=("organization_id",), not_found=NOT_FOUND,
                                 duplicate=("id", "Duplicate id."))
        super().__init__(ctx, self._items)
        # Per org, by createdAt: read backwards it is newest first, ties by id.
        self._index: dict[str, TimeIndex] = {}
        # Per org, lazily: ids oldest first (ties by id), for the backfill; dropped on write.
        self._oldest: dict[str, list[str]] = {}
        # Test hook: a memory for which this returns True counts as ``failed`` in a backfill.
        self.fail_predicate: Callable[[dict[str, Any]], bool] | None = None

    def list(self, org: str, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """``{memories, total}``: newest ``createdAt`` first, ties by id, ``limit`` from ``offset``."""
        org = norm_uuid(org) or org
        index = self._index.get(org) or TimeIndex()
        rows = index.newest_first(self._items.in_scope(org))
        offset = max(0, offset)
        return {"memories": [_out(m) for m in rows[offset:offset + max(0, limit)]], "total": len(index)}

    def create(self, org: str, content: str, organization_id: str | None = None) -> dict[str, Any]:
        """A new explicit memory of the caller's org; another org's ``organization_id`` -> PermissionDenied."""
        if organization_id is not None and norm_uuid(organization_id) != norm_uuid(org):
            raise PermissionDenied(FORBIDDEN)
        org = norm_uuid(org) or org
        self._ctx.items.take()
        mem = Memory(self._ctx.ids.uuid4(), org, content, to_micros(self._ctx.clock.now()), False)
        self._insert(mem)
        return _out(mem)

    def get(self, org: str, memory_id: Any) -> dict[str, Any]:
        """One memory of the org; NotFound("Memory not found") if absent or another org's."""
        return _out(self._own(org, memory_id))

    def delete(self, org: str, memory_id: Any) -> None:
        """Delete one memory of the org; NotFound if absent or another org's."""
        mem = self._own(org, memory_id)
        org = mem.organization_id
        self._index[org].remove(mem.created_us, mem.id)
        self._items.remove(mem)
        self._oldest.pop(org, None)
        self._ctx.items.give_back()

    def backfill(self, org: str, limit: int = 20, offset: int = 0, chunk_size: int = 5) -> dict[str, Any]:
        """Examine at most ``limit`` memories oldest first from ``offset``, in chunks of ``chunk_size``.

        Not yet backfilled -> ``processed`` (and marked); already marked -> ``skipped``; marked as
        failing by ``fail_predicate`` -> ``failed`` (left unmarked so a retry can process it).
        """
        org = norm_uuid(org) or org
        order = self._oldest_first(org)
        items = self._items.in_scope(org)
        batch = order[offset:offset + limit] if offset >= 0 else []
        processed = skipped = failed = 0
        size = max(1, chunk_size)
        for start in range(0, len(batch), size):
            for mid in batch[start:start + size]:
                mem = items[mid]
                if self.fail_predicate is not None and self.fail_predicate(_out(mem)):
                    failed += 1
                elif mem.backfilled:
                    skipped += 1
                else:
                    mem.backfilled = True
                    processed += 1
        examined = processed + skipped + failed
        next_offset = offset + examined
        return {"examined": examined, "processed": processed, "skipped": skipped, "failed": failed,
                "nextOffset": next_offset, "hasMore": next_offset < len(order), "limit": limit, "offset": offset}

    def count(self, org: str) -> int:
        """How many memories the org has."""
        return len(self._items.in_scope(norm_uuid(org) or org))

    def _own(self, org: str, memory_id: Any) -> Memory:
        return self._items.get(norm_uuid(org) or org, norm_uuid(memory_id))

    def _insert(self, mem: Memory) -> None:
        org = mem.organization_id
        self._items.add(mem)
        self._index.setdefault(org, TimeIndex()).insert(mem.created_us, mem.id)
        self._oldest.pop(org, None)

    def _oldest_first(self, org: str) -> list[str]:
        order = self._oldest.get(org)
        if order is None:
            items = self._items.in_scope(org)
            order = [m.id for m in sorted(items.values(), key=lambda m: (m.created_us, m.id))]
            self._oldest[org] = order
        return order

    def clear(self) -> None:
        """Drop everything (the test hook stays)."""
        super().clear()
        self._index.clear()
        self._oldest.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document, and index it."""
        super().load(reader, sections, path)
        for org in self._items.scopes():
            self._index[org] = TimeIndex.build((m.created_us, m.id, 0) for m in self._items.in_scope(org).values())

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's section, in the fixtures format (per org, oldest first)."""
        return {self._items.section: self._items.export(
            self._items.in_scope(org)[mid] for org in sorted(self._items.scopes()) for mid in self._oldest_first(org))}

    def adopt(self, other: VaiMemoryBackend) -> list[Any]:
        """Take a staged family's state as this one's, indexes included (the test hook stays)."""
        replaced = super().adopt(other) + [self._index, self._oldest]
        self._index, self._oldest, other._index, other._oldest = other._index, other._oldest, {}, {}
        return replaced


__all__ = ["VaiMemoryBackend", "NOT_FOUND", "FORBIDDEN"]
