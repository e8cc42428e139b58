"""The memmock pytest plugin, as a user's suite meets it: the fixture, its options, its errors, pytest-xdist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

# The user suites below run in their own pytest process, where the installed plugin is loaded by its entry point.
USER_SUITE = '''
import httpx


def test_url_tokens_and_health(memmock):
    health = httpx.get(f"{memmock.url}/_mock/health").json()
    assert health["status"] == "ok" and health["version"]
    john = {"Authorization": f"Api-Token {memmock.ibl_token('johndoe', org='main')}"}
    status = httpx.get(f"{memmock.url}/api/ai-prompt/orgs/main/users/johndoe/chat-memory-status/", headers=john)
    assert status.status_code == 200
    assert {t.username for t in memmock.ibl_tokens if t.org == "main"} == {"admin", "johndoe", "janedoe"}


def test_reset_returns_to_the_fixtures(memmock):
    vai = {"Authorization": f"Bearer {memmock.vai_token()}"}
    before = httpx.get(f"{memmock.url}/api/v1/memory", headers=vai).json()["total"]
    assert httpx.post(f"{memmock.url}/api/v1/memory", headers=vai, json={"content": "x"}).status_code == 201
    assert httpx.get(f"{memmock.url}/api/v1/memory", headers=vai).json()["total"] == before + 1
    memmock.reset()
    assert httpx.get(f"{memmock.url}/api/v1/memory", headers=vai).json()["total"] == before


def test_admin_plane(memmock):
    assert memmock.admin.get("/health").status_code == 200
    document = memmock.state()
    document["tokens"]["ibl"] = [{"key": "only-key", "org": "o", "username": "u", "is_admin": True}]
    memmock.load(document)
    assert [t.key for t in memmock.ibl_tokens] == ["only-key"]
    try:
        memmock.load({"users": 5})
    except ValueError as exc:
        assert "users" in str(exc)
    else:
        raise AssertionError("a bad document was accepted")
    memmock.reset()  # back to the last loaded document
    assert [t.key for t in memmock.ibl_tokens] == ["only-key"]


def test_each_test_writes_in_a_namespace_of_its_own_first(memmock):
    vai = {"Authorization": f"Bearer {memmock.vai_token()}"}
    assert "test_each_test_writes_in_a_namespace" in memmock.namespace
    httpx.post(f"{memmock.url}/api/v1/memory", headers=vai, json={"content": "left behind"}).raise_for_status()


def test_each_test_writes_in_a_namespace_of_its_own_then(memmock):
    vai = {"Authorization": f"Bearer {memmock.vai_token()}"}
    contents = [m["content"] for m in httpx.get(f"{memmock.url}/api/v1/memory", headers=vai).json()["memories"]]
    assert "left behind" not in contents  # no reset: the test before wrote in its own namespace
    assert [t.key for t in memmock.ibl_tokens] != ["only-key"]  # nor does a loaded document carry over
'''

OWN_FIXTURES = """
users: [{org: shop, username: ann, email: ann@example.com}]
tokens:
  ibl: [{key: %s, org: shop, username: ann}]
"""

TOKEN_KEYS = '''
def test_tokens(memmock):
    print("KEYS", [t.key for t in memmock.ibl_tokens])
'''


def test_the_fixture_serves_the_mock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # every installed plugin, as a user has them
    result.assert_outcomes(passed=5)


@pytest.fixture
def only_memmock(monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """Arguments that load just this plugin (and xdist): the other installed plugins take seconds to import."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return ("-p", "no:cacheprovider", "-p", "mock_server.pytest_plugin", "-p", "xdist")


def keys_loaded(pytester: pytest.Pytester, *args: str) -> list[str]:
    """The ibl token keys the fixture's mock holds when pytest runs with ``args`` (from ``pytester.path``)."""
    result = pytester.runpytest_subprocess("-s", *args)
    result.assert_outcomes(passed=1)
    found = re.search(r"KEYS (\[.*?\])", result.stdout.str())
    assert found is not None, result.stdout.str()
    keys: list[str] = ast.literal_eval(found.group(1))
    return keys


