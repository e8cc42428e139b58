"""The contract's latitude (spec/latitude.yaml) is complete, honoured by the harness, and its relaxations are right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from contract_tests import latitude

HARNESS = Path(latitude.__file__).resolve().parent
FIELDS = {"id", "title", "may", "memmock", "harness"}


def _honoured() -> set[str]:
    """Every point id the harness's code names with allows("..."), and the spec with x-latitude
    (``latitude.freed_by`` honours those wherever the spec puts them)."""
    found: set[str] = set()
    for source in HARNESS.glob("*.py"):
        found |= set(re.findall(r'allows\("([a-z0-9-]+)"\)', source.read_text(encoding="utf-8")))
    for spec in latitude.SPEC_DIR.glob("*.yaml"):
        found |= set(re.findall(r"x-latitude: ([a-z0-9-]+)", spec.read_text(encoding="utf-8")))
    return found


def test_every_point_is_written_out() -> None:
    """Each point says what a server may do, what memmock chose and what the harness does."""
    for point in latitude.points().values():
        assert set(point) == FIELDS, point["id"]
        assert all(isinstance(point[f], str) and point[f].strip() for f in FIELDS), point["id"]


def test_every_point_is_honoured_and_no_unknown_point_is_named() -> None:
    """Both directions: no point without code that honours it, no code naming a point that is not written."""
    named = _honoured()
    assert named - set(latitude.points()) == set()
    assert set(latitude.points()) - named == set()


def test_allows_rejects_an_unknown_point() -> None:
    """A typo in a point id fails loudly."""
    with pytest.raises(KeyError):
        latitude.allows("no-such-point")


def test_instant_compares_fractions_as_time() -> None:
    """A timestamp without fractional digits sorts before a later one with them (as strings it would not)."""
    assert "2024-01-01T00:00:00.5Z" < "2024-01-01T00:00:00Z"
    assert latitude.instant("2024-01-01T00:00:00Z") < latitude.instant("2024-01-01T00:00:00.5Z")
    assert latitude.instant("2024-01-01T00:00:00Z") == latitude.instant("2024-01-01T00:00:00.000000Z")


@pytest.mark.parametrize(("api", "schema", "value", "expected"), [
    ("ibl", {"type": "string"}, 5, "5"),
    ("virtuousai", {"type": "string"}, 5, 5),
    ("ibl", {"type": "integer"}, "7", 7),
    ("ibl", {"type": "integer"}, "7.0", 7),
    ("ibl", {"type": "integer"}, True, True),
    ("virtuousai", {"type": "integer"}, True, 1),
    ("ibl", {"type": "integer"}, "x7", "x7"),
    ("ibl", {"type": "boolean"}, "On", True),
    ("ibl", {"type": "boolean"}, 0, False),
    ("virtuousai", {"type": "boolean"}, "no", False),
    ("ibl", {"type": "boolean"}, "maybe", "maybe"),
    ("ibl", {"type": "number"}, "1.5", 1.5),
    ("ibl", {"type": "number"}, "nan", "nan"),
    ("ibl", {"type": "object", "properties": {"n": {"type": "integer"}}}, {"n": "3", "x": "3"}, {"n": 3, "x": "3"}),
    ("ibl", {"type": "array", "items": {"type": "boolean"}}, ["1", "f"], [True, False]),
])
def test_coercions_follow_each_framework(api: str, schema: dict, value: object, expected: object) -> None:
    """DRF and pydantic's lax mode coerce scalars differently; the relaxation follows each."""
    assert latitude.coerced(api, schema, value) == expected


def test_read_only_fields_are_dropped_at_any_depth() -> None:
    """readOnly properties go, others stay, nested objects and lists included."""
    schema = {"type": "object", "properties": {
        "id": {"type": "integer", "readOnly": True},
        "items": {"type": "array", "items": {"type": "object", "properties": {"at": {"readOnly": True}}}},
    }}
    assert latitude.without_unchecked(schema, {"id": "x", "name": 1, "items": [{"at": 1, "b": 2}]}) == \
        {"name": 1, "items": [{"b": 2}]}


def test_a_body_wrong_only_in_read_only_or_coercible_fields_is_within_latitude() -> None:
    """Against the real spec: artifacts create with a bad readOnly id, or a numeric title, may be accepted."""
    op = "ai_mentor_orgs_users_artifacts_create"
    assert latitude.body_valid_within_latitude("ibl", op, {"title": "t", "id": "not-an-int"})
    assert latitude.body_valid_within_latitude("ibl", op, {"title": 5})
    assert not latitude.body_valid_within_latitude("ibl", op, {"title": ["t"]})
    assert not latitude.body_valid_within_latitude("ibl", op, {})
    assert not latitude.body_valid_within_latitude("virtuousai", "create_memory", {"content": 5})
    entry = "ai_prompt_orgs_users_all_chats_memory_create"
    assert latitude.body_valid_within_latitude("ibl", entry, {"content": "c", "platform_key": "x" * 501})
    assert latitude.body_valid_within_latitude("ibl", entry, {"content": "c"})
    assert not latitude.body_valid_within_latitude("ibl", entry, {"content": ["c"], "username": "u", "platform_key": "o"})


