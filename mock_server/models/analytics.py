"""ai-analytics: average messages per session, computed from the stored chat history at call time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import Any, Callable

from mock_server.clock import UTC, parse_date, to_micros
from mock_server.errors import InvalidRequest, Problem
from mock_server.memo import Memo
from mock_server.models.chat_history import ChatHistoryBackend
from mock_server.models.common import TimeIndex

AGGREGATIONS = ("hourly", "daily", "weekly")
MAX_BUCKETS = 10_000
SERIES_CACHE = 128
SERIES_BUDGET = 8 * 1024 * 1024
_DAY_US = 86_400_000_000
_STEP_US = {"hourly": _DAY_US // 24, "daily": _DAY_US, "weekly": 7 * _DAY_US}


# Each bucket costs about 90 bytes of label and 180 of series entry (measured with tracemalloc);
# a range may have 10,000 buckets, so both memos are bounded in bytes too.
_LABEL_BYTES = 90
_SERIES_BYTES = 180
_LABELS: Memo[tuple[int, int, int], tuple[str, ...]] = Memo(64, 2 * 1024 * 1024,
                                                           lambda key, _: _LABEL_BYTES * key[2] + 200)


def _labels(first_us: int, step_us: int, buckets: int) -> tuple[str, ...]:
    """Bucket start times as wire strings; dashboards ask for the same ranges again and again."""
    key = (first_us, step_us, buckets)
    found = _LABELS.get(key)
    if found is None:
        first = datetime(1970, 1, 1) + timedelta(microseconds=first_us)
        step = timedelta(microseconds=step_us)
        # Bucket starts are whole hours: isoformat() is exact and far cheaper than strftime.
        found = _LABELS.put(key, tuple((first + n * step).isoformat() + "Z" for n in range(buckets)))
    return found


def round_half_up(total: int, sessions: int) -> int:
    """``total / sessions`` rounded half up, in integers (no float error)."""
    return (2 * total + sessions) // (2 * sessions)


class AnalyticsBackend:
    """Message statistics over a chat-history backend (no state of its own).

    ``average`` is a policy: what turns a bucket's (messages, sessions > 0) into its
    ``avg_messages`` (``round_half_up``); a plugin may replace it per state (``Plugin.attach``).
    """

    def __init__(self, chat_history: ChatHistoryBackend) -> None:
        self._history = chat_history
        self.average: Callable[[int, int], int] = round_half_up
        # Dashboards poll the same ranges: a series stays valid until its index changes.
        self._series: Memo[tuple[Any, ...], tuple[TimeIndex, int, list[dict[str, Any]]]] = Memo(
            SERIES_CACHE, SERIES_BUDGET, lambda _, entry: _SERIES_BYTES * len(entry[2]) + 200)

    def average_messages_per_session(self, org: str, start_date: str | date | None, end_date: str | date | None,
                                     aggregation: str | None = "daily",
                                     mentor_id: str | None = None) -> list[dict[str, Any]]:
        """One ``{time, avg_messages, total_sessions}`` per bucket from start_date 00:00 UTC to the end of end_date.

        Zero-filled; ``avg_messages`` is total messages / sessions rounded half up (0 without
        sessions); weekly buckets start on Monday (the first on or before start_date) but only
        conversations inside the date range count. end before start -> ``[]``; more than 10,000
        buckets -> InvalidRequest on ``end_date``. A conversation's messages are
        ``message_count_human + message_count_ai``; it falls in the bucket of its ``inserted_at``.
        """
        problems: list[Problem] = []
        dates: dict[str, date] = {}
        for name, raw in (("start_date", start_date), ("end_date", end_date)):
            if raw is None or raw == "":
                problems.append(Problem("query", (name,), "required"))
                continue
            try:
                dates[name] = parse_date(raw)
            except (ValueError, TypeError):
                problems.append(Problem("query", (name,), "date", raw))
        if aggregation is None or aggregation == "":
            aggregation = "daily"
        if aggregation not in AGGREGATIONS:
            problems.append(Problem("query", ("aggregation",), "choice", aggregation, {"choices": list(AGGREGATIONS)}))
        if problems:
            raise InvalidRequest(problems)
        start, end = dates["start_date"], dates["end_date"]
        if end < start:
            return []
        # In microseconds, not dates: the end of 9999-12-31 is past the last date Python can hold.
        step_us = _STEP_US[aggregation]
        lo_us = to_micros(datetime.combine(start, time(0), tzinfo=UTC))
        hi_us = to_micros(datetime.combine(end, time(0), tzinfo=UTC)) + _DAY_US
        first_us = lo_us - start.weekday() * _DAY_US if aggregation == "weekly" else lo_us
        buckets = -(-(hi_us - first_us) // step_us)
        if buckets > MAX_BUCKETS:
            raise InvalidRequest.one(
                "query", "end_date", "custom", end_date,
                message=f"The range from start_date to end_date spans {buckets} {aggregation} buckets; "
                        f"at most {MAX_BUCKETS} are allowed. Narrow the range or use a coarser aggregation.",
            )
        index = self._history.index_for(org, mentor_id)
        key = (org, mentor_id, first_us, step_us, buckets, lo_us, hi_us, self.average)
        cached = self._series.get(key)
        if cached is not None and cached[0] is index and cached[1] == index.version:
            return cached[2]
        series = self._compute(index, first_us, step_us, buckets, lo_us, hi_us)
        self._series.put(key, (index, index.version, series))
        return series

    def _compute(self, index: TimeIndex, first_us: int, step_us: int, buckets: int, lo_us: int,
                 hi_us: int) -> list[dict[str, Any]]:
        # One bisect per bucket boundary and a running sum over the range: O(buckets + conversations in range).
        bounds = [max(first_us + n * step_us, lo_us) for n in range(buckets)] + [hi_us]
        positions = [index.position(b) for b in bounds]
        base = positions[0]
        running = [0, *accumulate(index.values(base, positions[-1]))]
        average = self.average
        return [
            {
                "time": label,
                "avg_messages": average(running[p1 - base] - running[p0 - base], p1 - p0) if p1 > p0 else 0,
                "total_sessions": p1 - p0,
            }
            for label, p0, p1 in zip(_labels(first_us, step_us, buckets), positions, positions[1:])
        ]
