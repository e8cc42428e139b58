"""The harness's HTTP layer: ONE write guard for every request, exchange records, redacted renderings.

Both transports the harness uses go through ``WriteGuard.sending``: the httpx client of the state
machines (its transport) and the requests session schemathesis sends with (``GuardedSession.send``).
``sending`` raises before anything unsafe leaves the process in read-only mode, counts unsafe
requests against ``--max-writes``, asks the safety gate whether the request may touch what it
addresses, and hands every answer to an unsafe request to the tracker (what it created is then
removed at the end). While an unsafe request is in flight, Ctrl-C and SIGTERM wait for its answer
to be tracked, so an interrupted run still knows everything it created.

Every rendering of a request or response (curl commands, evidence, reports) passes through
``redact``, which shows each credential as the name of its variable.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ReadOnlyViolation(RuntimeError):
    """An unsafe request was about to be sent in read-only mode (a harness bug, never sent)."""


class WriteBudgetExhausted(Exception):
    """``--max-writes`` is used up; the test that wanted to write is skipped."""


class Refused(Exception):
    """The safety gate did not send a request: it could change data that existed before the run."""


# ------------------------------------------------------------------------------------- redaction
class Redactor:
    """Replaces each secret value with ``$NAME``, its variable's name."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        by_value = {value: name for name, value in (secrets or {}).items() if value}
        self._names = by_value
        # Longest first, so a token that contains another is replaced whole.
        self._pattern = re.compile("|".join(re.escape(v) for v in sorted(by_value, key=len, reverse=True))) \
            if by_value else None

    @property
    def names(self) -> frozenset[str]:
        """The variable names a redacted text may show."""
        return frozenset(self._names.values())

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: "$" + self._names[m.group(0)], text)


_REDACTOR = Redactor()


def set_secrets(secrets: Mapping[str, str]) -> None:
    """Make ``redact`` replace these values (variable name -> value) from now on."""
    global _REDACTOR
    _REDACTOR = Redactor(secrets)


def redact(text: str) -> str:
    """``text`` with every configured credential shown as ``$VARIABLE``: the one place outputs pass through."""
    return _REDACTOR(text)


def _shell_word(text: str) -> str:
    """``text`` redacted and quoted for a POSIX shell; a credential stays a live ``$VARIABLE`` reference."""
    text = redact(text)
    names = _REDACTOR.names
    if not names or not any(f"${n}" in text for n in names):
        return shlex.quote(text)
    parts = re.split("(" + "|".join(re.escape(f"${n}") for n in sorted(names, key=len, reverse=True)) + ")", text)
    # Inside double quotes only \ " $ ` are special: escape them in the literal parts.
    literal = [re.sub(r'([\\"$`])', r"\\\1", p) if i % 2 == 0 else p for i, p in enumerate(parts)]
    return '"' + "".join(literal) + '"'


# Headers never worth showing in a reproduction.
_NOISE = {"accept-encoding", "connection", "user-agent", "content-length", "host"}


def curl_command(method: str, url: str, headers: Mapping[str, str], body: bytes | str | None) -> str:
    """A copy-pasteable curl command for one request (credentials as ``$VARIABLE`` references)."""
    parts = ["curl", "-sS", "-X", method.upper(), _shell_word(url)]
    for name, value in headers.items():
        if name.lower() in _NOISE:
            continue
        parts += ["-H", _shell_word(f"{name}: {value}")]
    if body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        parts += ["--data-raw", _shell_word(text)]
    return " ".join(parts)


