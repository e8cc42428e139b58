"""The harness's one adapter to the mock: start it in-process (uvicorn in a thread on 127.0.0.1, a
free port) when no --target is given, and say what it knows (its dev tokens, its fault names).

The only module of contract_tests that imports mock_server, and only inside its functions: importing
the harness loads no mock code (tests/test_harness_independent.py).
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mock_server.listen import BackgroundServer


def free_port() -> int:
    """A port nothing listens on right now (loopback only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dev_credentials_file() -> Traversable:
    """The dotenv file of the tokens in the mock's default fixtures (the repo's fixtures/dev-credentials.env)."""
    from importlib.resources import files

    return files("mock_server.fixtures") / "dev-credentials.env"


def fault_names() -> list[str]:
    """Every fault the mock can inject (``memmock serve --fault NAME``)."""
    from mock_server.faults import fault_names as names

    return names()


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
    from mock_server.listen import BackgroundServer, listen
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
