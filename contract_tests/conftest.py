"""pytest wiring of the harness: options, the session Harness, cleanup, redacted reports, summary and exit status."""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .client import INTERRUPTS, WriteGuard, redact, set_secrets, with_line_numbers
from .config import DEFAULT_SEED, PROFILES, ConfigError, HarnessConfig, load_baseline, resolve_credentials
from .harness import ContractViolation, Harness
from .report import FailureRecord, Recorder

_STATE: dict[str, Any] = {}
_BLOB = re.compile(r"@reproduce_failure\('[^']+', b'([^']+)'\)")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The harness options (also reachable through ``memmock check``)."""
    group = parser.getgroup("memmock", "memmock conformance harness")
    group.addoption("--target", default=None, help="base URL of the server under test (env TARGET_URL); "
                    "without it the mock is started in-process")
    group.addoption("--api", default="all", choices=("ibl", "virtuousai", "all"), help="which API to check")
    group.addoption("--read-only", action="store_true", default=False, help="send only GET/HEAD/OPTIONS")
    group.addoption("--max-writes", type=int, default=None, help="cap on unsafe requests (over it: write checks skipped)")
    group.addoption("--seed", type=int, default=None, help=f"Hypothesis seed (default {DEFAULT_SEED})")
    group.addoption("--max-examples", type=int, default=None, help="examples per operation / state machine")
    group.addoption("--profile", default="quick", choices=tuple(PROFILES), help="quick (default) or deep")
    group.addoption("--report", default=None, help="write a self-contained HTML report here")
    group.addoption("--mock-fault", default=None, help="in-process mock only: start it with this fault (MEMMOCK_FAULT)")
    group.addoption("--allow-destructive", action="store_true", default=False,
                    help="let checks change or delete what existed before the run (implied for the in-process mock)")
    group.addoption("--credentials", default=None, metavar="FILE",
                    help="dotenv file with IBL_*/VAI_* credentials (environment variables win over it)")
    group.addoption("--baseline", default=None, metavar="FILE",
                    help="YAML file of known deviations (check, operation, reason): only other failures fail the run")
    group.addoption("--fail-on-uncovered", action="store_true", default=False,
                    help="exit 1 when an operation of the APIs under test never answered a 2xx")
    group.addoption("--hypothesis-case", default=None, metavar="BLOB",
                    help="rerun only this hypothesis case (the blob a replay line gives)")
    group.addoption("--spec-source", default="file", choices=("file", "served"),
                    help="contract from spec/ (default) or from the target's served specs")
    group.addoption("--memmock-invocation", default=None, help=argparse_suppress())


def argparse_suppress() -> str:
    """Help text of internal options (argparse.SUPPRESS hides them)."""
    import argparse

    return argparse.SUPPRESS


def _config(pc: pytest.Config) -> HarnessConfig:
    from .safety import Contract

    target = pc.getoption("--target") or os.environ.get("TARGET_URL") or None
    api = pc.getoption("--api")
    invocation = pc.getoption("--memmock-invocation")
    seed = pc.getoption("--seed")
    credentials_file = pc.getoption("--credentials")
    baseline = pc.getoption("--baseline")
    try:
        credentials = resolve_credentials(in_process=not target,
                                          file=Path(credentials_file) if credentials_file else None)
        entries = load_baseline(Path(baseline), Contract().by_id) if baseline else []
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    return HarnessConfig(
        target=target.rstrip("/") if target else None,
        apis=("ibl", "virtuousai") if api == "all" else (api,),
        read_only=pc.getoption("--read-only"),
        max_writes=pc.getoption("--max-writes"),
        seed=DEFAULT_SEED if seed is None else seed,
        profile=pc.getoption("--profile"),
        max_examples=pc.getoption("--max-examples"),
        report=pc.getoption("--report"),
        mock_fault=pc.getoption("--mock-fault") or os.environ.get("MEMMOCK_FAULT") or None,
        allow_destructive=pc.getoption("--allow-destructive"),
        spec_source=pc.getoption("--spec-source"),
        credentials=credentials,
        credentials_file=credentials_file,
        baseline=entries,
        fail_on_uncovered=pc.getoption("--fail-on-uncovered"),
        hypothesis_case=pc.getoption("--hypothesis-case"),
        invocation=invocation or "python -m pytest " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        cli=invocation is not None,
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register markers; read the options once, so that redaction covers every report from the start."""
    config.addinivalue_line("markers", "stateless: schemathesis over every operation")
    config.addinivalue_line("markers", "stateful: state machines with reference models")
    hconfig = _config(config)
    _STATE["config"] = hconfig
    set_secrets(hconfig.secrets())


