"""Scenario checks: pagination invariants, tenant isolation, auth, analytics and backfill counters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from .client import Exchange
from .harness import Harness
from .latitude import allows, instant

pytestmark = pytest.mark.stateful


def _walk_pages(h: Harness, kind: str, path: str, rule: str, params: dict[str, Any]) -> tuple[list[dict], list[Exchange]]:
    """Follow a DRF list page by page (page numbers), checking next/previous/count per page."""
    items: list[dict] = []
    pages: list[Exchange] = []
    page, count = 1, None
    while True:
        ex = h.call(kind, "GET", path, params={**params, **({"page": page} if page > 1 else {})})
        h.expect_status(f"{rule}.page_200", ex, 200)
        body = ex.json()
        pages.append(ex)
        count = body["count"] if count is None else count
        h.expect(f"{rule}.count_stable", body["count"] == count, "count changed between pages", *pages[-2:])
        has_next = len(items) + len(body["results"]) < count
        h.expect(f"{rule}.next_previous", (body["next"] is not None) == has_next
                 and (body["previous"] is not None) == (page > 1),
                 f"page {page}: next={body['next']!r} previous={body['previous']!r} inconsistent with count {count}", ex)
        if body["next"]:
            q = parse_qs(urlsplit(body["next"]).query)
            h.expect(f"{rule}.next_keeps_query", q.get("page") == [str(page + 1)]
                     and all(q.get(k) == [str(v)] for k, v in params.items()),
                     f"next link {body['next']} must point at page {page + 1} and keep {params}", ex)
        items += body["results"]
        if not body["next"] or page > 60:
            break
        page += 1
    if not body["next"]:  # walked to the end (a list of more than 61 pages is sampled, not counted)
        h.expect(f"{rule}.count_matches_items", len(items) == count,
                 f"count says {count}, walking the pages gave {len(items)} items", *pages[-2:])
    ids = [i["id"] for i in items]
    h.expect(f"{rule}.pages_partition", len(ids) == len(set(ids)),
             f"an item appears on two pages: {sorted({i for i in ids if ids.count(i) > 1})}", *pages[-2:])
    return items, pages


def test_artifact_pagination(harness: Harness) -> None:
    """Artifacts: pages partition the list, count matches, ordering and search honoured, next/previous consistent."""
    h = harness
    h.require("ibl_user")
    path = h.ibl("ai-mentor", "artifacts/")
    mine = f"{h.config.tag}-pages"  # this test's own artifacts, apart from other checks' of the same run
    if not h.config.read_only:
        h.guard.require_writes(10)
        for n in range(5):  # enough for several pages of 2
            ex = h.call("ibl_user", "POST", path, json={"title": f"{mine} {n}"})
            h.expect_status("artifacts.create_201", ex, 201)
            h.created("ibl_user", f"{path}{ex.json()['id']}/")
    everything, _ = _walk_pages(h, "ibl_user", path, "pagination.artifacts", {"page_size": 3})
    if len(everything) < 2:
        pytest.skip("fewer than 2 artifacts on the target: nothing to paginate (seed some, or run without --read-only)")
    default = [instant(a["date_updated"]) for a in everything]
    h.expect("pagination.artifacts.default_ordering", default == sorted(default, reverse=True),
             "without ordering, artifacts must come newest date_updated first")
    # Only the run's own titles, whose order every collation agrees on (latitude point string-collation).
    allows("string-collation")
    by_title, pages = _walk_pages(h, "ibl_user", path, "pagination.artifacts",
                                  {"page_size": 2, "ordering": "title", "search": mine})
    titles = [(a["title"], a["id"]) for a in by_title]
    h.expect("pagination.artifacts.ordering_honoured", titles == sorted(titles),
             f"ordering=title not honoured: {[t for t, _ in titles][:8]}", *pages[:2])
    by_created, pages = _walk_pages(h, "ibl_user", path, "pagination.artifacts",
                                    {"page_size": 4, "ordering": "-date_created"})
    created = [instant(a["date_created"]) for a in by_created]
    h.expect("pagination.artifacts.ordering_honoured", created == sorted(created, reverse=True),
             f"ordering=-date_created not honoured: {created[:6]}", *pages[:2])
    ids = [a["id"] for a in by_created]
    h.expect("pagination.artifacts.same_items_any_order", sorted(ids) == sorted(a["id"] for a in everything),
             "different orderings list different artifacts")
    if not h.config.read_only:
        found, pages = _walk_pages(h, "ibl_user", path, "pagination.artifacts", {"page_size": 2, "search": mine.upper()})
        h.expect("pagination.artifacts.search_honoured", len(found) == 5 and all(mine in a["title"] for a in found),
                 f"search (case-insensitive) for the run tag found {len(found)} artifacts, expected 5", *pages[:1])
    past = h.call("ibl_user", "GET", path, params={"page": 10_000})
    h.expect("pagination.invalid_page_404", past.status == 404, "a page past the end must answer 404 Invalid page.", past)


def test_edx_memory_and_chat_history_pagination(harness: Harness) -> None:
    """edx-memory (user) and chat-history (admin, whole org): the same page invariants; ids discovered, not guessed."""
    h = harness
    h.require("ibl_admin")
    edx, pages = _walk_pages(h, "ibl_admin", h.ibl("ai-mentor", "edx-memory/"), "pagination.edx_memory", {"page_size": 2})
    modified = [instant(m["last_modified"]) for m in edx]
    h.expect("pagination.edx_memory.default_ordering", modified == sorted(modified, reverse=True),
             "edx-memory must default to newest last_modified first", *pages[:1])
    for item in edx[:2]:
        ex = h.call("ibl_admin", "GET", h.ibl("ai-mentor", f"edx-memory/{item['id']}/"))
        h.expect_status("edx_memory.retrieve_listed_200", ex, 200)
    history, pages = _walk_pages(h, "ibl_admin", h.ibl("ai-analytics", "chat-history/"), "pagination.chat_history",
                                 {"page_size": 10})
    stamps = [instant(c["inserted_at"]) for c in history]
    h.expect("pagination.chat_history.default_ordering", stamps == sorted(stamps, reverse=True),
             "chat-history must default to newest inserted_at first", *pages[:1])


def test_vai_pagination(harness: Harness) -> None:
    """VirtuousAI list: limit/offset windows partition the org's memories; total matches; newest first."""
    h = harness
    h.require("vai")
    first = h.call("vai", "GET", "/api/v1/memory", params={"limit": 7, "offset": 0})
    total = first.json()["total"]
    seen: list[dict] = []
    offset, windows = 0, [first]
    while offset < total and offset < 2000:
        ex = first if offset == 0 else h.call("vai", "GET", "/api/v1/memory", params={"limit": 7, "offset": offset})
        windows.append(ex)
        h.expect("pagination.vai.total_stable", ex.json()["total"] == total, "total changed between windows", ex)
        seen += ex.json()["memories"]
        if not ex.json()["memories"]:
            break
        offset += 7
    ids = [m["id"] for m in seen]
    h.expect("pagination.vai.total_matches_items", len(ids) == total,
             f"total says {total}, the windows gave {len(ids)} memories (total must count this org only)", *windows[-2:])
    h.expect("pagination.vai.windows_partition", len(set(ids)) == len(ids), "a memory appears in two windows", *windows[-2:])
    keys = [(instant(m["createdAt"]), m["id"]) for m in seen]
    h.expect("pagination.vai.newest_first", [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True),
             "memories must be listed newest createdAt first", *windows[:2])
    h.expect("vai.tenant_scoped", all(m["organizationId"] == seen[0]["organizationId"] for m in seen),
             "the list mixes organizations", *windows[:2])


