"""Faults of reads and writes (category ``state``): lost, stale or half-done writes, frozen timestamps.

A fault that rewrites stored records does it through the families' public export/clear/load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import MockError
from ..models.common import DocReader
from ..state import IblPrincipal, VaiPrincipal
from ..store import Credentials, Store
from ..wire import dumps
from .exchange import Action, Exchange, Reply, as_int, json_object, read_body, with_body

PROFILE_CREATE = "ai_mentor_orgs_users_ai_user_profile_memory_create"
PROFILE_DESTROY = "ai_mentor_orgs_users_ai_user_profile_memory_destroy"

Match = Callable[[dict[str, Any]], bool]


def _user_record(org: str | None, username: str | None) -> Match:
    """Matches the exported record of one user (a family with one record per user)."""
    return lambda record: record.get("org") == org and record.get("username") == username


def path_user(ex: Exchange) -> Match:
    """Matches the exported record of the path's user (a family with one record per user)."""
    return _user_record(ex.path("org"), ex.path("user_id"))


def path_artifact(ex: Exchange) -> Match:
    """Matches the exported artifact the path names."""
    org, user, artifact_id = ex.path("org"), ex.path("user_id"), as_int(ex.path("id"))
    return lambda record: _user_record(org, user)(record) and record.get("id") == artifact_id


def _patch_record(backend: Any, section: str, match: Match, patch: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Rewrite the matching records of a one-section family through its public export/clear/load.

    Runs without awaiting, so no other request sees the family half restored.
    """
    records = backend.export()[section]
    for i, record in enumerate(records):
        if match(record):
            records[i] = patch(record)
    reader = DocReader()
    backend.clear()
    backend.load(reader, {section: records}, ("ibl",))
    reader.raise_if_failed()


def _own_record(backend: Any, section: str, match: Match) -> dict[str, Any] | None:
    return next((r for r in backend.export()[section] if match(r)), None)


async def lost_update(ex: Exchange) -> Reply:
    """Answer the update, then put the user's instruction back as it was before."""
    mine = path_user(ex)
    before = _own_record(ex.store.custom_instruction, "custom_instructions", mine)
    reply = await ex.forward()
    if reply.status == 200 and before is not None:
        _patch_record(ex.store.custom_instruction, "custom_instructions", mine, lambda _: before)
    return reply


def frozen_stamp(backend: Callable[[Store], Any], section: str, stamp: str,
                 match: Callable[[Exchange], Match]) -> Action:
    """An action that stores and answers an update with the ``stamp`` field as it was before."""

    async def action(ex: Exchange) -> Reply:
        family, mine = backend(ex.store), match(ex)
        before = _own_record(family, section, mine)
        reply = await ex.forward()
        if reply.status == 200 and before is not None:
            frozen = before[stamp]
            _patch_record(family, section, mine, lambda record: {**record, stamp: frozen})
            body = reply.json()
            body[stamp] = frozen
            reply.set_json(body)
        return reply

    return action


def _caller(ex: Exchange) -> Any:
    """The principal the request's credential names, as the operation's own security finds it.

    For faults that answer without calling the handler: they must still honour authentication.
    """
    try:
        return ex.plan.authenticate(ex.scope)
    except MockError:
        return None


def _visible(ex: Exchange) -> bool:
    """Whether the caller may delete the path's object and it exists (else the real handler answers)."""
    principal = _caller(ex)
    if ex.is_vai:
        if not isinstance(principal, VaiPrincipal):
            return False
        try:
            ex.store.vai_memory.get(principal.organization_id, ex.path("memory_id"))
        except MockError:
            return False
        return True
    org, user = ex.path("org") or "", ex.path("user_id") or ""
    if not isinstance(principal, IblPrincipal) or not Credentials.ibl_can_reach(principal, org, user):
        return False
    if ex.operation == "ai_mentor_orgs_users_artifacts_destroy":
        artifact_id = as_int(ex.path("id"))
        try:
            return artifact_id is not None and bool(ex.store.artifacts.retrieve(org, user, artifact_id))
        except MockError:
            return False
    memory_id = as_int(ex.path("memory_id"))
    return any(entry["id"] == memory_id for entry in ex.store.chat_memory.list_entries(org, user))


async def delete_noop(ex: Exchange) -> Reply | None:
    """204 for an object the caller could delete, without deleting it."""
    if _visible(ex):
        return Reply(204)
    await ex.pass_through()
    return None


async def stale_read(ex: Exchange) -> Reply:
    """Serve the first status body seen per user, forever (a cache never invalidated)."""
    reply = await ex.forward()
    if reply.status == 200:
        cache = ex.memo.setdefault("first", {})
        reply.set_body(cache.setdefault((ex.path("org"), ex.path("user_id")), reply.body))
    return reply


async def create_drops_content(ex: Exchange) -> None:
    """Store every new memory with content "" (the handler reads a field the body does not have)."""
    body = await read_body(ex.receive)
    document = json_object(ex, body)
    if document is not None and isinstance(document.get("content"), str):
        body = dumps({**document, "content": ""})
    await ex.pass_through(*with_body(ex.scope, body))


async def profile_duplicates(ex: Exchange) -> Reply:
    """An upsert of an existing tag inserts a second row: the list shows the old relation before the new.

    The store keeps one relation per tag, so the rows an upsert left behind live in the fault's
    memo (oldest first) until their tag is deleted; the list shows them beside their tag.
    """
    org, user = ex.path("org") or "", ex.path("user_id") or ""
    stale: list[dict[str, Any]] = ex.memo.setdefault((org, user), [])
    if ex.operation == PROFILE_CREATE:
        before = {r["tag"]: r["detail"] for r in ex.store.profile_memory.list(org, user)}
        reply = await ex.forward()
        tag = reply.json()["tag"] if reply.status == 200 else None
        if tag in before:
            stale.append({"tag": tag, "detail": before[tag]})
        return reply
    reply = await ex.forward()
    if ex.operation == PROFILE_DESTROY:
        stale[:] = [r for r in stale if r["tag"] != ex.path("tag")]  # the delete matches every row of the tag
    elif reply.status == 200:
        reply.set_json([row for current in reply.json()
                        for row in [*(r for r in stale if r["tag"] == current["tag"]), current]])
    return reply
