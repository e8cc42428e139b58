"""What a failing `memmock check` writes: no credential anywhere, and replay lines that rerun exactly the failure.

The runs use the in-process mock with a fault (so checks fail) and its dev credentials.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from contract_tests.config import SECRET_VARS, read_dotenv
from contract_tests.inprocess import dev_credentials_file
from tests.paths import ROOT

TOKENS = {name: value for name, value in read_dotenv(dev_credentials_file()).items() if name in SECRET_VARS}


def memmock_check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """``memmock check ARGS`` in a subprocess, without the caller's credentials or target."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IBL_", "VAI_", "TARGET_URL", "MEMMOCK_"))}
    return subprocess.run([sys.executable, "-m", "mock_server", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def replay_lines(output: str) -> dict[str, str]:
    """The summary's replay line per failed check's test."""
    found = {}
    for test, replay in re.findall(r"^  \S.*?  \((\S+)\)\n    replay: (.+)$", output, re.M):
        found[test] = replay
    return found


def replayed(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a replay line as a user would paste it (its `memmock check` through this interpreter)."""
    argv = shlex.split(line)
    assert argv[:2] == ["memmock", "check"], line
    return memmock_check(*argv[2:], cwd=cwd)


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """The whole quick profile against a mock whose pages overlap, with JUnit and HTML reports."""
    out = tmp_path_factory.mktemp("reports")
    junit, report = out / "junit.xml", out / "report.html"
    return memmock_check("--mock-fault", "page-overlap", "--junit", str(junit), "--report", str(report)), junit, report


def test_no_credential_in_any_output(failing_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    """Terminal, JUnit and HTML hold evidence with $VARIABLE references, and no token value."""
    proc, junit, report = failing_run
    assert proc.returncode == 1, proc.stdout[-3000:]
    outputs = {"terminal": proc.stdout + proc.stderr, "junit": junit.read_text(encoding="utf-8"),
               "html": report.read_text(encoding="utf-8")}
    for where, text in outputs.items():
        for name, value in TOKENS.items():
            assert value not in text, f"{name}'s value appears in the {where} output"
        assert re.search(r"Api-Token \$IBL_(USER|ADMIN)_TOKEN", text), f"no redacted evidence in the {where} output"
        assert "memmock check --mock-fault page-overlap --api all" in text, f"no replay line in the {where} output"


def test_replay_reruns_only_the_failed_check(failing_run: tuple[subprocess.CompletedProcess[str], Path, Path],
                                             tmp_path: Path) -> None:
    """The replay line of a failed check runs that one check (from any directory) and it fails the same way."""
    proc, _, _ = failing_run
    lines = replay_lines(proc.stdout)
    test = "contract_tests/test_scenarios.py::test_artifact_pagination"
    assert test in lines, proc.stdout[-3000:]
    again = replayed(lines[test], tmp_path)
    final = again.stdout.strip().splitlines()[-1]
    assert again.returncode == 1 and re.fullmatch(r"=+ 1 failed(, \d+ warnings?)? in .*", final), again.stdout[-3000:]
    assert set(replay_lines(again.stdout)) == {test}


def test_replay_reruns_one_hypothesis_case(tmp_path: Path) -> None:
    """A schemathesis failure's replay names its hypothesis case: the rerun sends exactly that one case."""
    first = memmock_check("--mock-fault", "status-id-as-string", "--api", "ibl", "--",
                          "-k", "test_operation_conforms and chat_memory_status_update")
    lines = replay_lines(first.stdout)
    assert len(lines) == 1, first.stdout[-3000:]
    (line,) = lines.values()
    assert "--hypothesis-case " in line and "--replay 'contract_tests/test_stateless.py::" in line
    again = replayed(line, tmp_path)
    assert again.returncode == 1, again.stdout[-3000:]
    # One case: each schemathesis check evaluated exactly once, and the same one fails.
    assert re.search(r"FAIL +schemathesis\.response_schema_conformance +1 / 1$", again.stdout, re.M), again.stdout[-3000:]
    assert re.search(r"ok +schemathesis\.not_a_server_error +1 / 0$", again.stdout, re.M), again.stdout[-3000:]
