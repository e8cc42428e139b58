"""The floor of a Python server here: each row's captured reply, sent by an ASGI app that does nothing else.

It reads the stubs ``bench/run.py`` writes (method, path, query, the mock's status, headers and
body), reads each request's body as an app must, and answers from a dict, on granian as
``memmock serve`` runs (embedded server, one worker, uvloop). No routing, validation, auth or
state: what memmock's request path costs above this line is memmock's; what this line costs is
the server's and Python's, and no Python app served so can go faster.

Usage: ``floor.py PORT STUBS.json``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import sys
from typing import Any

import uvloop
from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server

Reply = tuple[int, list[tuple[bytes, bytes]], bytes]
HEALTH: Reply = (200, [(b"content-type", b"application/json")], b'{"status":"ok"}')
NOT_STUBBED: Reply = (404, [(b"content-type", b"application/json")], b'{"detail":"not stubbed"}')


def load(path: str) -> tuple[dict[tuple[str, str, bytes], Reply], dict[str, Reply]]:
    """Replies by (method, path, query), and by method for the rows that take any id at the end of a path."""
    exact: dict[tuple[str, str, bytes], Reply] = {("GET", "/_floor/health", b""): HEALTH}
    by_prefix: dict[str, Reply] = {}
    for stub in json.loads(open(path).read()):
        reply: Reply = (stub["status"], [(k.lower().encode(), v.encode()) for k, v in stub["headers"]],
                        base64.b64decode(stub["body"]))
        if stub["any_id"]:
            by_prefix[stub["method"]] = reply
        else:
            exact[(stub["method"], stub["path"], stub["query"].encode())] = reply
    return exact, by_prefix


def app_of(exact: dict[tuple[str, str, bytes], Reply], by_prefix: dict[str, Reply]) -> Any:
    """The ASGI app answering from the stubs."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"]
        if method in ("POST", "PUT", "PATCH"):
            more = True
            while more:  # the body, read as any app reads it
                message = await receive()
                more = message.get("more_body", False)
        reply = exact.get((method, scope["path"], scope["query_string"])) or by_prefix.get(method) or NOT_STUBBED
        status, headers, body = reply
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def main(port: int, stubs: str) -> None:
    server = Server(app_of(*load(stubs)), address="127.0.0.1", port=port, interface=Interfaces.ASGI,
                    http=HTTPModes.http1, websockets=False, log_enabled=False)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)
    await server.serve()


if __name__ == "__main__":
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(int(sys.argv[1]), sys.argv[2]))
