"""Conventions checks that need no admin plane: each sets up what it needs through the API, then removes it.

Every rule of the conventions the mock follows has a check here or in the state machines and
scenarios (the README's "Conventions and their checks" table maps each rule to its checks).
Requests carry one problem each (latitude point check-order), and error texts are compared only
where the conventions fix them (error-wording).
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .client import Exchange
from .harness import Harness
from .latitude import allows, instant

pytestmark = pytest.mark.stateful

NOT_PROVIDED = "Authentication credentials were not provided."
FORBIDDEN = "You do not have permission to perform this action."
PAGE_CAP = 100
DEFAULT_PAGE = 10
VAI_DEFAULT_LIMIT = 50
# The largest id of the ibl schemas (int64): surely absent on any target.
ABSENT_ID = 2**62
TIMESTAMP_FIELDS = ("date_created", "date_updated", "inserted_at", "createdAt", "updatedAt", "created_at",
                    "updated_at", "last_modified")

allows("check-order")
allows("error-wording")
allows("body-limit")  # bodies stay small; no check probes the deployment's limit


def _detail(ex: Exchange) -> Any:
    body = ex.json()
    return body.get("detail") if isinstance(body, dict) else None


def _fresh(h: Harness, label: str) -> str:
    """A token that names this run and nothing else on the target (lowercase letters and digits)."""
    return f"{h.config.tag}-{label}-{uuid.uuid4().hex[:8]}".replace("-", "")


def _fill(h: Harness, kind: str, path: str, needed: int, body: Any, count: int) -> None:
    """Create ``needed - count`` tagged objects so the collection holds at least ``needed``."""
    for n in range(max(0, needed - count)):
        ex = h.call(kind, "POST", path, json=body(n))
        h.expect_status("fixtures.create_201", ex, 201)
        created = ex.json()["id"]
        h.created(kind, f"{path}{created}/" if path.endswith("/") else f"{path}/{created}")


# ----------------------------------------------------------------------------------------- auth
def test_ibl_credentials_and_reach(harness: Harness) -> None:
    """Another scheme is no credential (401); outside its reach a key gets DRF's 403 text; admins reach their org."""
    h = harness
    h.require("ibl_admin")
    h.require("ibl_user")
    path = h.ibl("ai-mentor", "ai-user-profile-memory/")
    token = h.config.cred("IBL_USER_TOKEN")
    scheme = h.call(None, "GET", path, headers={"Authorization": f"Bearer {token}"})
    h.expect("auth.ibl_other_scheme_401", scheme.status == 401 and _detail(scheme) == NOT_PROVIDED,
             f'a Bearer header is not an Api-Token: 401 "{NOT_PROVIDED}"', scheme)
    other = h.call("ibl_user", "GET", h.ibl("ai-mentor", "ai-user-profile-memory/", user=f"{h.user}-memmock-other"))
    h.expect("auth.ibl_forbidden_text", other.status == 403 and _detail(other) == FORBIDDEN,
             f'another user\'s path with a user key: 403 "{FORBIDDEN}"', other)
    admin = h.call("ibl_admin", "GET", path)
    h.expect("auth.admin_reaches_org_users", admin.status == 200, "an org admin's key reaches the org's users", admin)
    for rest in ("chat-history/", "chat-history-filter/"):
        ex = h.call("ibl_user", "GET", h.ibl("ai-analytics", rest))
        h.expect("auth.chat_history_admin_only", ex.status == 403 and _detail(ex) == FORBIDDEN,
                 f"{rest} is restricted to platform administrators: a user key gets 403", ex)


def test_vai_credentials(harness: Harness) -> None:
    """All three credential forms work; missing and unknown credentials get FastAPI's 401 texts."""
    h = harness
    h.require("vai")
    token = h.config.cred("VAI_TOKEN")
    for name, headers in (("x-api-key", {"X-API-Key": token}), ("cookie", {"Cookie": f"vai_token={token}"})):
        ex = h.call(None, "GET", "/api/v1/memory", params={"limit": 1}, headers=headers)
        h.expect_status(f"auth.vai_{name.replace('-', '_')}_accepted", ex, 200)
    none = h.call(None, "GET", "/api/v1/memory")
    h.expect("auth.vai_missing_text", none.status == 401 and _detail(none) == "Not authenticated",
             '401 "Not authenticated" without a credential', none)
    bad = h.call(None, "GET", "/api/v1/memory", headers={"Authorization": "Bearer memmock-not-a-token"})
    h.expect("auth.vai_invalid_text", bad.status == 401 and _detail(bad) == "Invalid authentication credentials",
             '401 "Invalid authentication credentials" for an unknown token', bad)


