"""What every backend shares: the id source, the tenants' user registry, and the fixtures reader."""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Iterator, Sequence

from sortedcontainers import SortedList

from mock_server.clock import isoformat_z, parse_date, parse_datetime, to_micros
from mock_server.errors import InvalidRequest, NotFound, Problem, StoreFull

Path = tuple[str | int, ...]


class IdSource:
    """Integer ids per resource and deterministic UUIDs.

    UUID number ``n`` is derived from ``(seed, n)`` by hashing, so a store that reloads its own
    export (which records ``uuid_counter``) continues the very same sequence. The UUIDs of the
    loaded document are ``reserved``: a document without its counter (or from another source)
    restarts the sequence, and a hashed UUID it already holds is skipped, never handed out again.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.uuid_counter = 0
        self.next: dict[str, int] = {}
        self.reserved: set[str] = set()

    def next_int(self, resource: str) -> int:
        """The next integer id of ``resource`` (1, 2, 3, ...)."""
        value = self.next.get(resource, 1)
        self.next[resource] = value + 1
        return value

    def seen_int(self, resource: str, value: int) -> None:
        """Make sure ids handed out later stay above ``value`` (a loaded id)."""
        if self.next.get(resource, 1) <= value:
            self.next[resource] = value + 1

    def uuid4(self) -> str:
        """The next deterministic version-4 UUID not reserved, as a lowercase string."""
        while True:
            raw = bytearray(hashlib.blake2b(f"{self.seed}:{self.uuid_counter}".encode(), digest_size=16).digest())
            self.uuid_counter += 1
            # What uuid.UUID(bytes=..., version=4) sets: version 4, RFC 4122 variant; formatted directly.
            raw[6] = raw[6] & 0x0F | 0x40
            raw[8] = raw[8] & 0x3F | 0x80
            h = raw.hex()
            found = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            if found not in self.reserved:
                return found

    def reset(self, seed: int, uuid_counter: int = 0, next_ids: dict[str, int] | None = None) -> None:
        """Start over from a loaded document's counters."""
        self.seed = seed
        self.uuid_counter = uuid_counter
        self.next = dict(next_ids or {})

    def adopt(self, other: IdSource, *, keep_ahead: bool) -> None:
        """Take over ``other``'s seed, counters and reserved UUIDs; ``keep_ahead``: no counter moves back.

        A reset keeps ahead: the ids handed out since the document was loaded stay handed out.
        """
        uuid_counter, next_ids = other.uuid_counter, dict(other.next)
        if keep_ahead and other.seed == self.seed:
            uuid_counter = max(uuid_counter, self.uuid_counter)
            for resource, value in self.next.items():
                next_ids[resource] = max(value, next_ids.get(resource, 1))
        self.reset(other.seed, uuid_counter, next_ids)
        self.reserved = other.reserved


class ItemCount:
    """How many items (records, artifact versions, chat messages) the store holds, against its limit.

    Every backend takes a count before it stores anything new and gives it back when it deletes:
    the limit (``--max-items``) holds for the whole store, whatever the family.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int = 1) -> None:
        """Count ``n`` new items; StoreFull, and nothing counted, if that passes the limit."""
        if self.limit is not None and self.used + n > self.limit:
            raise StoreFull(self.limit)
        self.used += n

    def give_back(self, n: int = 1) -> None:
        """``n`` items are gone."""
        self.used -= n


@dataclass(slots=True)
class Context:
    """What a backend needs from the store: the clock, the id source, the user registry and the item count."""

    clock: Any
    ids: IdSource
    users: "UserRegistry"
    items: ItemCount


@dataclass(slots=True)
class UserInfo:
    """What the org's user registry knows about a user (used for chat-history emails)."""

    org: str
    username: str
    email: str
    lti_email: str = ""
    lti_username: str = ""


