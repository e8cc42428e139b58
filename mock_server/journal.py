"""The journal: the requests the mock answered, for ``GET /_mock/requests`` and ``/_mock/requests/count``.

The request path records every request once its reply has left, in ``Journal.record``. Recording
packs each request into one bytes object with ``marshal`` (C speed, and this process reads back only
what it wrote): its stamps, method, path, query string, both header lists, status, and the kept
bodies. An entry that held the request's own objects instead (the ASGI header list, the path, the
reply's body) cost up to 15% of the throughput at 32 connections: a dozen objects per request, freed
a journal's length later from memory the CPU no longer has cached; one bytes object per entry costs
about half of that (README, Journal, for the figures). Redaction, decoding, the nearest operation of an
unmatched request and filtering happen when the journal is read.

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
from typing import Any, NamedTuple

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
# What an entry holds beyond its packed bytes, about: the bytes object's header and its slot.
ENTRY_COST = 64
# marshal's version 2 writes no back-references: half the time of the default for an entry, whose
# only repeated objects are a few header names.
_MARSHAL_VERSION = 2
_NO_EXTENSIONS: dict[str, Any] = {}
_STATUS = re.compile(r"[1-5](?:[0-9]{2}|xx)")
_SCHEMED = frozenset({"authorization", "proxy-authorization"})  # "Scheme credential": the scheme is kept
_SECRET = frozenset({"x-api-key"})
_NAMESPACE_COOKIE = "memmock_ns"  # not a secret: the entry names its namespace anyway
# The reply of a request whose error no handler knows: the server error layer answers it with a 500.
SERVER_ERROR: Message = {"type": "http.response.start", "status": 500, "headers": []}
Headers = Sequence[tuple[bytes, bytes]]


class Record(NamedTuple):
    """One journaled request, read back from its entry (``record`` packs these fields in this order)."""

    began: float  # perf_counter seconds
    ended: float
    method: str
    path: str
    status: int  # 0: no reply left
    query: bytes
    request_headers: Headers
    response_headers: Headers
    request_body: bytes | None  # its first ``--journal-body-bytes`` (None: not read)
    request_size: int
    operation: str | None  # the operation id it was routed to (None: none)
    fallback: str  # the namespace requests naming none went to then
    response_body: bytes  # its first ``--journal-body-bytes``
    response_size: int


_REQUEST_HEADERS, _RESPONSE_HEADERS = Record._fields.index("request_headers"), Record._fields.index("response_headers")


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
        self._entries: deque[bytes] = deque(maxlen=self.size)  # past the size, an append drops the oldest
        self._held = 0  # the bytes of the entries kept
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
        status, reply_headers = (0, ()) if start is None else (start["status"], start.get("headers", ()))
        entry = _pack((began, ended, scope["method"], scope["path"], status, scope["query_string"], scope["headers"],
                       reply_headers, None if raw is None else raw[:self.body_bytes], 0 if raw is None else len(raw),
                       extensions.get(OPERATION_KEY), fallback, body, size))
        entries = self._entries
        if len(entries) == self.size:
            self._held -= len(entries[0])  # the append drops it
        entries.append(entry)
        self._held += len(entry)
        # What the journal holds: the entries' own bytes, which a client makes as long as the server lets it.
        while entries and self._held + ENTRY_COST * len(entries) > self.budget:
            self._held -= len(entries.popleft())

    def _operation(self, record: Record) -> str | None:
        """The operation a request went to; for one refused before routing (a body over the limit,
        a bad namespace name), the one its method and path go to, if any."""
        operation = record.operation
        if operation is None:
            routed = self.table.find(record.method, record.path)
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

    def select(self, query: Query) -> Iterator[Record]:
        """The requests ``query`` takes, newest first."""
        epoch = self._epoch
        since = None if query.since is None else query.since - epoch
        until = None if query.until is None else query.until - epoch
        glob = query.path is not None and any(c in query.path for c in "*?[")
        for entry in reversed(self._entries):
            record = _unpacked(entry)
            if query.namespace is not None and _namespace(record) != query.namespace:
                continue
            if query.operations is not None and self._operation(record) not in query.operations:
                continue
            if query.method is not None and record.method != query.method:
                continue
            if query.path is not None and not (fnmatch.fnmatchcase(record.path, query.path) if glob
                                               else record.path.startswith(query.path)):
                continue
            if query.statuses is not None and not _status_in(record.status, query.statuses):
                continue
            if since is not None and record.began < since:
                continue
            if until is not None and record.began >= until:
                continue
            yield record

    def clear(self, namespace: str) -> None:
        """Forget the requests of ``namespace`` (``ALL``: every one)."""
        kept = [] if namespace == ALL else [entry for entry in self._entries
                                            if _namespace(_unpacked(entry)) != namespace]
        self._entries.clear()
        self._entries.extend(kept)
        self._held = sum(map(len, kept))

    @property
    def oldest(self) -> str | None:
        """When the oldest request the journal holds came (every later one is held, but those cleared)."""
        return _iso(self._epoch + _unpacked(self._entries[0]).began) if self._entries else None

    def views(self, records: Iterable[Record]) -> list[dict[str, Any]]:
        """Requests as the admin plane answers them: decoded, credentials redacted, unmatched ones explained."""
        nearest: dict[tuple[str, str], dict[str, Any] | None] = {}  # one explanation per method and path
        out = []
        for record in records:
            method, path, status = record.method, record.path, record.status
            operation = self._operation(record)
            unmatched = None
            if operation is None and (status >= 400 or (300 <= status < 400 and self.table.redirect(path))):
                key = (method, path)
                if key not in nearest:
                    nearest[key] = self._unmatched(method, path)
                unmatched = nearest[key]
            out.append({
                "time": _iso(self._epoch + record.began),
                "duration_ms": round((record.ended - record.began) * 1000, 3),
                "method": method,
                "path": path,
                "query": record.query.decode("latin-1"),
                "operation": None if operation is None else _short(operation),
                "namespace": _namespace(record),
                "status": status or None,
                "request": {"headers": self._headers(record.request_headers),
                            "body": _request_body(record.request_body, record.request_size,
                                                  record.request_headers)},
                "response": {"headers": self._headers(record.response_headers),
                             "body": _body(record.response_body, record.response_size)},
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


def _pack(fields: tuple[Any, ...]) -> bytes:
    try:
        return marshal.dumps(fields, _MARSHAL_VERSION)
    except ValueError:  # headers as some other iterable of byte strings than ASGI servers and Starlette use
        listed = list(fields)
        for at in (_REQUEST_HEADERS, _RESPONSE_HEADERS):
            listed[at] = [(bytes(name), bytes(value)) for name, value in listed[at]]
        return marshal.dumps(tuple(listed), _MARSHAL_VERSION)


def _unpacked(entry: bytes) -> Record:
    return Record(*marshal.loads(entry))


def _namespace(record: Record) -> str | None:
    """The namespace a request ran in (None: it named one that cannot be, and was refused)."""
    try:
        return namespace_of({"headers": record.request_headers}) or record.fallback
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
