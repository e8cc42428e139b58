"""Run the mock in-process (uvicorn in a thread on 127.0.0.1, a free port) for the harness."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from mock_server.listen import BackgroundServer


def free_port() -> int:
    """A port nothing listens on right now (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class InProcessMock:
    """A mock started by the harness; ``stop()`` ends it."""

    url: str
    background: BackgroundServer

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.background.stop()


def start_mock(fault: str | None = None) -> InProcessMock:
    """Start the mock with the default fixtures (and ``fault``, when given) and wait until it listens."""
    from mock_server.app import create_app
    from mock_server.listen import listen
    from mock_server.settings import Settings

    # Settings.from_env honours MEMMOCK_* (MEMMOCK_FAULT included); an explicit fault wins.
    # connexion warns on every multi-content-type request; noise in a conformance run.
    logging.getLogger("connexion").setLevel(logging.ERROR)
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    # Port 0: the socket is bound before uvicorn starts, so no other process can take it in between.
    settings = Settings.from_env(host="127.0.0.1", port=0, fault=fault, log_level="error")
    app = create_app(settings)
    background = BackgroundServer(app, settings, listen(settings.host, settings.port))
    background.start()
    return InProcessMock(url=f"http://127.0.0.1:{background.port}", background=background)
