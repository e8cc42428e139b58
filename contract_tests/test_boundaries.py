"""Boundary cases (contract_tests/boundaries.py) for every query parameter of every read and every JSON body
field of every write that can be exercised safely: just inside a bound is accepted, just outside is
rejected naming the field (DRF: 400 ``{"<field>": [...]}``; FastAPI: 422 with ``loc [<where>, <field>]``).

Writes go only to the run's own objects: creates are removed at the end, updates hit objects this
test created, and operations on a user's pre-existing singletons get negative cases only, which a
conformant server rejects without changing anything.
"""

from __future__ import annotations

from typing import Any

import pytest

from .boundaries import Boundary, body_boundaries, query_boundaries
from .client import Exchange
from .harness import Harness
from .specs import API_BASES, lenient_parameters, load_contract

pytestmark = pytest.mark.stateless

# Writes whose positive cases would change what the user already had: negative cases only.
NEGATIVE_ONLY = frozenset({"ai_prompt_orgs_users_chat_memory_status_update", "backfill_entities"})
# Writes on singletons the API cannot delete, or with effects the contract does not state.
SKIPPED = {
    "ai_mentor_orgs_users_custom_instruction_create": "creates the user's one custom instruction, which no API call removes",
    "ai_mentor_orgs_users_custom_instruction_update": "changes the user's custom instruction",
    "ai_prompt_orgs_users_all_chats_memory_update": "schedules a memory update task whose effect the contract leaves open",
    "ai_mentor_orgs_users_artifacts_versions_set_current_create": "takes a version id, covered by the state machines",
}
# Own objects to aim updates at: the collection that makes one, and its body, per item path.
PARENTS = {
    "artifacts/{id}/": ("ai-mentor", "artifacts/", lambda h: {"title": f"{h.config.tag} boundary"}),
    "chat-history/{id}/": ("ai-analytics", "chat-history/", lambda h: {
        "topics": [], "mentor": "6f1c3c2e-8e1a-4a51-9d5e-0c8b7f9a1b2c", "model": "m", "platform": h.org,
        "title": f"{h.config.tag} boundary"}),
    # username and platform_key as the official client sends them
    "all-chats-memory/{memory_id}/": ("ai-prompt", "all-chats-memory/", lambda h: {
        "content": f"{h.config.tag} boundary", "username": h.user, "platform_key": h.org}),
}


def _operations() -> list[tuple[str, str, str, str]]:
    ops = []
    for api in API_BASES:
        for path, item in load_contract(api)["paths"].items():
            for method, op in item.items():
                if method in ("get", "put", "post", "patch"):
                    ops.append((api, op["operationId"], method.upper(), path))
    return ops


OPERATIONS = _operations()


def _kind(api: str, path: str) -> str:
    return "vai" if api == "virtuousai" else ("ibl_admin" if "/ai-analytics/" in path else "ibl_user")


def _path(h: Harness, api: str, template: str, ids: dict[str, Any]) -> str:
    values = {"org": h.org, "user_id": h.user, **ids}
    return API_BASES[api] + template.format(**values)


def _parent(h: Harness, template: str, kind: str) -> dict[str, Any] | None:
    """Ids for the template's non-tenant path parameters, from an object this run creates (None: none can be)."""
    rest = template.split("/users/{user_id}/", 1)[-1]
    if "{" not in rest:
        return {}
    if rest not in PARENTS:
        return None
    prefix, collection, body = PARENTS[rest]
    path = h.ibl(prefix, collection)
    ex = h.call(kind, "POST", path, json=body(h))
    h.expect_status("boundaries.parent_created", ex, 201)
    h.created(kind, f"{path}{ex.json()['id']}/")
    return {rest[rest.index("{") + 1:rest.index("}")]: ex.json()["id"]}