# --------------------------------------------------------------------------------------- errors
def test_ibl_error_bodies(harness: Harness) -> None:
    """DRF's 404, JSON parse error, 415, 405 and field errors, with the texts the conventions fix."""
    h = harness
    h.require("ibl_user")
    missing = h.call("ibl_user", "GET", h.ibl("ai-mentor", f"artifacts/{ABSENT_ID}/"))
    h.expect("errors.ibl_not_found", missing.status == 404 and _detail(missing) == "Not found.",
             '404 {"detail": "Not found."} for an absent id', missing)
    analytics = h.ibl("ai-analytics", "average-messages-per-session/")
    if h.config.cred("IBL_ADMIN_TOKEN"):
        ex = h.call("ibl_admin", "GET", analytics, params={"end_date": "2024-06-02"})
        h.expect("errors.ibl_field_400", ex.status == 400 and isinstance(ex.json(), dict)
                 and set(ex.json()) == {"start_date"} and isinstance(ex.json()["start_date"], list),
                 'a missing required query field: 400 {"start_date": ["..."]}', ex)
    if h.config.read_only:
        return
    status = h.ibl("ai-prompt", "chat-memory-status/")
    h.guard.require_writes(3)
    # None of these bodies is valid, so a conformant server changes nothing.
    parse = h.call("ibl_user", "PUT", status, content=b'{"enabled": ', headers={"Content-Type": "application/json"})
    h.expect("errors.ibl_json_parse", parse.status == 400 and str(_detail(parse)).startswith("JSON parse error - "),
             '400 {"detail": "JSON parse error - <reason>"} for malformed JSON', parse)
    media = h.call("ibl_user", "PUT", status, content=b"enabled", headers={"Content-Type": "text/plain"})
    h.expect("errors.ibl_unsupported_media_type",
             media.status == 415 and _detail(media) == 'Unsupported media type "text/plain" in request.',
             '415 {"detail": "Unsupported media type \\"text/plain\\" in request."}', media)
    method = h.call("ibl_user", "PATCH", status, json={})
    allowed = {m.strip().upper() for m in method.response_headers.get("allow", "").split(",") if m.strip()}
    h.expect("errors.ibl_method_not_allowed", method.status == 405 and _detail(method) == 'Method "PATCH" not allowed.'
             and {"GET", "PUT"} <= allowed and "PATCH" not in allowed,
             '405 {"detail": "Method \\"PATCH\\" not allowed."} with Allow listing GET and PUT', method)


def test_vai_error_bodies(harness: Harness) -> None:
    """FastAPI's 422 items for query, path and malformed JSON; 404 "Memory not found"."""
    h = harness
    h.require("vai")
    for params, name in (({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"offset": -1}, "offset")):
        ex = h.call("vai", "GET", "/api/v1/memory", params=params)
        h.expect("errors.vai_query_422", _is_422(ex, ["query", name]),
                 f"{params}: 422 with an item at loc ['query', '{name}']", ex)
    path = h.call("vai", "GET", "/api/v1/memory/not-a-uuid")
    h.expect("errors.vai_path_422", _is_422(path, ["path", "memory_id"]),
             "a memory_id that is not a UUID: 422 at loc ['path', 'memory_id']", path)
    absent = h.call("vai", "GET", f"/api/v1/memory/{uuid.uuid4()}")
    h.expect("errors.vai_not_found", absent.status == 404 and _detail(absent) == "Memory not found",
             '404 {"detail": "Memory not found"}', absent)
    if h.config.read_only:
        return
    h.guard.require_writes(1)
    parse = h.call("vai", "POST", "/api/v1/memory", content=b'{"content": ', headers={"Content-Type": "application/json"})
    items = _detail(parse) if isinstance(_detail(parse), list) else []
    h.expect("errors.vai_json_invalid", parse.status == 422 and any(
        i.get("type") == "json_invalid" and i.get("loc", [None])[0] == "body" and len(i.get("loc", [])) == 2
        and isinstance(i["loc"][1], int) for i in items if isinstance(i, dict)),
        "malformed JSON: 422 with type json_invalid at loc ['body', <position>]", parse)


