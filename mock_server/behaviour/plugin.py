"""``BehaviourPlugin``: Prefer, latency and network faults on every operation of the two APIs.

Its ``around`` wrapper is the outermost of every operation's run: while the mock runs without
``--latency`` and no namespace has a behaviour, a request that sends no ``Prefer`` header and no
``__`` query parameter goes straight to the operation (a look at the query and through the
headers). Any other reads its preferences (a bad one answers 400), waits out its delay (``asyncio.sleep``:
nothing else waits), then meets its fault, if any, or is served. A forced answer (``code``,
``example``, ``dynamic``) is given by the ``handler`` hook, so only once the request is
authenticated and valid, as Prism validates before it negotiates; the operation's handler is not
called, so nothing changes. The admin plane is left alone.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass, field

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..error_handlers import error_reply
from ..errors import Style
from ..plan import CURRENT_CALL, Handler, OperationPlan, Plugin
from ..settings import Settings
from ..state import STATE_KEY, MockState
from ..wire import send_json
from . import network
from .answers import Answers, Choice, body_seed
from .config import KEY, Activity, Behaviour
from .latency import parse_latency
from .prefer import BadPreference, Preferences, preferences

ADMIN = "admin"
REQUEST_KEY = "memmock.behaviour"  # the Wanted of a request to answer from the spec, in scope["extensions"]
NOTHING = Preferences()


@dataclass
class Wanted:
    """What the around wrapper found for one request, for the handler hook and the reply's headers."""

    choice: Choice | None
    applied: list[str] = field(default_factory=list)  # Preference-Applied, as the request is served


