"""Code written against the official ``iblai`` client works unchanged against the mock.

Every ibl operation the installed client has is driven through the client itself: the request
is built with its models and methods, sent by its ``ApiClient`` over real HTTP to the mock, and
every 2xx body is decoded with the client's own models through ``ApiClient.deserialize``. Then
the values must round-trip: what a write stored, a read returns; what a delete removed answers 404.

The same module runs under iblai 4.202.2 (``.venv``) and 3.66.0 (``.venv-iblai3``); operations
the installed version lacks (3.66 has no artifacts) skip with the reason.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import version
from typing import Any

import pydantic
import pytest
from iblai import models
from iblai.api import AiAnalyticsApi, AiMentorApi, AiPromptApi
from iblai.clients import get_platform_api_client

from mock_server.app import load_spec

IBLAI_VERSION = version("iblai")

ORG = "main"
USER = "johndoe"
USER_KEY = "dev-ibl-user-johndoe-0001"
ADMIN_KEY = "dev-ibl-admin-main-0001"  # chat-history is restricted to platform administrators
FINISHED_TASK = "4b3f2a1c-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
MENTOR = "ecbf8dc6-e97d-4602-939f-cda86082faa0"
NEWEST_CONVERSATION = "f468e4b9-bc18-41cf-8274-a65d49b2eda0"
SESSION = "0b3e7c52-6a1d-4e0f-8c9b-2d4f6a8b0c1e"
IBLAI_4 = int(IBLAI_VERSION.split(".")[0]) >= 4


class Client:
    """The official client for one key: the three APIs on one ``ApiClient``."""

    def __init__(self, url: str, key: str) -> None:
        self.api_client = get_platform_api_client(url, key)
        self._apis = {
            "ai_prompt_": AiPromptApi(self.api_client),
            "ai_mentor_": AiMentorApi(self.api_client),
            "ai_analytics_": AiAnalyticsApi(self.api_client),
        }

    def method(self, name: str) -> Callable[..., Any] | None:
        """The client's bound method ``name``, or None if this version lacks it."""
        api = next(api for prefix, api in self._apis.items() if name.startswith(prefix))
        return getattr(api, name, None)

    def decode(self, response: Any, response_type: str) -> Any:
        """Decode a raw response with the client's own models, as its docs tell callers to."""
        return self.api_client.deserialize(response.data.decode(), response_type, response.headers["content-type"])


@dataclass
class Ctx:
    """What an operation row needs: a user client and an admin client of the running mock."""

    user: Client
    admin: Client

    def send(self, method: str, *, as_admin: bool = False, user_id: str = USER, **kwargs: Any) -> Any:
        """Call a client method for ``org``/``user_id``; the raw urllib3 response."""
        client = self.admin if as_admin else self.user
        call = client.method(method)
        assert call is not None, f"iblai {IBLAI_VERSION} has no {method}"
        return call(org=ORG, user_id=user_id, **kwargs)

    def call(
        self,
        method: str,
        status: int,
        response_type: str | None = None,
        *,
        as_admin: bool = False,
        user_id: str = USER,
        **kwargs: Any,
    ) -> Any:
        """Send, assert the status, and decode a 2xx body with the client's models."""
        response = self.send(method, as_admin=as_admin, user_id=user_id, **kwargs)
        assert response.status == status, f"{method}: {response.status} {response.data[:500]!r}"
        if response_type is None:
            if status == 204:
                assert response.data == b""
            return None
        client = self.admin if as_admin else self.user
        return client.decode(response, response_type)


@dataclass(frozen=True)
class Op:
    """One row: the client method, how to call it, the expected status and response type, the check."""

    method: str
    call: Callable[[Ctx], dict[str, Any]]
    status: int
    response_type: str | None
    check: Callable[[Ctx, Any, dict[str, Any]], None]
    admin: bool = False
    user_id: str = USER


# ------------------------------------------------------------------ request bodies
# readOnly fields are required constructor arguments of the client's request models (reference
# §5.2); the dummies below are stripped by to_dict() and never reach the mock.


def chat_memory_body(content: str, session_id: str | None = SESSION) -> Any:
    """A UserAllChatMemoryView request body (``id`` is a readOnly dummy)."""
    return models.UserAllChatMemoryView.from_dict(
        {"id": 0, "username": USER, "platform_key": ORG, "content": content, "session_id": session_id}
    )


