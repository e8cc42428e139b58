"""Network faults: what a flaky network or an overloaded service does to a reply.

``reset`` (the connection reset: RST, no reply), ``empty`` (closed before a byte of the reply),
``truncated`` (the head and half the body, then closed), ``dribble`` (the body in pieces over
``duration`` ms) and the status faults ``500``, ``503`` and ``429`` (with ``Retry-After``).

An ASGI app cannot touch its connection: the server owns the socket. ``truncated`` and
``dribble`` need nothing else: the reply's messages are held back or cut short (an app that
returns before its body is complete makes uvicorn and granian close the connection). ``reset``
and ``empty`` act on the connection's socket itself, found among the process's descriptors by
the two addresses the request's scope names (``connection_socket``; the socket stays the
server's, the mock works on a duplicate of its descriptor): ``empty`` shuts its sending side, so
the client reads the end of the stream and no reply, and ``reset`` dissolves the connection with
``connect(2)`` to an ``AF_UNSPEC`` address, on which Linux sends a RST and leaves the descriptor
open for the server to close as it does any broken connection. Both work wherever the server
runs the app in its own process (uvicorn, granian's embedded server); where no socket is found
(an in-memory test client) or, for ``reset``, the system is not Linux, the request is refused
with a message saying so.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import socket
import stat
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.types import Message, Scope, Send

from ..errors import Style
from .latency import MAX_DELAY_MS

FAULTS = ("reset", "empty", "truncated", "dribble", "500", "503", "429")
STATUS_FAULTS = frozenset({"500", "503", "429"})
DEFAULT_RETRY_AFTER = 1  # seconds
MAX_RETRY_AFTER = 86_400
DEFAULT_DRIBBLE_MS = 2000.0
DRIBBLE_PIECES = 10  # at most; a body shorter than that goes a byte at a time
_FD_DIRS = ("/proc/self/fd", "/dev/fd")  # Linux, then the BSDs and macOS
FD_DIR = next((path for path in _FD_DIRS if os.path.isdir(path)), None)
CAN_RESET = sys.platform.startswith("linux") and FD_DIR is not None
_LIBC = ctypes.CDLL(None, use_errno=True) if CAN_RESET else None
_DRF_DETAIL = {"500": "A server error occurred.", "503": "Service temporarily unavailable, try again later."}
_CLOSED = {"type": "http.response.start", "status": 204, "headers": [(b"connection", b"close")]}

# Set while a truncated reply is served: uvicorn logs an app that returns before its body is
# complete as an error ("uvicorn.error", its documented logger), which a fault asked for is not.
_TRUNCATING: ContextVar[bool] = ContextVar("memmock.truncating", default=False)


class _AskedForTruncation(logging.Filter):
    """Drops uvicorn's error about an incomplete reply when the reply was truncated on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        return not (_TRUNCATING.get() and record.getMessage().startswith("ASGI callable returned without completing"))


QUIET_TRUNCATION = _AskedForTruncation()


async def wait(seconds: float) -> bool:
    """Sleep (other requests go on meanwhile); False when the server cancelled the request in the while.

    granian cancels the app of a request whose client left (one that gave up during a delay or a
    dribble) and logs the cancellation as the app's error: nobody is left to answer, so the
    request ends quietly here instead.
    """
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        return False
    return True


@dataclass(frozen=True)
class FaultSpec:
    """One network fault, with its ``Retry-After`` (s, status faults) and its duration (ms, ``dribble``)."""

    name: str
    retry_after: int = DEFAULT_RETRY_AFTER
    duration_ms: float = DEFAULT_DRIBBLE_MS

    def preference(self) -> str:
        """As a ``Prefer`` header (and ``Preference-Applied``) writes it."""
        if self.name in STATUS_FAULTS:
            return f"fault={self.name}; retry-after={self.retry_after}"
        if self.name == "dribble":
            return f"fault=dribble; duration={self.duration_ms:g}"
        return f"fault={self.name}"

    def view(self) -> dict[str, Any]:
        """As ``/_mock/behaviour`` shows it."""
        if self.name in STATUS_FAULTS:
            return {"fault": self.name, "retry_after": self.retry_after}
        if self.name == "dribble":
            return {"fault": self.name, "duration": self.duration_ms}
        return {"fault": self.name}


