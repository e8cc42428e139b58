"""The collection base: what a record declaration derives, and collections' lookups, loading, export and swap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from operator import attrgetter
from typing import Any

import pytest

from mock_server.errors import NotFound
from mock_server.models.collection import Collection, Const, Layout, Log, PerScope, field
from mock_server.models.common import DocReader, IdSource

UUID = "550e8400-e29b-41d4-a716-446655440000"


@dataclass(slots=True, eq=False)
class Note:
    id: int = field("int")
    org: str = field("str")
    username: str = field("str")
    text: str | None = field("str?", None, write=True)
    ref: str | None = field("uuid?", None, write=True)
    created_us: int = field("micros", key="createdAt")
    seen_at: datetime | None = field("datetime?", None)
    tags: tuple[str, ...] = field("list", (), load=tuple, to_doc=list)
    hits: int = 0  # kept beside the document's fields


NOTE = Layout(Note)
DOC = {"id": 1, "org": "o", "username": "u", "text": "hi", "ref": UUID.upper(), "createdAt": "2024-07-01T12:00:00Z",
       "tags": ["a"]}


def note(id: int = 1, org: str = "o", username: str = "u", **fields: Any) -> Note:
    return NOTE.new(fields, id=id, org=org, username=username, created_us=0, seen_at=None, tags=())


def test_the_spec_comes_from_the_declaration() -> None:
    assert NOTE.spec == {
        "id": ("int", True, None), "org": ("str", True, None), "username": ("str", True, None),
        "text": ("str?", False, None), "ref": ("uuid?", False, None), "createdAt": ("micros", True, None),
        "seen_at": ("datetime?", False, None), "tags": ("list", False, ()),
    }
    assert NOTE.writable == ("text", "ref")
    assert NOTE.defaults == {"text": None, "ref": None, "seen_at": None, "tags": ()}


def test_read_and_export_round_trip_with_keys_kinds_and_conversions() -> None:
    rec = NOTE.read(DocReader(), DOC, ())
    assert rec is not None
    assert (rec.ref, rec.created_us, rec.tags, rec.hits) == (UUID, 1719835200000000, ("a",), 0)
    assert NOTE.export(rec) == {**DOC, "ref": UUID, "seen_at": None}
    rec.seen_at = datetime(2024, 7, 2, tzinfo=timezone.utc)
    assert NOTE.export(rec)["seen_at"] == "2024-07-02T00:00:00Z"


def test_read_reports_problems_as_the_reader_does() -> None:
    reader = DocReader()
    assert NOTE.read(reader, {"id": "1", "org": "o", "createdAt": "x", "bogus": 1}, ("notes", 0)) is None
    assert sorted(p.name for p in reader.problems) == [
        ("notes", 0, "bogus"), ("notes", 0, "createdAt"), ("notes", 0, "id"), ("notes", 0, "username")]


def test_views_rename_derive_and_reach_through() -> None:
    rec = note(text="hello")
    rec.hits = 3
    view = NOTE.view("id", ("platform_key", "org"), ("length", len, "text"), ("busy", lambda r: r.hits > 2),
                     ("count", "hits"), ("source", Const("explicit")), "createdAt")
    assert view(rec) == {"id": 1, "platform_key": "o", "length": 5, "busy": True, "count": 3, "source": "explicit",
                         "createdAt": "1970-01-01T00:00:00Z"}
    assert list(view(rec)) == ["id", "platform_key", "length", "busy", "count", "source", "createdAt"]
    with pytest.raises(TypeError, match="no field 'nope'"):
        NOTE.view("nope")


def test_new_and_write_take_only_writable_fields_with_uuids_canonical() -> None:
    rec = note(text="a", ref=UUID.upper(), org_ignored="x")
    assert (rec.text, rec.ref) == ("a", UUID)
    assert note().text is None
    NOTE.write(rec, {"text": None, "id": 99, "org": "other"})
    assert (rec.id, rec.org, rec.text, rec.ref) == (1, "o", None, UUID)


def test_declared_fields_come_first() -> None:
    @dataclass(slots=True)
    class Wrong:
        extra: int
        id: int = field("int")

    with pytest.raises(TypeError, match="declared fields come before"):
        Layout(Wrong)


def _notes(ids: IdSource | None = None, **options: Any) -> Collection[Note]:
    return Collection(NOTE, "notes", ids or IdSource(), scope=("org", "username"), counter="note", **options)


def test_get_is_get_or_404_within_the_scope() -> None:
    notes = _notes(not_found="Note not found")
    notes.add(note(1))
    assert notes.get(("o", "u"), 1).id == 1 and notes.find(("o", "u"), 1) is not None
    for scope, key in ((("o", "other"), 1), (("o", "u"), 2), (("o", "u"), "1"), (("o", "u"), [1])):
        with pytest.raises(NotFound) as info:
            notes.get(scope, key)
        assert info.value.detail == "Note not found"
    assert notes.find(("o", "u"), 2) is None and dict(notes.in_scope(("x", "y"))) == {}


def test_add_remove_pop_scope_and_len() -> None:
    notes = _notes()
    for n in (1, 2, 3):
        notes.add(note(n, username="u" if n < 3 else "v"))
    assert len(notes) == 3 and sorted(notes.scopes()) == [("o", "u"), ("o", "v")]
    notes.remove(notes.get(("o", "u"), 1))
    assert [r.id for r in notes] == [2, 3]
    assert list(notes.pop_scope(("o", "u"))) == [2] and len(notes) == 1
    assert dict(notes.pop_scope(("o", "u"))) == {}


def test_the_default_order_is_kept_until_the_scope_changes() -> None:
    notes = _notes()
    fields = {"text": attrgetter("text")}
    default = [("text", False)]
    for n, text in ((1, "b"), (2, "a")):
        notes.add(note(n, text=text))
    first = notes.ordered(("o", "u"), default, fields, default)
    assert [r.id for r in first] == [2, 1] and notes.ordered(("o", "u"), default, fields, default) is first
    assert [r.id for r in notes.ordered(("o", "u"), [("text", True)], fields, default)] == [1, 2]
    notes.get(("o", "u"), 1).text = "0"
    notes.touch(("o", "u"))
    assert [r.id for r in notes.ordered(("o", "u"), default, fields, default)] == [1, 2]
    notes.add(note(3, text="00"))
    assert [r.id for r in notes.ordered(("o", "u"), default, fields, default)] == [1, 3, 2]
    assert notes.ordered(("o", "nobody"), default, fields, default) == []


def test_load_checks_duplicates_and_the_family_check_and_counts_ids() -> None:
    ids = IdSource()
    notes = _notes(ids, duplicate=("id", "Duplicate id."))
    reader = DocReader()
    docs = [DOC, {**DOC, "username": "v"}, {**DOC, "id": 7, "text": "refused"}, {**DOC, "id": 8}]
    notes.load(reader, docs, ("api",), check=lambda r, rec, at: rec.text != "refused" or r.fail(at, "custom") or False)
    assert [(p.name, p.params.get("message")) for p in reader.problems] == [
        (("api", "notes", 1, "id"), "Duplicate id."), (("api", "notes", 2), None)]
    assert sorted(r.id for r in notes) == [1, 8] and ids.next_int("note") == 9


def test_export_is_in_the_section_order_or_the_one_given() -> None:
    notes = _notes()
    for n in (3, 1, 2):
        notes.add(note(n, username=f"u{n}"))
    assert [r["id"] for r in notes.export()] == [1, 2, 3]
    assert [r["id"] for r in notes.export([notes.get(("o", "u2"), 2)])] == [2]


def test_adopt_swaps_the_records_and_hands_back_the_old_containers() -> None:
    mine, staged = _notes(), _notes()
    mine.add(note(1))
    staged.add(note(2))
    replaced = mine.adopt(staged)
    assert [r.id for r in mine] == [2] and len(staged) == 0
    assert any(isinstance(c, dict) and ("o", "u") in c for c in replaced)


def test_per_scope_keeps_one_record_per_scope() -> None:
    notes = PerScope(NOTE, "notes", IdSource(), scope=("org", "username"),
                     duplicate=("username", "Duplicate note for this user."))
    reader = DocReader()
    notes.load(reader, [DOC, {**DOC, "id": 2}, {**DOC, "id": 3, "username": "v"}], ())
    assert [(p.name, p.input) for p in reader.problems] == [(("notes", 1, "username"), "u")]
    assert ("o", "u") in notes and notes.get(("o", "u")).id == 1 and notes.find(("o", "w")) is None
    with pytest.raises(NotFound):
        notes.get(("o", "w"))
    notes.put(note(4, username="w"))
    assert len(notes) == 3 and [r["id"] for r in notes.export()] == [1, 3, 4]


def test_a_log_keeps_arrival_order() -> None:
    log = Log(NOTE, "notes", IdSource())
    log.load(DocReader(), [{**DOC, "id": 2}, DOC], ())
    log.append(note(3))
    assert [r.id for r in log] == [2, 1, 3] and log[-1].id == 3 and len(log) == 3
    assert [r["id"] for r in log.export()] == [2, 1, 3]
    staged = Log(NOTE, "notes", IdSource())
    assert log.adopt(staged) and len(log) == 0
