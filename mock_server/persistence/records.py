"""The command log's records: how one is framed on disk, read back, and what a command holds.

A record is one line: its payload's CRC-32 as 8 hex digits, a space, the payload (a JSON object,
which never holds a raw newline) and ``\\n``. A line cut short, or whose checksum does not match,
is damaged: the last line of the file may be (a write cut off by a crash, never acknowledged: it
is dropped with a warning), any other may not (committed history: memmock refuses to start).

A command (``op``) is a write an operation answered with a status below 400: the namespace it ran
in, the operation, its path, path parameters, query string, Content-Type and body as sent, the
principal security found, the instants it read from the clock and the id counters before it.
Replaying one runs the same operation's plan on that input again. Three other kinds keep what
happens to the state outside an operation: ``drop`` (a namespace dropped past --max-namespaces),
``fixtures`` (--watch reloaded the fixtures into some namespaces) and ``ids`` (a write that failed
after taking ids).
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MalformedJSON
from ..settings import StartupError
from ..store import IblPrincipal, VaiPrincipal
from ..wire import dumps, loads

KINDS = ("op", "drop", "fixtures", "ids")


class DamagedLog(StartupError):
    """A damaged record with history after it: the message names the file, the offset and what to do."""


def frame(record: dict[str, Any]) -> bytes:
    """One record as a line of the log."""
    payload = dumps(record)
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _unframe(line: bytes) -> tuple[dict[str, Any] | None, str]:
    """A line's record, or None and what is wrong with it."""
    if not line.endswith(b"\n"):
        return None, "it ends before its newline"
    head, space, payload = line[:-1].partition(b" ")
    if len(head) != 8 or not space:
        return None, "it does not start with a checksum"
    try:
        crc = int(head, 16)
    except ValueError:
        return None, "it does not start with a checksum"
    if zlib.crc32(payload) != crc:
        return None, "its checksum does not match"
    try:
        record = loads(payload)
    except MalformedJSON as exc:
        return None, f"not JSON: {exc.reason}"
    if not isinstance(record, dict) or type(record.get("seq")) is not int or record.get("kind", "op") not in KINDS:
        return None, "not a record this memmock writes"
    return record, ""


class LogReader:
    """The records of a log file, in order; a damaged last line is noted in ``torn``, a damaged earlier one raises."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.good = 0  # bytes of whole records from the start
        self.torn: str | None = None  # what was dropped at ``good``, for the warning

    def __iter__(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(offset, record)`` for each whole record."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
            for line in handle:
                record, problem = _unframe(line)
                if record is None:
                    after = os.fstat(handle.fileno()).st_size - self.good - len(line)
                    if after > 0:
                        raise DamagedLog(
                            f"state file log {self.path}: the record at byte {self.good} is damaged ({problem}) and "
                            f"{after} bytes of history follow it; memmock does not skip committed history: move the "
                            f"file aside, or keep what comes before the damage (truncate -s {self.good} {self.path})")
                    self.torn = f"{len(line)} bytes at byte {self.good}: {problem}"
                    return
                yield self.good, record
                self.good += len(line)


def principal_record(principal: Any) -> list[Any] | None:
    """A principal as a record holds it."""
    if principal is None:
        return None
    if isinstance(principal, IblPrincipal):
        return ["ibl", principal.org, principal.username, principal.is_admin]
    if isinstance(principal, VaiPrincipal):
        return ["vai", principal.organization_id, principal.name]
    raise TypeError(f"no record for a principal of type {type(principal).__name__}")


def _principal(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 4 and value[0] == "ibl":
        return IblPrincipal(str(value[1]), str(value[2]), bool(value[3]))
    if isinstance(value, list) and len(value) == 3 and value[0] == "vai":
        return VaiPrincipal(str(value[1]), str(value[2]))
    raise ValueError("an unknown principal")


def body_fields(raw: bytes | None) -> dict[str, str]:
    """A body as sent, as a record holds it: text when it is UTF-8 (most are), else base64."""
    if not raw:
        return {}
    try:
        return {"body": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body64": base64.b64encode(raw).decode("ascii")}


@dataclass(frozen=True, slots=True)
class Command:
    """A recorded write, as its replay needs it."""

    seq: int
    namespace: str
    operation: str  # the plan's operation id (module.function)
    path: str
    params: dict[str, Any]  # as routing typed them
    query: bytes
    content_type: bytes | None
    body: bytes
    principal: Any
    clock: list[int]  # the instants it read, microseconds since the epoch
    uuid_counter: int  # the namespace's id counters before it ran
    next_ids: dict[str, int]

    @property
    def where(self) -> str:
        """How warnings name it."""
        return f"command {self.seq} ({self.operation.rpartition('.')[2]} in namespace {self.namespace!r})"

    @classmethod
    def of(cls, record: dict[str, Any]) -> Command:
        """The command a record of kind ``op`` holds; ValueError (or KeyError, TypeError) if it holds none."""
        params = record.get("params", {})
        clock = record.get("clock", [])
        uuid_counter, next_ids = record["ids"]
        if (not isinstance(params, dict) or not all(isinstance(v, (str, int, float)) for v in params.values())
                or not isinstance(clock, list) or not all(type(v) is int for v in clock)
                or type(uuid_counter) is not int or not isinstance(next_ids, dict)):
            raise ValueError("malformed fields")
        content_type = record.get("type")
        body = (base64.b64decode(record["body64"], validate=True) if "body64" in record
                else str(record.get("body", "")).encode("utf-8"))
        return cls(record["seq"], str(record["ns"]), str(record["op"]), str(record["path"]), params,
                   str(record.get("query", "")).encode("latin-1"),
                   None if content_type is None else str(content_type).encode("latin-1"), body,
                   _principal(record.get("who")), clock, uuid_counter, {str(k): int(v) for k, v in next_ids.items()})
