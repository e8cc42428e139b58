"""VirtuousAI Memory API: memories per organization, and the entity backfill."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from mock_server.clock import isoformat_micros, to_micros
from mock_server.errors import NotFound, PermissionDenied
from mock_server.models.common import Context, DocReader, Path, TimeIndex, norm_uuid

NOT_FOUND = "Memory not found"
FORBIDDEN = "Not allowed for this organization"

_SPEC = {
    "id": ("uuid", True, None),
    "organizationId": ("uuid", True, None),
    "content": ("str", True, None),
    "createdAt": ("micros", True, None),
    "backfilled": ("bool", False, False),
}


@dataclass(slots=True, eq=False)
class Memory:
    """One stored memory (slots: an organization can hold 100,000 of them)."""

    id: str
    organization_id: str
    content: str
    created_us: int  # createdAt, microseconds since the epoch (also the index key)
    backfilled: bool


class VaiMemoryBackend:
    """Memories per organization, indexed newest first (ties by id) so a page costs O(limit + log n)."""

    SECTIONS = ("memories",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._items: dict[str, dict[str, Memory]] = {}
        # Per org, by createdAt: read backwards it is newest first, ties by id.
        self._index: dict[str, TimeIndex] = {}
        # Per org, lazily: ids oldest first (ties by id), for the backfill; dropped on write.
        self._oldest: dict[str, list[str]] = {}
        # Fault hook: a memory for which this returns True counts as ``failed`` in a backfill.
        self.fail_predicate: Callable[[dict[str, Any]], bool] | None = None

    def list(self, org: str, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """``{memories, total}``: newest ``createdAt`` first, ties by id, ``limit`` from ``offset``."""
        org = norm_uuid(org) or org
        index = self._index.get(org) or TimeIndex()
        rows = index.newest_first(self._items.get(org, {}))
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
        del self._items[org][mem.id]
        self._oldest.pop(org, None)
        self._ctx.items.give_back()

    def backfill(self, org: str, limit: int = 20, offset: int = 0, chunk_size: int = 5) -> dict[str, Any]:
        """Examine at most ``limit`` memories oldest first from ``offset``, in chunks of ``chunk_size``.

        Not yet backfilled -> ``processed`` (and marked); already marked -> ``skipped``; marked as
        failing by ``fail_predicate`` -> ``failed`` (left unmarked so a retry can process it).
        """
        org = norm_uuid(org) or org
        order = self._oldest_first(org)
        items = self._items.get(org, {})
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
        return len(self._items.get(norm_uuid(org) or org, {}))

    def item_count(self) -> int:
        """How many items this family holds (for the store's limit)."""
        return sum(len(items) for items in self._items.values())

    def _own(self, org: str, memory_id: Any) -> Memory:
        mid = norm_uuid(memory_id)
        mem = self._items.get(norm_uuid(org) or org, {}).get(mid) if mid else None
        if mem is None:
            raise NotFound(NOT_FOUND)
        return mem

    def _insert(self, mem: Memory) -> None:
        org = mem.organization_id
        self._items.setdefault(org, {})[mem.id] = mem
        self._index.setdefault(org, TimeIndex()).insert(mem.created_us, mem.id)
        self._oldest.pop(org, None)

    def _oldest_first(self, org: str) -> list[str]:
        order = self._oldest.get(org)
        if order is None:
            items = self._items.get(org, {})
            order = [m.id for m in sorted(items.values(), key=lambda m: (m.created_us, m.id))]
            self._oldest[org] = order
        return order

    def clear(self) -> None:
        """Drop everything (the fault hook stays)."""
        self._items.clear()
        self._index.clear()
        self._oldest.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document."""
        seen: set[str] = set()
        for i, raw in enumerate(sections["memories"]):
            rec = reader.record(raw, path + ("memories", i), _SPEC)
            if rec is None:
                continue
            if rec["id"] in seen:
                reader.fail(path + ("memories", i, "id"), "custom", rec["id"], message="Duplicate id.")
                continue
            seen.add(rec["id"])
            mem = Memory(rec["id"], rec["organizationId"], rec["content"], rec["createdAt"], rec["backfilled"])
            self._items.setdefault(mem.organization_id, {})[mem.id] = mem
        for org, items in self._items.items():
            self._index[org] = TimeIndex.build((m.created_us, m.id, 0) for m in items.values())

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's section, in the fixtures format (per org, oldest first)."""
        out = []
        for org in sorted(self._items):
            for mid in self._oldest_first(org):
                m = self._items[org][mid]
                out.append({"id": m.id, "organizationId": m.organization_id, "content": m.content,
                            "createdAt": isoformat_micros(m.created_us), "backfilled": m.backfilled})
        return {"memories": out}


def _out(mem: Memory) -> dict[str, Any]:
    return {
        "id": mem.id,
        "content": mem.content,
        "createdAt": isoformat_micros(mem.created_us),
        "organizationId": mem.organization_id,
        "source": "explicit",
        "sourceThreadId": None,
        "sourceTurnId": None,
    }


__all__ = ["VaiMemoryBackend", "NOT_FOUND", "FORBIDDEN"]
