"""The ``memmock`` command: ``memmock serve`` runs the mock."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .settings import (AUTH_MODES, FSYNC_POLICIES, LOG_LEVELS, Settings, StartupError, environment_variables,
                       is_loopback)

if TYPE_CHECKING:
    from .store import Store

SERVERS = ("granian", "uvicorn")
SERVER_VARIABLE = "MEMMOCK_SERVER"  # the server is the CLI's choice, not a setting of the app

# connexion imports starlette's test client at import time, which warns about httpx; not our users' concern.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


def _serve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser(
        "serve",
        help="run the mock server",
        description="Run the mock. Every flag can also be set as a MEMMOCK_* variable "
        f"({', '.join([*environment_variables(), SERVER_VARIABLE])}); flags win.",
    )
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--fixtures", type=Path, help="fixtures file to load (default: the bundled dev fixtures)")
    serve.add_argument("--no-fixtures", action="store_true", default=None, help="start with empty state and no tokens")
    serve.add_argument("--auth", choices=AUTH_MODES, help="'tokens' (default): fixture tokens only; 'open': any credential of the right form")
    serve.add_argument("--strict", action="store_true", default=None, help="validate every response against the spec (500 on a violation)")
    serve.add_argument("--log-level", choices=LOG_LEVELS, help="server and memmock log level (default warning)")
    serve.add_argument("--body-limit", type=int, help="largest request body in bytes (default 1048576)")
    serve.add_argument("--no-cors", dest="cors", action="store_false", default=None, help="turn CORS off (on by default)")
    serve.add_argument("--server", choices=SERVERS, help="HTTP server in front: granian (default; uvicorn where granian cannot be imported) or "
                       "uvicorn")
    serve.add_argument("--header-timeout", type=float, metavar="SECONDS", help="time a request's header "
                       "block may take to arrive, from its first byte (default 10); later: 408 on uvicorn, the "
                       "connection closed on granian")
    serve.add_argument("--body-timeout", type=float, metavar="SECONDS", help="time a request's body may take "
                       "to arrive, from the end of its headers (default 10); later: 408")
    serve.add_argument("--max-items", type=int, help="items the store may hold in all (records, artifact "
                       "versions, chat messages; default 1000000); a create past it answers 409")
    serve.add_argument("--max-namespaces", type=int, metavar="N", help="named namespaces kept (X-Memmock-Namespace; default 100); "
                       "past it the least recently used is dropped")
    serve.add_argument("--journal-size", type=int, metavar="N", help="requests the journal keeps for GET "
                       "/_mock/requests (default 1000; 0 turns it off)")
    serve.add_argument("--journal-bytes", type=int, metavar="N", help="what the journal may hold, about "
                       "(default 8388608); past it the oldest requests go")
    serve.add_argument("--journal-body-bytes", type=int, metavar="N", help="bytes of each request and "
                       "response body the journal keeps (default 4096)")
    serve.add_argument("--admin-token", help="token every /_mock request must send as 'Authorization: Bearer "
                       "<token>'; required with a --host beyond loopback")
    serve.add_argument("--admin-host", dest="admin_hosts", action="append", metavar="NAME",
                       help="a Host name /_mock also answers on a loopback bind (repeatable; default: "
                       "127.0.0.1, localhost, *.localhost and [::1] only)")
    serve.add_argument("--latency", metavar="SPEC", help="delay every request to both APIs: 50ms, 0.2s, "
                       "uniform:20ms-80ms or lognormal:median=50ms,sigma=0.5 (at most 60 s; per namespace and "
                       "operation: /_mock/behaviour; per request: Prefer: delay=MS)")
    serve.add_argument("--debug", action="store_true", help="show the traceback of a startup error, not just its line")
    serve.add_argument("--state-file", type=Path, metavar="FILE", help="keep the state in FILE (a snapshot) and "
                       "FILE.log (every write since): it survives a restart and kill -9")
    serve.add_argument("--fsync", choices=FSYNC_POLICIES, help="with --state-file: 'always' (default): a write's "
                       "reply waits until it is synced to disk; 'never': until it is written (the OS syncs; survives "
                       "kill -9, not a power cut)")
    serve.add_argument("--compact-bytes", type=int, metavar="N", help="with --state-file: a new snapshot once the "
                       "log passes N bytes and the snapshot's size (default 8388608)")
    serve.add_argument("--watch", action="store_true", default=None, help="reload the fixtures file when it "
                       "changes, into the namespaces no write has changed since it was loaded")
    serve.add_argument("--seed", type=int, help="seed of generated UUIDs (default: a fresh one per start, printed "
                       "in the banner; the same seed, fixtures and calls give the same ids)")
    from .faults import fault_names  # lazy, as the app: only the CLI and faulty mocks load it

    serve.add_argument("--fault", metavar="NAME", help="break the contract on purpose, to test a conformance "
                       f"harness (off by default); one of: {', '.join(fault_names())}")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed flags over ``MEMMOCK_*`` variables."""
    overrides = {
        "host": args.host,
        "port": args.port,
        "fixtures": args.fixtures,
        "auth": args.auth,
        "strict": args.strict,
        "log_level": args.log_level,
        "body_limit": args.body_limit,
        "cors": args.cors,
        "fault": args.fault,
        "latency": args.latency,
        "seed": args.seed,
        "max_items": args.max_items,
        "max_namespaces": args.max_namespaces,
        "header_timeout": args.header_timeout,
        "body_timeout": args.body_timeout,
        "journal_size": args.journal_size,
        "journal_bytes": args.journal_bytes,
        "journal_body_bytes": args.journal_body_bytes,
        "admin_token": args.admin_token,
        "admin_hosts": tuple(args.admin_hosts) if args.admin_hosts else None,
        "state_file": args.state_file,
        "fsync": args.fsync,
        "compact_bytes": args.compact_bytes,
        "watch": args.watch,
    }
    settings = Settings.from_env(**overrides)
    if args.no_fixtures:
        settings = settings.with_(fixtures=None)
    return settings