def fault_spec(name: str, retry_after: int | None = None, duration_ms: float | None = None) -> FaultSpec:
    """The fault ``name`` with its parameters; ValueError saying what is wrong."""
    if name not in FAULTS:
        raise ValueError(f"fault is one of {', '.join(FAULTS)}, not {name!r}")
    if name in ("reset", "empty") and FD_DIR is None:
        raise ValueError(f"fault {name} needs the process's descriptors listed in {' or '.join(_FD_DIRS)}, "
                         "which this system lacks")
    if name == "reset" and not CAN_RESET:
        raise ValueError("fault reset needs Linux (dissolving a connection with connect(AF_UNSPEC) sends the RST)")
    if retry_after is not None and not 0 <= retry_after <= MAX_RETRY_AFTER:
        raise ValueError(f"retry-after is a number of seconds from 0 to {MAX_RETRY_AFTER}")
    if duration_ms is not None and not 0 <= duration_ms <= MAX_DELAY_MS:
        raise ValueError(f"duration is a number of milliseconds from 0 to {MAX_DELAY_MS:.0f}")
    return FaultSpec(name, DEFAULT_RETRY_AFTER if retry_after is None else retry_after,
                     DEFAULT_DRIBBLE_MS if duration_ms is None else duration_ms)


def status_body(fault: FaultSpec, style: Style) -> dict[str, str]:
    """The body of a status fault, as DRF or FastAPI words it (the operation declares no such answer)."""
    if style is Style.FASTAPI:
        return {"detail": HTTPStatus(int(fault.name)).phrase}  # FastAPI's HTTPException default detail
    if fault.name == "429":
        unit = "second" if fault.retry_after == 1 else "seconds"
        return {"detail": f"Request was throttled. Expected available in {fault.retry_after} {unit}."}
    return {"detail": _DRF_DETAIL[fault.name]}


def connection_socket(scope: Scope) -> socket.socket | None:
    """A duplicate of the request's connection socket (the caller closes it), or None where none is found."""
    if FD_DIR is None:
        return None
    try:
        client, server = scope["client"], scope["server"]
        peer, local = (str(client[0]), int(client[1])), (str(server[0]), int(server[1]))
    except (KeyError, TypeError, ValueError, IndexError):
        return None  # an in-memory client, or a server that names no addresses
    for name in os.listdir(FD_DIR):
        try:
            fd = int(name)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except (ValueError, OSError):
            continue  # closed meanwhile, or not a socket Python can wrap
        try:
            if sock.type == socket.SOCK_STREAM and sock.getpeername()[:2] == peer and sock.getsockname()[:2] == local:
                return sock
        except OSError:
            pass  # a listening or unconnected socket
        sock.close()
    return None


def break_connection(sock: socket.socket, fault: FaultSpec) -> None:
    """Reset the connection, or end its sending side (``empty``); ``sock`` is closed after."""
    with sock:
        if fault.name == "empty":
            sock.shutdown(socket.SHUT_WR)
            return
        assert _LIBC is not None
        unspecified = (ctypes.c_ubyte * 16)()  # a sockaddr whose family is AF_UNSPEC (0)
        if _LIBC.connect(sock.fileno(), unspecified, len(unspecified)) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))


async def closed_reply(send: Send) -> None:
    """What the server is handed after the connection was broken: it writes nowhere, and closes."""
    await send(_CLOSED)
    await send({"type": "http.response.body", "body": b""})


async def truncated(start: Message, body: bytes, send: Send) -> None:
    """The head and the first half of the body, then the connection closed (the server closes it)."""
    _TRUNCATING.set(True)
    await send(start)
    await send({"type": "http.response.body", "body": body[:len(body) // 2], "more_body": True})


async def dribbled(start: Message, body: bytes, send: Send, duration_ms: float) -> None:
    """The head and the first piece of the body at once, the other pieces evenly after, the last ``duration_ms`` later.

    The first piece goes with the head because granian sends a reply's head only with its first body bytes.
    """
    size = -(-len(body) // DRIBBLE_PIECES) or 1
    pieces = -(-len(body) // size) or 1
    interval = duration_ms / 1000 / max(pieces - 1, 1)
    await send(start)
    for index in range(pieces):
        if (index or pieces == 1) and not await wait(interval):  # a one-piece body comes whole, at the end
            return
        piece = body[index * size:(index + 1) * size]
        await send({"type": "http.response.body", "body": piece, "more_body": index < pieces - 1})
