"""Faults of access: isolation (other users', other orgs' data) and auth (who may call at all).

Most of them change the principal: security is shown what passes its checks, and the handler
gets, through the plugin's authentication hook (``swap_principal``), the principal the fault
makes up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import itemgetter
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request

from ..clock import parse_datetime
from ..errors import MockError, NotFound
from ..models.common import norm_uuid
from ..models.pagination import MAX_PAGE_SIZE, Page, order_items, paginate, parse_ordering
from ..state import IblPrincipal, VaiPrincipal
from ..store import Credentials, Store
from ..validation import request_data
from .analytics import analytics_args, bucket_totals
from .exchange import Action, Exchange, Reply, as_int, set_header, swap_principal
from .pages import page_link

ADMIN_MODULE = "mock_server.api.admin"
# chat-history's list filters and sort fields, read from the items the list answers.
_CHAT_HISTORY_FILTERS = ("start_date", "end_date", "filter_user_id", "mentor", "sentiment", "topics")
_CONVERSATION_ORDER: dict[str, Callable[[dict[str, Any]], Any]] = {
    "inserted_at": lambda c: parse_datetime(c["inserted_at"]),
    "rating": itemgetter("rating"),
    "student": itemgetter("student"),
    "sentiment": itemgetter("sentiment"),
}

Found = Callable[[Exchange, Any, str, str, int], Reply]  # (exchange, backend, org, owner, id) -> the answer


def _ibl_token_owner(ex: Exchange) -> IblPrincipal | None:
    """Whose ibl token the request carries, whatever path it asks for (no reach check)."""
    scheme, _, key = (Headers(scope=ex.scope).get("authorization") or "").strip().partition(" ")
    if scheme.lower() != "api-token" or ex.state.settings.auth != "tokens":
        return None
    return ex.store.credentials.ibl(key.strip())


def _orgs(store: Store, org: str) -> list[str]:
    """Every ibl org the store knows of (its users' and its tokens'), and ``org``."""
    known = {user.org for user in store.users.all()} | {p.org for p in store.credentials.ibl_tokens.values()}
    return sorted(known | {org})


def _every_row(page_of: Callable[[int], Page]) -> list[Any]:
    """Every row a backend's paginated list gives, page by page."""
    rows: list[Any] = []
    number = 1
    while True:
        page = page_of(number)
        rows += page.results
        if not page.has_next:
            return rows
        number += 1


# --- isolation -------------------------------------------------------------------------------


async def _reach_as(ex: Exchange, principal: IblPrincipal, name: str, own: str) -> None:
    """Let security check the path as if its ``name`` parameter were ``own`` (the token's own value).

    The reach check may run in the security function or in the handler, so both are fooled:
    security sees ``own`` in the path, then (when it stores the principal) the path gets its
    value back and the principal takes that value in place of its own.
    """
    params = ex.scope.get("path_params", {})
    target = params[name]
    field_name = {"user_id": "username", "org": "org"}[name]

    def swap(found: Any) -> Any:
        params[name] = target
        if found == principal:
            return dataclasses.replace(found, **{field_name: str(target)})
        return found

    params[name] = own
    swap_principal(ex.scope, swap)
    try:
        await ex.pass_through()
    finally:
        params[name] = target


async def user_leak(ex: Exchange) -> None:
    """A user token passes as any user of its own org (admin-only checks still hold)."""
    params = ex.scope.get("path_params", {})
    target = params.get("user_id")
    principal = _ibl_token_owner(ex)
    if (principal is None or principal.is_admin or target is None or principal.org != params.get("org")
            or principal.username == str(target)):
        await ex.pass_through()
        return
    await _reach_as(ex, principal, "user_id", principal.username)


async def org_leak(ex: Exchange) -> None:
    """A memory id of another organization is looked up in that organization."""
    memory_id = norm_uuid(ex.path("memory_id"))

    def swap(principal: Any) -> Any:
        if not isinstance(principal, VaiPrincipal) or memory_id is None:
            return principal
        try:
            ex.store.vai_memory.get(principal.organization_id, memory_id)
            return principal
        except MockError:
            pass
        owner = next((m["organizationId"] for m in ex.store.vai_memory.export()["memories"] if m["id"] == memory_id),
                     None)
        return VaiPrincipal(owner, principal.name) if owner else principal

    swap_principal(ex.scope, swap)
    await ex.pass_through()


async def chat_history_all_orgs(ex: Exchange) -> Reply:
    """The chat-history list forgets the org: every org's conversations, filtered, ordered and paged as one."""
    sent = ex.query()
    checked = ex.with_query({k: v for k, v in sent.items() if k != "page"})  # the page may lie past the org's own
    reply = await ex.forward(checked)
    if reply.status != 200:
        return reply
    query = request_data(checked).query
    filters = {name: query[name] for name in _CHAT_HISTORY_FILTERS if query.get(name) is not None}

    def org_rows(org: str) -> list[Any]:
        return _every_row(lambda n: ex.store.chat_history.list(
            org, page=n, page_size=MAX_PAGE_SIZE, ordering=query.get("ordering"), **filters))

    rows = [row for org in _orgs(ex.store, ex.path("org") or "") for row in org_rows(org)]
    keys = parse_ordering(query.get("ordering"), _CONVERSATION_ORDER, "-inserted_at")
    page = paginate(order_items(rows, keys, _CONVERSATION_ORDER, itemgetter("id")), sent.get("page"),
                    query.get("page_size"))
    reply.set_json({"count": page.count,
                    "next": page_link(ex, sent, page.number + 1) if page.has_next else None,
                    "previous": page_link(ex, sent, page.number - 1) if page.has_previous else None,
                    "results": page.results})
    return reply


