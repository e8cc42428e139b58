"""How ``memmock serve`` answers slow requests and hands requests to the app, on either server.

granian (the default) runs the app behind ``Served``: a request's body has ``body_timeout``
seconds from the end of its headers
(granian has no body deadline): a body late past that is answered ``408`` in its API's style and
the connection closed. granian's own HTTP/1 header read timeout is the header deadline; a request
late in its headers is closed there without an answer. A response that starts before its
request's body is in says ``connection: close``, so no connection waits for the rest of a body.

uvicorn (``--server uvicorn``, and the in-process servers) times out idle keep-alive connections,
but not a request that is arriving: a client that sends half a header block, or declares a body
and stops, holds its connection (and whatever the server buffered) for ever. ``timed_protocol``
wraps uvicorn's own protocol (``Config(http=...)`` takes a protocol class) and follows each
request's framing as the bytes go by (``Framing``): the header block must arrive within
``header_timeout`` seconds of the request's first byte, and the body (by its Content-Length, or
chunk by chunk) within ``body_timeout`` seconds of the end of the headers. A request late in either
is answered ``408`` in its API's style and the connection closed; if the app has already answered
(a 401 before the body is read, say), the connection is just closed. A connection that sends no
byte at all is closed after ``header_timeout``, with nothing to answer. Bytes always reach uvicorn
unchanged: the watch only reads them.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from .errors import RequestTimeout, render
from .validation import style_of
from .wire import dumps

IDLE, HEAD, LENGTH, CHUNKED = range(4)
_HEAD_KEPT = 256 * 1024  # header bytes kept to find the framing; uvicorn's parser judges longer blocks
_BODY_HEADER = re.compile(rb"\n(?:content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)


class Framing:
    """Where a connection's request stream is, from its bytes alone: ``IDLE`` (between requests),
    ``HEAD`` (in a header block), ``LENGTH`` or ``CHUNKED`` (in a body framed so)."""

    __slots__ = ("state", "requests", "path", "_head", "_left", "_line", "_trailers")

    def __init__(self) -> None:
        self.state = IDLE
        self.requests = 0  # requests begun
        self.path = "/"  # the latest request's target
        self._head = bytearray()  # a header block so far, when it spans reads
        self._left = 0  # body bytes still due (LENGTH), or of the current chunk and its CRLF (CHUNKED)
        self._line = bytearray()  # a chunk-size or trailer line so far (CHUNKED)
        self._trailers = False

    def feed(self, data: bytes) -> None:
        """Follow ``data``, the next bytes the client sent."""
        if self.state == IDLE and data.endswith(b"\r\n\r\n") and data.count(b"\r\n\r\n") == 1 \
                and _BODY_HEADER.search(data) is None:
            self.requests += 1  # the usual read: one whole request without a body
            return
        pos, size = 0, len(data)
        while pos < size:
            if self.state == IDLE:
                self.state = HEAD
                self.requests += 1
            if self.state == HEAD:
                pos = self._feed_head(data, pos)
            elif self.state == LENGTH:
                taken = min(self._left, size - pos)
                self._left -= taken
                pos += taken
                if not self._left:
                    self.state = IDLE
            else:
                pos = self._feed_chunks(data, pos)

    def _feed_head(self, data: bytes, pos: int) -> int:
        """Read header bytes from ``pos``; where the header block ends in ``data`` (its end if it goes on)."""
        if not self._head:  # the usual case: the whole block in this read
            end = _head_end(data, pos)
            if end >= 0:
                self._framing(data[pos:end])
                return end
        before = len(self._head)
        room = max(0, _HEAD_KEPT - before)
        self._head += data[pos:pos + room]
        end = _head_end(self._head, max(0, before - 3))  # the end may straddle two reads
        if end < 0:
            if len(data) - pos > room:  # past the bytes kept: uvicorn's parser judges this request
                self._head.clear()
                self.state = IDLE
            return len(data)
        self._framing(bytes(self._head[:end]))
        self._head.clear()
        return pos + end - before

    def _framing(self, block: bytes) -> None:
        """From a whole header block: the target, and how the body is framed."""
        parts = block.split(b" ", 2)
        self.path = parts[1].decode("latin-1") if len(parts) == 3 else "/"
        lowered = block.lower()
        if b"chunked" in _header(lowered, b"\ntransfer-encoding:"):
            self.state, self._left, self._trailers = CHUNKED, 0, False
            self._line.clear()
        else:
            length = _header(lowered, b"\ncontent-length:")
            self._left = int(length) if length.isdigit() and len(length) < 19 else 0
            self.state = LENGTH if self._left else IDLE

    def _feed_chunks(self, data: bytes, pos: int) -> int:
        """Read chunked-body bytes from ``pos``; where the body ends in ``data`` (its end if it goes on)."""
        size = len(data)
        while pos < size:
            if self._left:  # inside a chunk's data and its CRLF
                taken = min(self._left, size - pos)
                self._left -= taken
                pos += taken
                continue
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._line += data[pos:pos + max(0, _HEAD_KEPT - len(self._line))]
                return size
            self._line += data[pos:newline]
            pos = newline + 1
            line = bytes(self._line).strip()
            self._line.clear()
            if self._trailers:
                if not line:  # the empty line after the trailers: the request is complete
                    self.state = IDLE
                    return pos
                continue
            try:
                chunk = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:  # not HTTP: uvicorn's parser answers 400 and closes
                self.state = IDLE
                return size
            if chunk == 0:
                self._trailers = True
            else:
                self._left = chunk + 2  # the data and its CRLF
        return pos


def _head_end(head: bytes | bytearray, start: int) -> int:
    """Where the header block in ``head`` ends (after its blank line), or -1; LF-only lines too."""
    crlf, lf = head.find(b"\r\n\r\n", start), head.find(b"\n\n", start)
    if crlf >= 0 and (lf < 0 or crlf + 2 <= lf):
        return crlf + 4
    return lf + 2 if lf >= 0 else -1


def _header(block: bytes, name: bytes) -> bytes:
    """The value of the first header ``name`` (``b"\\n<lowercase name>:"``) of a lowercased block, or b""."""
    at = block.find(name)
    if at < 0:
        return b""
    line_end = block.find(b"\n", at + len(name))
    return block[at + len(name):line_end if line_end >= 0 else None].strip()


def timed_protocol(header_timeout: float, body_timeout: float) -> type[asyncio.Protocol]:
    """A protocol class for uvicorn's ``Config(http=...)`` with these timeouts, in seconds."""
    return type("TimedHTTPProtocol", (TimedHTTPProtocol,),
                {"header_timeout": header_timeout, "body_timeout": body_timeout})


