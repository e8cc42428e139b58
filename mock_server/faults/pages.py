"""Faults of counts, pages and ordering: DRF page bodies and links, VirtuousAI totals, sort orders.

A fault that changes what the handler sees of the query still answers with the page links of
the query the client sent, as the healthy mock builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import InvalidPage, InvalidRequest
from ..models.pagination import MAX_PAGE_SIZE, parse_ordering, parse_page_size
from ..headers import base_url
from .exchange import Exchange, Reply, as_int, replay_body

WRONG_DEFAULT_PAGE_SIZE = 20
# The fields the artifacts list sorts by, and its default: the seed's, as the artifacts backend keeps them.
_ARTIFACT_ORDER_FIELDS = dict.fromkeys(("date_created", "date_updated", "title"))
_ARTIFACT_DEFAULT_ORDERING = "-date_updated"


def page_link(ex: Exchange, query: dict[str, str], number: int) -> str:
    """A page link as the mock builds them: ``query`` without ``page``, plus ``page`` past the first."""
    params = {k: v for k, v in query.items() if k != "page"}
    if number > 1:
        params["page"] = str(number)
    base = base_url(ex.scope) + ex.scope["path"]
    return base + (f"?{urlencode(params)}" if params else "")


def _page_number(body: dict[str, Any]) -> int:
    """Which page a DRF body is, read from its ``previous`` link (the link to page 1 has no ``page``)."""
    if not body.get("previous"):
        return 1
    return int(dict(parse_qsl(urlsplit(body["previous"]).query)).get("page", "1")) + 1


async def _forward_rewritten(ex: Exchange, query: dict[str, str]) -> Reply:
    """Forward with another query string; the page links answer for the query the client sent."""
    reply = await ex.forward(ex.with_query(query))
    body = reply.json() if reply.status == 200 else None
    if isinstance(body, dict) and "next" in body:
        number, sent = _page_number(body), ex.query()
        body["next"] = page_link(ex, sent, number + 1) if body["next"] else None
        body["previous"] = page_link(ex, sent, number - 1) if body["previous"] else None
        reply.set_json(body)
    return reply


async def _all_items(ex: Exchange, query: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of the DRF list under ``query`` (its page and page_size aside), fetched page by page."""
    items: list[dict[str, Any]] = []
    number = 1
    while True:
        sub = {k: v for k, v in query.items() if k not in ("page", "page_size")}
        sub.update(page_size=str(MAX_PAGE_SIZE), page=str(number))
        body = (await ex.forward(ex.with_query(sub), replay_body(b""))).json()
        items += body["results"]
        if not body["next"]:
            return items
        number += 1


def _link_query(link: str, change: Callable[[list[tuple[str, str]]], list[tuple[str, str]]]) -> str:
    """A page link with its query parameters passed through ``change``."""
    parts = urlsplit(link)
    return urlunsplit(parts._replace(query=urlencode(change(parse_qsl(parts.query, keep_blank_values=True)))))


# --- pagination ------------------------------------------------------------------------------


def count_plus_one(ex: Exchange, body: Any) -> Any:
    """The DRF ``count`` is one too many."""
    body["count"] += 1
    return body


async def page_overlap(ex: Exchange) -> Reply:
    """Pages after the first start one item early (offset ``(page - 1) * size - 1``)."""
    reply = await ex.forward()
    query = ex.query()
    number = as_int(query.get("page"))
    if reply.status != 200 or number is None or number < 2:
        return reply
    previous_query = {k: v for k, v in query.items() if k != "page"}
    if number > 2:
        previous_query["page"] = str(number - 1)
    previous = await ex.forward(ex.with_query(previous_query), replay_body(b""))
    if previous.status == 200 and previous.json()["results"]:
        body = reply.json()
        body["results"] = previous.json()["results"][-1:] + body["results"]
        reply.set_json(body)
    return reply


