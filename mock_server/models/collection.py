"""What the resource families share: records declared once, kept in collections scoped per tenant.

A record type is a slotted dataclass whose fields are declared with ``field``: the kind of value
(as the fixtures reader checks it), the default when a document leaves it out, its name in
documents when that is not the attribute's, and whether a client's body may write it. ``Layout``
derives the rest from that one declaration: the fixtures spec and the reader's constructor, the
export, the reply shapes (``view``), body writes and creates. ``Collection`` (records keyed within
a scope), ``PerScope`` (one record per scope) and ``Log`` (records in arrival order) each keep one
section of the fixtures document, with get-or-404, checked loading, export, reset and the swap of
a staged state; ``Family`` is what the store asks of a resource family.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import partial
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Callable, Generic, Hashable, Iterable, Iterator, Mapping, Self, TypeVar

from mock_server.clock import isoformat_micros, isoformat_z
from mock_server.errors import NotFound
from mock_server.models.common import Context, DocReader, IdSource, Path, Spec, norm_uuid
from mock_server.models.pagination import order_items

R = TypeVar("R")

_REQUIRED: Any = object()  # the default of a field a document must give
_META = "memmock.field"
_NONE: Mapping[Any, Any] = MappingProxyType({})  # the records of a scope that has none
_BY_ID = attrgetter("id")


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field's declaration, as ``field`` records it."""

    kind: str
    default: Any
    key: str | None
    write: bool
    load: Callable[[Any], Any] | None
    to_doc: Callable[[Any], Any] | None


def field(kind: str, default: Any = _REQUIRED, *, key: str | None = None, write: bool = False,
          load: Callable[[Any], Any] | None = None, to_doc: Callable[[Any], Any] | None = None) -> Any:
    """Declare a record field; ``kind`` is a ``DocReader`` type (``int``, ``str?``, ``uuid``, ``datetime``, ...).

    ``default``: the value when a document (or a create) leaves the field out (immutable); without
    one a document must give it. ``key``: its name in documents and replies, when not the
    attribute's. ``write``: a client's body may set it (``Layout.write`` and ``Layout.new``).
    ``load`` turns the value read into the one stored and ``to_doc`` turns it back, where the kind
    does not say how (it does for datetimes).
    """
    return dataclasses.field(metadata={_META: FieldInfo(kind, default, key, write, load, to_doc)})


@dataclass(frozen=True, slots=True)
class Const:
    """A reply entry with the same value for every record (see ``Layout.view``)."""

    value: Any


# Kinds whose stored value is not what documents and replies hold.
_WRITTEN: dict[str, Callable[[Any], Any]] = {"datetime": isoformat_z, "micros": isoformat_micros}


def _to_doc(info: FieldInfo) -> Callable[[Any], Any] | None:
    """How a stored value is written in documents and replies (None: as it is)."""
    if info.to_doc is not None:
        return info.to_doc
    convert = _WRITTEN.get(info.kind.rstrip("?"))
    if convert is None or not info.kind.endswith("?"):
        return convert
    return lambda value: None if value is None else convert(value)


def _constant(value: Any, name: str, ns: dict[str, Any]) -> str:
    """The expression of a constant: its literal when it has one (no lookup at run time), else a name in ``ns``."""
    if value is None or type(value) in (str, int, bool):
        return repr(value)
    ns[name] = value
    return name


def _compile(namespace: dict[str, Any], name: str, params: str, body: str) -> Callable[..., Any]:
    # The fields written out, as dataclasses writes __init__: a dict display or a call that names
    # each field costs what hand-written code costs, a loop over the declaration three times that.
    exec(f"def {name}({params}):\n    {body}\n", namespace)  # noqa: S102 - source built from declarations only
    return namespace[name]