class UserRegistry:
    """Known users per org: email and LTI claims. Unknown users get ``<username>@example.com``."""

    def __init__(self) -> None:
        self._users: dict[tuple[str, str], UserInfo] = {}

    def clear(self) -> None:
        """Forget every user."""
        self._users.clear()

    def add(self, info: UserInfo) -> None:
        """Register (or replace) a user."""
        self._users[(info.org, info.username)] = info

    def get(self, org: str, username: str) -> UserInfo:
        """The registered user, or a stand-in with a derived email and empty LTI claims."""
        found = self._users.get((org, username))
        return found if found is not None else UserInfo(org, username, f"{username}@example.com")

    def all(self) -> list[UserInfo]:
        """Every registered user, in (org, username) order."""
        return [self._users[k] for k in sorted(self._users)]

    def adopt(self, other: UserRegistry) -> list[Any]:
        """Take ``other``'s users (a staged state's) as these; the container replaced, for freeing."""
        replaced: list[Any] = [self._users]
        self._users, other._users = other._users, {}
        return replaced


CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def norm_uuid(value: Any) -> str | None:
    """A UUID (string or uuid.UUID) as its canonical lowercase string; None if it is not one."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        return None
    if CANONICAL_UUID.fullmatch(value):  # already canonical (ids the mock handed out): as is
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def require_uuid(value: Any, detail: str | None = None) -> str:
    """A path id that must be a UUID; anything else is simply not found."""
    found = norm_uuid(value)
    if found is None:
        raise NotFound(detail)
    return found


def ts(dt: datetime | None) -> str | None:
    """A stored datetime as the wire string (or None)."""
    return None if dt is None else isoformat_z(dt)


# --- reading a fixtures document --------------------------------------------------------------

# A field spec: name -> (type, required, default). Types: int, str, bool, datetime, micros (a
# datetime read as microseconds since the epoch), date, uuid, any, list, dict, list[int]; a
# trailing "?" allows null. Defaults are immutable scalars or a callable (e.g. ``list``) that
# makes a fresh value.
Spec = dict[str, tuple[str, bool, Any]]

_KIND = {"int": "integer", "str": "string", "bool": "boolean", "datetime": "date-time", "micros": "date-time",
         "date": "date", "uuid": "uuid", "list": "array", "dict": "object", "list[int]": "array"}


class DocReader:
    """Checks a fixtures document while reading it, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        # Equal strings read from one document share one object: a JSON parser makes a new string
        # for every occurrence of an org, a username or a mentor id, which costs memory at scale.
        self._strings: dict[str, str] = {}
        self.uuids: set[str] = set()  # every UUID read: the id source never hands one out again

    def keep(self, text: str) -> str:
        """The one stored copy of ``text`` for this document (made on first sight)."""
        kept = self._strings.get(text)
        if kept is None:
            # A copy, not the parsed document's own string: one kept string would pin the memory
            # pages of the whole (freed) document around it, and a bulk import keeps many. (An
            # f-string or str() would hand back the very same object.)
            kept = self._strings[text] = "".join((text, ""))  # noqa: FLY002
        return kept

    def fail(self, path: Path, kind: str, input: Any = None, **params: Any) -> None:
        """Record one problem at ``path``."""
        self.problems.append(Problem("body", path, kind, input, params))

    def raise_if_failed(self) -> None:
        """Raise InvalidRequest with every problem found so far."""
        if self.problems:
            raise InvalidRequest(list(self.problems))

    def section(self, container: Any, key: str, path: Path, kind: str = "list") -> Any:
        """``container[key]`` (a list or dict), empty when absent or null."""
        value = container.get(key) if isinstance(container, dict) else None
        if value is None:
            return [] if kind == "list" else {}
        expected = list if kind == "list" else dict
        if not isinstance(value, expected):
            self.fail(path + (key,), "array" if kind == "list" else "object", value)
            return [] if kind == "list" else {}
        return value

    def known_keys(self, mapping: dict[str, Any], allowed: Iterable[str], path: Path) -> None:
        """Flag keys that are not in ``allowed`` (typos in fixtures should not pass silently)."""
        allowed = set(allowed)
        for key in mapping:
            if key not in allowed:
                self.fail(path + (str(key),), "custom", mapping[key], message="Unknown field.")

    def record(self, rec: Any, path: Path, spec: Spec) -> dict[str, Any] | None:
        """Read one record against ``spec``; None (and problems recorded) when it is not usable."""
        if not isinstance(rec, dict):
            self.fail(path, "object", rec)
            return None
        before = len(self.problems)
        self.known_keys(rec, spec, path)
        out: dict[str, Any] = {}
        for name, (typ, required, default) in spec.items():
            if name not in rec:
                if required:
                    self.fail(path + (name,), "required")
                else:
                    out[name] = default() if callable(default) else default  # scalar defaults only
                continue
            value = rec[name]
            nullable = typ.endswith("?")
            base = typ.rstrip("?")
            if value is None:
                if nullable or base == "any":
                    out[name] = None
                else:
                    self.fail(path + (name,), "null", value)
                continue
            ok, converted = _convert(base, value)
            if ok:
                if type(converted) is str:  # ids too: a canonical one is the document's own string
                    converted = self.keep(converted)
                    if base == "uuid":
                        self.uuids.add(converted)
                out[name] = converted
            else:
                self.fail(path + (name,), _KIND.get(base, "custom"), value, message="Invalid value.")
        return out if len(self.problems) == before else None