def analytics_all_orgs(ex: Exchange, body: Any) -> Any:
    """average-messages-per-session counts the conversations of every org, not only the path's."""
    org, start, end, aggregation, mentor = analytics_args(ex)
    per_org = [bucket_totals(ex.store.analytics, o, start, end, aggregation, mentor) for o in _orgs(ex.store, org)]
    series = []
    for buckets in zip(*per_org):  # the buckets depend on the dates alone: the same for every org
        messages, sessions = sum(b[1] for b in buckets), sum(b[2] for b in buckets)
        series.append({"time": buckets[0][0], "total_sessions": sessions,
                       "avg_messages": ex.store.analytics.average(messages, sessions) if sessions else 0})
    return series


def _owner(rows: list[dict[str, Any]], org: str, record_id: int | None) -> str | None:
    """Which user of ``org`` owns the exported record with this id (None: nobody)."""
    return next((r["username"] for r in rows if r["org"] == org and r["id"] == record_id), None)


def any_user(backend_of: Callable[[Store], Any], section: str, id_param: str, found: Found) -> Action:
    """An action that, when the path's user has no object with the path's id, answers for the org user who has."""

    async def action(ex: Exchange) -> Reply:
        try:
            return await ex.forward()
        except NotFound:
            backend = backend_of(ex.store)
            org, record_id = ex.path("org") or "", as_int(ex.path(id_param))
            owner = _owner(backend.export()[section], org, record_id)
            if owner is None or record_id is None:
                raise
        return found(ex, backend, org, owner, record_id)

    return action


def edx_memory_found(ex: Exchange, backend: Any, org: str, owner: str, memory_id: int) -> Reply:
    """Another user's edx memory, retrieved (200) or deleted (204) as if it were the path user's."""
    if ex.operation == "ai_mentor_orgs_users_edx_memory_destroy":
        backend.destroy(org, owner, memory_id)
        return Reply(204)
    reply = Reply(200)
    reply.set_json(backend.retrieve(org, owner, memory_id))
    return reply


def all_chats_found(ex: Exchange, backend: Any, org: str, owner: str, memory_id: int) -> Reply:
    """Another user's all-chats entry, deleted (204) as if it were the path user's."""
    backend.destroy_one(org, owner, memory_id)
    return Reply(204)


# --- auth ------------------------------------------------------------------------------------


async def auth_bypass(ex: Exchange) -> None:
    """A request with no credential at all gets the fixtures' first admin (or first VAI token)."""
    headers = Headers(scope=ex.scope)
    credentials = ex.store.credentials
    scope = ex.scope
    if ex.operation_id.startswith(ADMIN_MODULE + "."):
        pass
    elif ex.is_vai:
        if not (headers.get("authorization") or headers.get("x-api-key") or Request(scope).cookies.get("vai_token")):
            key = next(iter(credentials.vai_tokens), None)
            if key is not None:
                scope = set_header(scope, "authorization", f"Bearer {key}")
    elif not headers.get("authorization"):
        admins = [(k, p) for k, p in credentials.ibl_tokens.items() if p.is_admin]
        own_org = [k for k, p in admins if p.org == ex.path("org")]
        key = (own_org or [k for k, _ in admins] or [None])[0]
        if key is not None:
            scope = set_header(scope, "authorization", f"Api-Token {key}")
    await ex.pass_through(scope)


async def cross_org_admin(ex: Exchange) -> None:
    """An admin token passes as an admin of whatever org the path names (the org is never compared)."""
    target = ex.scope.get("path_params", {}).get("org")
    principal = _ibl_token_owner(ex)
    if principal is None or not principal.is_admin or target is None or principal.org == str(target):
        await ex.pass_through()
        return
    await _reach_as(ex, principal, "org", principal.org)


async def admin_check_skipped(ex: Exchange) -> None:
    """A user token that reaches the path passes chat-history's admin-only permission.

    Security is shown an admin key of the token's org (so only the admin-only check changes
    answer), and the handler gets the user's own principal back.
    """
    principal = _ibl_token_owner(ex)
    org, user = ex.path("org") or "", ex.path("user_id") or ""
    admin = None
    if principal is not None and not principal.is_admin and Credentials.ibl_can_reach(principal, org, user):
        admin = next((k for k, p in ex.store.credentials.ibl_tokens.items() if p.is_admin and p.org == org), None)
    if admin is None:
        await ex.pass_through()
        return
    scope = set_header(ex.scope, "authorization", f"Api-Token {admin}")
    swap_principal(scope, lambda _: principal)
    await ex.pass_through(scope)
