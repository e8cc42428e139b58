"""Faults of inputs and what they count: bounds not enforced, backfill counters, 5xx on valid input."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.datastructures import Headers

from ..errors import InvalidRequest
from ..models.pagination import MAX_PAGE_SIZE
from ..state import VaiPrincipal
from ..validation import request_data
from ..wire import dumps
from .exchange import Exchange, Reply, as_int, json_object, read_body, replay_body, set_header, with_body
from .status import server_error

VAI_MAX_LIMIT = 100  # the VirtuousAI list's limit maximum in the spec
ARTIFACT_TITLE_MAX = 255  # the artifact title's maxLength in the spec
_FORM_BOOLEANS = {"true", "false", "1", "0", "on", "off", "yes", "no", "y", "n"}


# --- validation ------------------------------------------------------------------------------


async def validation_off(ex: Exchange) -> None:
    """``enabled`` missing or not a boolean is taken as true (JSON, url-encoded or no body)."""
    body = await read_body(ex.receive)
    content_type = (Headers(scope=ex.scope).get("content-type") or "").split(";")[0].strip().lower()
    scope = ex.scope
    if not body.strip():
        body = b'{"enabled": true}'
        scope = set_header(scope, "content-type", "application/json")
    elif content_type.endswith("json"):
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            document = None  # malformed JSON still gets its parse error
        if isinstance(document, dict) and not isinstance(document.get("enabled"), bool):
            document["enabled"] = True
            body = dumps(document)
    elif content_type == "application/x-www-form-urlencoded":
        pairs = [(k, v) for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True) if k != "enabled"]
        values = [v for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True) if k == "enabled"]
        enabled = values[-1] if values and values[-1].lower() in _FORM_BOOLEANS else "true"
        body = urlencode(pairs + [("enabled", enabled)]).encode("latin-1")
    scope = set_header(scope, "content-length", str(len(body)))
    await ex.pass_through(scope, replay_body(body))


async def limit_uncapped(ex: Exchange) -> Reply:
    """A VirtuousAI list ``limit`` above 100 is served (up to ``limit`` memories) instead of answering 422."""
    query = ex.query()
    limit = as_int(query.get("limit"))
    if limit is None or limit <= VAI_MAX_LIMIT:
        return await ex.forward()
    sub = ex.with_query({**query, "limit": str(VAI_MAX_LIMIT)})  # every other check as usual
    reply = await ex.forward(sub)
    principal = ex.principal(sub)
    if reply.status == 200 and isinstance(principal, VaiPrincipal):
        offset = request_data(sub).query.get("offset", 0)
        reply.set_json(ex.store.vai_memory.list(principal.organization_id, limit, offset))
    return reply


async def negative_offset(ex: Exchange) -> None:
    """A negative VirtuousAI list ``offset`` is read as 0 instead of answering 422."""
    query = ex.query()
    offset = as_int(query.get("offset"))
    await ex.pass_through(ex.with_query({**query, "offset": "0"}) if offset is not None and offset < 0 else None)


# --- counters --------------------------------------------------------------------------------


def next_offset_processed_only(ex: Exchange, body: Any) -> Any:
    """The backfill's ``nextOffset`` counts only processed memories, and ``hasMore`` follows it."""
    principal = ex.principal()
    total = ex.store.vai_memory.count(principal.organization_id) if isinstance(principal, VaiPrincipal) else 0
    body["nextOffset"] = body["offset"] + body["processed"]
    body["hasMore"] = body["nextOffset"] < total
    return body


# --- server errors on unusual but valid input ------------------------------------------------


def non_ascii_search(ex: Exchange) -> bool:
    """Whether the ``search`` term has a non-ASCII character."""
    return not (ex.query().get("search") or "").isascii()


def full_page(ex: Exchange) -> bool:
    """Whether the request asks for the largest page (``page_size`` 100 or more)."""
    return (as_int(ex.query().get("page_size")) or 0) >= MAX_PAGE_SIZE


async def full_length_title_500(ex: Exchange) -> Reply | None:
    """An artifact create whose title is exactly the spec's maxLength answers 500 (the column is one short).

    A copy of the request with a null title (never valid) goes through validation first: when
    the title is its only problem, the request is otherwise valid and gets the 500; any other
    answer (401, 403, 400 on another field...) is the one the request itself gets.
    """
    body = await read_body(ex.receive)
    document = json_object(ex, body)
    title = document.get("title") if document is not None else None
    if document is not None and isinstance(title, str) and len(title) == ARTIFACT_TITLE_MAX:
        try:
            await ex.forward(*with_body(ex.subscope(), dumps({**document, "title": None})))
        except InvalidRequest as exc:
            if all(problem.location == "body" and problem.name[:1] == ("title",) for problem in exc.problems):
                reply = Reply(500)
                server_error(ex, reply)
                return reply
    await ex.pass_through(receive=replay_body(body))
    return None