class TimedHTTPProtocol(asyncio.Protocol):
    """uvicorn's HTTP protocol for one connection, with deadlines on each request's arrival."""

    header_timeout = 10.0
    body_timeout = 10.0

    def __init__(self, **kwargs: Any) -> None:
        self.inner = AutoHTTPProtocol(**kwargs)  # type: ignore[call-arg]
        self.loop: asyncio.AbstractEventLoop = kwargs.get("_loop") or asyncio.get_event_loop()
        self.transport: Any = None
        self.framing = Framing()
        self.answered = False  # the app wrote to the connection since the latest request began
        self.timer: asyncio.TimerHandle | None = None
        self.timed: tuple[int, bool] | None = None  # what the timer is for: (request, in its headers?)

    # --- the asyncio.Protocol interface, passed through -----------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # noqa: D102
        self.transport = transport  # uvloop's transports are not asyncio's classes: any transport
        self.inner.connection_made(_WatchedTransport(transport, self))
        self._keep_deadline((0, True))  # a connection that never sends a byte is closed at the header deadline

    def data_received(self, data: bytes) -> None:  # noqa: D102
        begun = self.framing.requests
        self.framing.feed(data)
        if self.framing.requests != begun:
            self.answered = False
        state = self.framing.state
        self._keep_deadline(None if state == IDLE else (self.framing.requests, state == HEAD))
        self.inner.data_received(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:  # noqa: D102
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        self._keep_deadline(None)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:  # noqa: D102
        self.inner.pause_writing()

    def resume_writing(self) -> None:  # noqa: D102
        self.inner.resume_writing()

    # --- deadlines --------------------------------------------------------------------------

    def _keep_deadline(self, timed: tuple[int, bool] | None) -> None:
        """One deadline per request and phase, set when the phase starts; none once a request is in."""
        if timed == self.timed:
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.timed = timed
        if timed is not None:
            self.timer = self.loop.call_later(self.header_timeout if timed[1] else self.body_timeout, self._late)

    def _late(self) -> None:
        self.timer = self.timed = None
        transport = self.transport
        if transport.is_closing():
            return
        state = self.framing.state
        if state != IDLE and not self.answered:
            phase = "headers" if state == HEAD else "body"
            seconds = self.header_timeout if state == HEAD else self.body_timeout
            status, body = render(RequestTimeout(phase, seconds), style_of({"path": self.framing.path}))
            content = dumps(body)
            transport.write(b"HTTP/1.1 %d Request Timeout\r\ncontent-type: application/json\r\n"
                            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, len(content), content))
        transport.close()