def test_ibl_tenant_isolation(harness: Harness) -> None:
    """A user token cannot reach another user (403); another org's admin sees and changes nothing (403)."""
    h = harness
    h.require("ibl_user")
    other_user = f"{h.user}-memmock-other"
    for prefix, rest in (("ai-mentor", "custom-instruction/"), ("ai-mentor", "artifacts/"),
                         ("ai-prompt", "chat-memory-status/"), ("ai-mentor", "ai-user-profile-memory/")):
        ex = h.call("ibl_user", "GET", h.ibl(prefix, rest, user=other_user))
        h.expect_status("isolation.user_cannot_reach_other_user_403", ex, 403)
    if not h.config.cred("IBL_OTHER_ORG_TOKEN"):
        pytest.skip("credentials missing: set IBL_OTHER_ORG, IBL_OTHER_ORG_TOKEN for the cross-org half")
    for prefix, rest in (("ai-mentor", "artifacts/"), ("ai-analytics", "chat-history/"), ("ai-mentor", "edx-memory/")):
        ex = h.call("ibl_other_org", "GET", h.ibl(prefix, rest))
        h.expect_status("isolation.other_org_admin_403", ex, 403)
    if h.config.read_only:
        return
    h.guard.require_writes(3)
    path = h.ibl("ai-prompt", "chat-memory-status/")
    before = h.call("ibl_user", "GET", path)
    ex = h.call("ibl_other_org", "PUT", path, json={"enabled": True})
    h.expect_status("isolation.other_org_admin_cannot_write_403", ex, 403)
    after = h.call("ibl_user", "GET", path)
    h.expect("isolation.other_org_changes_nothing", before.status == after.status and before.json() == after.json(),
             "another org's PUT changed this user's chat-memory-status", before, ex, after)