def _is_422(ex: Exchange, loc: list[Any]) -> bool:
    items = _detail(ex)
    return ex.status == 422 and isinstance(items, list) and any(
        isinstance(i, dict) and i.get("loc") == loc and {"type", "msg", "input"} <= set(i) for i in items)


# ----------------------------------------------------------------------------------- pagination
def test_ibl_page_size_rules(harness: Harness) -> None:
    """page_size: default 10, capped at 100, junk falls back to 10; empty lists, junk pages, previous links."""
    h = harness
    h.require("ibl_user")
    path = h.ibl("ai-mentor", "artifacts/")
    count = h.call("ibl_user", "GET", path).json()["count"]
    if count <= PAGE_CAP:
        if h.config.read_only:
            pytest.skip(f"--read-only and only {count} artifacts: the page-size cap needs more than {PAGE_CAP}")
        h.guard.require_writes(2 * (PAGE_CAP + 1 - count) + 2)
        _fill(h, "ibl_user", path, PAGE_CAP + 1, lambda n: {"title": f"{h.config.tag} cap {n:03d}"}, count)
    sizes = {}
    for label, params in (("default", {}), ("over the cap", {"page_size": 500}), ("zero", {"page_size": 0}),
                          ("negative", {"page_size": -3}), ("junk", {"page_size": "many"})):
        ex = h.call("ibl_user", "GET", path, params=params)
        sizes[label] = len(ex.json()["results"]) if ex.status == 200 else ex.status
        expected = PAGE_CAP if label == "over the cap" else DEFAULT_PAGE
        h.expect("pagination.page_size_rules", ex.status == 200 and sizes[label] == expected,
                 f"page_size {label}: expected a page of {expected}, got {sizes[label]}", ex)
    second = h.call("ibl_user", "GET", path, params={"page": 2, "page_size": 5, "ordering": "-date_created"})
    previous = second.json().get("previous") if second.status == 200 else None
    allows("link-origin")
    query = parse_qs(urlsplit(previous).query) if previous else {}
    h.expect("pagination.link_to_page_1_has_no_page", previous is not None and "page" not in query
             and query.get("page_size") == ["5"] and query.get("ordering") == ["-date_created"],
             f"page 2's previous link must drop page and keep the rest: {previous!r}", second)
    for junk in ("abc", "0"):
        ex = h.call("ibl_user", "GET", path, params={"page": junk})
        h.expect("pagination.invalid_page_404", ex.status == 404 and _detail(ex) == "Invalid page.",
                 f'page={junk}: 404 {{"detail": "Invalid page."}}', ex)
    nothing = h.call("ibl_user", "GET", path, params={"search": _fresh(h, "none")})
    empty = nothing.json() if nothing.status == 200 else {}
    h.expect("pagination.empty_first_page", {k: empty.get(k) for k in ("count", "next", "previous", "results")}
             == {"count": 0, "next": None, "previous": None, "results": []},
             "page 1 of an empty list: count 0, next and previous null, results []", nothing)