@pytest.fixture(scope="session")
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The run's Harness: target (the in-process mock when none is given), guard, recorder, cleanup."""
    config: HarnessConfig = _STATE["config"]
    recorder = Recorder()
    _STATE["recorder"] = recorder
    mock = None
    if config.target is None:
        from .inprocess import start_mock

        mock = start_mock(fault=config.mock_fault)
        target = mock.url
    else:
        if config.mock_fault:
            pytest.exit("--mock-fault only applies to the in-process mock (start yours with `memmock serve --fault`)", 2)
        target = config.target
    _STATE["target"] = target
    guard = WriteGuard(read_only=config.read_only, max_writes=config.max_writes)
    h = Harness(config=config, target=target, recorder=recorder, guard=guard)
    h.admin_plane = _has_admin_plane(target)
    if config.spec_source == "served":
        _use_served_specs(h)
    _STATE["harness"] = h
    INTERRUPTS.install()  # Ctrl-C and SIGTERM end the run through this fixture's cleanup
    try:
        yield h
    finally:
        # Runs after failures and interrupts too: delete what the run created, put settings back.
        _STATE["leftovers"] = h.cleanup()
        h.close()
        INTERRUPTS.uninstall()
        if mock is not None:
            mock.stop()


def _has_admin_plane(target: str) -> bool:
    """Whether the target is a memmock exposing /_mock (GET /_mock/health answers status ok)."""
    try:
        response = httpx.get(f"{target}/_mock/health", timeout=5)
        return response.status_code == 200 and response.json().get("status") == "ok"
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def _use_served_specs(h: Harness) -> None:
    from . import specs

    for api in h.config.apis:
        response = h.client.get(specs.SERVED_SPECS[api])
        if response.status_code != 200:
            pytest.exit(f"--spec-source served: GET {specs.SERVED_SPECS[api]} answered {response.status_code}", 2)
        specs.override_contract(api, response.json())


@pytest.fixture(autouse=True)
def _current_test(request: pytest.FixtureRequest) -> None:
    """Tell the harness which test runs, for replay lines."""
    h = _STATE.get("harness")
    if isinstance(h, Harness):
        h.current_test = request.node.nodeid


def _violations(exc: BaseException | None, depth: int = 0) -> list[ContractViolation]:
    """The ContractViolations behind a failure (also inside Hypothesis' Flaky* wrappers and groups)."""
    if exc is None or depth > 8:
        return []
    if isinstance(exc, ContractViolation):
        return [exc]
    if isinstance(exc, BaseExceptionGroup):
        return [v for sub in exc.exceptions for v in _violations(sub, depth + 1)]
    return _violations(exc.__cause__ or exc.__context__, depth + 1)