def excerpt(body: bytes | str | None, limit: int = 1200) -> str:
    """The start of a body, pretty when it is JSON."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        pass
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


@dataclass
class Exchange:
    """One request and its response, as evidence."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    status: int
    response_headers: dict[str, str]
    response_body: bytes

    @property
    def curl(self) -> str:
        """The request as a curl command."""
        return curl_command(self.method, self.url, self.request_headers, self.request_body)

    def describe(self) -> str:
        """Request (curl) and response (status, headers, body excerpt) as text, redacted."""
        headers = "\n".join(f"  {k}: {v}" for k, v in self.response_headers.items()
                            if k.lower() not in ("date", "server", "access-control-expose-headers"))
        return redact(f"Request:\n  {self.curl}\nResponse: {self.status}\n{headers}\n"
                      + "\n".join("  " + line for line in excerpt(self.response_body).splitlines()))

    def json(self) -> Any:
        """The response body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    @classmethod
    def from_httpx(cls, response: httpx.Response, request: httpx.Request | None = None) -> Exchange:
        """Evidence from an httpx response (its request included)."""
        request = request if request is not None else response.request
        return cls(request.method, str(request.url), dict(request.headers), request.content or None,
                   response.status_code, dict(response.headers), response.content)

    @classmethod
    def from_requests(cls, response: Any) -> Exchange:
        """Evidence from a requests response or a schemathesis Response (prepared request included)."""
        request = response.request
        body = request.body.encode() if isinstance(request.body, str) else request.body
        headers = {k: (", ".join(v) if isinstance(v, list) else v) for k, v in dict(response.headers).items()}
        return cls(str(request.method), str(request.url), dict(request.headers), body,
                   response.status_code, headers, response.content or b"")


# ------------------------------------------------------------------------------------ interrupts
class Interrupts:
    """SIGINT and SIGTERM as KeyboardInterrupt (so the session's cleanup runs), held back at unsafe moments.

    ``deferred()``: while an unsafe request is in flight, a signal waits until its answer is tracked.
    ``shielded()``: during cleanup, signals are noted and ignored, so cleanup finishes.
    """

    def __init__(self) -> None:
        self._depth = 0
        self._shield = 0
        self._installs = 0
        self._pending: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Take over SIGINT and SIGTERM (main thread only; elsewhere signals keep their handlers); nests."""
        if threading.current_thread() is not threading.main_thread():
            return
        self._installs += 1
        if self._installs == 1:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        """Undo one install; the last gives the signals back their previous handlers."""
        if threading.current_thread() is not threading.main_thread() or not self._installs:
            return
        self._installs -= 1
        if not self._installs:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self._shield:
            print("\nmemmock: cleaning up what the run created; it stops when that is done", file=sys.stderr,
                  flush=True)
        elif self._depth:
            self._pending = signum
        else:
            raise KeyboardInterrupt(signal.Signals(signum).name)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold signals back for the duration; raise KeyboardInterrupt at the end if one came."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._pending is not None and not self._shield:
            signum, self._pending = self._pending, None
            raise KeyboardInterrupt(signal.Signals(signum).name)

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        """Ignore signals for the duration (cleanup)."""
        self._shield += 1
        try:
            yield
        finally:
            self._shield -= 1
            self._pending = None


def with_line_numbers(tb: types.TracebackType | None) -> types.TracebackType | None:
    """``tb`` with a line number on every entry, so that pytest can print it.

    A signal can land on an instruction that maps to no line (CPython 3.11+ then answers
    ``tb_lineno`` None); pytest's report of the KeyboardInterrupt cannot subtract from None and
    crashes, ending the run with status 1 and an internal traceback instead of "interrupted" (2).
    Such an entry gets its function's first line.
    """
    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    if all(entry.tb_lineno is not None for entry in entries):
        return entries[0] if entries else None
    rebuilt = None
    for entry in reversed(entries):
        line = entry.tb_lineno if entry.tb_lineno is not None else entry.tb_frame.f_code.co_firstlineno
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, line)
    return rebuilt


INTERRUPTS = Interrupts()

Gate = Callable[[str, str, Mapping[str, str], bytes | None], None]
Tracker = Callable[[Exchange], None]