def test_ibl_ordering_rules(harness: Harness) -> None:
    """Unknown ordering fields are ignored; several fields apply in turn; ties break so pages never repeat."""
    h = harness
    h.require("ibl_user")
    path = h.ibl("ai-mentor", "artifacts/")
    default = h.call("ibl_user", "GET", path, params={"page_size": 20})
    unknown = h.call("ibl_user", "GET", path, params={"page_size": 20, "ordering": "nosuchfield"})
    h.expect("pagination.unknown_ordering_ignored", unknown.status == 200 and [a["id"] for a in unknown.json()["results"]]
             == [a["id"] for a in default.json()["results"]], "an unknown ordering field is ignored (default order)",
             default, unknown)
    if h.config.read_only:
        return
    h.guard.require_writes(14)
    token = _fresh(h, "ties")
    ids = []
    for title in ("aaa", "aaa", "aaa", "aaa", "bbb", "bbb"):  # ties on title, told apart by the second field
        ex = h.call("ibl_user", "POST", path, json={"title": f"{token} {title}"})
        h.expect_status("artifacts.create_201", ex, 201)
        ids.append(ex.json()["id"])
        h.created("ibl_user", f"{path}{ids[-1]}/")
    allows("id-values")
    h.expect("ids.ibl_increasing", ids == sorted(ids) and len(set(ids)) == len(ids),
             f"ibl ids must increase per resource: {ids}")
    seen, pages = _walk_own(h, path, {"search": token, "ordering": "title,-date_created", "page_size": 2})
    got = [a["id"] for a in seen]
    keys = [(a["title"], instant(a["date_created"])) for a in seen]
    # Title ascending, then newest first within a title (equal instants may come in either order).
    in_order = all(k1[0] < k2[0] or (k1[0] == k2[0] and k1[1] >= k2[1]) for k1, k2 in zip(keys, keys[1:]))
    h.expect("pagination.multi_field_ordering", sorted(got) == sorted(ids) and in_order,
             f"ordering=title,-date_created not honoured: {[(t[-3:], str(d)) for t, d in keys]}", *pages)
    # ordering=title alone: four and two artifacts tie, and only the id can keep pages apart.
    tied, pages = _walk_own(h, path, {"search": token, "ordering": "title", "page_size": 2})
    by_title: dict[str, list[int]] = defaultdict(list)
    for artifact in tied:
        by_title[artifact["title"]].append(artifact["id"])
    h.expect("pagination.ties_never_repeat", sorted(a["id"] for a in tied) == sorted(ids)
             and all(g == sorted(g) or g == sorted(g, reverse=True) for g in by_title.values()),
             f"pages over tied titles must list each of the six artifacts once, ties in id order: "
             f"{[a['id'] for a in tied]}", *pages)


def _walk_own(h: Harness, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Exchange]]:
    """Every item of a few-page DRF list, page by page (page numbers, at most 10 pages)."""
    seen: list[dict[str, Any]] = []
    pages: list[Exchange] = []
    for page in range(1, 11):
        ex = h.call("ibl_user", "GET", path, params={**params, **({"page": page} if page > 1 else {})})
        pages.append(ex)
        h.expect_status("pagination.page_200", ex, 200)
        seen += ex.json()["results"]
        if not ex.json()["next"]:
            break
    return seen, pages


def test_ibl_search_covers_content(harness: Harness) -> None:
    """search matches a case-insensitive substring of the content, not only of the title.

    content is readOnly in the spec (written by chat, not by the API), so the probe is a word of
    an existing artifact's content (read one by one: the list may leave content out) that its
    title lacks, searched in upper case.
    """
    h = harness
    h.require("ibl_user")
    path = h.ibl("ai-mentor", "artifacts/")
    listed = h.call("ibl_user", "GET", path, params={"ordering": "date_created"})  # older than this run's
    probe = None
    for item in (listed.json() or {}).get("results", []) if listed.status == 200 else []:
        read = h.call("ibl_user", "GET", f"{path}{item['id']}/")
        artifact = read.json() if read.status == 200 else {}
        words = [w for w in re.findall(r"[A-Za-z]{6,}", artifact.get("content") or "")
                 if w.lower() not in (artifact.get("title") or "").lower()]
        if words:
            probe = (artifact["id"], words[0])
            break
    if probe is None:
        pytest.skip("no listed artifact has content with a word its title lacks: nothing to search for")
    artifact_id, word = probe
    found = h.call("ibl_user", "GET", path, params={"search": word.upper(), "page_size": PAGE_CAP})
    ids = [a["id"] for a in found.json()["results"]] if found.status == 200 else []
    h.expect("search.content_case_insensitive", artifact_id in ids,
             f"search for {word.upper()!r}, a word of artifact {artifact_id}'s content, must find it", listed, found)


def test_ibl_search_non_ascii(harness: Harness) -> None:
    """A search term outside ASCII is valid input: 200, and an exact-case match is found."""
    h = harness
    h.require("ibl_user")
    h.guard.require_writes(2)
    path = h.ibl("ai-mentor", "artifacts/")
    word = f"caf\u00e9{uuid.uuid4().hex[:6]}"  # case folding beyond ASCII is the server's (string-collation)
    made = h.call("ibl_user", "POST", path, json={"title": f"{h.config.tag} {word}"})
    h.expect_status("artifacts.create_201", made, 201)
    h.created("ibl_user", f"{path}{made.json()['id']}/")
    found = h.call("ibl_user", "GET", path, params={"search": word})
    h.expect("search.non_ascii", found.status == 200 and made.json()["id"] in [a["id"] for a in found.json()["results"]],
             f"search={word!r} must answer 200 and find the artifact titled with it", made, found)


