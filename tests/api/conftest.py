"""The mock's HTTP layer under test: an in-process app with response validation on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.clock import FixedClock
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def fixtures_document() -> dict:
    """The default fixtures, read once."""
    return Store.from_file(DEFAULT_FIXTURES).export()


@pytest.fixture
def clock() -> FixedClock:
    """A clock that only moves when a test moves it."""
    return FixedClock(NOW)


@pytest.fixture
def store(clock: FixedClock, fixtures_document: dict) -> Store:
    """A fresh store with the default fixtures and the fixed clock."""
    store = Store(clock=clock)
    store.load(fixtures_document)
    return store


@pytest.fixture
def settings() -> Settings:
    """Strict settings: every response is validated against the spec."""
    return Settings(strict=True, fixtures=None)


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    """A client of an in-process mock with the default fixtures."""
    app = create_app(settings, store=store)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=True) as test_client:
        yield test_client
