"""The innermost ASGI app: call the operation's handler, nothing else.

connexion's stock inner app rebuilds a decorator chain on every request and re-derives handler
arguments that our validators already produced (see ``validation.RequestData``). This app keeps
connexion's resolution (``x-openapi-router-controller`` + ``operationId`` → function) and its
dispatch by operation id, and simply awaits the handler, which returns a Starlette response.
It also stands in for connexion's context middleware: the one thing handlers need from it is the
request's scope (``api/_call.current``), set here in ``CURRENT_SCOPE``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from connexion.middleware.abstract import RoutedAPI, RoutedMiddleware
from connexion.operations import AbstractOperation
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Handler = Callable[[], Awaitable[Response]]
CURRENT_SCOPE: ContextVar[Scope] = ContextVar("memmock.scope")


class DirectOperation:
    """One operation: await the handler, send its response."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        CURRENT_SCOPE.set(scope)
        response = await self.handler()
        await response(scope, receive, send)


class DirectApi(RoutedAPI[DirectOperation]):
    """The operations of one spec, by operation id."""

    def __init__(self, *args: Any, pythonic_params: bool = False, jsonifier: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_paths()

    def make_operation(self, operation: AbstractOperation) -> DirectOperation:
        return DirectOperation(operation.function)


async def _unrouted(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        # Nothing to start or stop, but acknowledge both so servers and `with TestClient(app)` start.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    raise HTTPException(status_code=404)


class DirectApp(RoutedMiddleware[DirectApi]):
    """Stands in for connexion's ``AsyncASGIApp``."""

    api_cls = DirectApi

    def __init__(self) -> None:
        super().__init__(_unrouted)

    def add_url_rule(self, *args: Any, **kwargs: Any) -> None:
        """The mock registers no routes outside its specs."""
        raise NotImplementedError("routes come from the specs")
