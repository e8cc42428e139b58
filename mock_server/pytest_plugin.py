"""The memmock pytest plugin: a ``memmock`` fixture that serves the mock to your own test suite.

Installed with memmock (entry point ``pytest11``). The mock starts once per session, in a thread of
the test process, on a free loopback port, so each pytest-xdist worker has a mock of its own; it
stops when the session ends. Each test that uses it gets a namespace of its own (``memmock_namespace``):
its requests, with or without the namespace header, read and write a state that starts as the
loaded fixtures. ``--memmock-fixtures FILE`` (or the ini key ``memmock_fixtures``) loads your
fixtures instead of the bundled dev fixtures.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    import httpx

    from .listen import BackgroundServer
    from .namespaces import Namespaces
    from .store import Store

INI_KEY = "memmock_fixtures"


@dataclass(frozen=True)
class IblToken:
    """An ibl.ai API token of the loaded state (``Authorization: Api-Token <key>``)."""

    key: str
    org: str
    username: str
    is_admin: bool


@dataclass(frozen=True)
class VaiToken:
    """A VirtuousAI token of the loaded state (``Authorization: Bearer <key>``)."""

    key: str
    organization_id: str
    name: str


class Memmock:
    """A running mock: its ``url``, the tokens of its state, and its admin plane (``/_mock``)."""

    def __init__(self, background: BackgroundServer, namespaces: Namespaces) -> None:
        import httpx

        self._background = background
        self._namespaces = namespaces
        self.url = f"http://127.0.0.1:{background.port}"
        # The admin plane, for what the methods below do not cover (its docs: /_mock/docs/).
        self.admin: httpx.Client = httpx.Client(base_url=f"{self.url}/_mock", timeout=30)

    @property
    def namespace(self) -> str:
        """The namespace requests that name none use now: the current test's (``default`` outside a test)."""
        return self._namespaces.fallback

    def use_namespace(self, name: str) -> None:
        """Send requests that name no namespace to ``name`` (the ``memmock_namespace`` fixture does, per test)."""
        self._namespaces.fallback = name

    @property
    def _store(self) -> Store:
        """The state of the current namespace."""
        return self._namespaces.state(self.namespace).store

    @property
    def ibl_tokens(self) -> list[IblToken]:
        """Every ibl token of the current state."""
        return [IblToken(key, p.org, p.username, p.is_admin) for key, p in self._store.credentials.ibl_tokens.items()]

    @property
    def vai_tokens(self) -> list[VaiToken]:
        """Every VirtuousAI token of the current state."""
        return [VaiToken(key, p.organization_id, p.name) for key, p in self._store.credentials.vai_tokens.items()]

    def ibl_token(self, username: str, org: str | None = None) -> str:
        """The key of ``username``'s ibl token (in ``org``, when given); LookupError names the known ones."""
        for token in self.ibl_tokens:
            if token.username == username and org in (None, token.org):
                return token.key
        known = ", ".join(f"{t.username} of {t.org}" for t in self.ibl_tokens) or "none"
        raise LookupError(f"no ibl token for {username}" + (f" of org {org}" if org else "") + f" (known: {known})")

    def vai_token(self, organization_id: str | None = None) -> str:
        """The key of a VirtuousAI token (the first, or ``organization_id``'s); LookupError if there is none."""
        for token in self.vai_tokens:
            if organization_id in (None, token.organization_id):
                return token.key
        raise LookupError("no VirtuousAI token" + (f" for organization {organization_id}" if organization_id else ""))

    def reset(self) -> None:
        """Put the state back to the loaded fixtures (``POST /_mock/reset``)."""
        self.admin.post("/reset", headers={"Content-Type": "application/json"}).raise_for_status()

    def state(self) -> dict[str, Any]:
        """The whole state, in the fixtures format (``GET /_mock/state``)."""
        response = self.admin.get("/state")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def load(self, document: dict[str, Any]) -> None:
        """Replace the whole state (``PUT /_mock/state``); ``reset()`` then returns to it. ValueError if refused."""
        response = self.admin.put("/state", json=document)
        if response.status_code == 400:
            raise ValueError(f"the mock refused the document: {response.json()['detail']}")
        response.raise_for_status()

    def stop(self) -> None:
        """Stop serving."""
        self.admin.close()
        self._background.stop()


def start(fixtures: Traversable | None) -> Memmock:
    """Serve a mock with ``fixtures`` (None: empty, no tokens) on a free loopback port, in a thread."""
    import warnings

    with warnings.catch_warnings():
        # What the mock's dependencies deprecate at import time is not the warnings of the suite under test.
        warnings.simplefilter("ignore")
        from .app import create_app
    from .listen import BackgroundServer, listen
    from .settings import Settings

    settings = Settings(host="127.0.0.1", port=0, fixtures=fixtures, log_level="error")
    app = create_app(settings)
    background = BackgroundServer(app, settings, listen(settings.host, settings.port))
    background.start()
    return Memmock(background, app.namespaces)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--memmock-fixtures`` and the ini key ``memmock_fixtures``."""
    group = parser.getgroup("memmock-fixture", "memmock fixture (the mock served to your tests)")
    group.addoption("--memmock-fixtures", metavar="FILE", default=None,
                    help=f"fixtures file (YAML or JSON) the memmock fixture loads; overrides the ini key {INI_KEY} "
                    "(default: the bundled dev fixtures)")
    parser.addini(INI_KEY, "fixtures file the memmock fixture loads, relative to the ini file", default="")


def fixtures_file(config: pytest.Config) -> Traversable:
    """The fixtures the ``memmock`` fixture loads: the option (from where pytest was run), the ini key, or the default."""
    option = config.getoption("--memmock-fixtures")
    if option:
        return config.invocation_params.dir / option
    ini_value = str(config.getini(INI_KEY)).strip()
    if ini_value:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return base / Path(ini_value)
    from .settings import DEFAULT_FIXTURES

    return DEFAULT_FIXTURES


@pytest.fixture(scope="session")
def memmock(pytestconfig: pytest.Config) -> Iterator[Memmock]:
    """The mock, started once per session (per xdist worker) on a free loopback port; stopped at the end."""
    from .settings import StartupError

    try:
        server = start(fixtures_file(pytestconfig))
    except StartupError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:  # failed outside the except block, so pytest shows the one line, not a chain of exceptions
        pytest.fail(f"memmock: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def namespace_for(nodeid: str) -> str:
    """A namespace name for a test: its name, cut to fit, after a digest of its whole id (unique per test)."""
    digest = hashlib.sha1(nodeid.encode("utf-8")).hexdigest()[:10]
    tail = re.sub(r"[^A-Za-z0-9._~-]+", "-", nodeid.rpartition("::")[2]).strip("-.~_")
    return f"t{digest}-{tail}"[:64].rstrip("-.~_")


@pytest.fixture(autouse=True)
def memmock_namespace(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The current test's own namespace on the mock, when the test uses the ``memmock`` fixture (else None)."""
    if "memmock" not in request.fixturenames:
        yield None
        return
    server: Memmock = request.getfixturevalue("memmock")
    name = namespace_for(request.node.nodeid)
    server.use_namespace(name)
    try:
        yield name
    finally:
        server.use_namespace("default")