def test_vai_default_limit(harness: Harness) -> None:
    """Without limit the list answers 50 memories; limit=100 at most 100; total counts them all."""
    h = harness
    h.require("vai")
    total = h.call("vai", "GET", "/api/v1/memory", params={"limit": 1}).json()["total"]
    if total <= VAI_DEFAULT_LIMIT:
        if h.config.read_only:
            pytest.skip(f"--read-only and only {total} memories: the default limit needs more than {VAI_DEFAULT_LIMIT}")
        h.guard.require_writes(2 * (VAI_DEFAULT_LIMIT + 1 - total))
        _fill(h, "vai", "/api/v1/memory", VAI_DEFAULT_LIMIT + 1,
              lambda n: {"content": f"{h.config.tag} limit {n:03d}"}, total)
    default = h.call("vai", "GET", "/api/v1/memory")
    h.expect("pagination.vai.default_limit", default.status == 200
             and len(default.json()["memories"]) == VAI_DEFAULT_LIMIT, "no limit: 50 memories", default)
    most = h.call("vai", "GET", "/api/v1/memory", params={"limit": 100})
    h.expect("pagination.vai.limit_honoured", most.status == 200
             and len(most.json()["memories"]) == min(100, most.json()["total"]), "limit=100: min(100, total)", most)


# ------------------------------------------------------------------------------------ isolation
def test_org_wide_lists_stay_in_their_org(harness: Harness) -> None:
    """chat-history and analytics cover the whole org and only it: another org's conversation never shows."""
    h = harness
    h.require("ibl_admin")
    h.require("ibl_other_org")
    h.guard.require_writes(4)
    mentor = str(uuid.uuid4())
    other_org = h.config.cred("IBL_OTHER_ORG") or ""
    # A user of the other org, learnt from its own history (the path needs one; nothing is guessed).
    probe = h.call("ibl_other_org", "GET", h.ibl("ai-analytics", "chat-history/", org=other_org), params={"page_size": 1})
    students = [c.get("student") for c in (probe.json() or {}).get("results", [])] if probe.status == 200 else []
    if not students or not students[0]:
        pytest.skip(f"org {other_org} lists no conversation to learn a user of it from")
    body = {"topics": [], "mentor": mentor, "model": "m", "platform": other_org, "title": f"{h.config.tag} foreign"}
    history_other = h.ibl("ai-analytics", "chat-history/", org=other_org, user=students[0])
    made = h.call("ibl_other_org", "POST", history_other, json=body)
    h.expect_status("chat_history.create_201", made, 201)
    h.created("ibl_other_org", f"{history_other}{made.json()['id']}/")
    mine = h.ibl("ai-analytics", "chat-history/")
    own = h.call("ibl_admin", "POST", mine, json={**body, "platform": h.org, "title": f"{h.config.tag} own"})
    h.expect_status("chat_history.create_201", own, 201)
    h.created("ibl_admin", f"{mine}{own.json()['id']}/")
    listed = h.call("ibl_admin", "GET", mine, params={"mentor": mentor, "page_size": 100})
    ids = {c["id"] for c in listed.json()["results"]} if listed.status == 200 else set()
    h.expect("isolation.chat_history_org_only", ids == {own.json()["id"]},
             f"org {h.org}'s chat-history for a fresh mentor must list only its own conversation, got {ids}",
             made, own, listed)
    narrowed = h.call("ibl_admin", "GET", mine, params={"mentor": mentor, "filter_user_id": f"{h.user}-memmock-other"})
    h.expect("chat_history.filter_user_id_narrows", narrowed.status == 200 and narrowed.json()["count"] == 0,
             "filter_user_id of a user without conversations narrows the list to none", narrowed)
    day = instant(own.json()["inserted_at"]).date().isoformat()
    series = h.call("ibl_admin", "GET", h.ibl("ai-analytics", "average-messages-per-session/"),
                    params={"start_date": day, "end_date": day, "mentor_id": mentor})
    sessions = sum(b["total_sessions"] for b in series.json()) if series.status == 200 else None
    h.expect("isolation.analytics_org_only", sessions == 1,
             f"analytics for the mentor must count this org's one conversation, got {sessions}", made, series)


