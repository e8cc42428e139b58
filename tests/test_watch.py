"""--watch on a served mock: a changed fixtures file reaches the namespaces no write changed since they were loaded."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mock_server.settings import DEFAULT_FIXTURES
from tests.served import Served, serve

VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(mock: Served, method: str, path: str, namespace: str | None = None, body: Any = None) -> Any:
    """One request; its JSON reply (None when empty)."""
    headers = {**VAI, "Content-Type": "application/json"}
    if namespace is not None:
        headers["X-Memmock-Namespace"] = namespace
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{mock.url}{path}", data=data, method=method, headers=headers)
    with _DIRECT.open(request, timeout=30) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def memories(mock: Served, namespace: str | None = None) -> set[str]:
    """The contents of the namespace's VirtuousAI memories."""
    return {m["content"] for m in call(mock, "GET", "/_mock/state", namespace)["vai"]["memories"]}


def write_fixtures(path: Path, extra: str | None) -> None:
    """The bundled fixtures, with one more memory when ``extra`` names its content."""
    document = yaml.safe_load(DEFAULT_FIXTURES.read_text(encoding="utf-8"))
    if extra is not None:
        document["vai"]["memories"].append({"id": "9a0d7f0e-0c1b-4e55-9f35-6d0f3b0c2a11", "organizationId": ORG,
                                            "content": extra, "createdAt": "2024-06-01T00:00:00Z"})
    temporary = path.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump(document), encoding="utf-8")
    temporary.replace(path)  # as an editor saves: beside it, then renamed


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def stderr_after_stop(mock: Served) -> str:
    """Stop the mock; what it wrote on stderr."""
    mock.process.send_signal(signal.SIGINT)
    assert mock.process.stderr is not None
    return mock.process.stderr.read().decode()


def test_a_changed_file_reloads_where_nothing_was_written(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures.yaml"
    write_fixtures(fixtures, None)
    with serve("--fixtures", str(fixtures), "--watch") as mock:
        call(mock, "POST", "/api/v1/memory", "written", {"content": "mine"})
        call(mock, "POST", "/api/v1/memory", "reset", {"content": "undone"})
        call(mock, "POST", "/_mock/reset", "reset")  # back to the fixtures: not changed any more
        memories(mock, "read")  # made, only read
        write_fixtures(fixtures, "from the new fixtures")
        assert eventually(lambda: "from the new fixtures" in memories(mock))
        assert "from the new fixtures" in memories(mock, "read")
        assert "from the new fixtures" in memories(mock, "reset")
        assert "from the new fixtures" in memories(mock, "made-later")  # new namespaces start from it
        written = memories(mock, "written")
        assert "mine" in written and "from the new fixtures" not in written
        call(mock, "POST", "/_mock/reset", "read")
        assert "from the new fixtures" in memories(mock, "read")  # a reset returns to the new fixtures

        fixtures.write_text("users: [oops", encoding="utf-8")  # a file that does not load
        time.sleep(1.0)
        assert "from the new fixtures" in memories(mock)  # the state is kept
        log = stderr_after_stop(mock)
    assert "--watch: fixtures file" in log and "changed: reloaded into default" in log
    assert "kept written (changed since the fixtures were loaded)" in log
    assert f"--watch: fixtures file {fixtures}: YAML syntax error" in log and "the state is kept" in log


def test_a_reload_survives_a_restart_with_the_state_file(tmp_path: Path) -> None:
    fixtures, state_file = tmp_path / "fixtures.yaml", tmp_path / "state.json"
    write_fixtures(fixtures, None)
    with serve("--fixtures", str(fixtures), "--watch", "--state-file", str(state_file)) as mock:
        call(mock, "POST", "/api/v1/memory", "written", {"content": "mine"})
        write_fixtures(fixtures, "reloaded")
        assert eventually(lambda: "reloaded" in memories(mock))
        before = {ns: call(mock, "GET", "/_mock/state", ns) for ns in ("default", "written")}
    with serve("--fixtures", str(fixtures), "--watch", "--state-file", str(state_file)) as mock:
        assert {ns: call(mock, "GET", "/_mock/state", ns) for ns in ("default", "written")} == before
        call(mock, "POST", "/api/v1/memory", None, {"content": "later"})
        call(mock, "POST", "/_mock/reset")
        assert "reloaded" in memories(mock) and "later" not in memories(mock)
        assert "reloaded" in memories(mock, "made-after-the-restart")


def test_watch_needs_a_fixtures_file() -> None:
    from mock_server.app import create_app
    from mock_server.settings import Settings, StartupError

    try:
        create_app(Settings(fixtures=None, watch=True))
    except StartupError as exc:
        assert "--watch reloads the fixtures file when it changes: it needs one" in str(exc)
    else:
        raise AssertionError("--watch without fixtures started")
