"""Every fault: its name, family, what it breaks, what should catch it, and where it acts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..state import MockState
from . import access, analytics, inputs, pages, status, writes
from .exchange import Action, json_change, on_success, when

Setup = Callable[[MockState, dict[str, Any]], None]


@dataclass(frozen=True)
class Fault:
    """One deliberate breach of the contract."""

    name: str
    category: str
    description: str
    catch: str  # the kind of harness check that should catch it
    operations: frozenset[str] | None  # short operation ids it acts on; None: every operation
    action: Action | None = None  # what it does to a request of a targeted operation
    setup: Setup | None = None  # what it does to each state, with the fault's memory of that state

    def targets(self, operation: str) -> bool:
        """Whether a request to this operation (short id) goes through the fault's action."""
        return self.action is not None and (self.operations is None or operation in self.operations)


_DRF_LISTS = frozenset({
    "ai_mentor_orgs_users_artifacts_list",
    "ai_mentor_orgs_users_artifacts_versions_list",
    "ai_mentor_orgs_users_edx_memory_list",
    "ai_analytics_orgs_users_chat_history_list",
})
# Every operation whose success is 201 in the specs (tests/test_faults.py checks this list).
CREATE_OPERATIONS = frozenset({
    "ai_prompt_orgs_users_all_chats_memory_create",
    "ai_mentor_orgs_users_artifacts_create",
    "ai_mentor_orgs_users_custom_instruction_create",
    "ai_analytics_orgs_users_chat_history_create",
    "create_memory",
})
_CHAT_HISTORY_OBJECTS = frozenset({
    "ai_analytics_orgs_users_chat_history_list",
    "ai_analytics_orgs_users_chat_history_retrieve",
    "ai_analytics_orgs_users_chat_history_create",
    "ai_analytics_orgs_users_chat_history_update",
    "ai_analytics_orgs_users_chat_history_partial_update",
})
_CUSTOM_INSTRUCTION_PUT = frozenset({"ai_mentor_orgs_users_custom_instruction_update"})
_STATUS_OPS = frozenset({"ai_prompt_orgs_users_chat_memory_status_retrieve",
                         "ai_prompt_orgs_users_chat_memory_status_update"})
_ANALYTICS = frozenset({"ai_analytics_orgs_users_average_messages_per_session_list"})
_CHAT_HISTORY_ALL = _CHAT_HISTORY_OBJECTS | {"ai_analytics_orgs_users_chat_history_destroy",
                                             "ai_analytics_orgs_users_chat_history_filter_retrieve"}
_ARTIFACTS_LIST = frozenset({"ai_mentor_orgs_users_artifacts_list"})
_CHAT_HISTORY_LIST = frozenset({"ai_analytics_orgs_users_chat_history_list"})
_PROFILE_OPS = frozenset({"ai_mentor_orgs_users_ai_user_profile_memory_list", writes.PROFILE_CREATE,
                          writes.PROFILE_DESTROY})