class BehaviourPlugin(Plugin):
    """Prefer (RFC 7240, as Prism reads it), latency and network faults; built into every mock."""

    def __init__(self, settings: Settings) -> None:
        self.activity = Activity(parse_latency(settings.latency) if settings.latency else None)
        self.operations: set[str] = set()
        self.answers: dict[str, Answers] = {}
        logging.getLogger("uvicorn.error").addFilter(network.QUIET_TRUNCATION)

    def attach(self, state: MockState) -> None:
        """A behaviour of its own for each namespace's state, seeded by that state's seed."""
        # Through a weak reference: the state holds its behaviour, and a cycle between them would
        # outlive a dropped namespace once frozen (heap.py freezes what lives long; states hold no cycles).
        held = weakref.ref(state)
        state.extensions[KEY] = Behaviour(frozenset(self.operations), self.activity,
                                          lambda: held().store.ids.seed)  # type: ignore[union-attr]

    def detach(self, state: MockState) -> None:
        """A dropped namespace's behaviour no longer holds requests back (``Activity`` stops counting it)."""
        state.extensions[KEY].clear()

    def handler(self, plan: OperationPlan, handler: Handler) -> Handler:
        """The operation's handler, or the forced answer the request prefers."""
        if plan.api == ADMIN:
            return handler
        answers = self.answers[plan.operation_id] = Answers(plan.operation)

        def forced() -> Awaitable[Response]:
            call = CURRENT_CALL.get()
            extensions = call[0]["extensions"]
            if REQUEST_KEY not in extensions:
                return handler()
            return _forced(answers, extensions[REQUEST_KEY], call[0], call[1])

        return forced

    def around(self, plan: OperationPlan, app: ASGIApp) -> ASGIApp:
        """The operation's whole run, behind the request's preferences, delay and fault."""
        if plan.api == ADMIN:
            return app
        operation = plan.operation_id.rpartition(".")[2]
        self.operations.add(operation)
        answers = self.answers[plan.operation_id]
        style = plan.style
        activity = self.activity

        def run(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            if activity.idle and b"__" not in scope["query_string"]:
                for name, _ in scope["headers"]:  # the loop inline: a call per request costs more than the scan
                    if name == b"prefer":
                        break
                else:
                    return app(scope, receive, send)  # no coroutine of ours: the common request pays no more
            return _serve(app, answers, style, operation, scope, receive, send)

        run.__wrapped__ = app  # type: ignore[attr-defined]  # what it wraps, as functools.wraps records it
        return run


async def _forced(answers: Answers, wanted: Wanted, scope: Scope, state: MockState) -> Response:
    choice = wanted.choice
    assert choice is not None
    wanted.applied.extend(choice.asked)
    return answers.reply(choice, body_seed(scope, choice.seed if choice.seed is not None else state.store.ids.seed))


async def _serve(app: ASGIApp, answers: Answers, style: Style, operation: str,
                 scope: Scope, receive: Receive, send: Send) -> None:
    """A request that may have preferences, or whose namespace may have behaviour."""
    behaviour: Behaviour = scope["extensions"][STATE_KEY].extensions[KEY]
    try:
        asked = preferences(scope)
        wanted = Wanted(answers.choose(asked) if asked.forces else None)
    except BadPreference as exc:
        await send_json(send, 400, {"detail": str(exc)})
        return
    if behaviour.idle and asked == NOTHING:
        await app(scope, receive, send)
        return
    if wanted.choice is not None:
        scope["extensions"][REQUEST_KEY] = wanted  # for the handler hook
    if asked.delay_ms is not None:
        wanted.applied.append(f"delay={asked.delay_ms:g}")
        delay = asked.delay_ms / 1000
    else:
        delay = behaviour.delay(operation)
    fault = asked.fault or behaviour.fault(operation)
    if asked.fault is not None:
        wanted.applied.append(asked.fault.preference())
    out = _applying(send, wanted)
    if delay and not await network.wait(delay):
        return
    if fault is None:
        await _replying(app, scope, receive, out)
    elif fault.name in network.STATUS_FAULTS:
        await _status_fault(fault, answers, style, scope, out)
    elif fault.name in ("reset", "empty"):
        sock = network.connection_socket(scope)
        if sock is None:
            await send_json(send, 400, {"detail": f"fault {fault.name}: this request's connection has no socket "
                                                   "memmock can reach (a test client in memory, or a server in "
                                                   "another process)"})
            return
        try:
            network.break_connection(sock, fault)
        except OSError as exc:
            await send_json(send, 400, {"detail": f"fault {fault.name}: {exc.strerror or exc}"})
            return
        await network.closed_reply(send)
    else:
        start, body = await _held(app, scope, receive)
        if fault.name == "truncated" and body:
            await network.truncated(start, body, out)
        elif fault.name == "dribble":
            await network.dribbled(start, body, out, fault.duration_ms)
        else:  # nothing to cut: a reply without a body comes whole
            await out(start)
            await out({"type": "http.response.body", "body": body})


async def _status_fault(fault: network.FaultSpec, answers: Answers, style: Style, scope: Scope, send: Send) -> None:
    """500, 503 or 429 with Retry-After: the operation's own answer for it where it declares one."""
    retry = {"Retry-After": str(fault.retry_after)}
    if answers.key_for(fault.name) is None:
        await send_json(send, int(fault.name), network.status_body(fault, style), retry)
        return
    choice = answers.choose(Preferences(code=fault.name))
    reply = answers.reply(choice, body_seed(scope, scope["extensions"][STATE_KEY].store.ids.seed), retry)
    await reply(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _applying(send: Send, wanted: Wanted) -> Send:
    """``send``, with ``Preference-Applied`` on the reply's head when the request's preferences were honoured."""

    async def applying(message: Message) -> None:
        if message["type"] == "http.response.start" and wanted.applied:
            value = ", ".join(wanted.applied).encode("latin-1")
            message = {**message, "headers": [*message.get("headers", ()), (b"preference-applied", value)]}
        await send(message)

    return applying


async def _replying(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app``, answering its errors here (with the reply's headers) rather than in the request path."""
    started = False

    async def sending(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        await app(scope, receive, sending)
    except Exception as exc:
        reply = None if started else error_reply(exc, scope)
        if reply is None:
            raise
        status, body, headers = reply
        await send_json(send, status, body, headers)


async def _held(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
    """The reply ``app`` gives (its errors rendered), held back whole: the start message and the body."""
    start: Message = {}
    chunks: list[bytes] = []

    async def keep(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await _replying(app, scope, receive, keep)
    return start, b"".join(chunks)