class Layout(Generic[R]):
    """A record type's declaration, read once, and what is derived from it.

    ``spec`` is what ``DocReader.record`` checks a document's record against and ``from_doc``
    builds the record from what it read; ``export(record)`` writes it as documents hold it;
    ``write(record, body)`` sets the writable fields a body gives; ``new(body, **others)`` makes
    a record whose writable fields come from a body (or their defaults) and the others as given;
    ``writable`` and ``defaults`` name them. The declared fields come first in the dataclass;
    fields after them (counts a family keeps beside the document's) take their dataclass defaults.
    """

    def __init__(self, cls: type[R]) -> None:
        self.cls = cls
        declared: dict[str, FieldInfo] = {}
        self._attrs: set[str] = set()
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            info = f.metadata.get(_META)
            if info is not None and len(declared) < len(self._attrs):
                raise TypeError(f"{cls.__name__}.{f.name}: declared fields come before the others")
            if info is not None:
                declared[f.name] = info
            self._attrs.add(f.name)
        self._fields = declared
        self._by_key = {info.key or name: name for name, info in declared.items()}
        self.spec: Spec = {info.key or name: (info.kind, info.default is _REQUIRED,
                                              None if info.default is _REQUIRED else info.default)
                           for name, info in declared.items()}
        self.writable = tuple(info.key or name for name, info in declared.items() if info.write)
        self.defaults = {name: info.default for name, info in declared.items() if info.default is not _REQUIRED}
        ns: dict[str, Any] = {"cls": cls, "norm_uuid": norm_uuid}
        values = []
        for name, info in declared.items():
            value = f"d[{info.key or name!r}]"
            if info.load is not None:
                ns[f"_load_{name}"] = info.load
                value = f"_load_{name}({value})"
            values.append(value)
        self.from_doc: Callable[[dict[str, Any]], R] = _compile(ns, "from_doc", "d", f"return cls({', '.join(values)})")
        self.export: Callable[[R], dict[str, Any]] = self.view(*self._by_key)
        self.write: Callable[[R, dict[str, Any]], None] = _compile(ns, "write", "r, f", "\n    ".join(
            [f"if {key!r} in f: r.{self._by_key[key]} = {self._written(key, f'f[{key!r}]')}" for key in self.writable]
            or ["pass"]))
        params = [name for name, info in declared.items() if not (info.write and info.default is not _REQUIRED)]
        args = [name if name in params else self._written(
                    info.key or name, f"f.get({info.key or name!r}, {_constant(info.default, f'_d_{name}', ns)})")
                for name, info in declared.items()]
        self.new: Callable[..., R] = _compile(ns, "new", ", ".join(["f", *params]), f"return cls({', '.join(args)})")

    def read(self, reader: DocReader, raw: Any, path: Path) -> R | None:
        """One record of a document, checked against the declaration; None (problems recorded) if unusable."""
        rec = reader.record(raw, path, self.spec)
        return None if rec is None else self.from_doc(rec)

    def view(self, *entries: str | tuple[Any, ...]) -> Callable[[R], dict[str, Any]]:
        """A reply shape: its entries in order, compiled into one function of a record.

        An entry is a field by its name (written as its kind says), ``(name, field)`` for a field
        under another name, ``(name, "a.b")`` for an attribute of an attribute (as it is),
        ``(name, function)`` for a value derived from the record, ``(name, function, "a.b")`` for
        one derived from an attribute, or ``(name, Const(value))``. ``export`` is the view of
        every declared field.
        """
        ns: dict[str, Any] = {}
        items = []
        for n, entry in enumerate(entries):
            name, source, *of = (entry, entry) if isinstance(entry, str) else entry
            if isinstance(source, Const):
                value = _constant(source.value, f"_c{n}", ns)
            elif callable(source):
                ns[f"_f{n}"] = source
                value = f"_f{n}({self._attribute(of[0]) if of else 'r'})"
            else:
                value = self._reading(source, f"_f{n}", ns)
            items.append(f"{name!r}: {value}")
        return _compile(ns, "view", "r", f"return {{{', '.join(items)}}}")

    def _reading(self, source: str, converter: str, ns: dict[str, Any]) -> str:
        """The expression that reads ``source`` of record ``r`` as documents and replies show it."""
        attr = self._by_key.get(source, source)
        info = self._fields.get(attr)
        convert = _to_doc(info) if info is not None else None
        if convert is None:
            return self._attribute(attr)
        ns[converter] = convert
        return f"{converter}(r.{attr})"

    def _attribute(self, path: str) -> str:
        """The expression that reads attribute ``path`` (``a`` or ``a.b``) of record ``r``, as it is."""
        if path.split(".")[0] not in self._attrs:
            raise TypeError(f"{self.cls.__name__} has no field {path!r}")
        return f"r.{path}"

    def _written(self, key: str, value: str) -> str:
        """The expression that stores a body's ``value`` of field ``key`` (UUIDs in canonical form)."""
        return f"norm_uuid({value})" if self._fields[self._by_key[key]].kind.rstrip("?") == "uuid" else value


Check = Callable[[DocReader, Any, Path], bool]


