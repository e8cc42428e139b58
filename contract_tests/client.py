"""The harness's HTTP layer: ONE write guard for every request, exchange records and curl renderings.

Both transports the harness uses go through ``WriteGuard.admit``: the httpx client of the state
machines (an event hook) and the requests session schemathesis sends with (``GuardedSession.send``).
``admit`` raises before anything unsafe leaves the process in read-only mode, and counts unsafe
requests against ``--max-writes`` otherwise.
"""

from __future__ import annotations

import json
import shlex
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ReadOnlyViolation(RuntimeError):
    """An unsafe request was about to be sent in read-only mode (a harness bug, never sent)."""


class WriteBudgetExhausted(Exception):
    """``--max-writes`` is used up; the test that wanted to write is skipped."""


@dataclass
class WriteGuard:
    """The single place that decides whether a request may be sent."""

    read_only: bool = False
    max_writes: int | None = None
    writes: int = 0
    refused: int = 0
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

    def require_writes(self, count: int = 1) -> None:
        """Skip the calling test unless writes are allowed and ``count`` of them remain in the budget."""
        if self.read_only:
            pytest.skip("--read-only: this check needs unsafe requests (POST/PUT/PATCH/DELETE)")
        if self.max_writes is not None and self.writes + count > self.max_writes:
            pytest.skip(f"--max-writes {self.max_writes}: {self.writes} used, this check needs about {count} more")


# Headers never worth showing in a reproduction.
_NOISE = {"accept-encoding", "connection", "user-agent", "content-length", "host"}


def curl_command(method: str, url: str, headers: dict[str, str], body: bytes | str | None) -> str:
    """A copy-pasteable curl command for one request."""
    parts = ["curl", "-sS", "-X", method.upper(), shlex.quote(url)]
    for name, value in headers.items():
        if name.lower() in _NOISE:
            continue
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        parts += ["--data-raw", shlex.quote(text)]
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
        """Request (curl) and response (status, headers, body excerpt) as text."""
        headers = "\n".join(f"  {k}: {v}" for k, v in self.response_headers.items()
                            if k.lower() not in ("date", "server", "access-control-expose-headers"))
        return (f"Request:\n  {self.curl}\nResponse: {self.status}\n{headers}\n"
                + "\n".join("  " + line for line in excerpt(self.response_body).splitlines()))

    def json(self) -> Any:
        """The response body parsed as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> Exchange:
        """Evidence from an httpx response (its request included)."""
        request = response.request
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


class GuardedSession(requests.Session):
    """The requests session schemathesis sends through: every request passes the guard first."""

    def __init__(self, guard: WriteGuard, observer: Any = None) -> None:
        super().__init__()
        self.guard = guard
        self.observer = observer

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Admit, send, then let the observer record the exchange."""
        self.guard.admit(str(request.method), str(request.url))
        response = super().send(request, **kwargs)
        if self.observer is not None:
            self.observer(Exchange.from_requests(response))
        return response


def guarded_httpx_client(guard: WriteGuard, base_url: str, observer: Any = None, timeout: float = 30.0) -> httpx.Client:
    """An httpx client whose every request passes the guard (and is recorded by ``observer``)."""

    def before(request: httpx.Request) -> None:
        guard.admit(request.method, str(request.url), cleanup=bool(request.extensions.get("memmock_cleanup")))

    def after(response: httpx.Response) -> None:
        response.read()
        if observer is not None:
            observer(Exchange.from_httpx(response))

    return httpx.Client(base_url=base_url, timeout=timeout, event_hooks={"request": [before], "response": [after]})
