"""The command log's records: how one is framed on disk, read back, and what a command holds.

A record is one line: its payload's CRC-32 as 8 hex digits, a space, the payload (a JSON object,
which never holds a raw newline) and ``\\n``. A line cut short, or whose checksum does not match,
is damaged: the last line of the file may be (a write cut off by a crash, never acknowledged: it
is dropped with a warning), any other may not (committed history: memmock refuses to start).

A command (``op``) is a write an operation answered with a status below 400: the namespace it ran
in, the operation, its path, path parameters, query string, Content-Type and body as sent, the
principal security found and the instants it read from the clock. Replaying one runs the same
operation's plan on that input again, on the state the commands before it left, so it takes the
same ids. Three other kinds keep what happens to the state outside an operation: ``drop`` (a
namespace dropped past --max-namespaces), ``fixtures`` (--watch reloaded the fixtures into some
namespaces) and ``ids`` (a write that failed after taking ids: its counters after it).
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import Scope

from ..errors import MalformedJSON
from ..headers import first_header
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
    """The records of the log files in order; a damaged last line is noted in ``torn``, an earlier one raises."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.torn: str | None = None  # what was dropped, for the warning
        self.cut: int | None = None  # where the last file is to be cut back to, when a record was dropped

    def __iter__(self) -> Iterator[tuple[Path, int, dict[str, Any]]]:
        """``(file, offset, record)`` for each whole record."""
        for index, path in enumerate(self.paths):
            try:
                handle = path.open("rb")
            except FileNotFoundError:
                continue
            with handle:
                good = 0
                for line in handle:
                    record, problem = _unframe(line)
                    if record is None:
                        after = os.fstat(handle.fileno()).st_size - good - len(line)
                        later = sum(p.stat().st_size for p in self.paths[index + 1:] if p.exists())
                        if after > 0 or later > 0:
                            raise DamagedLog(
                                f"state file log {path}: the record at byte {good} is damaged ({problem}) and "
                                f"{after + later} bytes of history follow it; memmock does not skip committed "
                                f"history: move the file aside, or keep what comes before the damage "
                                f"(truncate -s {good} {path})")
                        self.torn = f"{len(line)} bytes at byte {good} of {path}: {problem}"
                        self.cut = good
                        return
                    yield path, good, record
                    good += len(line)


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


def command_record(namespace: str, operation: str, scope: Scope, raw: bytes | None, principal: Any,
                   instants: list[int]) -> dict[str, Any]:
    """A write as its record holds it (what replaying it needs; empty parts left out)."""
    record: dict[str, Any] = {"ns": namespace, "op": operation, "path": scope["path"]}
    if scope.get("path_params"):
        record["params"] = scope["path_params"]
    if scope["query_string"]:
        record["query"] = scope["query_string"].decode("latin-1")
    content_type = first_header(scope["headers"], b"content-type", any_case=True)
    if content_type is not None:
        record["type"] = content_type.decode("latin-1")
    if raw:
        try:  # text when it is UTF-8 (most bodies are), else base64
            record["body"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            record["body64"] = base64.b64encode(raw).decode("ascii")
    if principal is not None:
        record["who"] = principal_record(principal)
    if instants:
        record["clock"] = instants
    return record


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

    @property
    def where(self) -> str:
        """How warnings name it."""
        return f"command {self.seq} ({self.operation.rpartition('.')[2]} in namespace {self.namespace!r})"

    @classmethod
    def of(cls, record: dict[str, Any]) -> Command:
        """The command a record of kind ``op`` holds; ValueError (or KeyError, TypeError) if it holds none."""
        params = record.get("params", {})
        clock = record.get("clock", [])
        if (not isinstance(params, dict) or not all(isinstance(v, (str, int, float)) for v in params.values())
                or not isinstance(clock, list) or not all(type(v) is int for v in clock)):
            raise ValueError("malformed fields")
        content_type = record.get("type")
        body = (base64.b64decode(record["body64"], validate=True) if "body64" in record
                else str(record.get("body", "")).encode("utf-8"))
        return cls(record["seq"], str(record["ns"]), str(record["op"]), str(record["path"]), params,
                   str(record.get("query", "")).encode("latin-1"),
                   None if content_type is None else str(content_type).encode("latin-1"), body,
                   _principal(record.get("who")), clock)