def test_fixtures_from_the_option_or_the_ini_key(pytester: pytest.Pytester, only_memmock: tuple[str, ...]) -> None:
    project = pytester.mkdir("project")
    (project / "test_keys.py").write_text(TOKEN_KEYS, encoding="utf-8")
    assert "dev-ibl-user-johndoe-0001" in keys_loaded(pytester, *only_memmock, "project")  # the bundled dev fixtures
    (project / "fx").mkdir()
    (project / "fx" / "ini.yaml").write_text(OWN_FIXTURES % "from-ini", encoding="utf-8")
    (project / "pytest.ini").write_text("[pytest]\nmemmock_fixtures = fx/ini.yaml\n", encoding="utf-8")
    (pytester.path / "cli.yaml").write_text(OWN_FIXTURES % "from-option", encoding="utf-8")
    # pytest runs from pytester.path: the ini key is read relative to the ini file, the option to where pytest runs.
    assert keys_loaded(pytester, *only_memmock, "project") == ["from-ini"]
    assert keys_loaded(pytester, *only_memmock, "project", "--memmock-fixtures", "cli.yaml") == ["from-option"]


@pytest.mark.parametrize(("content", "problem"), [
    (None, "No such file or directory"),
    ("users: 5\n", 'users: Expected a list of items but got type "int".'),
])
def test_a_bad_fixtures_file_fails_the_tests_with_one_line(pytester: pytest.Pytester, only_memmock: tuple[str, ...],
                                                           content: str | None, problem: str) -> None:
    if content is not None:
        (pytester.path / "mine.yaml").write_text(content, encoding="utf-8")
    pytester.makepyfile(test_keys=TOKEN_KEYS)
    result = pytester.runpytest_subprocess(*only_memmock, "--memmock-fixtures", "mine.yaml")
    result.assert_outcomes(errors=1)
    # The error section of the test's setup is this one line.
    result.stdout.fnmatch_lines(["*ERROR at setup of test_tokens*",
                                 f"memmock: fixtures file {pytester.path / 'mine.yaml'}: {problem}",
                                 "*short test summary info*"], consecutive=True)
    assert "Traceback" not in result.stdout.str()


WORKER_SUITE = '''
import os

import httpx
import pytest


@pytest.mark.parametrize("n", range(8))
def test_own_state(memmock, n, tmp_path_factory):
    # Which mock each worker used, for the test that runs this suite.
    seen = tmp_path_factory.getbasetemp().parent / f"seen-{os.environ['PYTEST_XDIST_WORKER']}"
    seen.write_text(memmock.url)
    vai = {"Authorization": f"Bearer {memmock.vai_token()}"}
    memmock.reset()
    total = httpx.get(f"{memmock.url}/api/v1/memory", headers=vai).json()["total"]
    httpx.post(f"{memmock.url}/api/v1/memory", headers=vai, json={"content": f"test {n}"}).raise_for_status()
    assert httpx.get(f"{memmock.url}/api/v1/memory", headers=vai).json()["total"] == total + 1
'''


def test_each_xdist_worker_has_a_mock_of_its_own(pytester: pytest.Pytester, only_memmock: tuple[str, ...]) -> None:
    pytester.makepyfile(test_workers=WORKER_SUITE)
    base = pytester.path / "tmp"
    result = pytester.runpytest_subprocess(*only_memmock, "-n", "2", "--basetemp", str(base))
    result.assert_outcomes(passed=8)
    urls = {path.name: path.read_text() for path in base.glob("seen-gw*")}
    assert set(urls) == {"seen-gw0", "seen-gw1"}
    assert len(set(urls.values())) == 2, urls


def test_the_plugin_is_registered_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("memmock")
    assert plugin is not None and Path(plugin.__file__).name == "pytest_plugin.py"
