"""No input gets a 5xx: random methods, paths, bodies, content types and query strings."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.testclient import TestClient

from tests.api.conftest import ADMIN, FINISHED_TASK, VAI_DEV, spec_operations

# Every path of the three specs, its org and user as {org} and {user}, any other parameter as {x}.
PATHS = list(dict.fromkeys(
    re.sub(r"\{(\w+)\}", lambda m: {"org": "{org}", "user_id": "{user}"}.get(m.group(1), "{x}"), template)
    for api in ("ibl", "virtuousai", "admin") for _, template in spec_operations(api)))
SEGMENTS = st.one_of(st.sampled_from(["main", "acme", "johndoe", "admin", "1", "3", "-1", "0", "99999999999999999999",
                                      FINISHED_TASK, "2a3f909e-ca8f-4c2d-aae4-6436439caaed", "%00", "..", "é"]),
                     st.text(min_size=1, max_size=12))
QUERY_KEYS = st.sampled_from(["page", "page_size", "ordering", "search", "limit", "offset", "chunk_size",
                              "start_date", "end_date", "aggregation", "mentor_id", "mentor", "to_csv",
                              "filter_user_id", "topics", "monthly_range", "student"])
QUERY_VALUES = st.one_of(st.sampled_from(["", "0", "-1", "1", "abc", "2024-06-01", "2024-02-30", "hourly",
                                          "weekly", "true", "1e9", "99999999999999999999"]),
                         st.text(max_size=10))
JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(
        st.sampled_from(["title", "content", "enabled", "version_id", "topics", "mentor", "model", "platform",
                         "organizationId", "messages", "tag", "detail", "metadata", "session_id"]), inner, max_size=5)),
    max_leaves=12,
)
BODIES = st.one_of(JSONISH.map(lambda v: __import__("json").dumps(v).encode()), st.binary(max_size=40))
CONTENT_TYPES = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
                                 "multipart/form-data; boundary=xyz", "text/plain", "", "application/json; charset=latin-1",
                                 "application/vnd.api+json"])
AUTH = st.sampled_from([f"Api-Token {ADMIN}", f"Api-Token {ADMIN}", f"Bearer {VAI_DEV}", f"Bearer {VAI_DEV}", "Api-Token nope", "Bearer", "", "Api-Token"])


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
       template=st.sampled_from(PATHS), org=SEGMENTS, user=SEGMENTS, x=SEGMENTS,
       query=st.lists(st.tuples(QUERY_KEYS, QUERY_VALUES), max_size=4),
       body=st.one_of(st.none(), BODIES), content_type=CONTENT_TYPES, auth=AUTH)
def test_no_input_gets_a_5xx(client: TestClient, method: str, template: str, org: str, user: str, x: str,
                             query: list, body: bytes | None, content_type: str, auth: str) -> None:
    path = template.format(org=quote(org, safe=""), user=quote(user, safe=""), x=quote(x, safe=""))
    qs = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query)
    headers = {"Authorization": auth, "X-API-Key": VAI_DEV if auth.startswith("Bearer") else ""}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        r = client.request(method, path + (f"?{qs}" if qs else ""), headers=headers, content=body)
    except httpx.TooManyRedirects as exc:
        raise AssertionError(f"redirect loop: {method} {path}?{qs} via {exc.request.url}") from None
    assert r.status_code < 500, (method, path, qs, body, content_type, r.text)
