"""The mock's HTTP layer under test: an in-process app with response validation on."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app, load_spec
from mock_server.clock import FixedClock
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def fixtures_document() -> dict:
    """The default fixtures, read once."""
    return Store.from_file(DEFAULT_FIXTURES).export()


# TestClient addresses the mock as Host "testserver": the admin plane answers only names it is given.
TESTSERVER = ("testserver",)
STRICT = Settings(strict=True, fixtures=None, admin_hosts=TESTSERVER)


@pytest.fixture(scope="session")
def session_clock() -> FixedClock:
    """The one fixed clock of the session's shared app (``clock`` resets it per test)."""
    return FixedClock(NOW)


@pytest.fixture(scope="session")
def session_store(session_clock: FixedClock) -> Store:
    """The store behind the session's shared app (``store`` reloads it per test)."""
    return Store(clock=session_clock)


@pytest.fixture(scope="session")
def session_app(session_store: Store) -> object:
    """One strict app for the whole session: building an app per test costs more than the tests."""
    return create_app(STRICT, store=session_store)


@pytest.fixture
def clock(session_clock: FixedClock) -> FixedClock:
    """A clock that only moves when a test moves it, at 2024-07-01T12:00Z when the test starts."""
    session_clock.set(NOW)
    return session_clock


@pytest.fixture
def store(clock: FixedClock, session_store: Store, fixtures_document: dict) -> Store:
    """A store freshly loaded with the default fixtures, on the fixed clock."""
    session_store.load(fixtures_document)
    return session_store


@pytest.fixture
def settings() -> Settings:
    """Strict settings: every response is validated against the spec."""
    return STRICT


@pytest.fixture
def client(settings: Settings, store: Store, session_app: object) -> Iterator[TestClient]:
    """A client of an in-process mock with the default fixtures (a new app if ``settings`` is overridden)."""
    app = session_app if settings == STRICT else create_app(settings, store=store)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=True) as test_client:
        yield test_client


# --- credentials and paths ------------------------------------------------------------------

ADMIN = "dev-ibl-admin-main-0001"  # admin of org main
JOHN = "dev-ibl-user-johndoe-0001"  # user johndoe of main
JANE = "dev-ibl-user-janedoe-0001"  # user janedoe of main
ACME = "dev-ibl-admin-acme-0001"  # admin of org acme
VAI_DEV = "dev-vai-virtuous-dev-0001"
VAI_OTHER = "dev-vai-other-org-0001"
VAI_DEV_ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
VAI_OTHER_ORG = "3f2c9e8a-51d4-4b7e-9a06-c1d2e3f4a5b6"
FINISHED_TASK = "4b3f2a1c-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
MENTOR_A = "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f"
MENTOR_B = "ecbf8dc6-e97d-4602-939f-cda86082faa0"


def ibl(token: str = ADMIN) -> dict[str, str]:
    """The ibl credential header for ``token``."""
    return {"Authorization": f"Api-Token {token}"}


def vai(token: str = VAI_DEV) -> dict[str, str]:
    """The VirtuousAI bearer header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


def prompt(rest: str, user: str = "johndoe", org: str = "main") -> str:
    """An ``/api/ai-prompt/...`` path of one user."""
    return f"/api/ai-prompt/orgs/{org}/users/{user}/{rest}"


def mentor(rest: str, user: str = "johndoe", org: str = "main") -> str:
    """An ``/api/ai-mentor/...`` path of one user."""
    return f"/api/ai-mentor/orgs/{org}/users/{user}/{rest}"


def analytics(rest: str, user: str = "admin", org: str = "main") -> str:
    """An ``/api/ai-analytics/...`` path of one user."""
    return f"/api/ai-analytics/orgs/{org}/users/{user}/{rest}"


# --- operations, read from the specs --------------------------------------------------------

_METHODS = ("get", "put", "post", "patch", "delete")


def spec_operations(api: str) -> list[tuple[str, str]]:
    """Every operation of one served spec (``ibl``, ``virtuousai``, ``admin``): ``(METHOD, path template)``."""
    spec = load_spec(api)
    base = spec["servers"][0]["url"].rstrip("/")
    return [(method.upper(), base + path) for path, item in spec["paths"].items() for method in item
            if method in _METHODS]


def fill(template: str, values: dict[str, str]) -> str:
    """A path template with its ``{parameters}`` replaced (KeyError names one ``values`` lacks)."""
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def conversation_body(**overrides: object) -> dict[str, object]:
    """A valid chat-history write body."""
    body: dict[str, object] = {"topics": [{"name": "algebra"}], "mentor": MENTOR_A, "model": "gpt-4o",
                               "platform": "main"}
    body.update(overrides)
    return body


def make_client(settings: Settings, store: Store) -> TestClient:
    """A TestClient (not yet entered) of an app built from ``settings`` and ``store``."""
    return TestClient(create_app(settings, store=store), base_url="http://testserver",
                      raise_server_exceptions=True)


@pytest.fixture
def open_client(store: Store) -> Iterator[TestClient]:
    """A client of a mock in ``--auth open`` mode."""
    with make_client(Settings(auth="open", strict=True, fixtures=None, admin_hosts=TESTSERVER), store) as test_client:
        yield test_client


@pytest.fixture
def small_client(store: Store) -> Iterator[TestClient]:
    """A client of a mock whose body limit is 64 bytes."""
    with make_client(Settings(strict=True, fixtures=None, body_limit=64, admin_hosts=TESTSERVER), store) as test_client:
        yield test_client
