"""/_mock/requests: the journal of the requests the mock answered, counted, listed and cleared.

Each acts on the namespace of its own request (``X-Memmock-Namespace``, the cookie, or the
default one) unless ``namespace`` names another, or ``*`` for every namespace.
"""

from __future__ import annotations

from starlette.responses import Response

from ..errors import NotFound
from ..journal import Journal, Query
from ..namespaces import namespace_of
from ._call import Call, current, json, no_content


def _journal(call: Call) -> Journal:
    journal = call.journal
    if journal is None:
        raise NotFound("The journal is off: the mock was started with --journal-size 0.")
    return journal


def _namespace(call: Call) -> str:
    """The namespace a journal call acts on: ``namespace``, else its own request's."""
    return call.query("namespace") or namespace_of(call.scope) or call.namespaces.fallback


def _query(call: Call, journal: Journal) -> Query:
    return journal.query(namespace=_namespace(call), **{
        name: call.query(name) for name in ("operation", "method", "path", "status", "since", "until")})


async def list_requests() -> Response:
    """The requests the filters take, newest first, at most ``limit`` of them."""
    call = current()
    journal = _journal(call)
    taken = list(journal.select(_query(call, journal)))
    return json({"count": len(taken), "oldest": journal.oldest,
                 "requests": journal.views(taken[:call.query("limit")])})


async def count_requests() -> Response:
    """How many requests the filters take."""
    call = current()
    journal = _journal(call)
    return json({"count": sum(1 for _ in journal.select(_query(call, journal)))})


async def clear_requests() -> Response:
    """Forget the requests of the namespace (every one with ``namespace=*``)."""
    call = current()
    journal = _journal(call)
    journal.clear(_namespace(call))
    return no_content()
