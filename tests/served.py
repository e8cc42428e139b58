"""A ``memmock serve`` subprocess on 127.0.0.1 and a free port, and a raw HTTP/1.1 client for it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from contract_tests.inprocess import free_port

MEMMOCK = os.path.join(os.path.dirname(sys.executable), "memmock")
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


@dataclass
class Served:
    """A running mock: where it listens, its process, and the server in front (granian or uvicorn)."""

    port: int
    process: subprocess.Popen[bytes]
    server: str = "granian"

    @property
    def url(self) -> str:
        """The base URL."""
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None


@contextmanager
def serve(*args: str, startup: float = 20.0) -> Iterator[Served]:
    """``memmock serve ARGS`` on 127.0.0.1 and a free port, up (health 200) before it is handed over."""
    server = args[args.index("--server") + 1] if "--server" in args else os.environ.get("MEMMOCK_SERVER") or "granian"
    for attempt in range(3):  # another process may take the free port before the mock binds it
        port = free_port()
        process = subprocess.Popen([MEMMOCK, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if _wait_until_up(port, process, startup):
                break
        except BaseException:
            _stop(process)
            raise
        _stop(process)
    else:
        raise RuntimeError(f"memmock serve {' '.join(args)} did not start")
    try:
        yield Served(port, process, server)
    finally:
        _stop(process)


def _wait_until_up(port: int, process: subprocess.Popen[bytes], startup: float) -> bool:
    deadline = time.monotonic() + startup
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with _DIRECT.open(f"http://127.0.0.1:{port}/_mock/health", timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr is not None:
        process.stderr.close()


@dataclass
class Reply:
    """What came back on a raw connection: the status (None: closed without one) and the raw bytes."""

    status: int | None
    raw: bytes

    @property
    def body(self) -> bytes:
        """The bytes after the header block."""
        return self.raw.partition(b"\r\n\r\n")[2]


def exchange(port: int, request: bytes, *, then: bytes = b"", pause: float = 0.0, wait: float = 10.0,
             head_only: bool = False) -> Reply:
    """Send ``request`` (then, after ``pause`` seconds, ``then``) and read one response: until it is
    whole (``head_only``: its header block, as for HEAD), the server closes, or ``wait`` seconds of
    silence pass (a guard against a hang, not a measurement)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(request)
        if then:
            time.sleep(pause)
            sock.sendall(then)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            raw = b"".join(chunks)
            if (head_only and b"\r\n\r\n" in raw) or _complete_response(raw):
                break
    raw = b"".join(chunks)
    return Reply(_status(raw), raw)


def _status(raw: bytes) -> int | None:
    if not raw.startswith(b"HTTP/1."):
        return None
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def _complete_response(raw: bytes) -> bool:
    """Whether ``raw`` holds a whole response (by its Content-Length; one without a body ends at its head)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return True


class Connection:
    """One keep-alive HTTP/1.1 connection for asyncio code: requests one after another, JSON back.

    A few lines of asyncio streams: a general client library costs tens of times more per request
    with 64 connections open at once, which would measure the client, not the mock.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        """A connection to the mock on 127.0.0.1:``port``."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, target: str, headers: dict[str, str] | None = None,
                      json_body: object = None) -> tuple[int, object]:
        """Send one request; its status and its JSON body (None when empty)."""
        body = b"" if json_body is None else json.dumps(json_body).encode()
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        if json_body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        return status, json.loads(data) if data else None

    async def close(self) -> None:
        """Close the connection."""
        self.writer.close()
        await self.writer.wait_closed()
