"""The request path: every HTTP request, routed to its operation's plan, with one exception boundary.

connexion hands each request to this middleware first (after its server-error and exception
layers, and CORS). It attaches the state of the request's namespace (``namespaces.py``), refuses
what no operation should see (a control character in the path, an admin request a web page
could send, a body past the limit), finds
the operation (``routes.py``) and runs its plan (``plan.py``). Every error a routed request
raises before its reply starts is answered here, through ``error_handlers.error_reply`` and so
``errors.render``. A request no operation takes is answered as connexion's Starlette router
would: 405 naming the methods its path has, a slash redirect, or (past Swagger UI, which
connexion serves) 404.

Every request but the admin plane's is recorded in the journal (``journal.py``) once it is
answered, errors and unrouted requests included: the reply's status, headers and first body
bytes are caught here, on their way to the server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from time import perf_counter

from starlette.datastructures import URL
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admin_guard import ADMIN_PREFIX, AdminLocks, is_admin_path
from .error_handlers import error_reply
from .errors import MethodNotAllowed, PayloadTooLarge, not_found
from .headers import first_header
from .journal import JOURNAL_KEY, SERVER_ERROR, Journal
from .plan import OperationPlan
from .routes import RouteTable
from .namespaces import Namespaces
from .state import NAMESPACES_KEY, OPERATION_KEY, STATE_KEY
from .validation import style_of
from .wire import send_json

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestPath:
    """The connexion middleware that serves every operation of the specs from its plan."""

    def __init__(self, app: ASGIApp, *, plans: Sequence[OperationPlan], namespaces: Namespaces) -> None:
        self.app = app
        self.namespaces = namespaces
        self.table = RouteTable(plans)
        settings = namespaces.default.settings
        self.limit = settings.body_limit
        self.locks = AdminLocks(settings)
        self.journal = Journal(settings, self.table) if settings.journal_size else None
        self.body_bytes = settings.journal_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Per-request data lives in the scope's extensions (the state, the operation, the validated
        # inputs): a dict of this request's own, since a server may hand every request the same one
        # (granian does).
        scope["extensions"] = dict(scope.get("extensions") or ())
        path = scope["path"]
        admin = path.startswith(ADMIN_PREFIX) and is_admin_path(path)
        journal = None if admin else self.journal
        began = perf_counter() if journal is not None else 0.0
        cap = self.body_bytes
        start: Message | None = None  # the reply's first message, once it has started
        body = b""  # the reply body's first ``cap`` bytes (with the journal)
        size = 0

        async def sender(message: Message) -> None:
            nonlocal start, body, size
            if message["type"] == "http.response.start":
                start = message
            elif journal is not None:
                chunk = message.get("body", b"")
                if chunk:
                    if size < cap:
                        body = (body + chunk)[:cap] if body else chunk[:cap]
                    size += len(chunk)
            await send(message)

        try:
            await self._serve(scope, admin, receive, sender)
        except Exception as exc:
            reply = None if start is not None else error_reply(exc, scope)
            if reply is None:  # too late for an error response, or no error of ours: the server error layer decides
                start = start or SERVER_ERROR
                raise
            await send_json(sender, *reply)
        finally:
            if journal is not None:
                journal.record(scope, self.namespaces.fallback, began, start, body, size)

    async def _serve(self, scope: Scope, admin: bool, receive: Receive, send: Send) -> None:
        namespaces = self.namespaces
        state = namespaces.state_of_request(scope, write=scope["method"] not in _READS)
        extensions = scope["extensions"]  # this request's own (``__call__``)
        extensions[STATE_KEY] = state
        extensions[NAMESPACES_KEY] = namespaces
        path = scope["path"]
        if not (path.isascii() and path.isprintable()) and _CONTROL.search(path):
            # No route has a control character; Starlette's regexes disagree about a trailing
            # newline and would redirect between "x\n" and "x\n/" for ever.
            raise not_found(style_of(scope))
        if admin:
            self.locks.check(scope)  # before Swagger UI and routing: the admin docs are locked too
            extensions[JOURNAL_KEY] = self.journal
        length = first_header(scope["headers"], b"content-length")
        if length is not None and length.isdigit():
            if int(length) > self.limit:
                raise PayloadTooLarge(self.limit)
            # The server delivers no more than a declared length (HTTP framing; with
            # Transfer-Encoding too, the servers' parsers refuse the request): nothing to count.
        else:
            receive = self._limited(receive)
        routed = self.table.find(scope["method"], path)
        if routed is None:
            allowed = self.table.allowed(path)
            if allowed:
                # The path is a route's, the method none of its routes'; Allow names them all.
                raise MethodNotAllowed(scope["method"], allowed)
            toggled = self.table.redirect(path)
            if toggled is not None:
                await RedirectResponse(url=str(URL(scope={**scope, "path": toggled})))(scope, receive, send)
                return
            await self.app(scope, receive, send)  # Swagger UI, or no operation: 404 (``unrouted``)
            return
        plan = routed.plan
        scope["path_params"] = dict(routed.path_params)  # the table keeps its own
        extensions[OPERATION_KEY] = plan.operation_id
        await plan.run(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        """Counts streamed bytes too, for bodies sent without a Content-Length."""
        seen = 0
        limit = self.limit

        async def receive_() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(limit)
            return message

        return receive_


class Unrouted:
    """The end of connexion's stack: what neither an operation nor Swagger UI took is not found."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app  # connexion's lifespan handling, for the other scope types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise not_found(style_of(scope))
        await self.app(scope, receive, send)
