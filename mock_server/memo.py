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
    """A dict of answers of at most ``entries`` items and ``budget`` bytes (``cost`` estimates one).

    ``memo.get(key, default=None)`` is the answers' own ``dict.get``: memos sit on the path of
    every request.
    """

    __slots__ = ("_answers", "_sizes", "_entries", "_budget", "_cost", "used", "get")

    def __init__(self, entries: int, budget: int, cost: Callable[[K, V], int]) -> None:
        self._answers: dict[K, V] = {}
        self._sizes: dict[K, int] = {}  # each answer's estimated bytes
        self._entries = entries
        self._budget = budget
        self._cost = cost
        self.used = 0  # estimated bytes held
        self.get: Callable[..., V | None] = self._answers.get

    def __len__(self) -> int:
        return len(self._answers)

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` in place of any earlier answer (unless it alone is over the budget)."""
        if key in self._answers:
            del self._answers[key]
            self.used -= self._sizes.pop(key)
        size = self._cost(key, value)
        if size > self._budget:
            return value
        if len(self._answers) >= self._entries or self.used + size > self._budget:
            self.clear()
        self._answers[key] = value
        self._sizes[key] = size
        self.used += size
        return value

    def clear(self) -> None:
        """Forget every answer."""
        self._answers.clear()
        self._sizes.clear()
        self.used = 0