@pytest.mark.parametrize(("request_body", "response_body", "expected"), [
    ({"title": "  "}, {"title": ["This field may not be blank."]}, True),
    ({"title": "a\x00b"}, {"title": ["Null characters are not allowed."]}, True),
    ({"title": "ok", "content": " "}, {"title": ["bad"], "content": ["bad"]}, False),
    ({"topics": [{"name": "\ud800"}]}, {"topics": [{"name": ["bad"]}]}, True),
    ({"content": " "}, {"detail": [{"type": "x", "loc": ["body", "content"], "msg": "m", "input": " "}]}, True),
    ({"content": " "}, {"detail": "Not found."}, False),
    ({"title": "  "}, {}, False),
    ({"detail": "", "tag": ""}, {"tag": ["This field may not be blank."], "detail": ["This field may not be blank."]}, True),
    ({"detail": ""}, {"detail": "Not found."}, False),
])
def test_rejections_of_normalisable_strings(request_body: dict, response_body: dict, expected: bool) -> None:
    """Only a rejection that blames nothing but empty, whitespace-only, NUL or surrogate strings is within latitude."""
    status = 422 if isinstance(response_body.get("detail"), list) else 400
    assert latitude.rejection_within_latitude("ibl", "ai_mentor_orgs_users_artifacts_create", status, request_body,
                                              response_body) is expected


def test_rejections_naming_only_freed_fields_are_within_latitude() -> None:
    """set-current's version_id and download task ids are freed in the spec; other fields are not."""
    version = "ai_mentor_orgs_users_artifacts_versions_set_current_create"
    assert latitude.rejection_within_latitude("ibl", version, 400, None, {"version_id": ["Invalid pk \"0\"."]})
    assert not latitude.rejection_within_latitude("ibl", version, 400, None, {"version_id": ["x"], "other": ["y"]})
    assert not latitude.rejection_within_latitude("ibl", version, 404, None, {"detail": "Not found."})
    task = "ai_mentor_orgs_users_downloads_tasks_retrieve"
    assert latitude.rejection_within_latitude("ibl", task, 400, None, {"task_id": ["Must be a valid UUID."]})
    assert latitude.rejection_within_latitude("ibl", task, 404, None, {"detail": "Not found."})
    assert not latitude.rejection_within_latitude("ibl", "ai_mentor_orgs_users_artifacts_create", 400, None, {"title": ["x"]})


def test_a_rejection_may_mix_freed_fields_and_normalisable_strings() -> None:
    """chat-history create: a blank model and out-of-range tool ids together are within latitude; a title is not."""
    op = "ai_analytics_orgs_users_chat_history_create"
    body = {"model": "", "tools": [-1], "title": "t"}
    assert latitude.rejection_within_latitude("ibl", op, 400, body, {"model": ["blank"], "tools": {"0": [">= 0"]}})
    assert not latitude.rejection_within_latitude("ibl", op, 400, body, {"model": ["blank"], "title": ["bad"]})


def test_a_rejection_of_undeclared_fields_is_within_latitude() -> None:
    """A server may refuse a field the schema does not declare; refusing a declared one is not latitude."""
    op = "ai_mentor_orgs_users_artifacts_create"
    assert latitude.rejection_within_latitude("ibl", op, 400, {"title": "t", "zz": 1}, {"zz": ["Unknown field."]})
    assert not latitude.rejection_within_latitude("ibl", op, 400, {"title": "t", "zz": 1}, {"title": ["bad"]})


@pytest.mark.parametrize(("before", "after", "elapsed", "expected"), [
    ("2024-01-01T00:00:00.000001Z", "2024-01-01T00:00:00.000002Z", None, True),
    ("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.5Z", 0.01, False),
    ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", 0.01, True),
    ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", 1.5, False),
    ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", None, False),
    ("2024-01-01T00:00:01Z", "2024-01-01T00:00:00Z", 0.01, False),
])
def test_advanced_allows_a_whole_second_clock(before: str, after: str, elapsed: float | None, expected: bool) -> None:
    """Equal instants count as moved only without fractional digits and within the same second of writing."""
    assert latitude.advanced(before, after, elapsed) is expected


def test_nested_rejections_of_undeclared_fields_are_within_latitude() -> None:
    """DRF names undeclared fields inside list items too ({"topics": [{"x": [...]}]}); a bad declared name is not."""
    op = "ai_analytics_orgs_users_chat_history_create"
    body = {"zz": 1, "topics": [{"name": "a", "q": 1}]}
    assert latitude.rejection_within_latitude("ibl", op, 400, body, {"zz": ["Unknown field."],
                                                                     "topics": [{"q": ["Unknown field."]}]})
    assert latitude.rejection_within_latitude("ibl", op, 400, body, {"topics": {"0": {"q": ["Unknown field."]}}})
    assert not latitude.rejection_within_latitude("ibl", op, 400, body, {"topics": [{"name": ["bad"]}]})


def test_only_a_throttled_probe_is_inconclusive() -> None:
    """schemathesis' words for a probe answered 429, and nothing else."""
    assert latitude.throttled_probe("Expected 401 or 403, got `429 Too Many Requests` for `GET /x`")
    assert not latitude.throttled_probe("Expected 401 or 403, got `200 OK` for `GET /x`")
