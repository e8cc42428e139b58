"""Run the mock in-process (uvicorn in a thread on 127.0.0.1, a free port) for the harness."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

import uvicorn


def free_port() -> int:
    """A port nothing listens on right now (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class InProcessMock:
    """A mock started by the harness; ``stop()`` ends it."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_mock(fault: str | None = None, timeout: float = 15.0, attempts: int = 3) -> InProcessMock:
    """Start the mock with the default fixtures (and ``fault``, when given) and wait until it listens."""
    # free_port() can race with another process taking the port before uvicorn binds: retry.
    for attempt in range(attempts):
        try:
            return _start(fault, timeout)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _start(fault: str | None, timeout: float) -> InProcessMock:
    from mock_server.app import create_app
    from mock_server.settings import Settings

    # Settings.from_env honours MEMMOCK_* (MEMMOCK_FAULT included); an explicit fault wins.
    # connexion warns on every multi-content-type request; noise in a conformance run.
    logging.getLogger("connexion").setLevel(logging.ERROR)
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    settings = Settings.from_env(host="127.0.0.1", port=free_port(), fault=fault)
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="error", access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    thread = threading.Thread(target=server.run, name="memmock-inprocess", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the in-process mock did not start")
        time.sleep(0.02)
    return InProcessMock(url=f"http://127.0.0.1:{settings.port}", server=server, thread=thread)
