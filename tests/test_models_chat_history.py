"""Chat history (list, filters, CRUD, filter data) and average messages per session."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mock_server.errors import InvalidPage, InvalidRequest, NotFound, Style, render
from mock_server.store import Store

UTC = timezone.utc
M1 = "ecbf8dc6-e97d-4602-939f-cda86082faa0"
M2 = "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f"


def _body(mentor=M1, topics=("algebra",), **extra):
    return {"topics": [{"name": t} for t in topics], "mentor": mentor, "model": "gpt-4o", "platform": "main", **extra}


def _conv(store, clock, when, user="johndoe", mentor=M1, human=1, ai=1, topics=("algebra",), org="main"):
    clock.set(when)
    conv = store.chat_history.create(org, user, _body(mentor, topics))
    msgs = [{"type": "human", "content": f"q{i}"} for i in range(human)] + \
           [{"type": "ai", "content": f"a{i}"} for i in range(ai)]
    if msgs:
        conv = store.chat_history.append_messages(org, conv["id"], msgs)
    return conv


def test_create_defaults_and_registry_email(store, clock):
    conv = store.chat_history.create("main", "alice", _body(title="Hi"))
    assert conv["student"] == "alice" and conv["email"] == "alice@university.example.edu"
    assert conv["lti_email"] == "alice.lti@lms.example.edu" and conv["lti_username"] == "alice_lti"
    assert conv["sentiment"] == "neutral" and conv["rating"] == 0 and conv["inserted_at"] == "2024-07-01T12:00:00Z"
    assert conv["messages"] == "" and conv["is_conversation"] is False
    assert conv["message_count_human"] == conv["message_count_ai"] == 0 and conv["title"] == "Hi"
    unknown = store.chat_history.create("main", "zed", _body())
    assert unknown["email"] == "zed@example.com" and unknown["lti_email"] == "" and unknown["lti_username"] == ""
    with pytest.raises(InvalidRequest) as info:
        store.chat_history.create("main", "zed", {"topics": []})
    assert render(info.value, Style.DRF)[1] == {"mentor": ["This field is required."],
                                               "model": ["This field is required."],
                                               "platform": ["This field is required."]}


def test_messages_transcript_and_counts(empty, clock):
    conv = _conv(empty, clock, datetime(2024, 6, 1, tzinfo=UTC), human=2, ai=1)
    assert conv["messages"] == "human: q0\nhuman: q1\nai: a0"
    assert (conv["message_count_human"], conv["message_count_ai"], conv["is_conversation"]) == (2, 1, True)
    with pytest.raises(InvalidRequest):
        empty.chat_history.append_messages("main", conv["id"], [{"type": "system", "content": "x"}])


def test_crud_and_org_scope(empty, clock):
    conv = _conv(empty, clock, datetime(2024, 6, 1, tzinfo=UTC))
    cid = conv["id"]
    assert empty.chat_history.retrieve("main", cid.upper()) == conv
    with pytest.raises(NotFound):
        empty.chat_history.retrieve("acme", cid)
    with pytest.raises(NotFound):
        empty.chat_history.retrieve("main", "not-a-uuid")
    put = empty.chat_history.update("main", cid, _body(M2, ("grammar",), memory_tracked=True))
    assert put["mentor"] == M2 and put["topics"] == [{"name": "grammar"}] and put["memory_tracked"] is True
    assert put["inserted_at"] == conv["inserted_at"] and put["student"] == "johndoe"
    with pytest.raises(InvalidRequest):
        empty.chat_history.update("main", cid, {"model": "x"})
    patched = empty.chat_history.partial_update("main", cid, {"title": "Renamed", "sentiment": "ignored"})
    assert patched["title"] == "Renamed" and patched["sentiment"] == "neutral"
    assert empty.chat_history.list("main", mentor=M2).count == 1
    assert empty.chat_history.list("main", mentor=M1).count == 0
    with pytest.raises(NotFound):
        empty.chat_history.retrieve("main", cid, filters={"mentor": M1})
    empty.chat_history.destroy("main", cid)
    with pytest.raises(NotFound):
        empty.chat_history.destroy("main", cid)
    assert empty.chat_history.list("main").count == 0


def test_list_covers_the_org_and_orders_newest_first_ties_by_id(empty, clock):
    same = datetime(2024, 6, 2, tzinfo=UTC)
    ids = sorted(_conv(empty, clock, same, user=u)["id"] for u in ("a", "b", "c"))
    newest = _conv(empty, clock, datetime(2024, 6, 3, tzinfo=UTC), user="d")["id"]
    oldest = _conv(empty, clock, datetime(2024, 6, 1, tzinfo=UTC), user="e")["id"]
    _conv(empty, clock, datetime(2024, 6, 2, tzinfo=UTC), org="acme")
    page = empty.chat_history.list("main")
    assert [c["id"] for c in page.results] == [newest, *ids, oldest]
    asc = empty.chat_history.list("main", ordering="inserted_at")
    assert [c["id"] for c in asc.results] == [oldest, *ids, newest]
    two = [c["id"] for c in empty.chat_history.list("main", page_size="2").results]
    two += [c["id"] for c in empty.chat_history.list("main", page="2", page_size="2").results]
    two += [c["id"] for c in empty.chat_history.list("main", page="3", page_size="2").results]
    assert two == [newest, *ids, oldest]
    with pytest.raises(InvalidPage):
        empty.chat_history.list("main", page="4", page_size="2")


def test_list_filters(store):
    ch = store.chat_history
    all_main = ch.list("main", page_size="100")
    assert all_main.count == 42
    assert all(c["student"] == "alice" for c in ch.list("main", filter_user_id="alice", page_size="100").results)
    june3 = ch.list("main", start_date="2024-06-03", end_date="2024-06-03", page_size="100")
    assert june3.count == 3 and all(c["inserted_at"].startswith("2024-06-03") for c in june3.results)
    span = ch.list("main", start_date="2024-06-20", page_size="100")
    assert {c["inserted_at"][:10] for c in span.results} == {"2024-06-20", "2024-06-21"}
    assert ch.list("main", end_date="2024-05-31").count == 0
    assert ch.list("main", start_date="2024-06-05", end_date="2024-06-04").count == 0
    upper = ch.list("main", topics="DERIVATIVES", page_size="100")
    assert upper.count > 0
    assert all(any(t["name"] == "derivatives" for t in c["topics"]) for c in upper.results)
    neg = ch.list("main", sentiment="negative", mentor=M1, page_size="100")
    assert neg.count > 0 and all(c["sentiment"] == "negative" and c["mentor"] == M1 for c in neg.results)
    assert ch.list("main", mentor=M2).count + ch.list("main", mentor=M1).count == 42
    with pytest.raises(InvalidRequest) as info:
        ch.list("main", start_date="06/01/2024")
    assert render(info.value, Style.DRF)[1] == {
        "start_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}


def test_filter_data(store, clock):
    data = store.chat_history.filter_data("main")
    assert [t["name"] for t in data["topics"]] == sorted(t["name"] for t in data["topics"])
    assert data["sentiment"] == ["negative", "neutral", "positive"]
    assert [u["username"] for u in data["users"]] == ["alice", "bob", "janedoe", "johndoe"]
    assert {"username": "bob", "email": "bob@example.com", "lti_email": ""} in data["users"]
    assert data["date_ranges"] == [{"start_date": "2024-06-01", "end_date": "2024-06-21"}]
    writing = store.chat_history.filter_data("main", mentor_id=M2, start_date="2024-06-10")
    assert {t["name"] for t in writing["topics"]} <= {"essay structure", "grammar", "citations"}
    assert writing["date_ranges"][0]["start_date"] >= "2024-06-10"
    _conv(store, clock, datetime(2024, 8, 3, tzinfo=UTC))
    monthly = store.chat_history.filter_data("main", monthly_range=True)
    assert monthly["date_ranges"] == [{"start_date": "2024-06-01", "end_date": "2024-06-30"},
                                      {"start_date": "2024-07-01", "end_date": "2024-07-31"},
                                      {"start_date": "2024-08-01", "end_date": "2024-08-03"}]
    assert store.chat_history.filter_data("nobody") == {"topics": [], "sentiment": [], "users": [], "date_ranges": []}


# --- average messages per session -----------------------------------------------------------

def test_analytics_validation(empty):
    amps = empty.analytics.average_messages_per_session
    with pytest.raises(InvalidRequest) as info:
        amps("main", None, "2024-06-01")
    assert render(info.value, Style.DRF) == (400, {"start_date": ["This field is required."]})
    with pytest.raises(InvalidRequest) as info:
        amps("main", "2024-6-1", "", aggregation="monthly")
    assert render(info.value, Style.DRF)[1] == {
        "start_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."],
        "end_date": ["This field is required."],
        "aggregation": ['"monthly" is not a valid choice.']}
    assert amps("main", "2024-06-02", "2024-06-01") == []
    assert len(amps("main", "2024-01-01", "2025-02-19", "hourly")) == 9984  # 416 days, under the limit
    assert len(amps("main", "2000-01-01", "2027-05-18")) == 10_000  # exactly at the limit
    with pytest.raises(InvalidRequest):
        amps("main", "2000-01-01", "2027-05-19")
    with pytest.raises(InvalidRequest) as info:
        amps("main", "2024-01-01", "2025-02-20", "hourly")
    status, body = render(info.value, Style.DRF)
    assert status == 400 and list(body) == ["end_date"] and "10000" in body["end_date"][0]


def test_analytics_daily_zero_filled_and_half_up(empty, clock):
    _conv(empty, clock, datetime(2024, 6, 1, 9, tzinfo=UTC), human=1, ai=1)      # 2 messages
    _conv(empty, clock, datetime(2024, 6, 1, 23, 59, tzinfo=UTC), human=2, ai=1)  # 3 messages -> 5/2 = 2.5 -> 3
    _conv(empty, clock, datetime(2024, 6, 3, 0, 0, tzinfo=UTC), human=1, ai=0)    # 1 message
    _conv(empty, clock, datetime(2024, 6, 4, tzinfo=UTC), human=5, ai=5)          # outside the range
    series = empty.analytics.average_messages_per_session("main", "2024-06-01", "2024-06-03")
    assert series == [
        {"time": "2024-06-01T00:00:00Z", "avg_messages": 3, "total_sessions": 2},
        {"time": "2024-06-02T00:00:00Z", "avg_messages": 0, "total_sessions": 0},
        {"time": "2024-06-03T00:00:00Z", "avg_messages": 1, "total_sessions": 1},
    ]
    assert empty.analytics.average_messages_per_session("main", "2024-06-01", "2024-06-01", None)[0]["avg_messages"] == 3


def test_analytics_half_up_not_bankers(empty, clock):
    _conv(empty, clock, datetime(2024, 6, 1, 1, tzinfo=UTC), human=1, ai=0)  # 1
    _conv(empty, clock, datetime(2024, 6, 1, 2, tzinfo=UTC), human=1, ai=1)  # 2 -> 3/2 = 1.5 -> 2 (banker's: 2)
    _conv(empty, clock, datetime(2024, 6, 2, 1, tzinfo=UTC), human=2, ai=1)  # 3
    _conv(empty, clock, datetime(2024, 6, 2, 2, tzinfo=UTC), human=1, ai=1)  # 2 -> 5/2 = 2.5 -> 3 (banker's: 2)
    series = empty.analytics.average_messages_per_session("main", "2024-06-01", "2024-06-02")
    assert [p["avg_messages"] for p in series] == [2, 3]


def test_analytics_hourly_and_mentor_filter(empty, clock):
    _conv(empty, clock, datetime(2024, 6, 1, 0, 30, tzinfo=UTC), mentor=M1, human=2, ai=2)
    _conv(empty, clock, datetime(2024, 6, 1, 0, 45, tzinfo=UTC), mentor=M2, human=1, ai=1)
    _conv(empty, clock, datetime(2024, 6, 1, 23, 0, tzinfo=UTC), mentor=M2, human=3, ai=3)
    series = empty.analytics.average_messages_per_session("main", "2024-06-01", "2024-06-01", "hourly")
    assert len(series) == 24 and series[1]["time"] == "2024-06-01T01:00:00Z"
    assert series[0] == {"time": "2024-06-01T00:00:00Z", "avg_messages": 3, "total_sessions": 2}
    assert series[23] == {"time": "2024-06-01T23:00:00Z", "avg_messages": 6, "total_sessions": 1}
    assert sum(p["total_sessions"] for p in series[1:23]) == 0
    only_m2 = empty.analytics.average_messages_per_session("main", "2024-06-01", "2024-06-01", "hourly", mentor_id=M2)
    assert only_m2[0] == {"time": "2024-06-01T00:00:00Z", "avg_messages": 2, "total_sessions": 1}
    none = empty.analytics.average_messages_per_session("main", "2024-06-01", "2024-06-01", mentor_id="nope")
    assert none == [{"time": "2024-06-01T00:00:00Z", "avg_messages": 0, "total_sessions": 0}]


def test_analytics_weekly_monday_buckets(empty, clock):
    # 2024-06-05 is a Wednesday: the first bucket is Monday 2024-06-03.
    _conv(empty, clock, datetime(2024, 6, 4, tzinfo=UTC), human=9, ai=9)   # before start_date: not counted
    _conv(empty, clock, datetime(2024, 6, 5, 8, tzinfo=UTC), human=2, ai=2)
    _conv(empty, clock, datetime(2024, 6, 10, tzinfo=UTC), human=1, ai=0)  # Monday of the next week
    _conv(empty, clock, datetime(2024, 6, 18, tzinfo=UTC), human=1, ai=1)  # after end_date
    series = empty.analytics.average_messages_per_session("main", "2024-06-05", "2024-06-17", "weekly")
    assert series == [
        {"time": "2024-06-03T00:00:00Z", "avg_messages": 4, "total_sessions": 1},
        {"time": "2024-06-10T00:00:00Z", "avg_messages": 1, "total_sessions": 1},
        {"time": "2024-06-17T00:00:00Z", "avg_messages": 0, "total_sessions": 0},
    ]


def test_analytics_follows_writes(empty, clock):
    conv = _conv(empty, clock, datetime(2024, 6, 1, 10, tzinfo=UTC), human=1, ai=1)
    amps = empty.analytics.average_messages_per_session
    assert amps("main", "2024-06-01", "2024-06-01")[0]["avg_messages"] == 2
    empty.chat_history.append_messages("main", conv["id"], [{"type": "human", "content": "more"},
                                                            {"type": "ai", "content": "sure"}])
    assert amps("main", "2024-06-01", "2024-06-01")[0]["avg_messages"] == 4
    empty.chat_history.destroy("main", conv["id"])
    assert amps("main", "2024-06-01", "2024-06-01")[0]["total_sessions"] == 0


def test_analytics_on_default_fixtures_shows_a_series(store):
    series = store.analytics.average_messages_per_session("main", "2024-06-01", "2024-06-21")
    assert len(series) == 21 and all(p["total_sessions"] > 0 for p in series)
    assert sum(p["total_sessions"] for p in series) == 42
    assert len({p["avg_messages"] for p in series}) > 1


def test_analytics_and_pages_are_right_on_100k_conversations(clock):
    # Correctness at scale only: the speed targets are measured by `make bench`, not by tests.
    base = datetime(2024, 6, 1, tzinfo=UTC)
    convs = [{"id": f"00000000-0000-4000-8000-{n:012d}", "org": "big", "student": f"u{n % 50}",
              "mentor": M1 if n % 2 else M2, "inserted_at": base + timedelta(seconds=26 * n),
              "messages": [{"type": "human", "content": "q", "timestamp": base}] * (1 + n % 3)}
             for n in range(100_000)]
    store = Store(clock=clock)
    store.load({"ibl": {"chat_history": convs}})
    series = store.analytics.average_messages_per_session("big", "2024-06-01", "2024-06-30", "hourly")
    in_range = [n for n in range(100_000) if 26 * n < 30 * 86400]
    assert len(series) == 720 and sum(p["total_sessions"] for p in series) == len(in_range) == 99_693
    assert sum(p["total_sessions"] * p["avg_messages"] for p in series) >= sum(1 + n % 3 for n in in_range) - 720
    page = store.chat_history.list("big", page="500")
    assert page.count == 100_000 and page.number == 500 and len(page.results) == 10
    clock.set(base + timedelta(days=40))
    store.chat_history.create("big", "new", _body())
    assert store.chat_history.list("big").results[0]["student"] == "new"


def test_analytics_never_serves_a_stale_series(clock):
    """The series cache is keyed on the index version: every write is seen by the next call."""
    store = Store(clock=clock)
    clock.set(datetime(2024, 6, 3, 10, 30, tzinfo=UTC))
    amps = store.analytics.average_messages_per_session

    def day(mentor=None):
        return amps("org", "2024-06-03", "2024-06-03", "daily", mentor)[0]

    assert day() == {"time": "2024-06-03T00:00:00Z", "avg_messages": 0, "total_sessions": 0}
    conv = store.chat_history.create("org", "u1", _body())
    assert day()["total_sessions"] == 1 and day()["avg_messages"] == 0
    store.chat_history.append_messages("org", conv["id"], [{"type": "human", "content": "q"}, {"type": "ai", "content": "a"}])
    assert day() == {"time": "2024-06-03T00:00:00Z", "avg_messages": 2, "total_sessions": 1}
    assert day(M1)["total_sessions"] == 1 and day(M2)["total_sessions"] == 0
    store.chat_history.partial_update("org", conv["id"], {"mentor": M2})
    assert day(M1)["total_sessions"] == 0 and day(M2)["total_sessions"] == 1
    store.chat_history.destroy("org", conv["id"])
    assert day()["total_sessions"] == 0 and day(M2)["total_sessions"] == 0
