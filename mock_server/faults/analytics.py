"""Faults of the analytics: rounding, stale views, bucket boundaries, gaps and the bucket cap.

They use the policy the domain offers (``AnalyticsBackend.average``, a bucket's average from its
messages and sessions), set on each state as the plugin attaches to it, or rebuild the series
from the backend's public method.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from ..clock import parse_date
from ..errors import InvalidRequest
from ..models.analytics import MAX_BUCKETS, AnalyticsBackend
from ..state import IblPrincipal, MockState
from ..store import Store
from ..validation import request_data
from .exchange import Exchange, Reply

WRONG_BUCKET_CAP = 100_000
_STEP = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}
# What one call under the cap may cover: whole buckets (weekly ones from a Monday), at most MAX_BUCKETS.
_CALL_SPAN = {"hourly": timedelta(days=400), "daily": MAX_BUCKETS * _STEP["daily"],
              "weekly": MAX_BUCKETS * _STEP["weekly"]}


def _floor_average(total: int, sessions: int) -> int:
    return total // sessions


def install_floor(state: MockState, memo: dict[str, Any]) -> None:
    """The state's averages round down (its analytics' ``average`` policy floors)."""
    state.store.analytics.average = _floor_average


def snapshot_store(state: MockState, memo: dict[str, Any]) -> None:
    """The analytics view as it was when the app was built (a materialised view never refreshed)."""
    snapshot = Store(clock=state.store.clock)
    snapshot.load(state.store.export())
    memo["snapshot"] = snapshot


async def analytics_stale(ex: Exchange) -> Reply:
    """Once the real handler has accepted the request, answer from the startup snapshot."""
    reply = await ex.forward()
    principal = ex.principal()
    if reply.status == 200 and isinstance(principal, IblPrincipal):
        query = request_data(ex.scope).query
        snapshot: Store = ex.memo["snapshot"]
        reply.set_json(snapshot.analytics.average_messages_per_session(
            ex.path("org") or "", query.get("start_date"), query.get("end_date"),
            query.get("aggregation", "daily"), query.get("mentor_id"),
        ))
    return reply


def analytics_args(ex: Exchange) -> tuple[str, date, date, str, str | None]:
    """(org, start, end, aggregation, mentor_id) of an analytics request the handler has accepted."""
    query = request_data(ex.scope).query
    return (ex.path("org") or "", parse_date(query["start_date"]), parse_date(query["end_date"]),
            query.get("aggregation") or "daily", query.get("mentor_id"))


def _message_total(total: int, sessions: int) -> int:
    return total


def bucket_totals(analytics: AnalyticsBackend, org: str, start: date, end: date, aggregation: str,
                  mentor: str | None) -> list[tuple[str, int, int]]:
    """Each bucket's (time, messages, sessions), read through the domain's ``average`` policy.

    Runs without awaiting, so no other request sees the policy swapped.
    """
    average = analytics.average
    analytics.average = _message_total
    try:
        series = analytics.average_messages_per_session(org, start, end, aggregation, mentor)
    finally:
        analytics.average = average
    return [(b["time"], b["avg_messages"], b["total_sessions"]) for b in series]


def weeks_from_sunday(ex: Exchange, body: Any) -> Any:
    """Weekly buckets start on the Sunday on or before start_date, not the Monday."""
    org, start, end, aggregation, mentor = analytics_args(ex)
    if aggregation != "weekly" or end < start:
        return body
    first = start - timedelta(days=(start.weekday() + 1) % 7)
    weeks = [[0, 0] for _ in range((end - first).days // 7 + 1)]
    day = start
    while day <= end:  # daily totals, in calls of at most MAX_BUCKETS days
        stop = min(end, day + timedelta(days=MAX_BUCKETS - 1))
        for time, messages, sessions in bucket_totals(ex.store.analytics, org, day, stop, "daily", mentor):
            week = weeks[(date.fromisoformat(time[:10]) - first).days // 7]
            week[0] += messages
            week[1] += sessions
        day = stop + timedelta(days=1)
    average = ex.store.analytics.average
    return [{"time": f"{(first + timedelta(weeks=n)).isoformat()}T00:00:00Z",
             "avg_messages": average(messages, sessions) if sessions else 0, "total_sessions": sessions}
            for n, (messages, sessions) in enumerate(weeks)]


def end_exclusive(ex: Exchange, body: Any) -> Any:
    """end_date is exclusive: the series stops at its 00:00 (a one-day range is empty)."""
    org, start, end, aggregation, mentor = analytics_args(ex)
    if end < start:
        return body
    return [] if end == start else ex.store.analytics.average_messages_per_session(
        org, start, end - timedelta(days=1), aggregation, mentor)


def hourly_gaps(ex: Exchange, body: Any) -> Any:
    """An hourly series leaves out the hours without sessions."""
    if request_data(ex.scope).query.get("aggregation") != "hourly":
        return body
    return [bucket for bucket in body if bucket["total_sessions"]]


async def cap_too_high(ex: Exchange) -> Reply:
    """A range past the 10,000-bucket cap but within 100,000 buckets is served, in calls under the cap."""
    try:
        return await ex.forward()
    except InvalidRequest as exc:
        cap_only = [(p.name, p.kind) for p in exc.problems] == [(("end_date",), "custom")]
        if not cap_only:
            raise
        org, start, end, aggregation, mentor = analytics_args(ex)
        first = start - timedelta(days=start.weekday()) if aggregation == "weekly" else start
        if (end + timedelta(days=1) - first) / _STEP[aggregation] > WRONG_BUCKET_CAP:
            raise
    series: list[dict[str, Any]] = []
    chunk = first
    while chunk <= end:
        stop = min(end, chunk + _CALL_SPAN[aggregation] - timedelta(days=1))
        series += ex.store.analytics.average_messages_per_session(org, max(chunk, start), stop, aggregation, mentor)
        chunk = stop + timedelta(days=1)
    reply = Reply(200)
    reply.set_json(series)
    return reply