def _track(h: Harness, kind: str, path: str, ex: Exchange) -> None:
    """Remember to remove whatever a boundary case created (also when a faulty target accepted a bad case)."""
    body = ex.json()
    if ex.status == 201 and isinstance(body, dict) and "id" in body:
        h.created(kind, f"{path}{body['id']}/" if path.endswith("/") else f"{path}/{body['id']}")
    elif ex.status == 200 and path.endswith("ai-user-profile-memory/") and isinstance(body, dict) and "tag" in body:
        h.created(kind, f"{path}{body['tag']}/")


def _rejected_naming(api: str, case: Boundary, ex: Exchange) -> bool:
    body = ex.json()
    if api == "virtuousai":
        items = body.get("detail") if isinstance(body, dict) else None
        return ex.status == 422 and isinstance(items, list) and any(
            isinstance(i, dict) and i.get("loc", [])[:2] == [case.location, case.name] for i in items)
    return ex.status == 400 and isinstance(body, dict) and case.name in body


@pytest.mark.parametrize(("api", "operation_id", "method", "template"), OPERATIONS,
                         ids=[f"{a}:{o}" for a, o, _, _ in OPERATIONS])
def test_boundaries(harness: Harness, api: str, operation_id: str, method: str, template: str) -> None:
    """Each boundary case of the operation: accepted at the bound, rejected past it, naming the field."""
    h = harness
    if api not in h.config.apis:
        pytest.skip(f"--api {','.join(h.config.apis)}")
    if operation_id in SKIPPED:
        pytest.skip(SKIPPED[operation_id])
    kind = _kind(api, template)
    h.require(kind)
    if method == "GET":
        _, cases = query_boundaries(api, operation_id, lenient_parameters(load_contract(api)))
    else:
        _, cases = body_boundaries(api, operation_id)
        if operation_id in NEGATIVE_ONLY:
            _, query_cases = query_boundaries(api, operation_id, set())
            cases = [c for c in cases + query_cases if not c.accept]
    if not cases:
        pytest.skip("no parameter or field with a bound to probe")
    if method != "GET":
        h.guard.require_writes(len(cases) + 2)
    ids = _parent(h, template, kind) if method != "GET" else _read_ids(h, api, template, kind)
    if ids is None:
        pytest.skip("needs an id this check cannot make or find on the target")
    path = _path(h, api, template, ids)
    creator = h.safety.contract.creators.get(operation_id)
    upsert_key = creator.key if creator is not None else None
    for n, case in enumerate(cases):
        query = dict(case.query)
        body = case.body
        if upsert_key and isinstance(body, dict) and case.name != upsert_key and upsert_key in body:
            # an upsert names its object: a key of the run's own, never one the user already had
            body = {**body, upsert_key: f"{h.config.tag}-boundary-{n}"}
        if operation_id == "backfill_entities":
            query.setdefault("offset", 10**9)  # past every memory: a case that slips through changes nothing
        ex = h.call(kind, method, path, params=query or None, json=body if case.location == "body" else None)
        if method == "POST":
            _track(h, kind, path, ex)
        what = f"{operation_id}: {case.location} {case.name} {case.description}"
        if case.accept:
            h.expect("boundaries.accepted_at_bound", 200 <= ex.status < 300, f"{what} must be accepted", ex)
        else:
            h.expect("boundaries.rejected_past_bound", _rejected_naming(api, case, ex),
                     f"{what} must be rejected naming {case.name!r}", ex)


def _read_ids(h: Harness, api: str, template: str, kind: str) -> dict[str, Any] | None:
    """Ids for a read's non-tenant path parameters: a fresh UUID for download tasks, a listed conversation."""
    rest = template.split("/users/{user_id}/", 1)[-1]
    if "{" not in rest:
        return {}
    if rest == "downloads/tasks/{task_id}/":
        return {"task_id": "6f1c3c2e-8e1a-4a51-9d5e-0c8b7f9a1b2c"}
    if rest == "chat-history/{id}/":
        listed = h.call(kind, "GET", h.ibl("ai-analytics", "chat-history/"), params={"page_size": 1})
        results = listed.json().get("results", []) if listed.status == 200 else []
        return {"id": results[0]["id"]} if results else None
    return None
