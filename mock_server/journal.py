"""The journal: the requests the mock answered, for ``GET /_mock/requests`` and ``/_mock/requests/count``.

The request path records every request once its reply has left, in ``Journal.record``. Recording
keeps each entry as a few atoms (stamps, method, path, status, sizes) and one bytes object: the
query string, both header lists and the kept request body, packed by ``marshal`` (C speed, and
this process reads back only what it wrote). Keeping the request's own objects instead (the ASGI
header list, the reply's start message) cost 10-15% of the throughput at 32 connections: tens of
small objects per entry, freed a journal's length later from memory the CPU no longer has cached;
one bytes object per entry costs about what the journal's absence does (README, Journal, for the
figures). Redaction, decoding, the nearest operation of an unmatched request and filtering happen
when the journal is read.

One journal serves every namespace; each entry's namespace is read from its headers when the
journal is read (and the namespace requests naming none went to, kept with it). It keeps the newest
``--journal-size`` entries within about ``--journal-bytes``, dropping the oldest.

The admin plane's own requests are not recorded, as WireMock does not record calls to its admin
API: reading the journal would otherwise fill it with its own reads.
"""

from __future__ import annotations

import base64
import fnmatch
import marshal
import re
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from difflib import get_close_matches
from time import perf_counter
from typing import Any

from starlette.types import Message, Scope

from .admin_guard import ADMIN_PREFIX
from .errors import InvalidRequest
from .headers import first_header
from .namespaces import namespace_of
from .routes import RouteTable
from .settings import Settings
from .state import OPERATION_KEY
from .validation import SCOPE_KEY

JOURNAL_KEY = "memmock.journal"  # where the request path leaves the journal for the admin plane's handlers
ALL = "*"  # the namespace filter that takes every namespace
REDACTED = "<redacted>"
# What an entry holds beyond the bytes of its packed part, path and reply body, about: its tuple,
# stamps and the headers of those bytes objects.
ENTRY_COST = 256
_NO_EXTENSIONS: dict[str, Any] = {}
_STATUS = re.compile(r"[1-5](?:[0-9]{2}|xx)")
_SCHEMED = frozenset({"authorization", "proxy-authorization"})  # "Scheme credential": the scheme is kept
_SECRET = frozenset({"x-api-key"})
_NAMESPACE_COOKIE = "memmock_ns"  # not a secret: the entry names its namespace anyway

# An entry is a plain tuple (the cheapest thing to build per request), in this order. ``_PACKED`` is
# ``marshal``'s bytes of (query string, request headers, reply headers, kept request body), read by
# ``_unpacked``. ``_BASE`` is the sum of the costs of every entry recorded before it, so the newest
# entry's base and cost, less the oldest one's base, is what the journal holds.
(_BEGAN, _ENDED, _METHOD, _PATH, _STATUS_CODE, _PACKED, _OPERATION, _FALLBACK, _REQUEST_SIZE, _RESPONSE_BODY,
 _RESPONSE_SIZE, _BASE) = range(12)
# The reply of a request whose error no handler knows: the server error layer answers it with a 500.
SERVER_ERROR: Message = {"type": "http.response.start", "status": 500, "headers": []}
Entry = tuple[Any, ...]
Headers = Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True)
class Unpacked:
    """The packed part of an entry, read back."""

    query: bytes
    request_headers: Headers
    response_headers: Headers
    request_body: bytes | None  # its first ``--journal-body-bytes`` (None: not read)


@dataclass(frozen=True)
class Query:
    """Which entries a read takes; None: any."""

    namespace: str | None = None  # None: every namespace (a ``namespace=*`` read)
    operations: frozenset[str] | None = None  # operation ids, module.function
    method: str | None = None
    path: str | None = None  # a prefix, or a glob when it has * ? or [
    statuses: tuple[str, ...] | None = None  # "404" or a class, "4xx"
    since: float | None = None  # wall-clock seconds, inclusive
    until: float | None = None  # wall-clock seconds, exclusive


