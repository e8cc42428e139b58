"""ai-analytics: average-messages-per-session, computed from the stored chat history."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import JOHN, MENTOR_A, MENTOR_B, analytics, conversation_body, ibl

PATH = analytics("average-messages-per-session/")
DATE_MESSAGE = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."


def _at(clock, client: TestClient, when: datetime, mentor_id: str, n_messages: int) -> str:
    """Create a conversation at exactly ``when`` holding ``n_messages`` messages; its id."""
    clock.set(when)
    conv = client.post(analytics("chat-history/"), headers=ibl(), json=conversation_body(mentor=mentor_id)).json()
    assert conv["inserted_at"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if n_messages:
        messages = [{"type": "human" if i % 2 == 0 else "ai", "content": f"m{i}"} for i in range(n_messages)]
        r = client.post(f"/_mock/ibl/orgs/main/chat-history/{conv['id']}/messages", json={"messages": messages})
        assert r.status_code == 200
    return conv["id"]


@pytest.fixture
def july(client: TestClient, clock) -> None:
    """Five conversations in July 2024 (2024-07-01 is a Monday), after the fixtures' June data."""
    utc = timezone.utc
    _at(clock, client, datetime(2024, 7, 1, 9, 30, tzinfo=utc), MENTOR_A, 3)
    _at(clock, client, datetime(2024, 7, 1, 9, 45, tzinfo=utc), MENTOR_B, 2)
    _at(clock, client, datetime(2024, 7, 1, 11, 0, tzinfo=utc), MENTOR_A, 0)
    _at(clock, client, datetime(2024, 7, 3, 23, 59, 59, tzinfo=utc), MENTOR_A, 4)
    _at(clock, client, datetime(2024, 7, 8, 0, 0, tzinfo=utc), MENTOR_B, 1)


