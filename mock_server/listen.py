"""Where the mock listens, and the server in front: nothing is announced before the address answers.

``memmock serve`` runs granian (``run_granian``), or uvicorn on a socket bound here
(``uvicorn_server``); the pytest plugin and the harness's in-process mock run uvicorn in a thread
(``BackgroundServer``), on a socket bound here too, so port 0 is never raced for.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from .server import Served, timed_protocol
from .settings import Settings, StartupError


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening; StartupError names the address when that fails."""
    at = where(host, port)
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        # reuse_port stays off: a second memmock on a taken port must fail, not share it.
        return socket.create_server(address, family=family, reuse_port=False)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {at}: unknown host ({exc.strerror})") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"cannot listen on {at}: the port is taken (another server listens there; "
                               "choose another with --port, or --port 0 for any free one)") from None
        raise StartupError(f"cannot listen on {at}: {exc.strerror or exc}") from None


def where(host: str, port: int) -> str:
    """``host:port`` as the messages name an address (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def uvicorn_server(app: Any, settings: Settings) -> uvicorn.Server:
    """The uvicorn server that runs ``app`` on a socket from ``listen``."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        proxy_headers=False,  # a local mock: the client address is the peer's
        loop="auto",
        # uvicorn's own protocol (httptools when installed), with deadlines on slow requests
        http=timed_protocol(settings.header_timeout, settings.body_timeout),
        lifespan="on",
    )
    return uvicorn.Server(config)


class BackgroundServer:
    """``app`` served by uvicorn in a daemon thread on a bound socket; ``stop()`` ends it."""

    def __init__(self, app: Any, settings: Settings, sock: socket.socket) -> None:
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self.server = uvicorn_server(app, settings)
        # uvicorn leaves signal handling to the main thread when it runs in another one.
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       name=f"memmock-{self.port}", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        """Start serving and wait until uvicorn has started (RuntimeError if it stops or takes too long)."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the mock on port {self.port} did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Ask uvicorn to exit, wait for its thread and close the socket."""
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        self.sock.close()


# --- granian --------------------------------------------------------------------------------

# Where granian itself cannot be installed (no wheel for the platform), memmock serves on uvicorn.
try:
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.embed import Server as GranianServer
except ImportError as exc:
    GRANIAN_MISSING: str | None = str(exc)
else:
    GRANIAN_MISSING = None

try:
    import uvloop
except ImportError:  # Windows: asyncio's own loop
    uvloop = None  # type: ignore[assignment]

EMBEDDED_NOTICE = "Embedded server is experimental!"
# uvicorn's default backlog; connections past granian's backpressure would wait in it, and uvicorn
# puts no limit on connections below it.
BACKLOG = 2048


class _WithoutEmbeddedNotice(logging.Filter):
    """Drops granian's notice that its embedded server is experimental: memmock chose it knowingly."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D102
        return record.getMessage() != EMBEDDED_NOTICE


def granian_logging() -> dict[str, Any]:
    """granian's logging configuration: its two documented loggers, runtime to stderr, access to stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"embedded": {"()": _WithoutEmbeddedNotice}},
        "formatters": {"generic": {"format": "[%(levelname)s] %(message)s"}, "access": {"format": "%(message)s"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "generic", "stream": "ext://sys.stderr",
                        "filters": ["embedded"]},
            "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "_granian": {"handlers": ["console"], "propagate": False},
            "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def granian_server(app: Any, settings: Settings, address: str, port: int) -> GranianServer:
    """granian's embedded server for ``app`` on ``address:port`` (granian binds it), HTTP/1 only."""
    return GranianServer(
        Served(app, settings.body_timeout),
        address=address,
        port=port,
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        backlog=BACKLOG,
        backpressure=BACKLOG,
        # hyper's deadline on a header block: the connection is closed there (no answer; see server.py)
        http1_settings=HTTP1Settings(header_read_timeout=max(1, round(settings.header_timeout * 1000))),
        log_level=LogLevels(settings.log_level),
        log_dictconfig=granian_logging(),
        log_access=settings.log_level == "debug",
    )


def run_granian(app: Any, settings: Settings, sock: socket.socket, announce: Callable[[], None]) -> None:
    """Serve ``app`` on granian at the address ``sock`` is bound to, until SIGINT or SIGTERM.

    granian binds the address itself (its API takes an address, not a socket): ``sock`` is closed
    just before, having proved the address free and, for port 0, chosen the port. ``announce``
    runs once the address answers; StartupError if granian cannot listen there.
    """
    address, port = sock.getsockname()[:2]
    sock.close()
    server = granian_server(app, settings, address, port)
    factory = uvloop.new_event_loop if uvloop is not None else None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(_serve_granian(server, address, port, announce))


async def _serve_granian(server: GranianServer, address: str, port: int, announce: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C ends the process as Python does
            loop.add_signal_handler(signum, server.stop)
    serving = asyncio.create_task(server.serve())
    await _until_answering(serving, address, port)
    announce()
    await serving


async def _until_answering(serving: asyncio.Task[None], address: str, port: int, timeout: float = 30.0) -> None:
    """Return once ``address:port`` takes a connection; StartupError if granian stops or takes too long."""
    probe = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)  # a wildcard bind answers on loopback
    deadline = asyncio.get_running_loop().time() + timeout
    while not serving.done() and asyncio.get_running_loop().time() < deadline:
        try:
            _, writer = await asyncio.open_connection(probe, port)
        except OSError:
            await asyncio.sleep(0.005)
            continue
        writer.close()
        return
    failure = serving.done() and not serving.cancelled() and serving.exception()
    if failure:
        raise StartupError(f"cannot listen on {where(address, port)}: {failure}")
    raise StartupError(f"cannot listen on {where(address, port)}: granian did not start listening "
                       "(another server may have taken the port as the mock started)")
