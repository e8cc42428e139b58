"""Artifacts (with versions) and edX memory."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mock_server.errors import InvalidPage, InvalidRequest, NotFound, Style, render


def _make(store, title, content="", **extra):
    return store.artifacts.create("main", "johndoe", {"title": title, "content": content, **extra})


def test_create_retrieve_and_fields(empty):
    art = _make(empty, "Calc", "```python\nprint(1)\n```", file_extension="py", llm_name="gpt-4",
                llm_provider="openai", metadata={"a": 1}, session_id="550e8400-e29b-41d4-a716-446655440000")
    assert art == {"id": 1, "title": "Calc", "content": "```python\nprint(1)\n```", "file_extension": "py",
                   "chat_message": None, "llm_name": "gpt-4", "llm_provider": "openai",
                   "date_created": "2024-07-01T12:00:00Z", "date_updated": "2024-07-01T12:00:00Z",
                   "metadata": {"a": 1}, "username": "johndoe",
                   "session_id": "550e8400-e29b-41d4-a716-446655440000",
                   "current_version_number": 1, "version_count": 1}
    assert empty.artifacts.retrieve("main", "johndoe", 1) == art
    version = empty.artifacts.list_versions("main", "johndoe", 1).results[0]
    assert version["interface"] == "api" and version["created_by"] == "user:johndoe"
    assert version["is_current"] and version["version_number"] == 1 and version["artifact"] == art
    with pytest.raises(InvalidRequest) as info:
        empty.artifacts.create("main", "johndoe", {"content": "no title"})
    assert render(info.value, Style.DRF) == (400, {"title": ["This field is required."]})


def test_not_found_and_tenant_separation(empty):
    art = _make(empty, "Mine")
    for call in (lambda: empty.artifacts.retrieve("main", "janedoe", art["id"]),
                 lambda: empty.artifacts.retrieve("acme", "johndoe", art["id"]),
                 lambda: empty.artifacts.destroy("main", "janedoe", art["id"]),
                 lambda: empty.artifacts.retrieve("main", "johndoe", 404)):
        with pytest.raises(NotFound):
            call()
    assert empty.artifacts.list("main", "janedoe").count == 0
    empty.artifacts.destroy("main", "johndoe", art["id"])
    with pytest.raises(NotFound):
        empty.artifacts.destroy("main", "johndoe", art["id"])


def test_update_and_partial_update_move_date_updated(empty, clock):
    art = _make(empty, "Old", "body")
    clock.advance(timedelta(hours=1))
    put = empty.artifacts.update("main", "johndoe", art["id"], {"title": "New", "metadata": {"x": 1}})
    assert put["title"] == "New" and put["metadata"] == {"x": 1} and put["content"] == "body"
    assert put["date_updated"] == "2024-07-01T13:00:01Z" and put["date_created"] == art["date_created"]
    with pytest.raises(InvalidRequest):
        empty.artifacts.update("main", "johndoe", art["id"], {"metadata": {}})
    patched = empty.artifacts.partial_update("main", "johndoe", art["id"], {"metadata": None})
    assert patched["title"] == "New" and patched["metadata"] is None
    assert patched["date_updated"] > put["date_updated"]


def test_versions_and_set_current(empty):
    art = _make(empty, "Doc", "v1")
    empty.artifacts.add_version("main", "johndoe", art["id"], "version two text")
    v3 = empty.artifacts.add_version("main", "johndoe", art["id"], "v3")
    assert empty.artifacts.retrieve("main", "johndoe", art["id"])["content"] == "v3"
    page = empty.artifacts.list_versions("main", "johndoe", art["id"])
    assert [v["version_number"] for v in page.results] == [3, 2, 1]
    assert [v["is_current"] for v in page.results] == [True, False, False]
    v2 = page.results[1]
    current = empty.artifacts.set_current("main", "johndoe", art["id"], v2["id"])
    assert current["is_current"] and current["content"] == "version two text"
    assert current["content_length"] == len("version two text")
    full = empty.artifacts.retrieve("main", "johndoe", art["id"])
    assert full["content"] == "version two text" and full["current_version_number"] == 2 and full["version_count"] == 3
    listed = empty.artifacts.list("main", "johndoe").results[0]
    assert listed["content_length"] == len("version two text")
    assert empty.artifacts.retrieve_version("main", "johndoe", art["id"], v3["id"])["is_current"] is False
    other = _make(empty, "Other")
    other_version = empty.artifacts.list_versions("main", "johndoe", other["id"]).results[0]
    with pytest.raises(InvalidRequest) as info:
        empty.artifacts.set_current("main", "johndoe", art["id"], other_version["id"])
    assert render(info.value, Style.DRF) == (
        400, {"version_id": [f'Invalid pk "{other_version["id"]}" - object does not exist.']})
    with pytest.raises(NotFound):
        empty.artifacts.retrieve_version("main", "johndoe", art["id"], other_version["id"])
    asc = empty.artifacts.list_versions("main", "johndoe", art["id"], ordering="version_number")
    assert [v["version_number"] for v in asc.results] == [1, 2, 3]


def test_list_default_ordering_ties_and_pagination(empty, clock):
    clock.step = timedelta(0)
    ids = [_make(empty, f"T{i}")["id"] for i in range(12)]
    page1 = empty.artifacts.list("main", "johndoe")
    page2 = empty.artifacts.list("main", "johndoe", page="2")
    # Same date_updated everywhere: ties break by id.
    assert [a["id"] for a in page1.results + page2.results] == ids
    assert page1.count == 12 and page1.has_next and not page2.has_next
    with pytest.raises(InvalidPage):
        empty.artifacts.list("main", "johndoe", page="3")
    clock.advance(timedelta(minutes=5))
    empty.artifacts.partial_update("main", "johndoe", ids[5], {"title": "bumped"})
    assert empty.artifacts.list("main", "johndoe").results[0]["id"] == ids[5]
    assert [a["id"] for a in empty.artifacts.list("main", "johndoe", ordering="date_updated",
                                                  page_size="3").results] == ids[:3]


def test_list_filters_search_and_ordering(empty):
    _make(empty, "Python Calculator", "def add(a, b)", file_extension="py", llm_name="gpt-4", llm_provider="openai")
    _make(empty, "Essay", "An essay about PYTHONS", file_extension="md", llm_name="claude-3",
          llm_provider="anthropic", mentor_id="ecbf8dc6-e97d-4602-939f-cda86082faa0", chat_message=42)
    _make(empty, "Notes", "nothing here", file_extension="md", session_id="550e8400-e29b-41d4-a716-446655440000")

    def titles(**kw):
        return [a["title"] for a in empty.artifacts.list("main", "johndoe", **kw).results]

    assert titles(search="python", ordering="title") == ["Essay", "Python Calculator"]
    assert titles(file_extension="md", ordering="-title") == ["Notes", "Essay"]
    assert titles(llm_provider="openai") == ["Python Calculator"]
    assert titles(llm_name="claude-3") == ["Essay"]
    assert titles(mentor_id="ECBF8DC6-E97D-4602-939F-CDA86082FAA0") == ["Essay"]
    assert titles(chat_message_id="42") == ["Essay"]
    assert titles(session_id="550e8400-e29b-41d4-a716-446655440000") == ["Notes"]
    assert titles(username_filter="janedoe") == []
    assert titles(ordering="bogus,title") == ["Essay", "Notes", "Python Calculator"]


def test_fixture_artifacts(store):
    page = store.artifacts.list("main", "johndoe")
    assert page.count == 13 and len(page.results) == 10 and page.has_next
    assert store.artifacts.list("main", "johndoe", page="2").results
    multi = [a for a in store.artifacts.list("main", "johndoe", page_size="100").results
             if store.artifacts.retrieve("main", "johndoe", a["id"])["version_count"] > 1]
    assert multi


# --- edX memory -----------------------------------------------------------------------------

def test_edx_memory_list_filters_and_ordering(store):
    page = store.edx_memory.list("main", "johndoe")
    assert page.count == 3
    assert [r["course_id"] for r in page.results] == [
        "course-v1:main+CARBON+2024_Fall", "course-v1:main+CALC101+2024_Summer", "course-v1:main+WRIT200+2024_Spring"]
    assert page.results[0]["date_created"] == "2024-06-25T15:30:26.257140Z"
    assert store.edx_memory.list("main", "johndoe", course_id="course-v1:main+CALC101+2024_Summer").count == 1
    assert store.edx_memory.list("main", "johndoe", student=2).count == 0
    assert store.edx_memory.list("main", "johndoe", student="1").count == 3
    assert store.edx_memory.list("main", "johndoe", username_filter="janedoe").count == 0
    asc = store.edx_memory.list("main", "johndoe", ordering="last_modified")
    assert [r["id"] for r in asc.results] == [3, 2, 1]


def test_edx_memory_retrieve_destroy_and_tenants(store):
    assert store.edx_memory.retrieve("main", "johndoe", 1)["student"] == 1
    for call in (lambda: store.edx_memory.retrieve("main", "johndoe", 4),
                 lambda: store.edx_memory.destroy("main", "johndoe", 4),
                 lambda: store.edx_memory.retrieve("acme", "johndoe", 1),
                 lambda: store.edx_memory.retrieve("main", "johndoe", 99)):
        with pytest.raises(NotFound):
            call()
    store.edx_memory.destroy("main", "johndoe", 1)
    with pytest.raises(NotFound):
        store.edx_memory.retrieve("main", "johndoe", 1)
    assert store.edx_memory.list("main", "johndoe").count == 2


def test_edx_memory_one_record_per_student_course(empty):
    a = empty.edx_memory.upsert("main", "u", 7, "course-v1:x+y+z", {"page": 1})
    b = empty.edx_memory.upsert("main", "u", 7, "course-v1:x+y+z", {"page": 2})
    assert a["id"] == b["id"] and b["data"] == {"page": 2} and b["last_modified"] > a["last_modified"]
    assert empty.edx_memory.list("main", "u").count == 1
