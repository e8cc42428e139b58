"""Injectable time: every timestamp the mock writes comes from a ``Clock``."""

from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

UTC = timezone.utc


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the time (aware, UTC)."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current wall-clock time in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock under the test's control: returns ``start``, then moves by ``step`` per call."""

    def __init__(self, start: datetime, step: timedelta = timedelta(0)) -> None:
        self._now = _aware(start)
        self.step = step

    def now(self) -> datetime:
        """The current value; the clock then moves forward by ``step``."""
        value = self._now
        self._now = value + self.step
        return value

    def advance(self, delta: timedelta) -> None:
        """Move the clock by ``delta``."""
        self._now += delta

    def set(self, dt: datetime) -> None:
        """Jump to ``dt``."""
        self._now = _aware(dt)


def _aware(dt: datetime) -> datetime:
    # Naive datetimes in fixtures and tests mean UTC.
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@functools.lru_cache(maxsize=32_768)
def isoformat_z(dt: datetime) -> str:
    """``2024-01-15T10:30:00Z``; microseconds only when non-zero."""
    # isoformat() prints microseconds only when non-zero, as the wire format wants. Stored
    # timestamps are read far more often than written, hence the memo (a list page formats two
    # per item).
    return _aware(dt).replace(tzinfo=None).isoformat() + "Z"


def parse_datetime(value: str | datetime | date) -> datetime:
    """An ISO 8601 string (``Z`` or offset; naive means UTC), datetime or date, as an aware UTC datetime.

    Raises ValueError on anything else.
    """
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise ValueError(f"not a datetime: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return _aware(datetime.fromisoformat(text))


def parse_date(value: str | date) -> date:
    """A ``YYYY-MM-DD`` string (or a date) as a date; raises ValueError otherwise."""
    if isinstance(value, datetime):
        raise ValueError("a datetime is not a date")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError(f"not a date: {value!r}")
    return date.fromisoformat(value)


def to_micros(dt: datetime) -> int:
    """Microseconds since the epoch (an integer sort key that never loses precision)."""
    delta = _aware(dt) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=32_768)
def isoformat_micros(micros: int) -> str:
    """``to_micros``'s inverse, as ``isoformat_z`` writes it (memoised alike: pages repeat times)."""
    return (_NAIVE_EPOCH + timedelta(microseconds=micros)).isoformat() + "Z"


_NAIVE_EPOCH = datetime(1970, 1, 1)
