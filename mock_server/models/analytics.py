"""ai-analytics: average messages per session, computed from the stored chat history at call time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from mock_server.clock import UTC, isoformat_z, parse_date, to_micros
from mock_server.errors import InvalidRequest, Problem
from mock_server.models.chat_history import ChatHistoryBackend

AGGREGATIONS = ("hourly", "daily", "weekly")
MAX_BUCKETS = 10_000
_STEP = {"hourly": timedelta(hours=1), "daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


class AnalyticsBackend:
    """Message statistics over a chat-history backend (no state of its own)."""

    SECTIONS: tuple[str, ...] = ()

    def __init__(self, chat_history: ChatHistoryBackend) -> None:
        self._history = chat_history

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
        step = _STEP[aggregation]
        range_start = datetime.combine(start, time(0), tzinfo=UTC)
        range_stop = datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC)
        first = range_start - timedelta(days=start.weekday()) if aggregation == "weekly" else range_start
        buckets = -(-(range_stop - first) // step)
        if buckets > MAX_BUCKETS:
            raise InvalidRequest.one(
                "query", "end_date", "custom", end_date,
                message=f"The range from start_date to end_date spans {buckets} {aggregation} buckets; "
                        f"at most {MAX_BUCKETS} are allowed. Narrow the range or use a coarser aggregation.",
            )
        index = self._history.index_for(org, mentor_id)
        lo_us, hi_us, step_us = to_micros(range_start), to_micros(range_stop), to_micros(first + step) - to_micros(first)
        first_us = to_micros(first)
        series = []
        bucket = first
        for n in range(buckets):
            b0 = first_us + n * step_us
            sessions, total = index.sums(max(b0, lo_us), min(b0 + step_us, hi_us))
            series.append({
                "time": isoformat_z(bucket),
                "avg_messages": (2 * total + sessions) // (2 * sessions) if sessions else 0,
                "total_sessions": sessions,
            })
            bucket += step
        return series