class _WatchedTransport:
    """The transport uvicorn's protocol writes to: notes that the app answered, passes everything on."""

    __slots__ = ("_transport", "_owner")

    def __init__(self, transport: Any, owner: TimedHTTPProtocol) -> None:
        self._transport = transport
        self._owner = owner

    def write(self, data: bytes | bytearray | memoryview) -> None:  # noqa: D102
        if not bytes(data[:12]).startswith(b"HTTP/1.1 100"):  # "100 Continue" is no answer yet
            self._owner.answered = True
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


# --- granian: the app as it is handed each request ------------------------------------------

_CLOSE = (b"connection", b"close")
LATE, BROKEN = "late", "broken"  # why a body stopped short: past its deadline, or unreadable (or the client left)


class Served:
    """``app`` as ``memmock serve`` hands it to granian: with a deadline on each request's body, and
    the body's end told with its last bytes.

    granian hands a body's bytes with ``more_body`` set and its end in one more, empty, message;
    each ``receive`` is a round trip to granian's own thread (about 80 microseconds of a request's
    latency at one connection). Once a declared Content-Length has arrived the body is whole (HTTP
    framing: the server reads no further), so the message that completes it says so.
"""

    __slots__ = ("app", "body_timeout")

    def __init__(self, app: ASGIApp, body_timeout: float) -> None:
        self.app = app
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        declared = _declared_body(scope["headers"]) if scope["type"] == "http" else 0
        if declared != 0:
            await self._with_body(scope, receive, send, declared)
        else:
            await self.app(scope, receive, send)

    async def _with_body(self, scope: Scope, receive: Receive, send: Send, declared: int | None) -> None:
        """Serve a request that declares a body (``declared`` bytes; None: chunked), with the
        deadline on the body's arrival."""
        loop = asyncio.get_running_loop()
        arrived = started = False
        left = declared  # bytes of a declared length still to come
        cut: str | None = None  # LATE or BROKEN, when the body stopped short
        waiting: asyncio.Task[Any] | None = None  # the app's task while it waits for body bytes

        def expire() -> None:
            nonlocal cut
            cut = LATE
            if waiting is not None:
                waiting.cancel()

        # One timer per request, not a timeout per read: a body mostly comes in two messages.
        timer = loop.call_at(loop.time() + self.body_timeout, expire)

        async def timed_receive() -> Message:
            nonlocal arrived, cut, waiting, left
            if cut == LATE:
                return {"type": "http.disconnect"}  # to the app the client is gone; the 408 comes after it
            if arrived or cut is not None:
                return await receive()
            task = waiting = asyncio.current_task()
            try:
                message = await receive()
            except asyncio.CancelledError:
                if cut != LATE or task is None:  # a cancellation of the app's own
                    raise
                task.uncancel()
                return {"type": "http.disconnect"}
            finally:
                waiting = None
            if message["type"] == "http.disconnect":
                # granian's word for a body it could not read, a malformed chunk as much as a client gone.
                cut = BROKEN
            arrived = message["type"] != "http.request" or not message.get("more_body", False)
            if not arrived and left is not None:
                left -= len(message.get("body", b""))
                if left <= 0:
                    arrived = True
                    message = {**message, "more_body": False}
            if arrived:
                timer.cancel()
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not arrived:  # the rest of the body may never come: no connection waits for it
                    message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        finally:
            timer.cancel()
        if cut is not None and not started:
            # The app had nothing to answer a body that never arrived whole; the server answers,
            # as uvicorn does (a 408 in the API's style, or its own 400), and closes.
            if cut == BROKEN:
                status, content, kind = 400, b"Invalid HTTP request received.", b"text/plain; charset=utf-8"
            else:
                status, body = render(RequestTimeout("body", self.body_timeout), style_of(scope))
                content, kind = dumps(body), b"application/json"
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", kind), (b"content-length", b"%d" % len(content)), _CLOSE]})
            await send({"type": "http.response.body", "body": content})


def _declared_body(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body a request's headers (lowercase names, as granian gives them) declare: its length, 0
    for none, None when its end is only known from granian (chunked, or a length written oddly)."""
    length: bytes | None = None
    for name, value in headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            length = value.strip()
    if length is None:
        return 0
    return int(length) if length.isdigit() else None