def server_from_args(args: argparse.Namespace) -> str | None:
    """The server ``--server`` (over ``MEMMOCK_SERVER``) names; None: granian where it can be imported."""
    chosen = args.server or os.environ.get(SERVER_VARIABLE, "").strip().lower() or None
    if chosen not in (None, *SERVERS):
        raise ValueError(f"MEMMOCK_SERVER must be one of {', '.join(SERVERS)}, not {chosen!r}")
    return chosen


def banner(settings: Settings, port: int, store: Store) -> str:
    """What ``serve`` prints on start: where each API and its docs are, and the dev tokens."""
    from .app import APIS

    base = f"http://{settings.host}:{port}"
    lines = [f"memmock {__version__} listening on {base}  (auth: {settings.auth}, strict: {settings.strict})"]
    if settings.fault:
        lines.append(f"FAULT INJECTED: {settings.fault!r}: this mock breaks its contract on purpose")
    if settings.admin_token:
        lines.append("admin plane /_mock: every request needs 'Authorization: Bearer <the admin token>'")
    if is_loopback(settings.host):
        names = ", ".join(("127.0.0.1", "localhost", "[::1]", *settings.admin_hosts))
        lines.append(f"admin plane /_mock: answers only a loopback Host ({names}); no CORS; writes need JSON")
    for api in APIS:
        lines.append(f"  {api.title:<24} docs {base}{api.docs_path}/   spec {base}{api.spec_path}")
    lines.append(f"  ibl base path            {base}/api/ai-prompt|ai-mentor|ai-analytics/orgs/<org>/users/<user>/...")
    lines.append(f"  VirtuousAI base path     {base}/api/v1/memory")
    lines.append(f"  generated UUIDs          seed {store.ids.seed} (--seed {store.ids.seed} gives this run's ids again)")
    if settings.fixtures:
        lines.append(f"dev tokens (from {settings.fixtures}):")
        for key, principal in store.credentials.ibl_tokens.items():
            role = "admin" if principal.is_admin else "user"
            lines.append(f"  ibl  Authorization: Api-Token {key}   ({role} {principal.username} of org {principal.org})")
        for key, vai in store.credentials.vai_tokens.items():
            lines.append(f"  vai  Authorization: Bearer {key}   (organization {vai.organization_id}, {vai.name})")
    else:
        lines.append("no fixtures loaded: no tokens (use --auth open, or PUT /_mock/state)")
    return "\n".join(lines)


def startup_warnings(settings: Settings) -> list[str]:
    """What ``serve`` warns about on stderr before it listens."""
    if settings.auth == "open" and not is_loopback(settings.host):
        return [f"WARNING: --auth open on --host {settings.host}: anyone who reaches this port reads and writes "
                "every API's data with any credential of the right form"]
    return []


def serve(settings: Settings, server: str | None = None) -> int:
    """Run the mock until interrupted, on ``server`` (default granian); StartupError when it cannot start
    (nothing is announced before the address answers)."""
    from .app import create_app
    from .heap import serve_gc, settle_heap
    from .listen import GRANIAN_MISSING, listen, run_granian, uvicorn_server

    if GRANIAN_MISSING is not None and server != "uvicorn":
        if server == "granian":
            raise StartupError(f"granian cannot be imported here ({GRANIAN_MISSING}); use --server uvicorn")
        print(f"memmock: granian cannot be imported here ({GRANIAN_MISSING}); serving on uvicorn", file=sys.stderr,
              flush=True)
        server = "uvicorn"
    app = create_app(settings)
    sock = listen(settings.host, settings.port)
    # Measured on POST chat-history at 32 connections (wrk, 5 s): p99 12-14 ms with 20 ms
    # collection pauses before, 6-8 ms after.
    serve_gc()
    settle_heap()
    for warning in startup_warnings(settings):
        print(warning, file=sys.stderr, flush=True)
    port = sock.getsockname()[1]

    def announce() -> None:
        print(banner(settings, port, app.state.store), flush=True)

    if server == "uvicorn":
        announce()
        uvicorn_server(app, settings).run(sockets=[sock])
    else:
        run_granian(app, settings, sock, announce)
    return 0


