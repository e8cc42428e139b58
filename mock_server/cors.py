"""CORS for the APIs, never for the admin plane: Starlette's middleware with a short way for plain requests."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

from .admin_guard import ADMIN_PREFIX, is_admin_path
from .headers import first_header


class LeanCORSMiddleware(CORSMiddleware):
    """Starlette's CORS for the APIs, with a short way for requests that carry no ``Origin``.

    With credentials allowed, Starlette answers a request's own origin (never ``*``), so a page
    may send the ``memmock_ns`` cookie with ``credentials: "include"``.

    Those (not CORS requests) only get ``Vary: Origin`` added, as Starlette does, without parsing
    the request headers twice and the response headers once per request. The admin plane gets no
    CORS headers at all: no page on another origin may read it or pass a preflight to it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith(ADMIN_PREFIX) and is_admin_path(path):  # no other origin may read or preflight /_mock
                await self.app(scope, receive, send)
                return
            if first_header(scope["headers"], b"origin") is None:
                await self.app(scope, receive, _VaryOrigin(send))
                return
        await super().__call__(scope, receive, send)


class _VaryOrigin:
    """A ``send`` that adds ``Vary: Origin`` to the response, as Starlette's CORS does."""

    __slots__ = ("send",)

    def __init__(self, send: Send) -> None:
        self.send = send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = message.setdefault("headers", [])
            if first_header(headers, b"vary", any_case=True) is None:
                headers.append((b"vary", b"Origin"))
            else:
                vary = MutableHeaders(scope=message)
                vary["Vary"] = ", ".join([*vary.getlist("Vary"), "Origin"])
        await self.send(message)