_ALL = (
    Fault("create-returns-200", "status", "every create answers 200 instead of 201",
          "status code conformance", CREATE_OPERATIONS, on_success(status.created_as_ok, 201)),
    Fault("server-error-edx", "status", 'edx-memory retrieve answers 500 {"detail": "Internal Server Error"}',
          "status code conformance", frozenset({"ai_mentor_orgs_users_edx_memory_retrieve"}),
          on_success(status.server_error)),
    Fault("artifact-missing-field", "schema", "artifact retrieve omits the required date_updated",
          "response schema", frozenset({"ai_mentor_orgs_users_artifacts_retrieve"}),
          on_success(json_change(status.drop_date_updated))),
    Fault("status-id-as-string", "schema", "chat-memory-status id is serialised as a string",
          "response schema", _STATUS_OPS, on_success(json_change(status.id_as_string))),
    Fault("conversation-null-email", "schema", "chat-history conversations have email null",
          "response schema", _CHAT_HISTORY_OBJECTS, on_success(json_change(status.null_email), 200, 201)),
    Fault("vai-wrong-content-type", "schema", "the VirtuousAI list answers Content-Type text/plain",
          "content type", frozenset({"list_memories"}), on_success(status.text_plain)),
    Fault("lost-update", "state", "custom-instruction PUT answers the new content but does not store it",
          "read-your-writes", _CUSTOM_INSTRUCTION_PUT, writes.lost_update),
    Fault("delete-noop", "state",
          "DELETE of all-chats-memory/{id}, artifacts/{id} and /api/v1/memory/{id} answers 204 but keeps the object",
          "delete-then-404",
          frozenset({"ai_prompt_orgs_users_all_chats_memory_destroy2", "ai_mentor_orgs_users_artifacts_destroy",
                     "delete_memory"}),
          writes.delete_noop),
    Fault("stale-read", "state", "chat-memory-status GET keeps answering the first value it served per user",
          "read-your-writes", frozenset({"ai_prompt_orgs_users_chat_memory_status_retrieve"}), writes.stale_read),
    Fault("timestamp-frozen", "state", "custom-instruction PUT does not move updated_at",
          "timestamps", _CUSTOM_INSTRUCTION_PUT,
          writes.frozen_stamp(lambda store: store.custom_instruction, "custom_instructions", "updated_at",
                              writes.path_user)),
    Fault("count-off-by-one", "pagination", "DRF count is one more than the number of matching items",
          "pagination invariants", _DRF_LISTS, on_success(json_change(pages.count_plus_one))),
    Fault("page-overlap", "pagination", "each page after the first repeats the previous page's last item",
          "pagination invariants", _DRF_LISTS, pages.page_overlap),
    Fault("ordering-ignored", "ordering", "the ordering query parameter is ignored on artifacts",
          "ordering", _ARTIFACTS_LIST, pages.ordering_ignored),
    Fault("vai-total-all-orgs", "pagination", "VirtuousAI total counts every organization's memories",
          "pagination invariants", frozenset({"list_memories"}), on_success(json_change(pages.total_all_orgs))),
    Fault("user-leak", "isolation", "an ibl user token may read and write other users of its org (no 403)",
          "isolation", None, access.user_leak),
    Fault("org-leak", "isolation", "VirtuousAI GET /memory/{id} finds another organization's memory instead of 404",
          "isolation", frozenset({"get_memory"}), access.org_leak),
    Fault("auth-bypass", "auth",
          "a request with no credential at all is served as the fixtures' first admin / first VAI organization",
          "auth enforced", None, access.auth_bypass),
    Fault("validation-off", "validation",
          "PUT chat-memory-status without enabled, or with a non-boolean, is accepted as enabled: true",
          "negative data rejected", frozenset({"ai_prompt_orgs_users_chat_memory_status_update"}),
          inputs.validation_off),
    Fault("analytics-round-down", "analytics", "avg_messages floors instead of rounding half up",
          "analytics consistency", frozenset(), None, analytics.install_floor),
    Fault("analytics-stale", "analytics", "analytics ignore conversations created (or changed) after startup",
          "analytics consistency", _ANALYTICS, analytics.analytics_stale, analytics.snapshot_store),
    Fault("backfill-skips-skipped", "counters",
          "backfill nextOffset = offset + processed, so skipped memories are re-examined and hasMore misleads",
          "backfill counters", frozenset({"backfill_entities"}),
          on_success(json_change(inputs.next_offset_processed_only))),
    # --- the faults of the second round: at least one per family of rules in the conventions
    Fault("cross-org-admin", "auth",
          "an ibl admin token reaches every org's paths, not only its own org's (the org is never compared)",
          "isolation: other org's admin gets 403", None, access.cross_org_admin),
    Fault("chat-history-user-token", "auth",
          "a user token reaches chat-history (list, CRUD, filter data) on its own path: "
          "the admin-only check is missing",
          "chat-history refuses user tokens (403)", _CHAT_HISTORY_ALL, access.admin_check_skipped),
    Fault("chat-history-all-orgs", "isolation",
          "the chat-history list (count, pages, filters) covers the conversations of every org, not only the path's",
          "isolation of org-wide lists", _CHAT_HISTORY_LIST, access.chat_history_all_orgs),
    Fault("analytics-all-orgs", "isolation",
          "average-messages-per-session counts the conversations of every org, not only the path's",
          "isolation of analytics", _ANALYTICS, on_success(json_change(access.analytics_all_orgs))),
    Fault("edx-memory-any-user", "isolation",
          "edx-memory GET/DELETE by id finds another user's record of the same org instead of 404",
          "isolation: another user's id answers 404",
          frozenset({"ai_mentor_orgs_users_edx_memory_retrieve", "ai_mentor_orgs_users_edx_memory_destroy"}),
          access.any_user(lambda store: store.edx_memory, "edx_memory", "id", access.edx_memory_found)),
    Fault("all-chats-delete-any-user", "isolation",
          "DELETE all-chats-memory/{id} deletes another user's entry of the same org (204) instead of 404",
          "isolation: another user's id answers 404",
          frozenset({"ai_prompt_orgs_users_all_chats_memory_destroy2"}),
          access.any_user(lambda store: store.chat_memory, "all_chats_memory", "memory_id", access.all_chats_found)),
    Fault("page-size-uncapped", "pagination",
          "DRF lists serve a page_size above 100 as asked instead of clamping it to 100",
          "page size cap", _DRF_LISTS, pages.uncapped_page),
    Fault("default-page-size-20", "pagination",
          "DRF lists default to 20 items a page (also for a zero, negative or non-numeric page_size), not 10",
          "default page size", _DRF_LISTS, pages.default_page_size),
    Fault("next-link-drops-query", "pagination",
          "DRF next/previous links keep only page, dropping page_size, ordering and the filters",
          "links keep the query", _DRF_LISTS, on_success(json_change(pages.links_page_only))),
    Fault("first-page-link-numbered", "pagination", "the DRF previous link to page 1 carries page=1",
          "the link to page 1 carries no page", _DRF_LISTS, on_success(json_change(pages.first_page_numbered))),
    Fault("ordering-ties-unstable", "ordering",
          "artifacts that tie on the ordering key come in another order on every other page (no id tiebreak), "
          "so a walk through the pages repeats some and skips others",
          "pages partition the list when the key ties", _ARTIFACTS_LIST, pages.ties_unstable),
    Fault("unknown-ordering-400", "ordering",
          "an artifacts ordering naming an unknown field answers 400 {\"ordering\": [...]} instead of being ignored",
          "unknown ordering ignored", _ARTIFACTS_LIST, pages.unknown_ordering_400),
    Fault("ordering-first-field-only", "ordering",
          "artifacts ordering=a,b sorts by a alone (ties by id), ignoring b",
          "multi-field ordering", _ARTIFACTS_LIST, pages.first_ordering_field_only),
    Fault("analytics-weeks-from-sunday", "analytics", "weekly buckets start on Sunday, not Monday",
          "weekly buckets start on Monday", _ANALYTICS, on_success(json_change(analytics.weeks_from_sunday))),
    Fault("analytics-end-exclusive", "analytics",
          "end_date is exclusive: the series stops at end_date 00:00, so a one-day range answers []",
          "one bucket per day of the range", _ANALYTICS, on_success(json_change(analytics.end_exclusive))),
    Fault("analytics-hourly-gaps", "analytics", "hourly series leave out the hours without sessions (no zero-fill)",
          "hourly series are zero-filled", _ANALYTICS, on_success(json_change(analytics.hourly_gaps))),
    Fault("vai-limit-uncapped", "validation",
          "the VirtuousAI list serves limit above 100 (that many memories) instead of answering 422",
          "limit above its maximum rejected", frozenset({"list_memories"}), inputs.limit_uncapped),
    Fault("vai-negative-offset", "validation",
          "a negative VirtuousAI list offset is read as 0 instead of answering 422",
          "offset below its minimum rejected", frozenset({"list_memories"}), inputs.negative_offset),
    Fault("analytics-cap-too-high", "validation",
          "average-messages-per-session serves up to 100,000 buckets (a zero too many) instead of answering 400 "
          "past 10,000",
          "bucket cap", _ANALYTICS, analytics.cap_too_high),
    Fault("patch-keeps-date-updated", "state", "artifact PATCH does not move date_updated (PUT still does)",
          "timestamps", frozenset({"ai_mentor_orgs_users_artifacts_partial_update"}),
          writes.frozen_stamp(lambda store: store.artifacts, "artifacts", "date_updated", writes.path_artifact)),
    Fault("vai-create-drops-content", "state",
          "VirtuousAI create stores (and answers) every memory with content \"\", whatever was sent",
          "created fields", frozenset({"create_memory"}), writes.create_drops_content),
    Fault("profile-upsert-duplicates", "state",
          "a profile-memory upsert of an existing tag adds a second relation: the list shows the old one, then the new",
          "upsert replaces", _PROFILE_OPS, writes.profile_duplicates),
    Fault("search-non-ascii-500", "server-error", "an artifacts search term with a non-ASCII character answers 500",
          "no 5xx on valid input", _ARTIFACTS_LIST, on_success(when(inputs.non_ascii_search, status.server_error))),
    Fault("title-max-length-500", "server-error",
          "a JSON artifact create whose title is exactly 255 characters (the spec's maxLength) answers 500",
          "no 5xx on valid input", frozenset({"ai_mentor_orgs_users_artifacts_create"}), inputs.full_length_title_500),
    Fault("page-size-100-500", "server-error", "DRF lists answer 500 for page_size 100 or more (the largest page)",
          "no 5xx on valid input", _DRF_LISTS, on_success(when(inputs.full_page, status.server_error))),
)

FAULTS: dict[str, Fault] = {fault.name: fault for fault in _ALL}


def fault_names() -> list[str]:
    """Every fault's name, sorted."""
    return sorted(FAULTS)


def unknown_fault_message(name: str) -> str:
    """What startup says about a fault name it does not know."""
    return f"unknown fault {name!r}; valid faults: {', '.join(fault_names())}"