def _check_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    check = sub.add_parser(
        "check",
        help="run the conformance harness against a server",
        description="Check a server against the contract (the pytest suite in contract_tests/). Without "
        "--target (or TARGET_URL) the mock is started in-process. Credentials come from IBL_ORG, IBL_USER, "
        "IBL_USER_TOKEN, IBL_ADMIN_TOKEN, IBL_OTHER_ORG, IBL_OTHER_ORG_TOKEN, VAI_TOKEN, VAI_OTHER_TOKEN, "
        "as environment variables or in a --credentials file (the environment wins); checks whose credentials "
        "are missing are skipped. Nothing that existed before the run is changed or deleted without "
        "--allow-destructive. Exit 0 when the target conforms, 1 on a failure, 5 when nothing was checked.",
    )
    check.add_argument("--target", help="base URL of the server under test (default: TARGET_URL, else in-process mock)")
    check.add_argument("--api", choices=("ibl", "virtuousai", "all"), default="all", help="which API to check")
    check.add_argument("--credentials", metavar="FILE", help="dotenv file of the credential variables")
    check.add_argument("--read-only", action="store_true", help="send only GET/HEAD/OPTIONS")
    check.add_argument("--max-writes", type=int, help="cap on unsafe requests; write checks past it are skipped")
    check.add_argument("--seed", type=int, help="Hypothesis seed (runs are reproducible with it)")
    check.add_argument("--max-examples", type=int, help="examples per operation / state machine")
    check.add_argument("--profile", choices=("quick", "deep"), default="quick", help="quick (default) or deep")
    check.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
    check.add_argument("--report", metavar="FILE", help="write a self-contained HTML report")
    check.add_argument("--baseline", metavar="FILE",
                       help="YAML of known deviations (check, operation, reason): only other failures fail the run")
    check.add_argument("--fail-on-uncovered", action="store_true",
                       help="exit 1 when an operation never answered a 2xx")
    check.add_argument("--mock-fault", metavar="NAME", help="in-process mock only: inject this fault")
    check.add_argument("--allow-destructive", action="store_true",
                       help="let checks change or delete what existed before the run (implied for the in-process mock)")
    check.add_argument("--spec-source", choices=("file", "served"), help="contract from spec/ (default) or as served")
    check.add_argument("--replay", metavar="NODEID", help="rerun only this check (as a replay line gives it)")
    check.add_argument("--hypothesis-case", metavar="BLOB", help="and only this hypothesis case of it")
    check.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --), e.g. -- -k pagination")


def check(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """Run the harness with pytest.main; its exit code is ours."""
    import os
    import shlex
    from importlib.resources import as_file, files

    import pytest

    given = list(sys.argv[1:] if argv is None else argv)
    with as_file(files("contract_tests")) as harness:
        # The folder holding the harness package is pytest's rootdir, so node ids (and replays) read
        # contract_tests/...; no config file is read (-c devnull): the pytest settings of a project
        # around the current folder or the virtual environment are not the harness's.
        root = harness.parent
        selected = str(root / args.replay) if args.replay else str(harness)
        opts = [selected, "--rootdir", str(root), "-c", os.devnull, "-p", "no:cacheprovider",
                "-W", "ignore::DeprecationWarning:starlette.*",
                "-W", "ignore:Using `httpx` with `starlette.testclient`:DeprecationWarning",
                # memmock imported anyio (a pytest plugin too) before pytest started: nothing to rewrite there
                "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
                "-o", "addopts=-ra --strict-markers", "-v", "--tb=short",
                "--api", args.api, "--profile", args.profile, "--memmock-invocation", shlex.join(["memmock", *given])]
        for flag, value in (("--target", args.target), ("--max-writes", args.max_writes), ("--seed", args.seed),
                            ("--max-examples", args.max_examples), ("--report", args.report),
                            ("--mock-fault", args.mock_fault), ("--junitxml", args.junit),
                            ("--credentials", args.credentials), ("--baseline", args.baseline),
                            ("--spec-source", args.spec_source), ("--hypothesis-case", args.hypothesis_case)):
            if value is not None:
                opts += [flag, str(value)]
        for flag, on in (("--read-only", args.read_only), ("--allow-destructive", args.allow_destructive),
                         ("--fail-on-uncovered", args.fail_on_uncovered)):
            if on:
                opts.append(flag)
        return int(pytest.main(opts + list(args.pytest_args)))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``memmock`` console script."""
    parser = argparse.ArgumentParser(prog="memmock", description="Contract-driven mock of the ibl.ai and VirtuousAI memory APIs.")
    parser.add_argument("--version", action="version", version=f"memmock {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    _check_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(settings_from_args(args), server_from_args(args))
        if args.command == "check":
            return check(args, argv)
    except StartupError as exc:  # a file or address the mock cannot use: one line, unless --debug asks for more
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"memmock: error: {exc}", file=sys.stderr)
    except ValueError as exc:  # bad settings: say which, not a traceback
        parser.error(str(exc))
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
