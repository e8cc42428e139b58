"""``server.Served``, the app as granian is handed it: a body's end is told with its last bytes."""

from __future__ import annotations

import asyncio
from typing import Any

from mock_server.server import Served

Message = dict[str, Any]


def run(headers: list[tuple[bytes, bytes]], messages: list[Message]) -> tuple[list[Message], int]:
    """What an app reading the whole body receives, and how many messages it took from the server."""
    pending = list(messages)
    taken = 0
    seen: list[Message] = []

    async def receive() -> Message:
        nonlocal taken
        taken += 1
        return pending.pop(0)

    async def send(message: Message) -> None:
        pass

    async def app(scope: Any, receive_: Any, send_: Any) -> None:
        while True:
            message = await receive_()
            seen.append(message)
            if not message.get("more_body", False):
                break
        await send_({"type": "http.response.start", "status": 200, "headers": []})
        await send_({"type": "http.response.body", "body": b""})

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(Served(app, 10.0)(scope, receive, send))
    return seen, taken


def chunk(body: bytes, more: bool) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


def test_the_last_bytes_of_a_declared_length_end_the_body() -> None:
    seen, taken = run([(b"content-length", b"5")], [chunk(b"hello", True), chunk(b"", False)])
    assert (seen, taken) == ([chunk(b"hello", False)], 1)


def test_a_body_in_parts_ends_with_the_part_that_completes_it() -> None:
    seen, taken = run([(b"content-length", b"10")], [chunk(b"hello", True), chunk(b"world", True), chunk(b"", False)])
    assert (seen, taken) == ([chunk(b"hello", True), chunk(b"world", False)], 2)


def test_a_chunked_body_ends_where_the_server_says() -> None:
    messages = [chunk(b"hello", True), chunk(b"", False)]
    for headers in ([(b"transfer-encoding", b"chunked")],
                    [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")],
                    [(b"content-length", b"5, 5")]):
        seen, taken = run(headers, list(messages))
        assert (seen, taken) == (messages, 2), headers
