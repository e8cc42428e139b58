"""Time under persistence: the instants a recorded write read from the clock, handed back on replay.

Every model reads the time through the store's clock (``Context.clock``), so a store that
persists is built on a ``TapeClock``. While a write is recorded, each reading is noted on its
tape (a context variable: concurrent requests each have their own, and a worker thread started
with ``asyncio.to_thread`` shares its request's); while a command is replayed, its tape answers
instead of the clock. Outside both (reads, startup) the inner clock answers.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import datetime, timedelta

from ..clock import UTC, Clock, to_micros

logger = logging.getLogger("memmock")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_micros(micros: int) -> datetime:
    """``clock.to_micros``'s inverse: the aware UTC instant."""
    return _EPOCH + timedelta(microseconds=micros)


class Recording:
    """The instants handed out while one write ran, as microseconds since the epoch."""

    __slots__ = ("instants",)

    def __init__(self) -> None:
        self.instants: list[int] = []

    def now(self, inner: Clock) -> datetime:
        """The inner clock's time, noted."""
        value = inner.now()
        self.instants.append(to_micros(value))
        return value


class Replaying:
    """A recorded command's instants, handed out again in the order they were read."""

    __slots__ = ("instants", "where", "_next")

    def __init__(self, instants: list[int], where: str) -> None:
        self.instants = instants
        self.where = where  # the command, for the warning below
        self._next = 0

    def now(self, inner: Clock) -> datetime:
        """The next recorded instant (the inner clock's time, with a warning, past the last)."""
        if self._next < len(self.instants):
            value = self.instants[self._next]
            self._next += 1
            return from_micros(value)
        if self._next == len(self.instants):  # once per command
            self._next += 1
            logger.warning("memmock: %s read the clock more often on replay than when it was recorded (a memmock "
                           "of another version wrote it?): the later readings are the current time", self.where)
        return inner.now()


TAPE: ContextVar[Recording | Replaying | None] = ContextVar("memmock.persistence.tape", default=None)


class TapeClock:
    """A store's clock under persistence: ``inner``'s time, recorded or replayed by the current tape."""

    def __init__(self, inner: Clock) -> None:
        self.inner = inner

    def now(self) -> datetime:
        """The current time, as the tape of the current write or replay has it (else ``inner``'s)."""
        tape = TAPE.get()
        return self.inner.now() if tape is None else tape.now(self.inner)