class Records(ABC, Generic[R]):
    """One section of the fixtures document: records of one type, checked as they load, exported in order.

    ``counter`` names the id source's counter of the records' integer ids (seen on load, next on
    create); ``duplicate`` is ``(field, message)``: a record whose mark (its key, or its scope)
    an earlier one had is refused at that field; ``order`` sorts the export (None: as kept).
    """

    def __init__(self, layout: Layout[R], section: str, ids: IdSource, *, counter: str | None = None,
                 duplicate: tuple[str, str] | None = None, order: Callable[[R], Any] | None = _BY_ID) -> None:
        self.layout = layout
        self.section = section
        self._ids = ids
        self._counter = counter
        self._duplicate = duplicate
        self._order = order
        if counter is not None:
            self.next_id: Callable[[], int] = partial(ids.next_int, counter)  # a new integer id from the counter

    @abstractmethod
    def __iter__(self) -> Iterator[R]: ...

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _keep(self, rec: R) -> None:
        """Store a record read from a document."""

    @abstractmethod
    def clear(self) -> None:
        """Drop every record."""

    @abstractmethod
    def adopt(self, other: Self) -> list[Any]:
        """Take ``other``'s records (a staged state's) as these; the containers replaced, for freeing."""

    def _mark(self, rec: R) -> Hashable:
        """What no two records of one document may share (when ``duplicate`` is set)."""
        raise TypeError(f"{type(self).__name__} has no duplicate check")


    def load(self, reader: DocReader, raws: list[Any], path: Path, check: Check | None = None) -> None:
        """Read the section's records; ``check`` is the family's own test of each (nested records, cross-field rules).

        ``Layout.read`` is written out in the loop: an import may hold a million records.
        """
        where = path + (self.section,)
        seen: set[Hashable] = set()
        duplicate, counter, keep = self._duplicate, self._counter, self._keep
        read, spec, from_doc = reader.record, self.layout.spec, self.layout.from_doc
        for i, raw in enumerate(raws):
            at = where + (i,)
            fields = read(raw, at, spec)
            if fields is None:
                continue
            rec = from_doc(fields)
            if duplicate is not None:
                mark = self._mark(rec)
                if mark in seen:
                    name, message = duplicate
                    reader.fail(at + (name,), "custom", getattr(rec, name), message=message)
                    continue
            if check is not None and not check(reader, rec, at):
                continue
            if duplicate is not None:
                seen.add(mark)
            if counter is not None:
                self._ids.seen_int(counter, rec.id)  # type: ignore[attr-defined]
            keep(rec)

    def export(self, records: Iterable[R] | None = None) -> list[dict[str, Any]]:
        """The section in the fixtures format: ``records``, by default all of them in the section's order."""
        if records is None:
            records = self if self._order is None else sorted(self, key=self._order)
        export = self.layout.export
        return [export(rec) for rec in records]


class Collection(Records[R]):
    """Records grouped by scope (the tenant: an org, an (org, username), an organization), keyed within it.

    ``scope`` and ``key`` name the attributes they are read from; the default list order of a
    scope (see ``ordered``) is kept until the scope changes.
    """

    def __init__(self, layout: Layout[R], section: str, ids: IdSource, *, scope: tuple[str, ...], key: str = "id",
                 not_found: str | None = None, **options: Any) -> None:
        super().__init__(layout, section, ids, **options)
        self.scope_of: Callable[[R], Hashable] = attrgetter(*scope)
        self.key_of: Callable[[R], Hashable] = attrgetter(key)
        self._not_found = not_found
        # Integer ids: anything else (a path's text, a list) is simply not found.
        self._key_type = int if layout.spec[key][0] == "int" else object
        self._by_scope: dict[Hashable, dict[Hashable, R]] = {}
        self._views: dict[Hashable, list[R]] = {}

    def __iter__(self) -> Iterator[R]:
        for records in self._by_scope.values():
            yield from records.values()

    def __len__(self) -> int:
        return sum(len(records) for records in self._by_scope.values())

    def scopes(self) -> Iterable[Hashable]:
        """Every scope that has (or had) records."""
        return self._by_scope.keys()

    def in_scope(self, scope: Hashable) -> Mapping[Hashable, R]:
        """The scope's records by key (read only)."""
        return self._by_scope.get(scope, _NONE)

    def find(self, scope: Hashable, key: Hashable) -> R | None:
        """The scope's record ``key``, or None."""
        return self._by_scope.get(scope, _NONE).get(key)

    def get(self, scope: Hashable, key: Any) -> R:
        """The scope's record ``key``; NotFound (with this collection's detail) if it has none."""
        try:
            if isinstance(key, self._key_type):
                return self._by_scope[scope][key]
        except (KeyError, TypeError):
            pass
        raise NotFound(self._not_found)

    def add(self, rec: R) -> None:
        """Store a record (a new key, or in place of the record with its key)."""
        scope = self.scope_of(rec)
        try:
            records = self._by_scope[scope]
        except KeyError:  # (not setdefault: that makes an empty dict on every call)
            records = self._by_scope[scope] = {}
        records[self.key_of(rec)] = rec
        if self._views:  # only lists read in their default order keep one
            self._views.pop(scope, None)

    _keep = add

    def remove(self, rec: R) -> None:
        """Delete a stored record."""
        scope = self.scope_of(rec)
        del self._by_scope[scope][self.key_of(rec)]
        if self._views:
            self._views.pop(scope, None)

    def pop_scope(self, scope: Hashable) -> Mapping[Hashable, R]:
        """Delete every record of a scope; they are returned."""
        self._views.pop(scope, None)
        return self._by_scope.pop(scope, _NONE)

    def touch(self, scope: Hashable) -> None:
        """A record of the scope changed where the list order reads it."""
        self._views.pop(scope, None)

    def ordered(self, scope: Hashable, keys: list[tuple[str, bool]], fields: Mapping[str, Callable[[R], Any]],
                default: list[tuple[str, bool]]) -> list[R]:
        """The scope's records sorted by ``keys`` (ties by key); in the ``default`` order, the list kept."""
        records = self._by_scope.get(scope)
        if records is None:
            return []
        if keys != default:
            return order_items(list(records.values()), keys, fields, self.key_of)
        found = self._views.get(scope)
        if found is None:
            found = self._views[scope] = order_items(list(records.values()), keys, fields, self.key_of)
        return found

    def clear(self) -> None:
        """Drop every record."""
        self._by_scope.clear()
        self._views.clear()

    def _mark(self, rec: R) -> Hashable:
        return self.key_of(rec)

    def adopt(self, other: Self) -> list[Any]:
        """Take ``other``'s records (a staged state's) as these; the containers replaced, for freeing."""
        replaced: list[Any] = [self._by_scope, self._views]
        self._by_scope, self._views = other._by_scope, other._views
        other._by_scope, other._views = {}, {}
        return replaced