@dataclass
class WriteGuard:
    """The single place that decides whether a request may be sent, and that sees every unsafe answer."""

    read_only: bool = False
    max_writes: int | None = None
    writes: int = 0
    refused: int = 0
    gate: Gate | None = None  # raises Refused for a request that could touch pre-existing data
    tracker: Tracker | None = None  # records what an unsafe request created or removed
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def admit(self, method: str, url: str, *, cleanup: bool = False) -> None:
        """Raise unless ``method url`` may be sent now; count it if it is unsafe.

        Cleanup DELETEs of what the harness created are allowed past the write budget (never
        past read-only, which creates nothing): leaving tagged data behind is worse than one more write.
        """
        method = method.upper()
        if method in SAFE_METHODS:
            return
        if self.read_only:
            self.refused += 1
            raise ReadOnlyViolation(f"read-only mode: refusing to send {method} {url}")
        with self._lock:
            if not cleanup and self.max_writes is not None and self.writes >= self.max_writes:
                self.refused += 1
                raise WriteBudgetExhausted(
                    f"--max-writes {self.max_writes} reached ({self.writes} unsafe requests sent); {method} {url} not sent"
                )
            self.writes += 1

    @contextlib.contextmanager
    def sending(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, *,
                cleanup: bool = False) -> Iterator[Callable[[Exchange], None]]:
        """Admit one request; the block sends it and calls the yielded function with the exchange.

        An unsafe request first passes the gate (unless it is a cleanup), and its exchange goes to the
        tracker before a pending Ctrl-C is let through.
        """
        unsafe = method.upper() not in SAFE_METHODS
        if unsafe and self.read_only:
            self.admit(method, url)  # raises: in read-only mode the gate is not even asked
        if unsafe and not cleanup and self.gate is not None:
            try:
                self.gate(method.upper(), url, headers, body)
            except Refused:
                self.refused += 1
                raise
        self.admit(method, url, cleanup=cleanup)
        if not unsafe or cleanup or self.tracker is None:
            yield lambda exchange: None
            return
        with INTERRUPTS.deferred():
            yield self.tracker

    def require_writes(self, count: int = 1) -> None:
        """Skip the calling test unless writes are allowed and ``count`` of them remain in the budget."""
        if self.read_only:
            pytest.skip("--read-only: this check needs unsafe requests (POST/PUT/PATCH/DELETE)")
        if self.max_writes is not None and self.writes + count > self.max_writes:
            pytest.skip(f"--max-writes {self.max_writes}: {self.writes} used, this check needs about {count} more")


Observer = Callable[[Exchange], None]


class GuardedSession(requests.Session):
    """The requests session schemathesis sends through: every request passes the guard first."""

    def __init__(self, guard: WriteGuard, observer: Observer | None = None) -> None:
        super().__init__()
        self.guard = guard
        self.observer = observer

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Admit, send, track, then let the observer record the exchange."""
        body = request.body.encode() if isinstance(request.body, str) else request.body
        with self.guard.sending(str(request.method), str(request.url), request.headers, body) as track:
            response = super().send(request, **kwargs)
            exchange = Exchange.from_requests(response)
            track(exchange)
        if self.observer is not None:
            self.observer(exchange)
        if response.status_code == 429:  # latitude protocol-statuses: throttled, so nothing can be judged
            pytest.skip(f"the target throttled the run (429 on {request.method} {urlsplit(str(request.url)).path}, "
                        f"Retry-After {response.headers.get('retry-after', '-')}): this check stopped, nothing was judged")
        return response


class _GuardedTransport(httpx.BaseTransport):
    """Wraps the real transport: guard, send, read, track, observe (cleanup requests are not observed)."""

    def __init__(self, guard: WriteGuard, inner: httpx.BaseTransport, observer: Observer | None) -> None:
        self.guard, self.inner, self.observer = guard, inner, observer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        cleanup = bool(request.extensions.get("memmock_cleanup"))
        with self.guard.sending(request.method, str(request.url), request.headers, request.read() or None,
                                cleanup=cleanup) as track:
            response = self.inner.handle_request(request)
            response.read()
            exchange = Exchange.from_httpx(response, request)
            track(exchange)
        if self.observer is not None and not cleanup:
            self.observer(exchange)
        return response

    def close(self) -> None:
        self.inner.close()


def guarded_httpx_client(guard: WriteGuard, base_url: str, observer: Observer | None = None, timeout: float = 30.0,
                         transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client whose every request passes the guard (and is recorded by ``observer``)."""
    inner = transport if transport is not None else httpx.HTTPTransport()
    return httpx.Client(base_url=base_url, timeout=timeout, transport=_GuardedTransport(guard, inner, observer))