def artifact_body(title: str, metadata: Any) -> Any:
    """An Artifact request body: only title and metadata are writable."""
    return models.Artifact.from_dict(
        {
            "id": 0,
            "title": title,
            "content": "readOnly dummy",
            "file_extension": "md",
            "llm_name": "dummy",
            "llm_provider": "dummy",
            "date_created": "2000-01-01T00:00:00Z",
            "date_updated": "2000-01-01T00:00:00Z",
            "metadata": metadata,
            "username": "dummy",
            "session_id": None,
            "current_version_number": 0,
            "version_count": 0,
        }
    )


def conversation_body(**writable: Any) -> Any:
    """A Conversations request body: the given writable fields plus readOnly dummies."""
    return models.Conversations.from_dict(
        {
            "id": str(uuid.uuid4()),
            "messages": "",
            "sentiment": "",
            "student": "",
            "email": "",
            "rating": 0,
            "lti_email": "",
            "lti_username": "",
            "inserted_at": "2000-01-01T00:00:00Z",
            **writable,
        }
    )


def instruction_body(**fields: Any) -> Any:
    """A CustomInstructionResponse request body (``id`` is a readOnly dummy)."""
    return models.CustomInstructionResponse.from_dict({"id": 0, **fields})


def no_args(ctx: Ctx) -> dict[str, Any]:
    """Operations that take only org and user_id."""
    return {}


# ------------------------------------------------------------------ ai-prompt