class Journal:
    """The newest requests the mock answered, bounded by count and bytes, oldest dropped first."""

    def __init__(self, settings: Settings, table: RouteTable) -> None:
        self.size = settings.journal_size
        self.budget = settings.journal_bytes
        self.body_bytes = settings.journal_body_bytes
        self.table = table
        self.admin_token = settings.admin_token
        self._entries: deque[Entry] = deque(maxlen=self.size)  # past the size, an append drops the oldest
        self._total = 0  # the cost of every entry recorded (dropped ones too): the next one's base
        # perf_counter's zero as wall-clock seconds: entries keep perf_counter stamps only.
        self._epoch = time.time() - perf_counter()
        journaled = [plan.operation_id for plan in table.plans if plan.base_path != ADMIN_PREFIX]
        self._operations: dict[str, frozenset[str]] = {}
        for operation_id in journaled:
            for name in (operation_id, _short(operation_id)):
                self._operations[name] = self._operations.get(name, frozenset()) | {operation_id}

    # --- recording (once per request: keep it small) -----------------------------------------

    def record(self, scope: Scope, fallback: str, began: float, start: Message | None, body: bytes, size: int) -> None:
        """Keep one answered request: the namespace requests naming none go to now, and its reply's
        start message (status and headers; None: no reply left), first body bytes and body size."""
        ended = perf_counter()
        extensions = scope.get("extensions") or _NO_EXTENSIONS  # none: refused before it was given any
        data = extensions.get(SCOPE_KEY)
        raw = None if data is None else data.raw
        kept, raw_size = (None, 0) if raw is None else (raw[:self.body_bytes], len(raw))
        status, reply_headers = (0, ()) if start is None else (start["status"], start.get("headers", ()))
        packed = _pack(scope["query_string"], scope["headers"], reply_headers, kept)
        path = scope["path"]
        base = self._total
        # What the entry holds: its own bytes, which a client makes as long as the server lets it.
        self._total = total = base + ENTRY_COST + len(packed) + len(path) + len(body)
        entries = self._entries
        entries.append((began, ended, scope["method"], path, status, packed, extensions.get(OPERATION_KEY),
                        fallback, raw_size, body, size, base))
        if total - entries[0][_BASE] > self.budget:
            while entries and total - entries[0][_BASE] > self.budget:
                entries.popleft()

    def _operation(self, entry: Entry) -> str | None:
        """The operation an entry's request went to; for one refused before routing (a body over the
        limit, a bad namespace name), the one its method and path go to, if any."""
        operation: str | None = entry[_OPERATION]
        if operation is None:
            routed = self.table.find(entry[_METHOD], entry[_PATH])
            operation = None if routed is None else routed.plan.operation_id
        return operation

    # --- reading ---------------------------------------------------------------------------------

    def query(self, *, namespace: str | None, operation: str | None = None, method: str | None = None,
              path: str | None = None, status: str | None = None, since: str | None = None,
              until: str | None = None) -> Query:
        """The ``Query`` the admin plane's filters ask for; InvalidRequest names a filter that cannot be one."""
        return Query(
            namespace=None if namespace == ALL else namespace,
            operations=None if operation is None else self._operation_ids(operation),
            method=None if method is None else method.strip().upper(),
            path=path,
            statuses=None if status is None else _statuses(status),
            since=None if since is None else _instant("since", since),
            until=None if until is None else _instant("until", until),
        )

    def select(self, query: Query) -> Iterator[Entry]:
        """The entries ``query`` takes, newest first."""
        epoch = self._epoch
        since = None if query.since is None else query.since - epoch
        until = None if query.until is None else query.until - epoch
        glob = query.path is not None and any(c in query.path for c in "*?[")
        for entry in reversed(self._entries):
            if query.namespace is not None and _namespace(entry) != query.namespace:
                continue
            if query.operations is not None and self._operation(entry) not in query.operations:
                continue
            method, path = entry[_METHOD], entry[_PATH]
            if query.method is not None and method != query.method:
                continue
            if query.path is not None and not (fnmatch.fnmatchcase(path, query.path) if glob
                                               else path.startswith(query.path)):
                continue
            if query.statuses is not None and not _status_in(entry[_STATUS_CODE], query.statuses):
                continue
            if since is not None and entry[_BEGAN] < since:
                continue
            if until is not None and entry[_BEGAN] >= until:
                continue
            yield entry

    def clear(self, namespace: str) -> None:
        """Forget the entries of ``namespace`` (``ALL``: every entry)."""
        entries = self._entries
        bases = [entry[_BASE] for entry in entries]
        costs = [after - before for before, after in zip(bases, [*bases[1:], self._total])]
        kept = [] if namespace == ALL else [(entry, cost) for entry, cost in zip(entries, costs)
                                            if _namespace(entry) != namespace]
        entries.clear()
        self._total = 0
        for entry, cost in kept:  # their bases again, as if they alone had been recorded
            entries.append((*entry[:_BASE], self._total))
            self._total += cost

    @property
    def oldest(self) -> str | None:
        """When the oldest request the journal holds came (every later one is held, but those cleared)."""
        return _iso(self._epoch + self._entries[0][_BEGAN]) if self._entries else None

    def views(self, entries: Iterable[Entry]) -> list[dict[str, Any]]:
        """Entries as the admin plane answers them: decoded, credentials redacted, unmatched ones explained."""
        nearest: dict[tuple[str, str], dict[str, Any] | None] = {}  # one explanation per method and path
        out = []
        for entry in entries:
            method, path, status = entry[_METHOD], entry[_PATH], entry[_STATUS_CODE]
            unpacked = _unpacked(entry)
            operation = self._operation(entry)
            unmatched = None
            if operation is None and (status >= 400 or (300 <= status < 400 and self.table.redirect(path))):
                key = (method, path)
                if key not in nearest:
                    nearest[key] = self._unmatched(method, path)
                unmatched = nearest[key]
            out.append({
                "time": _iso(self._epoch + entry[_BEGAN]),
                "duration_ms": round((entry[_ENDED] - entry[_BEGAN]) * 1000, 3),
                "method": method,
                "path": path,
                "query": unpacked.query.decode("latin-1"),
                "operation": None if operation is None else _short(operation),
                "namespace": _namespace(entry, unpacked),
                "status": status or None,
                "request": {"headers": self._headers(unpacked.request_headers),
                            "body": _request_body(unpacked.request_body, entry[_REQUEST_SIZE],
                                                  unpacked.request_headers)},
                "response": {"headers": self._headers(unpacked.response_headers),
                             "body": _body(entry[_RESPONSE_BODY], entry[_RESPONSE_SIZE])},
                "unmatched": unmatched,
            })
        return out

    def _unmatched(self, method: str, path: str) -> dict[str, Any] | None:
        found = self.table.nearest(method, path)
        if found is None:
            return None
        plan = found.plan
        return {"nearest": None if plan is None else _short(plan.operation_id),
                "template": None if plan is None else f"{plan.method} {plan.base_path}{plan.path}",
                "reason": found.reason}

    def _headers(self, raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
        """Header names lowercased, repeated ones joined, credentials redacted."""
        joined: dict[str, str] = {}
        for raw_name, raw_value in raw:
            name = raw_name.decode("latin-1").lower()
            value = self._redacted(name, raw_value.decode("latin-1"))
            joined[name] = f"{joined[name]}{'; ' if name == 'cookie' else ', '}{value}" if name in joined else value
        return joined

    def _redacted(self, name: str, value: str) -> str:
        if name in _SCHEMED:
            scheme, space, _ = value.strip().partition(" ")
            value = f"{scheme} {REDACTED}" if space else REDACTED
        elif name in _SECRET:
            value = REDACTED
        elif name == "cookie":
            value = "; ".join(_cookie(pair) for pair in value.split(";") if pair.strip())
        if self.admin_token and self.admin_token in value:
            value = value.replace(self.admin_token, REDACTED)
        return value

    def _operation_ids(self, operation: str) -> frozenset[str]:
        found = self._operations.get(operation.strip())
        if found is None:
            close = get_close_matches(operation.strip(), [n for n in self._operations if "." not in n], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise _invalid("operation", operation, f"No operation {operation!r} is journaled (the admin plane's "
                                                   f"are not).{hint}")
        return found


def _pack(query: bytes, request_headers: Iterable[Any], reply_headers: Iterable[Any], body: bytes | None) -> bytes:
    try:
        return marshal.dumps((query, request_headers, reply_headers, body))
    except ValueError:  # headers as some other iterable of byte strings than ASGI servers and Starlette use
        return marshal.dumps((query, [(bytes(n), bytes(v)) for n, v in request_headers],
                              [(bytes(n), bytes(v)) for n, v in reply_headers], body))


def _unpacked(entry: Entry) -> Unpacked:
    return Unpacked(*marshal.loads(entry[_PACKED]))


def _namespace(entry: Entry, unpacked: Unpacked | None = None) -> str | None:
    """The namespace an entry's request ran in (None: it named one that cannot be, and was refused)."""
    headers = (unpacked or _unpacked(entry)).request_headers
    try:
        return namespace_of({"headers": headers}) or entry[_FALLBACK]
    except InvalidRequest:
        return None


def _short(operation_id: str) -> str:
    """The spec's operationId of an operation id (``module.function``)."""
    return operation_id.rpartition(".")[2]


def _cookie(pair: str) -> str:
    name, equals, _ = pair.strip().partition("=")
    return pair.strip() if name == _NAMESPACE_COOKIE or not equals else f"{name}={REDACTED}"


def _statuses(raw: str) -> tuple[str, ...]:
    wanted = tuple(part.strip().lower() for part in raw.split(","))
    if not all(_STATUS.fullmatch(part) for part in wanted):
        raise _invalid("status", raw, "A status is a code (404) or a class (4xx), or several joined by commas.")
    return wanted


def _status_in(status: int, wanted: tuple[str, ...]) -> bool:
    code = str(status)
    return any(code == want or (want.endswith("xx") and code[:1] == want[0]) for want in wanted)


def _instant(name: str, raw: str) -> float:
    """Wall-clock seconds of an ISO 8601 time (UTC when it names no offset)."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _invalid(name, raw, "An ISO 8601 time is wanted, e.g. 2026-01-02T15:04:05.123Z.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _invalid(name: str, value: str, message: str) -> InvalidRequest:
    return InvalidRequest.one("query", name, "custom", value, message=message)


def _request_body(kept: bytes | None, size: int, headers: Headers) -> dict[str, Any] | None:
    if kept is not None:
        return _body(kept, size)
    # Not read: answered before its operation read it (a refusal), or no operation reads a body there.
    length = first_header(headers, b"content-length")
    if first_header(headers, b"transfer-encoding") is not None:
        declared = None
    elif length is not None and length.isdigit() and int(length):
        declared = int(length)
    else:
        return None
    return {"size": declared, "truncated": False, "base64": False, "content": None}


def _body(kept: bytes, size: int) -> dict[str, Any] | None:
    """A body as text when it is UTF-8 (base64 otherwise), and whether it was cut to the journal's bytes."""
    if not size:
        return None
    truncated = size > len(kept)
    try:
        text = kept.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A character cut by the journal's limit is still text: drop its first bytes.
        if truncated and exc.reason == "unexpected end of data":
            text = kept[:exc.start].decode("utf-8")
        else:
            return {"size": size, "truncated": truncated, "base64": True,
                    "content": base64.b64encode(kept).decode("ascii")}
    return {"size": size, "truncated": truncated, "base64": False, "content": text}
