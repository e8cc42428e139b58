"""Remembered answers, bounded by entries and by bytes.

A mock is asked the same few things again and again (a query string, a path, a date range), so
several layers remember their answers. A client can also ask a million different things, each
as large as the server lets a request line be: every memo therefore holds at most ``entries``
answers and at most ``budget`` bytes of them (as its owner estimates an answer's size), and
forgets them all at once when either would be passed (quick, and enough when most asks repeat).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A dict of answers of at most ``entries`` items and ``budget`` bytes (``cost`` estimates one)."""

    __slots__ = ("_answers", "_entries", "_budget", "_cost", "used")

    def __init__(self, entries: int, budget: int, cost: Callable[[K, V], int]) -> None:
        self._answers: dict[K, tuple[V, int]] = {}  # key -> (answer, its estimated bytes)
        self._entries = entries
        self._budget = budget
        self._cost = cost
        self.used = 0  # estimated bytes held

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: K, default: V | None = None) -> V | None:
        """The remembered answer, or ``default``."""
        found = self._answers.get(key)
        return default if found is None else found[0]

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` in place of any earlier answer (unless it alone is over the budget)."""
        earlier = self._answers.pop(key, None)
        if earlier is not None:
            self.used -= earlier[1]
        size = self._cost(key, value)
        if size > self._budget:
            return value
        if len(self._answers) >= self._entries or self.used + size > self._budget:
            self.clear()
        self._answers[key] = (value, size)
        self.used += size
        return value

    def clear(self) -> None:
        """Forget every answer."""
        self._answers.clear()
        self.used = 0