def test_objects_of_another_user_are_absent(harness: Harness) -> None:
    """all-chats-memory and edx-memory ids of one user answer 404 on another user's path (admin key)."""
    h = harness
    h.require("ibl_admin")
    stranger = f"{h.user}-memmock-other"
    edx = h.call("ibl_admin", "GET", h.ibl("ai-mentor", "edx-memory/"), params={"page_size": 1})
    if edx.status == 200 and edx.json()["results"]:
        record = edx.json()["results"][0]["id"]
        ex = h.call("ibl_admin", "GET", h.ibl("ai-mentor", f"edx-memory/{record}/", user=stranger))
        h.expect("isolation.edx_other_user_404", ex.status == 404, "another user's edX memory id answers 404", edx, ex)
    if h.config.read_only:
        return
    h.guard.require_writes(3)
    base = h.ibl("ai-prompt", "all-chats-memory/")
    made = h.call("ibl_admin", "POST", base, json=_chat_memory_body(h, f"{h.config.tag} isolation"))
    h.expect_status("all_chats_memory.create_201", made, 201)
    entry = made.json()["id"]
    h.created("ibl_admin", f"{base}{entry}/")
    through_stranger = h.ibl("ai-prompt", f"all-chats-memory/{entry}/", user=stranger)
    h.created("ibl_admin", through_stranger)  # the run's own entry, named through another user's path
    ex = h.call("ibl_admin", "DELETE", through_stranger)
    h.expect("isolation.chat_memory_other_user_404", ex.status == 404,
             "deleting a user's entry through another user's path must answer 404", made, ex)
    still = h.call("ibl_admin", "GET", base)
    h.expect("isolation.chat_memory_other_user_kept", still.status == 200 and still.json().get("id") == entry,
             "the entry must survive a DELETE through another user's path", ex, still)


def _chat_memory_body(h: Harness, content: str) -> dict[str, Any]:
    """An all-chats-memory entry as the official client builds it (username and platform_key in the body)."""
    return {"content": content, "username": h.user, "platform_key": h.org}


# ------------------------------------------------------------------------------------ resources
def test_resource_defaults(harness: Harness) -> None:
    """Unknown download tasks are pending; artifacts need a title; VirtuousAI creates are explicit, unthreaded, own-org."""
    h = harness
    h.require("ibl_user")
    task = h.call("ibl_user", "GET", h.ibl("ai-mentor", f"downloads/tasks/{uuid.uuid4()}/"))
    allows("extra-response-fields")
    h.expect("downloads.unknown_task_not_ready", task.status == 200 and (task.json() or {}).get("state") == "task_not_ready",
             'an unknown task id answers 200 {"state": "task_not_ready"}', task)
    if h.config.read_only:
        return
    h.guard.require_writes(4)
    path = h.ibl("ai-mentor", "artifacts/")
    untitled = h.call("ibl_user", "POST", path, json={"content": "no title"})
    if untitled.status == 201:
        h.created("ibl_user", f"{path}{untitled.json()['id']}/")
    h.expect("artifacts.title_required_400", untitled.status == 400 and "title" in (untitled.json() or {}),
             'POST without title: 400 {"title": [...]}', untitled)
    if "virtuousai" not in h.config.apis or not h.config.cred("VAI_TOKEN"):
        return
    org = h.call("vai", "GET", "/api/v1/memory", params={"limit": 1})
    made = h.call("vai", "POST", "/api/v1/memory", json={"content": f"{h.config.tag} defaults"})
    h.expect_status("vai.create_201", made, 201)
    memory = made.json()
    h.created("vai", f"/api/v1/memory/{memory['id']}")
    listed_org = {m["organizationId"] for m in org.json()["memories"]} if org.status == 200 else set()
    h.expect("vai.create_defaults", memory.get("source") == "explicit" and memory.get("sourceThreadId") is None
             and memory.get("sourceTurnId") is None and (not listed_org or listed_org == {memory["organizationId"]}),
             "a created memory: source explicit, sourceThreadId/sourceTurnId null, the caller's organization", made)