def test_vai_tenant_isolation(harness: Harness) -> None:
    """VirtuousAI orgs never mix: a foreign id answers 404 (GET and DELETE) and totals are unaffected."""
    h = harness
    h.require("vai_other")
    h.guard.require_writes(4)
    mine_before = h.call("vai", "GET", "/api/v1/memory", params={"limit": 1}).json()["total"]
    ex = h.call("vai_other", "POST", "/api/v1/memory", json={"content": f"{h.config.tag} other org"})
    h.expect_status("vai.create_201", ex, 201)
    foreign = ex.json()["id"]
    h.created("vai_other", f"/api/v1/memory/{foreign}")
    mine_after = h.call("vai", "GET", "/api/v1/memory", params={"limit": 1})
    h.expect("isolation.vai_totals_unaffected", mine_after.json()["total"] == mine_before,
             f"another org's create moved this org's total {mine_before} -> {mine_after.json()['total']}", ex, mine_after)
    read = h.call("vai", "GET", f"/api/v1/memory/{foreign}")
    h.expect_status("isolation.vai_foreign_id_404", read, 404)
    delete = h.call("vai", "DELETE", f"/api/v1/memory/{foreign}")
    h.expect_status("isolation.vai_foreign_id_404", delete, 404)
    still = h.call("vai_other", "GET", f"/api/v1/memory/{foreign}")
    h.expect("isolation.vai_foreign_delete_changes_nothing", still.status == 200,
             "a foreign org's DELETE removed the memory", delete, still)
    body = {"content": f"{h.config.tag} forged", "organizationId": str(uuid.uuid4())}
    forged = h.call("vai", "POST", "/api/v1/memory", json=body)
    if forged.status == 201:
        h.created("vai", f"/api/v1/memory/{forged.json()['id']}")
    h.expect_status("isolation.vai_foreign_org_in_body_403", forged, 403)


def test_auth_enforced(harness: Harness) -> None:
    """No credential or an unknown one answers 401 on both APIs (with the conventions' bodies)."""
    h = harness
    h.require("ibl_user")
    path = h.ibl("ai-mentor", "artifacts/")
    none = h.call(None, "GET", path)
    h.expect("auth.ibl_missing_401", none.status == 401 and (none.json() or {}).get("detail")
             == "Authentication credentials were not provided.", "no Authorization must answer 401", none)
    bad = h.call(None, "GET", path, headers={"Authorization": "Api-Token memmock-not-a-token"})
    h.expect("auth.ibl_invalid_401", bad.status == 401 and (bad.json() or {}).get("detail") == "Invalid token.",
             "an unknown key must answer 401 Invalid token.", bad)
    if "virtuousai" in h.config.apis:
        v_none = h.call(None, "GET", "/api/v1/memory")
        h.expect_status("auth.vai_missing_401", v_none, 401)
        v_bad = h.call(None, "GET", "/api/v1/memory", headers={"Authorization": "Bearer memmock-not-a-token"})
        h.expect_status("auth.vai_invalid_401", v_bad, 401)


