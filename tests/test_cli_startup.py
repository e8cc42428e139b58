"""memmock serve's start: one line naming the file or address at fault (exit 2), the version, the banner once bound."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

import mock_server
from mock_server import app as app_module
from mock_server.cli import main


def serve_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``memmock serve ARGS`` in-process: it must refuse to start with exit 2, print no banner, and one line."""
    assert main(["serve", "--port", "0", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "", "nothing is announced before the mock listens"
    assert err.count("\n") == 1 and err.startswith("memmock: error: "), err
    assert "Traceback" not in err
    return err.removeprefix("memmock: error: ").rstrip("\n")


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("syntax.yaml", "users: [\n  - a", "YAML syntax error at line 2, column 3: did not find expected node content"),
    ("shape.yaml", "users: 5\n", 'users: Expected a list of items but got type "int".'),
    ("nested.yaml", "tokens:\n  ibl:\n    - {org: main, username: u}\n",
     "tokens.ibl[0].key: This field is required."),
    ("list.yaml", "- 1\n", 'the document: Expected a dictionary of items but got type "list".'),
    ("empty.yaml", "", "is empty (a fixtures document is a mapping: users, tokens, ...)"),
    ("bad.json", '{"users": 5', "not valid JSON: Expecting ',' delimiter: line 1 column 12 (char 11)"),
    ("shape.json", '{"users": 5}', 'users: Expected a list of items but got type "int".'),
    ("binary.yaml", b"\xff\xfe", "not UTF-8 text (byte 0: invalid start byte)"),
])
def test_a_bad_fixtures_file_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                                    content: str | bytes, problem: str) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    assert serve_error(capsys, "--fixtures", str(path)) == f"fixtures file {path}: {problem}"


def test_many_problems_are_counted_not_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "many.yaml"
    path.write_text("tokens:\n  ibl:\n" + "    - {}\n" * 4, encoding="utf-8")  # 3 required fields missing in each
    line = serve_error(capsys, "--fixtures", str(path))
    assert line.count("This field is required.") == 3 and line.endswith("(and 9 more)")


def test_a_missing_fixtures_file_or_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.yaml"
    assert serve_error(capsys, "--fixtures", str(missing)) == f"fixtures file {missing}: No such file or directory"
    assert serve_error(capsys, "--fixtures", str(tmp_path)) == f"fixtures file {tmp_path}: is a folder, not a file"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_taken_port_is_one_line_and_no_banner(capsys: pytest.CaptureFixture[str], taken_port: int) -> None:
    assert main(["serve", "--port", str(taken_port)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"memmock: error: cannot listen on 127.0.0.1:{taken_port}: the port is taken (another server "
                   "listens there; choose another with --port, or --port 0 for any free one)\n")


def test_debug_adds_the_traceback(capsys: pytest.CaptureFixture[str], taken_port: int) -> None:
    assert main(["serve", "--port", str(taken_port), "--debug"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.endswith("the port is taken (another server listens there; choose "
                                                          "another with --port, or --port 0 for any free one)\n")


@pytest.mark.parametrize(("content", "problem"), [
    (None, "No such file or directory"),
    ("openapi: [\n", "YAML syntax error at line 2, column 1: did not find expected node content"),
    ("- a list\n", "not an OpenAPI document (expected a mapping, got list)"),
    ("info: {title: x}\n", ("not a valid OpenAPI document: Unable to get the spec version. You are missing either "
                            "'\"swagger\": \"2.0\"' or '\"openapi\": \"3.0.0\"' from the top level of your spec.")),
])
def test_an_unreadable_spec_is_one_line_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], content: str | None,
                                                   problem: str) -> None:
    spec = tmp_path / "ibl-data-manager.yaml"  # the first spec the mock loads
    if content is not None:
        spec.write_text(content, encoding="utf-8")
    monkeypatch.setattr(app_module, "SPEC_DIR", tmp_path)
    assert serve_error(capsys, "--no-fixtures") == f"spec {spec}: {problem}"


def test_the_console_script_exits_2_without_a_traceback(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "mock_server", "serve", "--fixtures", str(tmp_path / "no.yaml")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == f"memmock: error: fixtures file {tmp_path / 'no.yaml'}: No such file or directory\n"


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"memmock {version('memmock')}\n"
    assert mock_server.__version__ == version("memmock")


def start_serving(*args: str, code: str | None = None) -> tuple[subprocess.Popen[str], str]:
    """``memmock serve --port 0 ARGS`` in a subprocess (or ``code`` run with ARGS), and its base URL from the banner."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMMOCK_")}
    command = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "mock_server", "serve", "--port", "0",
                                                                 *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    found = re.fullmatch(r"memmock (\S+) listening on (http://127\.0\.0\.1:(\d+))  \(auth: tokens, strict: False\)\n",
                         first)
    if found is None:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(first + err)
    assert found.group(1) == mock_server.__version__ and found.group(3) != "0"
    return proc, found.group(2)


@pytest.mark.parametrize("server", [[], ["--server", "uvicorn"]], ids=["granian", "uvicorn"])
def test_port_0_banner_names_the_bound_port_and_version(server: list[str]) -> None:
    proc, url = start_serving(*server)
    try:
        # The banner comes once the address answers: connections wait for the server to accept them.
        health = httpx.get(f"{url}/_mock/health", timeout=30).json()
        assert (health["status"], health["version"]) == ("ok", mock_server.__version__)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_sigterm_stops_granian_after_the_request_in_flight() -> None:
    proc, url = start_serving()
    port = int(url.rsplit(":", 1)[1])
    body = b'{"content": "sent as the mock stops"}'
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /api/v1/memory HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer dev-vai-virtuous-dev-0001\r\nContent-Length: %d\r\n\r\n" % len(body)
                     + body[:10])
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        sock.sendall(body[10:])
        assert sock.recv(4096).startswith(b"HTTP/1.1 201 ")
    proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_without_granian_the_mock_serves_on_uvicorn_with_a_notice() -> None:
    # None in sys.modules: any import of granian fails, as where it has no wheel.
    code = ("import sys; sys.modules['granian'] = None; from mock_server.cli import main; "
            "sys.exit(main(['serve', '--port', '0', *sys.argv[1:]]))")
    proc, url = start_serving(code=code)
    try:
        assert httpx.get(f"{url}/_mock/health", timeout=30).json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    notices = [line for line in err.splitlines() if line.startswith("memmock: ")]
    assert len(notices) == 1 and re.fullmatch(r"memmock: granian cannot be imported here \(.+\); serving on uvicorn",
                                              notices[0]), err


def test_asking_for_granian_where_it_cannot_be_imported_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("mock_server.listen.GRANIAN_MISSING", "No module named 'granian'")
    assert serve_error(capsys, "--server", "granian") == ("granian cannot be imported here (No module named "
                                                          "'granian'); use --server uvicorn")


def test_an_unknown_server_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMMOCK_SERVER", "hypercorn")
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "0"])
    assert info.value.code == 2
    with pytest.raises(SystemExit):
        main(["serve", "--server", "hypercorn"])
