"""Where the mock listens: the socket is bound before anything is announced, then handed to uvicorn.

``memmock serve`` runs uvicorn in front; the pytest plugin and the harness's in-process mock run it in a thread.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any

import uvicorn

from .server import timed_protocol
from .settings import Settings, StartupError


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening; StartupError names the address when that fails."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        # reuse_port stays off: a second memmock on a taken port must fail, not share it.
        return socket.create_server(address, family=family, reuse_port=False)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {where}: unknown host ({exc.strerror})") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"cannot listen on {where}: the port is taken (another server listens there; "
                               "choose another with --port, or --port 0 for any free one)") from None
        raise StartupError(f"cannot listen on {where}: {exc.strerror or exc}") from None


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
