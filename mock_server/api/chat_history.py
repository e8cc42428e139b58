"""ai-analytics: chat-history (org-wide, admins only) and its filter data."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ._call import Call, current, json, no_content

_FILTERS = ("start_date", "end_date", "filter_user_id", "mentor", "sentiment", "topics")


def _filters(call: Call) -> dict[str, Any]:
    # DRF applies the list filters to detail lookups too: a filtered-out id is not found.
    return {name: call.query(name) for name in _FILTERS if call.query(name) is not None}


async def ai_analytics_orgs_users_chat_history_list() -> Response:
    """A page of the org's conversations."""
    call = current()
    org, _ = call.ibl_user()
    page = call.store.chat_history.list(
        org, page=call.query("page"), page_size=call.query("page_size"), ordering=call.query("ordering"),
        **_filters(call),
    )
    return json(call.page_body(page))


async def ai_analytics_orgs_users_chat_history_create() -> Response:
    """Create a conversation owned by the path user."""
    call = current()
    org, username = call.ibl_user()
    return json(call.store.chat_history.create(org, username, call.body), 201)


async def ai_analytics_orgs_users_chat_history_retrieve() -> Response:
    """One conversation of the org."""
    call = current()
    org, _ = call.ibl_user()
    return json(call.store.chat_history.retrieve(org, call.path("id"), _filters(call)))


async def ai_analytics_orgs_users_chat_history_update() -> Response:
    """Replace a conversation's writable fields."""
    call = current()
    org, _ = call.ibl_user()
    return json(call.store.chat_history.update(org, call.path("id"), call.body, filters=_filters(call)))


async def ai_analytics_orgs_users_chat_history_partial_update() -> Response:
    """Change some of a conversation's writable fields."""
    call = current()
    org, _ = call.ibl_user()
    return json(call.store.chat_history.partial_update(org, call.path("id"), call.body or {}, filters=_filters(call)))


async def ai_analytics_orgs_users_chat_history_destroy() -> Response:
    """Delete a conversation."""
    call = current()
    org, _ = call.ibl_user()
    call.store.chat_history.destroy(org, call.path("id"), _filters(call))
    return no_content()


async def ai_analytics_orgs_users_chat_history_filter_retrieve() -> Response:
    """The values the chat-history filters can take: topics, sentiments, users, date ranges."""
    call = current()
    org, _ = call.ibl_user()
    return json(call.store.chat_history.filter_data(
        org, call.query("start_date"), call.query("end_date"), call.query("mentor_id"),
        bool(call.query("monthly_range", False)),
    ))