def _convert(typ: str, value: Any) -> tuple[bool, Any]:
    if typ == "any":
        return True, copy.deepcopy(value)
    if typ == "int":
        return isinstance(value, int) and not isinstance(value, bool), value
    if typ == "str":
        return isinstance(value, str), value
    if typ == "bool":
        return isinstance(value, bool), value
    if typ == "list":
        return isinstance(value, list), value
    if typ == "dict":
        return isinstance(value, dict), value
    if typ == "list[int]":
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        return ok, list(value) if ok else value
    if typ == "uuid":
        found = norm_uuid(value)
        return found is not None, found
    if typ == "datetime" or typ == "micros":
        if isinstance(value, (str, datetime)):
            try:
                parsed = parse_datetime(value)
            except ValueError:
                pass
            else:
                return True, parsed if typ == "datetime" else to_micros(parsed)
        return False, value
    if typ == "date":
        if isinstance(value, (str, date)):
            try:
                return True, parse_date(value)
            except ValueError:
                pass
        return False, value
    raise AssertionError(f"unknown field type {typ}")  # pragma: no cover - programming error



# Index keys are strings, "<OFFSET - time, 19 digits><id>": they sort exactly as (-time, id)
# tuples, and bisecting compares one string object instead of reaching through a tuple to an int
# and a string: a delete at 250,000 items with equal times took 3.0 us with tuples, 1.6 with strings.
_TIME_OFFSET = 10**18  # datetime's whole range (years 1 to 9999) stays within 19 digits
_TIME_DIGITS = 19


def _key(t: int, item_id: str) -> str:
    return f"{_TIME_OFFSET - t:019d}{item_id}"


