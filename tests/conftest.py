"""Shared fixtures for the state-layer tests: a fixed clock and stores built on it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mock_server.clock import FixedClock
from mock_server.store import Store

T0 = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> FixedClock:
    """A clock at 2024-07-01T12:00:00Z that moves one second per reading."""
    return FixedClock(T0, timedelta(seconds=1))


@pytest.fixture
def empty(clock: FixedClock) -> Store:
    """A store with no data."""
    return Store(clock=clock)


@pytest.fixture
def store(clock: FixedClock) -> Store:
    """A store loaded from fixtures/default.yaml."""
    return Store.from_file(clock=clock)