class PerScope(Records[R]):
    """At most one record per scope: a user's custom instruction, their memory switch, a finished task."""

    def __init__(self, layout: Layout[R], section: str, ids: IdSource, *, scope: tuple[str, ...],
                 not_found: str | None = None, **options: Any) -> None:
        super().__init__(layout, section, ids, **options)
        self.scope_of: Callable[[R], Hashable] = attrgetter(*scope)
        self._not_found = not_found
        self._items: dict[Hashable, R] = {}

    def __iter__(self) -> Iterator[R]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, scope: Hashable) -> bool:
        return scope in self._items

    def find(self, scope: Hashable) -> R | None:
        """The scope's record, or None."""
        return self._items.get(scope)

    def get(self, scope: Hashable) -> R:
        """The scope's record; NotFound (with this collection's detail) if it has none."""
        found = self._items.get(scope)
        if found is None:
            raise NotFound(self._not_found)
        return found

    def put(self, rec: R) -> None:
        """Store a record as its scope's."""
        self._items[self.scope_of(rec)] = rec

    _keep = put

    def clear(self) -> None:
        """Drop every record."""
        self._items.clear()

    def _mark(self, rec: R) -> Hashable:
        return self.scope_of(rec)

    def adopt(self, other: Self) -> list[Any]:
        """Take ``other``'s records (a staged state's) as these; the containers replaced, for freeing."""
        replaced: list[Any] = [self._items]
        self._items, other._items = other._items, {}
        return replaced


class Log(Records[R]):
    """Records in arrival order, with no key (chat memory's scheduled updates)."""

    def __init__(self, layout: Layout[R], section: str, ids: IdSource) -> None:
        super().__init__(layout, section, ids, order=None)
        self._items: list[R] = []

    def __iter__(self) -> Iterator[R]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> R:
        return self._items[index]

    def append(self, rec: R) -> None:
        """Store a record after the others."""
        self._items.append(rec)

    _keep = append

    def clear(self) -> None:
        """Drop every record."""
        self._items.clear()

    def adopt(self, other: Self) -> list[Any]:
        """Take ``other``'s records (a staged state's) as these; the containers replaced, for freeing."""
        replaced: list[Any] = [self._items]
        self._items, other._items = other._items, []
        return replaced


class Family:
    """A resource family as the store sees it: the sections it keeps, and their load, export, reset and swap.

    The store keeps one object per family for its whole life (handlers and the analytics hold
    it); ``adopt`` moves a staged state's records into it.
    """

    def __init__(self, ctx: Context, *records: Records[Any]) -> None:
        self._ctx = ctx
        self._records = records

    @property
    def sections(self) -> tuple[str, ...]:
        """The fixtures sections this family reads and writes, in export order."""
        return tuple(records.section for records in self._records)

    def item_count(self) -> int:
        """How many items this family holds (for the store's limit)."""
        return sum(len(records) for records in self._records)

    def clear(self) -> None:
        """Drop everything."""
        for records in self._records:
            records.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's sections of a fixtures document."""
        for records in self._records:
            records.load(reader, sections[records.section], path)

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's sections, in the fixtures format."""
        return {records.section: records.export() for records in self._records}

    def adopt(self, other: Self) -> list[Any]:
        """Take a staged family's state as this one's; the containers replaced, for freeing."""
        return [old for mine, theirs in zip(self._records, other._records) for old in mine.adopt(theirs)]