class TimeIndex:
    """Ids ordered by time, with an integer value per id (a conversation's message count).

    Positions count from the oldest item (time ascending; among equal times, ids descending), so
    read backwards this is newest first with ties by id ascending, the default list order. Items
    are kept newest first in a ``SortedList`` (a list of short sorted lists), so adding or removing
    one costs O(log n) whatever the size (a flat list moved every later item: 0.2 ms per delete at
    250,000 memories), and a page or a time range is found by bisection.
    """

    __slots__ = ("_keys", "_values", "version")

    def __init__(self) -> None:
        self._keys: SortedList = SortedList()  # _key(time, id): newest first, ties by id ascending
        self._values: dict[str, int] = {}  # only the non-zero values
        self.version = 0  # bumped by every change, so readers can cache what they derive

    @classmethod
    def build(cls, items: Iterable[tuple[int, str, int]]) -> TimeIndex:
        """An index of ``(time, id, value)`` triples, sorted once."""
        index = cls()
        keys = []
        for t, item_id, value in items:
            keys.append(_key(t, item_id))
            if value:
                index._values[item_id] = value
        index._keys = SortedList(keys)
        return index

    def __len__(self) -> int:
        return len(self._keys)

    def insert(self, t: int, item_id: str, value: int = 0) -> None:
        """Add an item."""
        self.version += 1
        self._keys.add(_key(t, item_id))
        if value:
            self._values[item_id] = value

    def remove(self, t: int, item_id: str) -> None:
        """Remove an item; KeyError when it is not there."""
        try:
            self._keys.remove(_key(t, item_id))
        except ValueError:
            raise KeyError(item_id) from None
        self.version += 1
        self._values.pop(item_id, None)

    def set_value(self, t: int, item_id: str, value: int) -> None:
        """Change an item's value."""
        if _key(t, item_id) not in self._keys:
            raise KeyError(item_id)
        self.version += 1
        if value:
            self._values[item_id] = value
        else:
            self._values.pop(item_id, None)

    def position(self, t: int) -> int:
        """How many items are older than ``t`` (the position of the first item at or after ``t``)."""
        # The items older than t are the keys at or after the bare time prefix of t - 1.
        older_prefix = _TIME_OFFSET - t + 1
        if older_prefix <= 0:  # t is later than any storable time: every item is older
            return len(self._keys)
        if older_prefix >= 10**_TIME_DIGITS:  # earlier than any storable time: none is
            return 0
        return len(self._keys) - self._keys.bisect_left(f"{older_prefix:0{_TIME_DIGITS}d}")

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Positions ``[i, j)`` of the items with ``start <= time < end``."""
        i = self.position(start)
        return i, max(i, self.position(end))

    def values(self, i: int, j: int) -> list[int]:
        """The values at positions ``[i, j)``, oldest first."""
        n, values = len(self._keys), self._values
        out = [values.get(key[_TIME_DIGITS:], 0) for key in self._keys.islice(n - j, n - i)] if j > i else []
        out.reverse()
        return out

    def newest_first(self, by_id: dict[str, Any], i: int = 0, j: int | None = None) -> NewestFirst:
        """Positions ``[i, j)`` as a lazy newest-first sequence of the objects in ``by_id``."""
        n = len(self._keys)
        return NewestFirst(self._keys, n - (n if j is None else j), n - i, by_id)


class NewestFirst(Sequence[Any]):
    """A lazy newest-first view of part of an index, so a page touches only its own rows."""

    __slots__ = ("_keys", "_a", "_b", "_by_id")

    def __init__(self, keys: SortedList, a: int, b: int, by_id: dict[str, Any]) -> None:
        # Positions [a, b) of the newest-first keys.
        self._keys, self._a, self._b, self._by_id = keys, a, b, by_id

    def __len__(self) -> int:
        return max(0, self._b - self._a)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, slice):
            start, stop, step = item.indices(len(self))
            if step != 1:
                return list(self)[item]
            if stop <= start:
                return []
            by_id = self._by_id
            return [by_id[key[_TIME_DIGITS:]] for key in self._keys.islice(self._a + start, self._a + stop)]
        if item < 0:
            item += len(self)
        if not 0 <= item < len(self):
            raise IndexError(item)
        return self._by_id[self._keys[self._a + item][_TIME_DIGITS:]]

    def __iter__(self) -> Iterator[Any]:
        by_id = self._by_id
        for key in self._keys.islice(self._a, self._b):
            yield by_id[key[_TIME_DIGITS:]]

    def __reversed__(self) -> Iterator[Any]:
        by_id = self._by_id
        for key in self._keys.islice(self._a, self._b, reverse=True):
            yield by_id[key[_TIME_DIGITS:]]