def _series(client: TestClient, **params: str) -> list[dict]:
    r = client.get(PATH, headers=ibl(), params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_hourly_series_is_exact_and_zero_filled(client: TestClient, july: None) -> None:
    series = _series(client, start_date="2024-07-01", end_date="2024-07-01", aggregation="hourly")
    assert len(series) == 24
    assert [s["time"] for s in series[:2]] == ["2024-07-01T00:00:00Z", "2024-07-01T01:00:00Z"]
    by_hour = {s["time"][11:13]: (s["avg_messages"], s["total_sessions"]) for s in series}
    # 09:00: (3 + 2) / 2 = 2.5 rounds half up to 3 (banker's rounding would give 2).
    assert by_hour["09"] == (3, 2)
    assert by_hour["11"] == (0, 1)
    assert all(v == (0, 0) for h, v in by_hour.items() if h not in ("09", "11"))


def test_daily_series_is_exact(client: TestClient, july: None) -> None:
    series = _series(client, start_date="2024-07-01", end_date="2024-07-08")
    assert series == [
        {"time": "2024-07-01T00:00:00Z", "avg_messages": 2, "total_sessions": 3},  # 5 / 3 = 1.67
        {"time": "2024-07-02T00:00:00Z", "avg_messages": 0, "total_sessions": 0},
        {"time": "2024-07-03T00:00:00Z", "avg_messages": 4, "total_sessions": 1},
        {"time": "2024-07-04T00:00:00Z", "avg_messages": 0, "total_sessions": 0},
        {"time": "2024-07-05T00:00:00Z", "avg_messages": 0, "total_sessions": 0},
        {"time": "2024-07-06T00:00:00Z", "avg_messages": 0, "total_sessions": 0},
        {"time": "2024-07-07T00:00:00Z", "avg_messages": 0, "total_sessions": 0},
        {"time": "2024-07-08T00:00:00Z", "avg_messages": 1, "total_sessions": 1},
    ]
    assert _series(client, start_date="2024-07-01", end_date="2024-07-08", aggregation="daily") == series


def test_weekly_buckets_start_on_monday(client: TestClient, july: None) -> None:
    # start_date is a Tuesday: the first bucket starts on Monday 07-01, but only 07-02.. counts.
    series = _series(client, start_date="2024-07-02", end_date="2024-07-08", aggregation="weekly")
    assert series == [
        {"time": "2024-07-01T00:00:00Z", "avg_messages": 4, "total_sessions": 1},
        {"time": "2024-07-08T00:00:00Z", "avg_messages": 1, "total_sessions": 1},
    ]
    assert datetime.fromisoformat(series[0]["time"].replace("Z", "+00:00")).weekday() == 0


def test_mentor_id_narrows(client: TestClient, july: None) -> None:
    series = _series(client, start_date="2024-07-01", end_date="2024-07-01", mentor_id=MENTOR_A)
    assert series == [{"time": "2024-07-01T00:00:00Z", "avg_messages": 2, "total_sessions": 2}]  # 3 / 2 = 1.5
    series = _series(client, start_date="2024-07-01", end_date="2024-07-01", mentor_id=MENTOR_B)
    assert series == [{"time": "2024-07-01T00:00:00Z", "avg_messages": 2, "total_sessions": 1}]


def test_fixture_history_counts(client: TestClient) -> None:
    series = _series(client, start_date="2024-06-01", end_date="2024-06-03")
    assert [s["total_sessions"] for s in series] == [1, 2, 3]


def test_end_before_start_is_empty(client: TestClient) -> None:
    assert _series(client, start_date="2024-07-02", end_date="2024-07-01") == []


def test_dates_are_required(client: TestClient) -> None:
    r = client.get(PATH, headers=ibl())
    assert r.status_code == 400
    assert r.json() == {"end_date": ["This field is required."], "start_date": ["This field is required."]}


@pytest.mark.parametrize("bad", ["2024-7-1", "2024-02-30", "tomorrow", "2024-07-01T00:00:00Z"])
def test_malformed_dates_400(client: TestClient, bad: str) -> None:
    r = client.get(PATH, headers=ibl(), params={"start_date": bad, "end_date": bad})
    assert r.status_code == 400
    assert r.json() == {"end_date": [DATE_MESSAGE], "start_date": [DATE_MESSAGE]}


def test_bad_aggregation_400(client: TestClient) -> None:
    r = client.get(PATH, headers=ibl(), params={"start_date": "2024-07-01", "end_date": "2024-07-01",
                                                "aggregation": "monthly"})
    assert r.status_code == 400 and list(r.json()) == ["aggregation"]
    assert "monthly" in r.json()["aggregation"][0]


def test_group_by_is_ignored_but_may_not_be_blank(client: TestClient) -> None:
    """The client declares group_by with minLength 1: blank is DRF's 400, any other value changes nothing."""
    dates = {"start_date": "2024-06-01", "end_date": "2024-06-07"}
    r = client.get(PATH, headers=ibl(), params={**dates, "group_by": ""})
    assert (r.status_code, r.json()) == (400, {"group_by": ["This field may not be blank."]})
    assert _series(client, **dates, group_by="day") == _series(client, **dates)


def test_more_than_10000_buckets_400(client: TestClient) -> None:
    # 417 days hourly = 10,008 buckets; 416 days = 9,984.
    r = client.get(PATH, headers=ibl(), params={"start_date": "2024-01-01", "end_date": "2025-02-20",
                                                "aggregation": "hourly"})
    assert r.status_code == 400 and list(r.json()) == ["end_date"]
    ok = client.get(PATH, headers=ibl(), params={"start_date": "2024-01-01", "end_date": "2025-02-19",
                                                 "aggregation": "hourly"})
    assert ok.status_code == 200 and len(ok.json()) == 9984


def test_any_user_of_the_org_may_read_it(client: TestClient) -> None:
    r = client.get(analytics("average-messages-per-session/", user="johndoe"), headers=ibl(JOHN),
                   params={"start_date": "2024-06-01", "end_date": "2024-06-01"})
    assert r.status_code == 200 and r.json()[0]["total_sessions"] == 1
