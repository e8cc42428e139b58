"""ai-analytics: average-messages-per-session."""

from __future__ import annotations

from starlette.responses import Response

from ._call import current, json


async def ai_analytics_orgs_users_average_messages_per_session_list() -> Response:
    """The org's average messages per session, bucketed hourly, daily or weekly."""
    call = current()
    org, _ = call.ibl_user()
    return json(call.store.analytics.average_messages_per_session(
        org, call.query("start_date"), call.query("end_date"), call.query("aggregation", "daily"),
        call.query("mentor_id"),
    ))