def check_acm_retrieve(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """The newest of johndoe's fixture entries."""
    assert (m.id, m.username, m.platform_key) == (4, USER, ORG)
    assert m.content == "Learns best from analogies to cooking."
    assert str(m.session_id) == "e1b49640-20e6-4283-a64f-96b08d13e0e0"


def check_acm_create(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """The new entry carries the body and is now the newest."""
    assert (m.username, m.platform_key, m.content, str(m.session_id)) == (USER, ORG, "Enjoys puzzles.", SESSION)
    assert m.id > 4
    assert ctx.call("ai_prompt_orgs_users_all_chats_memory_retrieve", 200, "UserAllChatMemoryView") == m


def check_acm_update(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """A scheduled task: a UUID task id and a message."""
    uuid.UUID(m.task_id)
    assert m.message


def check_acm_destroy(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Nothing left: GET and a second DELETE answer 404."""
    ctx.call("ai_prompt_orgs_users_all_chats_memory_retrieve", 404)
    ctx.call("ai_prompt_orgs_users_all_chats_memory_destroy", 404)


def check_acm_update2(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Entry 4 replaced in place; GET (newest) returns it."""
    assert (m.id, m.username, m.content, m.session_id) == (4, USER, "Now prefers long answers.", None)
    assert ctx.call("ai_prompt_orgs_users_all_chats_memory_retrieve", 200, "UserAllChatMemoryView") == m


def check_acm_destroy2(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Entry 4 gone: the newest is now 2; deleting it again, or janedoe's 3, answers 404."""
    newest = ctx.call("ai_prompt_orgs_users_all_chats_memory_retrieve", 200, "UserAllChatMemoryView")
    assert newest.id == 2
    ctx.call("ai_prompt_orgs_users_all_chats_memory_destroy2", 404, memory_id=4)
    ctx.call("ai_prompt_orgs_users_all_chats_memory_destroy2", 404, memory_id=3)


def check_cms_retrieve(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """johndoe's fixture status."""
    assert (m.id, m.username, m.platform_key, m.enabled) == (1, USER, ORG, True)


def check_cms_update(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Turned off in place; GET returns the same."""
    assert (m.id, m.username, m.platform_key, m.enabled) == (1, USER, ORG, False)
    assert ctx.call("ai_prompt_orgs_users_chat_memory_status_retrieve", 200, "UserChatMemoryStatusView") == m


# ------------------------------------------------------------------ ai-mentor: profile memory

PROFILE = {
    ("favorite-animal", "my favorite animal is cat"),
    ("learning-style", "visual, with diagrams"),
    ("profession", "software engineer"),
}


def profile_pairs(ctx: Ctx) -> set[tuple[str, str | None]]:
    """johndoe's profile memory as (tag, detail) pairs, read through the client."""
    items = ctx.call("ai_mentor_orgs_users_ai_user_profile_memory_list", 200, "List[AIUserProfileMemoryRelation]")
    return {(item.tag, item.detail) for item in items}


def check_profile_list(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """A bare array of johndoe's three entries."""
    assert all(isinstance(item, models.AIUserProfileMemoryRelation) for item in m)
    assert {(item.tag, item.detail) for item in m} == PROFILE


def check_profile_create(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Stored; a second POST with the same tag replaces the detail (upsert)."""
    assert (m.tag, m.detail) == ("favorite-color", "green")
    assert profile_pairs(ctx) == PROFILE | {("favorite-color", "green")}
    body = models.AIUserProfileRequest(tag="favorite-color", detail="blue")
    again = ctx.call("ai_mentor_orgs_users_ai_user_profile_memory_create", 200, "AIUserProfileMemoryRelation",
                     ai_user_profile_request=body)
    assert (again.tag, again.detail) == ("favorite-color", "blue")
    assert profile_pairs(ctx) == PROFILE | {("favorite-color", "blue")}


def check_profile_destroy(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """The tag is gone; deleting it again answers 404."""
    assert profile_pairs(ctx) == PROFILE - {("learning-style", "visual, with diagrams")}
    ctx.call("ai_mentor_orgs_users_ai_user_profile_memory_destroy", 404, tag="learning-style")


# ------------------------------------------------------------------ ai-mentor: artifacts (4.x)


def artifact(ctx: Ctx, artifact_id: int, status: int = 200) -> Any:
    """GET one artifact through the client."""
    return ctx.call("ai_mentor_orgs_users_artifacts_retrieve", status, "Artifact" if status == 200 else None,
                    id=artifact_id)


def artifact_count(ctx: Ctx) -> int:
    """How many artifacts johndoe has, read through the client."""
    return ctx.call("ai_mentor_orgs_users_artifacts_list", 200, "PaginatedArtifactListList").count


def check_artifacts_list(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Page 1 of 13, five per page, ordered by title."""
    assert m.count == 13 and m.previous is None
    assert m.next is not None and "page=2" in m.next and "page_size=5" in m.next
    titles = [item.title for item in m.results]
    assert len(titles) == 5 and titles == sorted(titles)
    assert {item.username for item in m.results} == {USER}


def check_artifacts_create(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """A new artifact with one version; GET returns it."""
    assert (m.title, m.metadata, m.username) == ("Client-made", {"k": "v"}, USER)
    assert (m.current_version_number, m.version_count) == (1, 1)
    assert artifact(ctx, m.id) == m
    assert artifact_count(ctx) == 14


def check_artifacts_retrieve(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Fixture artifact 1."""
    assert (m.id, m.title, m.metadata, m.username, m.file_extension) == (1, "Python Calculator", {"topic": "calculus"},
                                                                         USER, "py")
    assert m.date_created == datetime(2024, 6, 1, 9, tzinfo=timezone.utc)


def check_artifacts_update(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Title and metadata written, date_updated moved; GET returns the same."""
    assert (m.id, m.title, m.metadata) == (1, "Renamed", {"x": 1})
    assert m.date_updated > m.date_created
    assert artifact(ctx, 1) == m


def check_artifacts_partial_update(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Only the title changed; GET returns the same."""
    assert (m.id, m.title, m.metadata) == (1, "Patched", {"topic": "calculus"})
    assert artifact(ctx, 1) == m


def check_artifacts_destroy(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """GET and a second DELETE answer 404; one artifact fewer."""
    artifact(ctx, 1, 404)
    ctx.call("ai_mentor_orgs_users_artifacts_destroy", 404, id=1)
    assert artifact_count(ctx) == 12


def check_versions_list(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Artifact 2's versions: as many as it says, exactly one current."""
    parent = artifact(ctx, 2)
    assert m.count == parent.version_count == len(m.results) >= 2
    assert {v.artifact.id for v in m.results} == {2}
    assert [v.version_number for v in m.results if v.is_current] == [parent.current_version_number]


def non_current_version(ctx: Ctx) -> Any:
    """A version of artifact 2 that is not its current one, as the versions list shows it."""
    page = ctx.call("ai_mentor_orgs_users_artifacts_versions_list", 200, "PaginatedArtifactVersionList", id=2)
    return next(v for v in page.results if not v.is_current)


def check_versions_retrieve(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """The same version the list shows."""
    assert m.id == kw["version_id"] and m.artifact.id == 2 and m.is_current is False
    assert m == non_current_version(ctx)


def call_versions_retrieve(ctx: Ctx) -> dict[str, Any]:
    """Pick a non-current version of artifact 2 from the list."""
    return {"id": 2, "version_id": non_current_version(ctx).id}


def call_set_current(ctx: Ctx) -> dict[str, Any]:
    """Make an older version of artifact 2 current."""
    version = non_current_version(ctx)
    return {"id": 2, "set_current_version_request": models.SetCurrentVersionRequest(version_id=version.id)}


def check_set_current(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """That version is now current, on the artifact and in the list."""
    assert m.id == kw["set_current_version_request"].version_id and m.is_current is True
    assert artifact(ctx, 2).current_version_number == m.version_number
    page = ctx.call("ai_mentor_orgs_users_artifacts_versions_list", 200, "PaginatedArtifactVersionList", id=2)
    assert [v.id for v in page.results if v.is_current] == [m.id]


# ------------------------------------------------------------------ ai-mentor: the rest


def check_ci_retrieve(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """johndoe's fixture instruction, in the client's fields."""
    assert m.id == 1
    assert (m.about_user, m.mentor_tone, m.profession, m.desired_mentor_traits) == (
        "A software engineer learning calculus in the evenings.", "friendly", "Engineer", "patient,encouraging,concise")


CI_FIELDS = {"about_user": "Studies history.", "mentor_tone": "calm", "profession": "Student",
             "desired_mentor_traits": "patient"}


def check_ci_create(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """alice's new instruction; GET returns it; a second POST answers 400."""
    assert {k: getattr(m, k) for k in CI_FIELDS} == CI_FIELDS
    got = ctx.call("ai_mentor_orgs_users_custom_instruction_retrieve", 200, "CustomInstructionResponse",
                   as_admin=True, user_id="alice")
    assert got == m
    ctx.call("ai_mentor_orgs_users_custom_instruction_create", 400, as_admin=True, user_id="alice",
             custom_instruction_response=instruction_body(**CI_FIELDS))


def check_ci_update(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Written in place (same id); GET returns the same."""
    assert m.id == 1
    assert (m.about_user, m.mentor_tone, m.profession, m.desired_mentor_traits) == (None, "formal", "Teacher", "direct")
    assert ctx.call("ai_mentor_orgs_users_custom_instruction_retrieve", 200, "CustomInstructionResponse") == m


def call_download(ctx: Ctx) -> dict[str, Any]:
    """The fixtures' finished task; 4.x types task_id as UUID, 3.66 as str."""
    return {"task_id": uuid.UUID(FINISHED_TASK) if IBLAI_4 else FINISHED_TASK}


def check_download(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """The finished export, as one ChatHistoryItem."""
    assert (m.type, m.content) == ("ai", "Here is your chat history export.")
    assert m.timestamp == datetime(2024, 6, 21, 12, tzinfo=timezone.utc)


def edx_page(ctx: Ctx) -> Any:
    """johndoe's edx memory, page 1."""
    return ctx.call("ai_mentor_orgs_users_edx_memory_list", 200, "PaginatedUserEdxMemoryList")


def check_edx_list(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Three records, newest last_modified first."""
    assert (m.count, m.next, m.previous) == (3, None, None)
    assert {r.id for r in m.results} == {1, 2, 3} and {r.username for r in m.results} == {USER}
    stamps = [r.last_modified for r in m.results]
    assert stamps == sorted(stamps, reverse=True)


def check_edx_retrieve(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Record 2, identical to its list entry."""
    assert (m.id, m.student, m.course_id) == (2, 1, "course-v1:main+CALC101+2024_Summer")
    assert m.data == {"current_page": "derivatives", "visited_blocks": []}
    assert m == next(r for r in edx_page(ctx).results if r.id == 2)


def check_edx_destroy(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """GET and a second DELETE answer 404; two records left."""
    ctx.call("ai_mentor_orgs_users_edx_memory_retrieve", 404, id=3)
    ctx.call("ai_mentor_orgs_users_edx_memory_destroy", 404, id=3)
    assert edx_page(ctx).count == 2


# ------------------------------------------------------------------ ai-analytics


def check_average(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """One daily bucket per day, computed from the org's fixture conversations."""
    assert [(s.time, s.avg_messages, s.total_sessions) for s in m] == [
        (datetime(2024, 6, day, tzinfo=timezone.utc), avg, total)
        for day, avg, total in ((1, 1, 1), (2, 4, 2), (3, 4, 3))
    ]


def conversation(ctx: Ctx, conversation_id: str, status: int = 200) -> Any:
    """GET one conversation through the admin client."""
    return ctx.call("ai_analytics_orgs_users_chat_history_retrieve", status, "Conversations" if status == 200 else None,
                    as_admin=True, id=conversation_id)


def conversation_count(ctx: Ctx) -> int:
    """How many conversations the org has, read through the client."""
    return ctx.call("ai_analytics_orgs_users_chat_history_list", 200, "PaginatedConversationsList", as_admin=True).count


def check_ch_list(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """The whole org, newest first, five per page."""
    assert m.count == 42 and m.previous is None and m.next is not None and "page=2" in m.next
    stamps = [c.inserted_at for c in m.results]
    assert len(stamps) == 5 and stamps == sorted(stamps, reverse=True)
    assert str(m.results[0].id) == NEWEST_CONVERSATION


CONVERSATION = {"topics": [{"name": "limits"}], "mentor": MENTOR, "model": "gpt-4o-mini", "platform": ORG,
                "metadata": {"via": "iblai"}}


def check_ch_create(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """A conversation of the path user; GET returns it; the org has one more."""
    assert (m.student, str(m.mentor), m.model, m.platform, m.metadata) == (USER, MENTOR, "gpt-4o-mini", ORG,
                                                                            {"via": "iblai"})
    assert [t.name for t in m.topics] == ["limits"]
    uuid.UUID(str(m.id))
    assert conversation(ctx, str(m.id)) == m
    assert conversation_count(ctx) == 43


def check_ch_retrieve(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """The fixtures' newest conversation."""
    assert (str(m.id), m.student, str(m.mentor), m.model) == (NEWEST_CONVERSATION, USER, MENTOR, "gpt-4o")
    assert [t.name for t in m.topics] == ["integrals"]
    assert m.inserted_at == datetime(2024, 6, 21, 14, 14, tzinfo=timezone.utc)


def check_ch_update(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Writable fields replaced; id and student stay; GET returns the same."""
    assert (str(m.id), m.student, m.model) == (NEWEST_CONVERSATION, USER, "gpt-4.1")
    assert [t.name for t in m.topics] == ["series"]
    assert conversation(ctx, NEWEST_CONVERSATION) == m


def check_ch_partial_update(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """Only the sent fields changed; GET returns the same."""
    assert (str(m.id), m.model, m.has_document, m.metadata) == (NEWEST_CONVERSATION, "gpt-4o", True, {"flag": True})
    assert conversation(ctx, NEWEST_CONVERSATION) == m


def check_ch_destroy(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """GET and a second DELETE answer 404; the org has one fewer."""
    conversation(ctx, NEWEST_CONVERSATION, 404)
    ctx.call("ai_analytics_orgs_users_chat_history_destroy", 404, as_admin=True, id=NEWEST_CONVERSATION)
    assert conversation_count(ctx) == 41


def check_ch_filter(ctx: Ctx, m: Any, kw: dict[str, Any]) -> None:
    """The org's filter values."""
    assert [t.name for t in m.topics] == ["algebra", "derivatives", "essay structure", "grammar", "integrals", "limits"]
    assert m.sentiment == ["negative", "neutral", "positive"]
    assert [u.username for u in m.users] == ["alice", "bob", "janedoe", "johndoe"]
    assert [(r.start_date.isoformat(), r.end_date.isoformat()) for r in m.date_ranges] == [("2024-06-01", "2024-06-21")]


# ------------------------------------------------------------------ the table

P, M, A = "ai_prompt_orgs_users_", "ai_mentor_orgs_users_", "ai_analytics_orgs_users_"

OPS: list[Op] = [
    Op(P + "all_chats_memory_retrieve", no_args, 200, "UserAllChatMemoryView", check_acm_retrieve),
    Op(P + "all_chats_memory_create", lambda c: {"user_all_chat_memory_view": chat_memory_body("Enjoys puzzles.")},
       201, "UserAllChatMemoryView", check_acm_create),
    Op(P + "all_chats_memory_update", lambda c: {"user_all_chat_memory_view": chat_memory_body("Summarise again.")},
       200, "UserChatMemoryUpdateView", check_acm_update),
    Op(P + "all_chats_memory_destroy", no_args, 204, None, check_acm_destroy),
    Op(P + "all_chats_memory_update2",
       lambda c: {"memory_id": 4, "user_all_chat_memory_view": chat_memory_body("Now prefers long answers.", None)},
       200, "UserAllChatMemoryView", check_acm_update2),
    Op(P + "all_chats_memory_destroy2", lambda c: {"memory_id": 4}, 204, None, check_acm_destroy2),
    Op(P + "chat_memory_status_retrieve", no_args, 200, "UserChatMemoryStatusView", check_cms_retrieve),
    Op(P + "chat_memory_status_update",
       lambda c: {"user_chat_memory_status_request_view": models.UserChatMemoryStatusRequestView(enabled=False)},
       200, "UserChatMemoryStatusView", check_cms_update),
    Op(M + "ai_user_profile_memory_list", no_args, 200, "List[AIUserProfileMemoryRelation]", check_profile_list),
    Op(M + "ai_user_profile_memory_create",
       lambda c: {"ai_user_profile_request": models.AIUserProfileRequest(tag="favorite-color", detail="green")},
       200, "AIUserProfileMemoryRelation", check_profile_create),
    Op(M + "ai_user_profile_memory_destroy", lambda c: {"tag": "learning-style"}, 204, None, check_profile_destroy),
    Op(M + "artifacts_list", lambda c: {"ordering": "title", "page_size": 5}, 200, "PaginatedArtifactListList",
       check_artifacts_list),
    Op(M + "artifacts_create", lambda c: {"artifact": artifact_body("Client-made", {"k": "v"})}, 201, "Artifact",
       check_artifacts_create),
    Op(M + "artifacts_retrieve", lambda c: {"id": 1}, 200, "Artifact", check_artifacts_retrieve),
    Op(M + "artifacts_update", lambda c: {"id": 1, "artifact": artifact_body("Renamed", {"x": 1})}, 200, "Artifact",
       check_artifacts_update),
    Op(M + "artifacts_partial_update", lambda c: {"id": 1, "patched_artifact": models.PatchedArtifact(title="Patched")},
       200, "Artifact", check_artifacts_partial_update),
    Op(M + "artifacts_destroy", lambda c: {"id": 1}, 204, None, check_artifacts_destroy),
    Op(M + "artifacts_versions_list", lambda c: {"id": 2}, 200, "PaginatedArtifactVersionList", check_versions_list),
    Op(M + "artifacts_versions_retrieve", call_versions_retrieve, 200, "ArtifactVersion", check_versions_retrieve),
    Op(M + "artifacts_versions_set_current_create", call_set_current, 200, "ArtifactVersion", check_set_current),
    Op(M + "custom_instruction_retrieve", no_args, 200, "CustomInstructionResponse", check_ci_retrieve),
    Op(M + "custom_instruction_create", lambda c: {"custom_instruction_response": instruction_body(**CI_FIELDS)},
       201, "CustomInstructionResponse", check_ci_create, admin=True, user_id="alice"),
    Op(M + "custom_instruction_update",
       lambda c: {"custom_instruction_response": instruction_body(
           about_user=None, mentor_tone="formal", profession="Teacher", desired_mentor_traits="direct")},
       200, "CustomInstructionResponse", check_ci_update),
    Op(M + "downloads_tasks_retrieve", call_download, 200, "ChatHistoryItem", check_download),
    Op(M + "edx_memory_list", no_args, 200, "PaginatedUserEdxMemoryList", check_edx_list),
    Op(M + "edx_memory_retrieve", lambda c: {"id": 2}, 200, "UserEdxMemory", check_edx_retrieve),
    Op(M + "edx_memory_destroy", lambda c: {"id": 3}, 204, None, check_edx_destroy),
    Op(A + "average_messages_per_session_list",
       lambda c: {"start_date": "2024-06-01", "end_date": "2024-06-03", "aggregation": "daily"},
       200, "List[MessageStatistics]", check_average),
    Op(A + "chat_history_list", lambda c: {"page_size": 5}, 200, "PaginatedConversationsList", check_ch_list,
       admin=True),
    Op(A + "chat_history_create", lambda c: {"conversations": conversation_body(**CONVERSATION)}, 201, "Conversations",
       check_ch_create, admin=True),
    Op(A + "chat_history_retrieve", lambda c: {"id": NEWEST_CONVERSATION}, 200, "Conversations", check_ch_retrieve,
       admin=True),
    Op(A + "chat_history_update",
       lambda c: {"id": NEWEST_CONVERSATION, "conversations": conversation_body(
           topics=[{"name": "series"}], mentor=MENTOR, model="gpt-4.1", platform=ORG)},
       200, "Conversations", check_ch_update, admin=True),
    Op(A + "chat_history_partial_update",
       lambda c: {"id": NEWEST_CONVERSATION,
                  "patched_conversations": models.PatchedConversations.from_dict(
                      {"has_document": True, "metadata": {"flag": True}})},
       200, "Conversations", check_ch_partial_update, admin=True),
    Op(A + "chat_history_destroy", lambda c: {"id": NEWEST_CONVERSATION}, 204, None, check_ch_destroy, admin=True),
    Op(A + "chat_history_filter_retrieve", no_args, 200, "ChatHistoryFilterData", check_ch_filter, admin=True),
]


@pytest.fixture
def ctx(mock_url: str) -> Ctx:
    """Official clients for johndoe and the org admin, pointed at the running mock."""
    return Ctx(user=Client(mock_url, USER_KEY), admin=Client(mock_url, ADMIN_KEY))


@pytest.mark.parametrize("op", OPS, ids=[op.method for op in OPS])
def test_operation(op: Op, ctx: Ctx) -> None:
    """Build the request with the client, send it, decode the body with the client's models, check round trips."""
    if ctx.user.method(op.method) is None:
        pytest.skip(f"iblai {IBLAI_VERSION} has no {op.method}")
    kwargs = op.call(ctx)
    decoded = ctx.call(op.method, op.status, op.response_type, as_admin=op.admin, user_id=op.user_id, **kwargs)
    if op.response_type is not None:
        # deserialize returns plain lists for List[...] types, models otherwise.
        expected = list if op.response_type.startswith("List[") else getattr(models, op.response_type)
        assert isinstance(decoded, expected), f"{op.method} decoded to {type(decoded).__name__}"
    op.check(ctx, decoded, kwargs)


def test_table_covers_every_ibl_operation() -> None:
    """The table is exactly the spec's ibl operations; the installed client has all of them but 3.66's artifacts."""
    spec_ops = {
        operation["operationId"]
        for path in load_spec("ibl")["paths"].values()
        for method, operation in path.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert len(OPS) == len(spec_ops) == 35
    assert {op.method for op in OPS} == spec_ops
    client = Client("http://127.0.0.1:9", USER_KEY)  # never contacted
    missing = {op.method for op in OPS if client.method(op.method) is None}
    assert missing == (set() if IBLAI_4 else {op.method for op in OPS if "_artifacts_" in op.method})


def test_download_not_ready_is_raw_json_the_client_cannot_decode(ctx: Ctx) -> None:
    """Documented drift: the not-ready body is not a ChatHistoryItem, so callers must read it raw."""
    task = uuid.uuid4()
    response = ctx.send(M + "downloads_tasks_retrieve", task_id=task if IBLAI_4 else str(task))
    assert response.status == 200
    assert response.headers["content-type"].startswith("application/json")
    assert json.loads(response.data) == {"state": "task_not_ready"}
    with pytest.raises(pydantic.ValidationError):
        ctx.user.decode(response, "ChatHistoryItem")