async def uncapped_page(ex: Exchange) -> Reply:
    """A page_size above 100 is honoured, not clamped: the pages are cut from the whole list."""
    query = ex.query()
    size = as_int(query.get("page_size"))
    reply = await ex.forward()
    if reply.status != 200 or size is None or size <= MAX_PAGE_SIZE:
        return reply
    items = await _all_items(ex, query)
    pages = max(1, -(-len(items) // size))
    raw = query.get("page", "").strip()
    number = pages if raw == "last" else (as_int(raw) or 1)  # the healthy answer has vetted the number
    if number > pages:
        raise InvalidPage()
    body = reply.json()
    body["results"] = items[(number - 1) * size:number * size]
    body["next"] = page_link(ex, query, number + 1) if number < pages else None
    body["previous"] = page_link(ex, query, number - 1) if number > 1 else None
    reply.set_json(body)
    return reply


async def default_page_size(ex: Exchange) -> Reply:
    """page_size absent, zero, negative or not a number means 20 (the links keep what was sent)."""
    query = ex.query()
    size = as_int(query.get("page_size"))
    if size is not None and size > 0:
        return await ex.forward()
    return await _forward_rewritten(ex, {**query, "page_size": str(WRONG_DEFAULT_PAGE_SIZE)})


def links_page_only(ex: Exchange, body: Any) -> Any:
    """The next and previous links keep only ``page`` of the query."""
    for link in ("next", "previous"):
        if body.get(link):
            body[link] = _link_query(body[link], lambda params: [(k, v) for k, v in params if k == "page"])
    return body


def first_page_numbered(ex: Exchange, body: Any) -> Any:
    """The previous link to page 1 carries ``page=1``."""
    if body.get("previous"):
        body["previous"] = _link_query(body["previous"], lambda params: params if any(k == "page" for k, _ in params)
                                       else params + [("page", "1")])
    return body


def total_all_orgs(ex: Exchange, body: Any) -> Any:
    """The VirtuousAI ``total`` counts every organization's memories."""
    body["total"] = len(ex.store.vai_memory.export()["memories"])
    return body


# --- ordering ------------------------------------------------------------------------------


async def ordering_ignored(ex: Exchange) -> Reply:
    """Drop ``ordering`` before the handler sees it; the page links still carry it."""
    query = ex.query()
    if "ordering" not in query:
        return await ex.forward()
    return await _forward_rewritten(ex, {k: v for k, v in query.items() if k != "ordering"})


async def ties_unstable(ex: Exchange) -> Reply:
    """Rows that tie on the ordering key come in another order on each page query (no id tiebreak).

    Deterministically: by id on odd pages, by descending id on even ones, so a walk through the
    pages repeats some tied rows and skips others; every single page still looks sorted.
    """
    reply = await ex.forward()
    body = reply.json() if reply.status == 200 else None
    if body is None or _page_number(body) % 2:
        return reply
    query = ex.query()
    ordering = parse_ordering(query.get("ordering"), _ARTIFACT_ORDER_FIELDS, _ARTIFACT_DEFAULT_ORDERING)
    keys = [name for name, _ in ordering]
    items = await _all_items(ex, query)
    swapped = [row for _, run in groupby(items, key=lambda a: tuple(a[k] for k in keys)) for row in reversed(list(run))]
    size, number = parse_page_size(query.get("page_size")), _page_number(body)
    body["results"] = swapped[(number - 1) * size:number * size]
    reply.set_json(body)
    return reply


async def unknown_ordering_400(ex: Exchange) -> Reply:
    """An ``ordering`` naming a field the list cannot sort by answers 400 instead of being ignored."""
    reply = await ex.forward()
    ordering = ex.query().get("ordering") or ""
    unknown = [part.strip() for part in ordering.split(",")
               if part.strip() and part.strip().lstrip("-") not in _ARTIFACT_ORDER_FIELDS]
    if reply.status == 200 and unknown:
        raise InvalidRequest.one("query", "ordering", "custom", ordering,
                                 message=f"Invalid ordering field: {unknown[0]}")
    return reply


async def first_ordering_field_only(ex: Exchange) -> Reply:
    """``ordering=a,b`` sorts by ``a`` alone (ties then by id); the links keep what was sent."""
    query = ex.query()
    ordering = query.get("ordering") or ""
    if "," not in ordering:
        return await ex.forward()
    return await _forward_rewritten(ex, {**query, "ordering": ordering.split(",")[0].strip()})