def test_timestamps_are_utc_with_z(harness: Harness) -> None:
    """Every timestamp in the answers the run reads is ISO 8601 UTC ending in Z."""
    h = harness
    h.require("ibl_admin")
    answers = [h.call("ibl_admin", "GET", h.ibl("ai-mentor", "artifacts/")),
               h.call("ibl_admin", "GET", h.ibl("ai-analytics", "chat-history/"), params={"page_size": 5}),
               h.call("ibl_admin", "GET", h.ibl("ai-mentor", "edx-memory/"), params={"page_size": 5})]
    if h.config.cred("VAI_TOKEN") and "virtuousai" in h.config.apis:
        answers.append(h.call("vai", "GET", "/api/v1/memory", params={"limit": 5}))
    for ex in answers:
        stamps = list(_timestamps(ex.json()))
        bad = [s for s in stamps if not (isinstance(s, str) and s.endswith("Z") and _parses(s))]
        h.expect("times.utc_with_z", not bad, f"timestamps must be ISO 8601 UTC with Z: {bad[:3]}", ex)


def _timestamps(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in TIMESTAMP_FIELDS and value is not None:
                yield value
            else:
                yield from _timestamps(value)
    elif isinstance(node, list):
        for value in node:
            yield from _timestamps(value)


def _parses(stamp: str) -> bool:
    try:
        return instant(stamp).utcoffset() == timedelta(0)
    except ValueError:
        return False


# ------------------------------------------------------------------------------------ analytics
def test_analytics_buckets(harness: Harness) -> None:
    """Buckets: 24 hourly per day from 00:00Z, weekly on Mondays, [] when end precedes start, 400s as ruled."""
    h = harness
    h.require("ibl_admin")
    url = h.ibl("ai-analytics", "average-messages-per-session/")
    hourly = h.call("ibl_admin", "GET", url, params={"start_date": "2024-06-03", "end_date": "2024-06-03",
                                                    "aggregation": "hourly"})
    times = [instant(b["time"]) for b in hourly.json()] if hourly.status == 200 else []
    start = datetime(2024, 6, 3, tzinfo=timezone.utc)
    h.expect("analytics.hourly_buckets", times == [start + timedelta(hours=n) for n in range(24)]
             and all(isinstance(b["avg_messages"], int) and isinstance(b["total_sessions"], int) for b in hourly.json()),
             "one day hourly: 24 buckets from 00:00Z, integer fields", hourly)
    weekly = h.call("ibl_admin", "GET", url, params={"start_date": "2024-06-03", "end_date": "2024-06-23",
                                                    "aggregation": "weekly"})
    weeks = [instant(b["time"]) for b in weekly.json()] if weekly.status == 200 else []
    h.expect("analytics.weekly_mondays", weeks == [start + timedelta(weeks=n) for n in range(3)],
             "three weeks from a Monday: three buckets, each starting on a Monday at 00:00Z", weekly)
    daily = h.call("ibl_admin", "GET", url, params={"start_date": "2024-06-01", "end_date": "2024-06-07"})
    h.expect("analytics.daily_default", daily.status == 200 and [instant(b["time"]).date() for b in daily.json()]
             == [date(2024, 6, 1) + timedelta(days=n) for n in range(7)],
             "aggregation defaults to daily: seven buckets for seven days, end_date included", daily)
    backwards = h.call("ibl_admin", "GET", url, params={"start_date": "2024-06-07", "end_date": "2024-06-01"})
    h.expect("analytics.end_before_start_empty", backwards.status == 200 and backwards.json() == [],
             "end_date before start_date: 200 []", backwards)
    for params, field, rule in (({"start_date": "2024-06-01"}, "end_date", "analytics.dates_required_400"),
                                ({"start_date": "2024-13-01", "end_date": "2024-06-01"}, "start_date",
                                 "analytics.dates_malformed_400"),
                                ({"start_date": "2024-06-01", "end_date": "2024-06-02", "aggregation": "yearly"},
                                 "aggregation", "analytics.aggregation_400"),
                                ({"start_date": "2000-01-01", "end_date": "2027-05-19"}, "end_date",
                                 "analytics.bucket_cap_400")):
        ex = h.call("ibl_admin", "GET", url, params=params)
        h.expect(rule, ex.status == 400 and isinstance(ex.json(), dict) and field in ex.json(),
                 f"{params}: 400 naming {field}", ex)
    _calendar_edges(h, url)
    at_cap = h.call("ibl_admin", "GET", url, params={"start_date": "2000-01-01", "end_date": "2027-05-18"})
    h.expect("analytics.bucket_cap_inclusive", at_cap.status == 200 and len(at_cap.json()) == 10_000,
             "exactly 10,000 daily buckets are answered", at_cap)


def _calendar_edges(h: Harness, url: str) -> None:
    """Valid ranges over a 53-week ISO year, a year boundary and a leap day answer whole, Monday-aligned buckets."""
    for start, end, aggregation in (("2021-01-01", "2021-01-20", "weekly"), ("2020-12-28", "2021-01-10", "weekly"),
                                    ("2024-02-28", "2024-03-01", "daily"), ("2023-12-31", "2024-01-01", "hourly")):
        ex = h.call("ibl_admin", "GET", url, params={"start_date": start, "end_date": end, "aggregation": aggregation})
        times = [instant(b["time"]) for b in ex.json()] if ex.status == 200 and isinstance(ex.json(), list) else []
        step = {"weekly": timedelta(weeks=1), "daily": timedelta(days=1), "hourly": timedelta(hours=1)}[aggregation]
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        whole = (bool(times) and all(b - a == step for a, b in zip(times, times[1:]))
                 and times[0].date() <= first and times[-1].date() <= last < (times[-1] + step).date()
                 and (aggregation != "weekly" or all(t.weekday() == 0 for t in times)))
        h.expect("analytics.calendar_edges", whole,
                 f"{aggregation} {start}..{end}: consecutive buckets covering the range"
                 + (", each on a Monday" if aggregation == "weekly" else ""), ex)


def test_analytics_predicted_from_history(harness: Harness) -> None:
    """The daily series over the org's history equals one computed from the conversations chat-history lists.

    Needs the conversations' message counts (message_count_human, message_count_ai): a target that
    omits them cannot be predicted without an admin plane to add messages.
    """
    h = harness
    h.require("ibl_admin")
    history = h.ibl("ai-analytics", "chat-history/")
    conversations, page = [], 1
    while page <= 20:
        ex = h.call("ibl_admin", "GET", history, params={"page_size": PAGE_CAP, **({"page": page} if page > 1 else {})})
        h.expect_status("pagination.page_200", ex, 200)
        conversations += ex.json()["results"]
        if not ex.json()["next"]:
            break
        page += 1
    else:
        pytest.skip("more than 2,000 conversations in the org: too much history to predict analytics from")
    if not conversations:
        pytest.skip("the org has no chat history to predict analytics from")
    counted = [c for c in conversations if isinstance(c.get("message_count_human"), int)
               and isinstance(c.get("message_count_ai"), int)]
    if not counted or len(counted) < len(conversations):
        pytest.skip("the target's conversations carry no message_count_human/message_count_ai: averages cannot be "
                    "predicted (with a memmock admin plane, analytics.average_rounds_half_up checks them)")
    days: dict[date, list[int]] = defaultdict(list)
    for c in counted:
        days[instant(c["inserted_at"]).date()].append(c["message_count_human"] + c["message_count_ai"])
    first, last = min(days), max(days)
    if (last - first).days >= 10_000:
        pytest.skip("the org's history spans more than 10,000 days")
    ex = h.call("ibl_admin", "GET", h.ibl("ai-analytics", "average-messages-per-session/"),
                params={"start_date": first.isoformat(), "end_date": last.isoformat(), "aggregation": "daily"})
    h.expect_status("analytics.predicted_200", ex, 200)
    expected = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        counts = days.get(day, [])
        avg = int((Decimal(sum(counts)) / len(counts)).quantize(Decimal(1), ROUND_HALF_UP)) if counts else 0
        expected.append((day, avg, len(counts)))
    got = [(instant(b["time"]).date(), b["avg_messages"], b["total_sessions"]) for b in ex.json()]
    wrong = [(e, g) for e, g in zip(expected, got) if e != g]
    h.expect("analytics.predicted_from_history", len(got) == len(expected) and not wrong,
             f"daily series {first}..{last} differs from the listed history (expected, got): {wrong[:4]}"
             + ("" if len(got) == len(expected) else f"; {len(got)} buckets, expected {len(expected)}"), ex)