def test_analytics_follow_chat_history(harness: Harness) -> None:
    """average-messages-per-session follows conversations created during the run (sessions; messages via /_mock)."""
    h = harness
    h.require("ibl_admin")
    h.guard.require_writes(6)
    mentor = str(uuid.uuid4())  # a fresh mentor: only this run's conversations count
    history = h.ibl("ai-analytics", "chat-history/")
    probe = h.call("ibl_admin", "POST", history, json={"topics": [], "mentor": mentor, "model": "m", "platform": h.org,
                                                         "title": f"{h.config.tag} analytics"})
    h.expect_status("chat_history.create_201", probe, 201)
    h.created("ibl_admin", f"{history}{probe.json()['id']}/")
    day = datetime.fromisoformat(probe.json()["inserted_at"].replace("Z", "+00:00")).date().isoformat()
    url = h.ibl("ai-analytics", "average-messages-per-session/")
    params = {"start_date": day, "end_date": day, "aggregation": "daily", "mentor_id": mentor}
    before = h.call("ibl_admin", "GET", url, params=params)
    h.expect("analytics.one_bucket_per_day", before.status == 200 and len(before.json()) == 1,
             "one daily bucket for a one-day range", before)
    sessions_before = before.json()[0]["total_sessions"]
    second = h.call("ibl_admin", "POST", history, json={"topics": [], "mentor": mentor, "model": "m", "platform": h.org,
                                                          "title": f"{h.config.tag} analytics 2"})
    h.expect_status("chat_history.create_201", second, 201)
    h.created("ibl_admin", f"{history}{second.json()['id']}/")
    after = h.call("ibl_admin", "GET", url, params=params)
    h.expect("analytics.sessions_follow_history", after.json()[0]["total_sessions"] == sessions_before + 1,
             f"total_sessions {sessions_before} -> {after.json()[0]['total_sessions']} after creating one conversation",
             before, second, after)
    if not h.admin_plane:
        pytest.skip("the target exposes no /_mock admin plane: message counts cannot be simulated")
    # 1 + 2 messages over 2 sessions: 1.5, which rounds half up to 2.
    for conv, n in ((probe.json()["id"], 1), (second.json()["id"], 2)):
        msgs = [{"type": "human" if i % 2 == 0 else "ai", "content": "x"} for i in range(n)]
        ex = h.call(None, "POST", f"/_mock/ibl/orgs/{h.org}/chat-history/{conv}/messages", json={"messages": msgs},
                    validate=False)
        h.expect_status("admin_plane.append_messages_200", ex, 200)
    final = h.call("ibl_admin", "GET", url, params=params)
    bucket = final.json()[0]
    h.expect("analytics.average_rounds_half_up", bucket["total_sessions"] == 2 and bucket["avg_messages"] == 2,
             f"2 sessions with 1 and 2 messages: expected avg_messages 2 (1.5 rounded half up), got {bucket}", final)


def test_backfill_counters(harness: Harness) -> None:
    """backfill-entities: counters add up per call, windows walk to the end, a second pass only skips.

    The passes start past the memories that existed before the run (it walks oldest first), so only
    the run's own memories are marked backfilled.
    """
    h = harness
    h.require("vai")
    h.guard.require_writes(40)
    start = (h.confined_query("vai", "backfill_entities") or {}).get("offset", 0)
    for n in range(3):  # ensure at least some not-yet-backfilled memories
        ex = h.call("vai", "POST", "/api/v1/memory", json={"content": f"{h.config.tag} backfill {n}"})
        h.expect_status("vai.create_201", ex, 201)
        h.created("vai", f"/api/v1/memory/{ex.json()['id']}")
    total = h.call("vai", "GET", "/api/v1/memory", params={"limit": 1}).json()["total"]

    def full_pass() -> tuple[int, int, int]:
        offset, processed, skipped, examined = start, 0, 0, 0
        for _ in range(100):
            ex = h.call("vai", "POST", "/api/v1/memory/backfill-entities", params={"limit": 7, "offset": offset,
                                                                                   "chunk_size": 3})
            h.expect_status("backfill.200", ex, 200)
            b = ex.json()
            h.expect("backfill.counters_add_up", b["examined"] == b["processed"] + b["skipped"] + b["failed"]
                     and b["nextOffset"] == offset + b["examined"] and b["offset"] == offset and b["limit"] == 7
                     and b["hasMore"] == (b["nextOffset"] < total) and b["examined"] <= 7,
                     f"counters inconsistent at offset {offset} (total {total}): {b}", ex)
            processed, skipped, examined = processed + b["processed"], skipped + b["skipped"], examined + b["examined"]
            if not b["hasMore"]:
                break
            offset = b["nextOffset"]
        return processed, skipped, examined

    p1, s1, e1 = full_pass()
    h.expect("backfill.walks_to_the_end", e1 == total - start,
             f"a full pass from offset {start} examined {e1} of the {total - start} memories there")
    h.expect("backfill.new_memories_processed", p1 >= 3, f"3 new memories, but only {p1} were processed")
    p2, s2, e2 = full_pass()
    h.expect("backfill.second_pass_skips", p2 == 0 and s2 == total - start and e2 == total - start,
             f"second pass: processed {p2}, skipped {s2} of {total - start}; everything was already backfilled")
