"""pytest wiring of the harness: options, the session Harness, cleanup, summary and HTML report."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .client import WriteGuard
from .config import DEFAULT_SEED, PROFILES, HarnessConfig, resolve_credentials
from .harness import ContractViolation, Harness
from .report import FailureRecord, Recorder

_STATE: dict[str, object] = {}


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
                    help="fuzz PUT/PATCH/DELETE on arbitrary ids of a target that is not a memmock")
    group.addoption("--spec-source", default="file", choices=("file", "served"),
                    help="contract from spec/ (default) or from the target's served specs")
    group.addoption("--memmock-invocation", default=None, help=argparse_suppress())


def argparse_suppress() -> str:
    """Help text of internal options (argparse.SUPPRESS hides them)."""
    import argparse

    return argparse.SUPPRESS


def _config(pc: pytest.Config) -> HarnessConfig:
    target = pc.getoption("--target") or os.environ.get("TARGET_URL") or None
    api = pc.getoption("--api")
    invocation = pc.getoption("--memmock-invocation") or _pytest_invocation()
    seed = pc.getoption("--seed")
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
        credentials=resolve_credentials(in_process=not target),
        invocation=invocation,
    )


def _pytest_invocation() -> str:
    """The command line without -k/--seed, so a replay line can add its own."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg in ("-k", "--seed"):
            skip = True
            continue
        if arg.startswith(("-k=", "--seed=")):
            continue
        args.append(arg)
    return "python -m pytest " + " ".join(shlex.quote(a) for a in args)


def pytest_configure(config: pytest.Config) -> None:
    """Register markers."""
    config.addinivalue_line("markers", "stateless: schemathesis over every operation")
    config.addinivalue_line("markers", "stateful: state machines with reference models")


@pytest.fixture(scope="session")
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The run's Harness: target (the in-process mock when none is given), guard, recorder, cleanup."""
    config = _config(request.config)
    recorder = Recorder()
    _STATE["recorder"], _STATE["config"] = recorder, config
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
    try:
        yield h
    finally:
        # Runs even when checks failed: delete everything tagged with this run.
        leftovers = h.cleanup()
        _STATE["leftovers"] = leftovers
        h.close()
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Keep every failure (rule, evidence, replay) for the HTML report."""
    report = yield
    recorder = _STATE.get("recorder")
    if call.excinfo is not None and report.failed and isinstance(recorder, Recorder):
        found = _violations(call.excinfo.value)
        if found:
            # The violation already carries rule, evidence (curl + response) and replay: show just that.
            notes = [n for n in getattr(call.excinfo.value, "__notes__", []) if "reproduce_failure" in n]
            report.longrepr = "\n\n".join([str(v) for v in found] + notes)
            for v in found:
                recorder.add_failure(FailureRecord(item.nodeid, v.rule, v.message, v.evidence, v.replay))
        else:
            recorder.add_failure(FailureRecord(item.nodeid, "error", str(call.excinfo.value)[:4000], [], ""))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run whose every check was skipped checked nothing: say so with a non-zero exit (5).

    Otherwise a pipeline with no credentials set would pass without sending a request.
    """
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or exitstatus != 0 or not _STATE.get("config"):
        return
    ran = len(reporter.stats.get("passed", [])) + len(reporter.stats.get("failed", []))
    if session.testscollected and not ran:
        reporter.write_line("memmock: nothing was checked: every check was skipped (see the reasons above)", red=True)
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    """The per-operation and per-check summary, and the HTML report."""
    recorder, hconfig = _STATE.get("recorder"), _STATE.get("config")
    if not isinstance(recorder, Recorder) or not isinstance(hconfig, HarnessConfig):
        return
    tr = terminalreporter
    tr.section("memmock conformance summary")
    tr.write_line(f"target: {_STATE.get('target')}   profile: {hconfig.profile}   seed: {hconfig.seed}   "
                  f"run tag: {hconfig.tag}" + (f"   mock fault: {hconfig.mock_fault}" if hconfig.mock_fault else ""))
    tr.write_line(recorder.text_summary(hconfig.apis))
    h = _STATE.get("harness")
    if isinstance(h, Harness):
        tr.write_line(f"unsafe requests sent: {h.guard.writes}" + (f" (cap {hconfig.max_writes}; cleanup DELETEs may go past it)" if hconfig.max_writes else "")
                      + ("   read-only" if hconfig.read_only else ""))
    if _STATE.get("leftovers"):
        tr.write_line(f"cleanup could not delete: {', '.join(_STATE['leftovers'])}", red=True)  # type: ignore[arg-type]
    if recorder.failures:
        tr.write_line("failed checks:", red=True)
        for rec in recorder.failures:
            tr.write_line(f"  {rec.rule}  ({rec.test})", red=True)
    if hconfig.report:
        outcome = "passed" if exitstatus == 0 else "failed"
        meta = {"target": str(_STATE.get("target")), "apis": ", ".join(hconfig.apis), "profile": hconfig.profile,
                "seed": str(hconfig.seed), "read-only": str(hconfig.read_only), "run tag": hconfig.tag,
                "mock fault": hconfig.mock_fault or "-", "command": hconfig.invocation}
        path = Path(hconfig.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(recorder.html(hconfig.apis, "memmock conformance report", outcome, meta), encoding="utf-8")
        tr.write_line(f"HTML report: {path}")