def _case_blob(exc: BaseException) -> str | None:
    """The hypothesis case a failure came from (the reproduce_failure blob hypothesis noted), if any."""
    for note in getattr(exc, "__notes__", []):
        if match := _BLOB.search(note):
            return match.group(1)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep every failure (rule, evidence, replay of exactly that case) and redact what the report shows."""
    report = yield
    recorder = _STATE.get("recorder")
    config: HarnessConfig | None = _STATE.get("config")
    if call.excinfo is not None and report.failed and isinstance(recorder, Recorder) and config is not None:
        exc = call.excinfo.value
        replay = config.replay_command(item.nodeid, _case_blob(exc))
        found = _violations(exc)
        if found:
            # The violation already carries rule and evidence (curl + response): show just that, and the replay.
            report.longrepr = "\n\n".join(v.render(replay) for v in found)
            for v in found:
                recorder.add_failure(FailureRecord(item.nodeid, v.rule, v.message, v.evidence, replay, v.operation))
        else:
            recorder.add_failure(FailureRecord(item.nodeid, "error", str(exc)[:4000], [], replay))
            report.longrepr = f"{report.longrepr}\nReplay: {replay}"
    _redact_report(report)
    return report


def _redact_report(report: pytest.TestReport) -> None:
    """No credential in what pytest prints or writes (terminal, JUnit): the longrepr and captured output."""
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:  # a skip: (path, line, reason)
        path, line, reason = report.longrepr
        report.longrepr = (path, line, redact(str(reason)))
    elif report.longrepr is not None:
        report.longrepr = redact(str(report.longrepr))
    report.sections = [(title, redact(text)) for title, text in report.sections]
    if hasattr(report, "wasxfail"):
        report.wasxfail = redact(str(report.wasxfail))


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session):  # type: ignore[no-untyped-def]
    """An interrupt leaves the loop with a traceback pytest can print (see ``with_line_numbers``)."""
    try:
        return (yield)
    except KeyboardInterrupt as exc:
        raise exc.with_traceback(with_line_numbers(exc.__traceback__))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Exit status beyond pytest's: 5 when every check was skipped; 1 for --fail-on-uncovered.

    A pipeline with no credentials set would otherwise pass without sending a request.
    """
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    config: HarnessConfig | None = _STATE.get("config")
    recorder = _STATE.get("recorder")
    if reporter is None or exitstatus != 0 or config is None or not isinstance(recorder, Recorder):
        return
    ran = len(reporter.stats.get("passed", [])) + len(reporter.stats.get("failed", []))
    if session.testscollected and not ran:
        reporter.write_line("memmock: nothing was checked: every check was skipped (see the reasons above)", red=True)
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
    elif config.fail_on_uncovered and recorder.uncovered(config.apis):
        _STATE["uncovered_failed"] = True
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    """The per-operation and per-check summary, the baseline's effect, leftovers, and the HTML report."""
    recorder, hconfig = _STATE.get("recorder"), _STATE.get("config")
    if not isinstance(recorder, Recorder) or not isinstance(hconfig, HarnessConfig):
        return
    tr = terminalreporter

    def line(text: str, **markup: bool) -> None:
        tr.write_line(redact(text), **markup)

    tr.section("memmock conformance summary")
    line(f"target: {_STATE.get('target')}   profile: {hconfig.profile}   seed: {hconfig.seed}   "
         f"run tag: {hconfig.tag}" + (f"   mock fault: {hconfig.mock_fault}" if hconfig.mock_fault else ""))
    line(recorder.text_summary(hconfig.apis))
    notes = []
    h = _STATE.get("harness")
    if isinstance(h, Harness):
        line(f"unsafe requests sent: {h.guard.writes}" + (f" (cap {hconfig.max_writes}; cleanup DELETEs may go past it)"
                                                          if hconfig.max_writes else "")
             + ("   read-only" if hconfig.read_only else "") + (f"   not sent (safety): {h.guard.refused}"
                                                               if h.guard.refused else ""))
        line(f"cleanup: {sum(1 for o in h.safety.owned.values())} objects created by the run, all removed"
             if not _STATE.get("leftovers") else "cleanup: see below")
    if _STATE.get("leftovers"):
        notes.append(f"left behind: {', '.join(_STATE['leftovers'])}")
        line(notes[-1], red=True)
    if _STATE.get("uncovered_failed"):
        notes.append(f"--fail-on-uncovered: {len(recorder.uncovered(hconfig.apis))} operations never answered a 2xx")
        line(notes[-1], red=True)
    if recorder.known:
        line("known deviations (baseline), not failures:", yellow=True)
        for k in recorder.known.values():
            line(f"  {k.rule} on {k.operation}  x{k.times}: {k.reason}", yellow=True)
    stale = [e for e in hconfig.baseline if not e.seen]
    if stale:
        line("baseline entries that did not occur in this run (remove them once fixed):", yellow=True)
        for entry in stale:
            line(f"  {entry.describe()}", yellow=True)
    if recorder.failures:
        line("failed checks:", red=True)
        for rec in recorder.failures:
            line(f"  {rec.rule}  ({rec.test})", red=True)
            line(f"    replay: {rec.replay}")
    if hconfig.report:
        failed = exitstatus != 0 or bool(recorder.failures) or bool(_STATE.get("uncovered_failed"))
        meta = {"target": str(_STATE.get("target")), "apis": ", ".join(hconfig.apis), "profile": hconfig.profile,
                "seed": str(hconfig.seed), "read-only": str(hconfig.read_only), "run tag": hconfig.tag,
                "mock fault": hconfig.mock_fault or "-", "command": hconfig.invocation}
        path = Path(hconfig.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(recorder.html(hconfig.apis, "memmock conformance report", "failed" if failed else "passed",
                                      meta, notes), encoding="utf-8")
        line(f"HTML report: {path}")
