"""Stateful: state machines with a reference model per resource family, plus scenario checks.

Every response the machines see is validated against the spec with openapi-core (Harness.call).
Everything created is tagged with the run's tag and deleted at the session end.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule, run_state_machine_as_test

from .client import WriteBudgetExhausted
from .harness import Harness
from .latitude import advanced, allows, instant

pytestmark = pytest.mark.stateful

# No surrounding whitespace: a DRF server may trim it (latitude point string-normalisation).
TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=16).map(str.strip).filter(bool)


def run_machine(harness: Harness, machine: type[RuleBasedStateMachine], writes: int) -> None:
    """Run ``machine`` with the profile's budget (derandomized: reruns replay the same steps)."""
    numbers = harness.config.settings
    harness.guard.require_writes(writes)
    machine.harness = harness  # type: ignore[attr-defined]
    refused = harness.guard.refused
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=numbers["stateful_examples"], stateful_step_count=numbers["stateful_steps"],
            deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate] + ([Phase.shrink] if numbers["shrink"] else []),
            report_multiple_bugs=False,
        ))
    except BaseException as exc:  # the budget ran out, or the safety gate refused, mid-machine: a skip
        budget = _found(exc, WriteBudgetExhausted)
        refusal = _found(exc, pytest.skip.Exception)
        if budget is None and refusal is None and harness.guard.refused == refused:
            raise
        # Hypothesis may wrap it (e.g. as Flaky*: a replay ran out of budget earlier): still a skip.
        if budget is not None or refusal is None:
            pytest.skip(f"--max-writes {harness.config.max_writes} ran out during this state machine "
                        f"({budget or 'request refused'})")
        pytest.skip(f"stopped mid-machine: {refusal.msg}")


def _found(exc: BaseException | None, kind: type[BaseException], depth: int = 0) -> Any:
    """The first exception of ``kind`` in ``exc``'s chain or groups (Hypothesis wraps what a step raised)."""
    if exc is None or depth > 8:
        return None
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = _found(sub, kind, depth + 1)
            if found is not None:
                return found
    return _found(exc.__cause__ or exc.__context__, kind, depth + 1)


class Base(RuleBasedStateMachine):
    """Shared helpers: the harness and the run tag."""

    harness: Harness

    @property
    def h(self) -> Harness:
        return type(self).harness

    @property
    def tag(self) -> str:
        """The run tag plus the machine's name, so scenario data of the same run never mixes in."""
        return f"{self.h.config.tag}-{type(self).__name__.lower()}"

    def tagged(self, text: str) -> str:
        return f"{self.tag} {text}"

    def track(self, kind: str, path: str) -> None:
        """Remember something this example created (deleted in teardown, and at session end as a fallback)."""
        self.h.created(kind, path)
        self.__dict__.setdefault("_mine", []).append((kind, path))

    def untrack(self, path: str) -> None:
        """This example deleted ``path`` itself."""
        self.h.forget(path)
        self.__dict__["_mine"] = [m for m in self.__dict__.get("_mine", []) if m[1] != path]

    def teardown(self) -> None:
        """Each example starts from the server state the run found: delete what this one created."""
        for kind, path in reversed(self.__dict__.get("_mine", [])):
            self.h.client.request("DELETE", path, headers=self.h.headers(kind), extensions={"memmock_cleanup": True})
            self.h.forget(path)


# ---------------------------------------------------------------------------- chat-memory-status
class ChatMemoryStatusMachine(Base):
    """PUT upserts; GET reads the last PUT; PUT is idempotent; form booleans are accepted."""

    @initialize()
    def remember(self) -> None:
        self.path = self.h.ibl("ai-prompt", "chat-memory-status/")
        before = self.h.call("ibl_user", "GET", self.path)
        self.model: bool | None = before.json()["enabled"] if before.status == 200 else None
        if self.model is not None and not getattr(type(self), "_restore_set", False):
            self.h.restore("ibl_user", "PUT", self.path, {"enabled": self.model})
            type(self)._restore_set = True  # type: ignore[attr-defined]

    @rule(enabled=st.booleans(), twice=st.booleans())
    def put(self, enabled: bool, twice: bool) -> None:
        first = self.h.call("ibl_user", "PUT", self.path, json={"enabled": enabled})
        self.h.expect_status("chat_memory_status.put_upserts", first, 200)
        body = first.json()
        self.h.expect("chat_memory_status.put_echoes", body["enabled"] is enabled and body["username"] == self.h.user
                      and body["platform_key"] == self.h.org, f"PUT enabled={enabled} answered {body}", first)
        if twice:
            second = self.h.call("ibl_user", "PUT", self.path, json={"enabled": enabled})
            self.h.expect("chat_memory_status.put_idempotent", second.status == 200 and second.json() == body,
                          "the same PUT twice answered differently", first, second)
        self.model = enabled

    @rule(value=st.sampled_from(["true", "False", "1", "off", "on", "0"]))
    def put_form(self, value: str) -> None:
        response = self.h.client.put(self.path, data={"enabled": value}, headers=self.h.headers("ibl_user"))
        from .client import Exchange

        ex = Exchange.from_httpx(response)
        expected = value.lower() in ("true", "1", "on")
        self.h.expect("chat_memory_status.form_booleans", ex.status == 200 and ex.json().get("enabled") is expected,
                      f"form enabled={value!r} should store {expected}", ex)
        self.model = expected

    @rule()
    def put_without_enabled(self) -> None:
        ex = self.h.call("ibl_user", "PUT", self.path, json={})
        self.h.expect("validation.required_field_400", ex.status == 400 and "enabled" in (ex.json() or {}),
                      'PUT {} must answer 400 {"enabled": [...]}', ex)

    @invariant()
    def read_your_writes(self) -> None:
        if self.model is None:
            return
        ex = self.h.call("ibl_user", "GET", self.path)
        self.h.expect("chat_memory_status.read_your_writes", ex.status == 200 and ex.json()["enabled"] is self.model,
                      f"GET after PUT enabled={self.model} answered {ex.status} {ex.json()}", ex)


def test_chat_memory_status(harness: Harness) -> None:
    """chat-memory-status: upsert, read-your-writes, idempotent PUT, form booleans, 400 on a missing field."""
    harness.require("ibl_user")
    run_machine(harness, ChatMemoryStatusMachine, 30)


# ---------------------------------------------------------------------------- custom-instruction
class CustomInstructionMachine(Base):
    """POST creates once (then 400); PUT updates: content read back, updated_at moves, created_at and id stay."""

    @initialize()
    def remember(self) -> None:
        self.path = self.h.ibl("ai-mentor", "custom-instruction/")
        ex = self.h.call("ibl_user", "GET", self.path)
        self.current: dict[str, Any] | None = ex.json() if ex.status == 200 else None
        self.written_at: float | None = None  # when this run wrote self.current (monotonic); None: before it
        if self.current is not None and not getattr(type(self), "_restore_set", False):
            original = {k: self.current.get(k) for k in ("content", "about_user", "mentor_tone", "profession")}
            self.h.restore("ibl_user", "PUT", self.path, original)
            type(self)._restore_set = True  # type: ignore[attr-defined]

    @rule(content=TEXT)
    def create(self, content: str) -> None:
        ex = self.h.call("ibl_user", "POST", self.path, json={"content": self.tagged(content)})
        if self.current is None:
            self.h.expect_status("custom_instruction.create_201", ex, 201)
            self.current = ex.json()
            self.written_at = time.monotonic()
        else:
            self.h.expect("custom_instruction.create_twice_400",
                          ex.status == 400 and "non_field_errors" in (ex.json() or {}),
                          "POST when one exists must answer 400 non_field_errors", ex)

    @rule(content=TEXT, tone=TEXT)
    def update(self, content: str, tone: str) -> None:
        time.sleep(0.002)  # timestamps must be able to move
        ex = self.h.call("ibl_user", "PUT", self.path, json={"content": self.tagged(content), "mentor_tone": tone})
        if self.current is None:
            self.h.expect_status("custom_instruction.update_missing_404", ex, 404)
            return
        self.h.expect_status("custom_instruction.update_200", ex, 200)
        body = ex.json()
        self.h.expect("custom_instruction.timestamps", instant(body["created_at"]) == instant(self.current["created_at"])
                      and body["id"] == self.current["id"]
                      and advanced(self.current["updated_at"], body["updated_at"], self._since_written()),
                      f"after PUT: updated_at must move forward ({self.current['updated_at']} -> {body['updated_at']}), "
                      f"created_at/id stay ({self.current['created_at']}/{self.current['id']} -> "
                      f"{body['created_at']}/{body['id']})", ex)
        self.current = body
        self.written_at = time.monotonic()
        self.expected_content = self.tagged(content)
        read = self.h.call("ibl_user", "GET", self.path)
        self.h.expect("custom_instruction.update_then_read", read.json().get("content") == self.expected_content
                      and read.json().get("mentor_tone") == tone, "GET after PUT does not show the update", ex, read)

    def _since_written(self) -> float | None:
        return None if self.written_at is None else time.monotonic() - self.written_at

    @invariant()
    def read_your_writes(self) -> None:
        if self.current is None:
            return
        ex = self.h.call("ibl_user", "GET", self.path)
        self.h.expect("custom_instruction.read_your_writes", ex.status == 200 and
                      instant(ex.json()["updated_at"]) == instant(self.current["updated_at"]),
                      f"GET answered {ex.status} with updated_at {(ex.json() or {}).get('updated_at')}, "
                      f"last write had {self.current['updated_at']}", ex)


def test_custom_instruction(harness: Harness) -> None:
    """custom-instruction: create once, update-then-read, timestamps (updated_at moves, created_at stays)."""
    harness.require("ibl_user")
    # Its PUT moves updated_at for good, and a new instruction cannot be deleted: only with --allow-destructive.
    harness.require_safe("ibl_user", "PUT", harness.ibl("ai-mentor", "custom-instruction/"))
    run_machine(harness, CustomInstructionMachine, 30)


# ---------------------------------------------------------------------------- profile memory
class ProfileMemoryMachine(Base):
    """POST upserts by tag (200); the list shows exactly the model; DELETE 204 then 404."""

    @initialize()
    def start(self) -> None:
        self.path = self.h.ibl("ai-mentor", "ai-user-profile-memory/")
        self.model: dict[str, str] = {}

    def _tag(self, n: int) -> str:
        return f"{self.h.config.tag}-{n}"

    @rule(n=st.integers(0, 3), detail=TEXT)
    def upsert(self, n: int, detail: str) -> None:
        tag = self._tag(n)
        ex = self.h.call("ibl_user", "POST", self.path, json={"tag": tag, "detail": detail})
        self.h.expect_status("profile_memory.upsert_200", ex, 200)
        if tag not in self.model:
            self.track("ibl_user", f"{self.path}{tag}/")
        self.model[tag] = detail

    @rule(n=st.integers(0, 3))
    def delete(self, n: int) -> None:
        tag = self._tag(n)
        ex = self.h.call("ibl_user", "DELETE", f"{self.path}{tag}/")
        if tag in self.model:
            self.h.expect_status("profile_memory.delete_204", ex, 204)
            del self.model[tag]
            self.untrack(f"{self.path}{tag}/")
        else:
            self.h.expect_status("profile_memory.delete_missing_404", ex, 404)

    @invariant()
    def list_matches_model(self) -> None:
        allows("unordered-lists")  # compared as a multiset of rows, in whatever order the list comes
        ex = self.h.call("ibl_user", "GET", self.path)
        prefix = f"{self.h.config.tag}-"
        mine = sorted((m["tag"], m.get("detail")) for m in ex.json() or [] if m["tag"].startswith(prefix))
        self.h.expect("profile_memory.read_your_writes", mine == sorted(self.model.items()),
                      f"list shows {mine}, expected one row per tag: {sorted(self.model.items())}", ex)


def test_profile_memory(harness: Harness) -> None:
    """ai-user-profile-memory: upsert by tag, list reflects writes, delete-then-404."""
    harness.require("ibl_user")
    run_machine(harness, ProfileMemoryMachine, 30)


# ---------------------------------------------------------------------------- all-chats-memory
class AllChatsMemoryMachine(Base):
    """POST 201; GET answers the newest entry; PUT one updates it; DELETE one 204 then 404."""

    entries = Bundle("entries")

    @initialize()
    def start(self) -> None:
        self.base = self.h.ibl("ai-prompt", "all-chats-memory/")
        self.model: dict[int, str] = {}
        self.newest: int | None = None

    @rule(target=entries, content=TEXT)
    def create(self, content: str) -> int:
        ex = self.h.call("ibl_user", "POST", self.base,
                         json={"username": self.h.user, "platform_key": self.h.org, "content": self.tagged(content)})
        self.h.expect_status("all_chats_memory.create_201", ex, 201)
        entry = ex.json()
        self.track("ibl_user", f"{self.base}{entry['id']}/")
        self.model[entry["id"]] = self.tagged(content)
        self.newest = entry["id"]
        read = self.h.call("ibl_user", "GET", self.base)
        self.h.expect("all_chats_memory.read_your_writes", read.status == 200 and read.json().get("id") == entry["id"]
                      and read.json().get("content") == self.tagged(content),
                      "GET on the collection must answer the entry just created (the newest)", ex, read)
        return entry["id"]

    @rule(entry=entries, content=TEXT)
    def update(self, entry: int, content: str) -> None:
        ex = self.h.call("ibl_user", "PUT", f"{self.base}{entry}/",
                         json={"username": self.h.user, "platform_key": self.h.org, "content": self.tagged(content)})
        if entry not in self.model:
            self.h.expect_status("all_chats_memory.update_missing_404", ex, 404)
            return
        self.h.expect("all_chats_memory.update_echoes", ex.status == 200 and ex.json().get("content") == self.tagged(content),
                      "PUT must answer 200 with the new content", ex)
        self.model[entry] = self.tagged(content)
        if entry == self.newest:
            read = self.h.call("ibl_user", "GET", self.base)
            self.h.expect("all_chats_memory.update_then_read", read.json().get("content") == self.tagged(content),
                          "GET after PUT shows the old content", ex, read)

    @rule(entry=consumes(entries))
    def delete(self, entry: int) -> None:
        path = f"{self.base}{entry}/"
        first = self.h.call("ibl_user", "DELETE", path)
        self.h.expect_status("all_chats_memory.delete_204", first, 204)
        second = self.h.call("ibl_user", "DELETE", path)
        self.h.expect("all_chats_memory.delete_then_404", second.status == 404,
                      f"deleting twice must answer 404 the second time, got {second.status}", first, second)
        self.model.pop(entry, None)
        self.untrack(path)
        if entry == self.newest:
            self.newest = None


def test_all_chats_memory(harness: Harness) -> None:
    """all-chats-memory: create 201, newest read back, update-then-read, delete twice -> 404."""
    harness.require("ibl_user")
    run_machine(harness, AllChatsMemoryMachine, 40)


# ---------------------------------------------------------------------------- artifacts
class ArtifactMachine(Base):
    """Create 201 (version 1), retrieve, PUT/PATCH then read, date_updated moves, versions, delete-then-404."""

    artifacts = Bundle("artifacts")

    @initialize()
    def start(self) -> None:
        self.base = self.h.ibl("ai-mentor", "artifacts/")
        self.model: dict[int, dict[str, Any]] = {}
        self.written_at: dict[int, float] = {}  # when this run last wrote each artifact (monotonic)

    @rule(target=artifacts, title=TEXT)
    def create(self, title: str) -> int:
        # content and file_extension are readOnly in the spec: a DRF server drops or refuses them
        ex = self.h.call("ibl_user", "POST", self.base, json={"title": self.tagged(title)})
        self.h.expect_status("artifacts.create_201", ex, 201)
        body = ex.json()
        self.track("ibl_user", f"{self.base}{body['id']}/")
        self.model[body["id"]] = body
        self.written_at[body["id"]] = time.monotonic()
        read = self.h.call("ibl_user", "GET", f"{self.base}{body['id']}/")
        self.h.expect("artifacts.read_your_writes", read.status == 200 and read.json()["title"] == self.tagged(title),
                      "GET after POST must answer the artifact", ex, read)
        versions = self.h.call("ibl_user", "GET", f"{self.base}{body['id']}/versions/")
        self.h.expect("artifacts.first_version", versions.status == 200 and versions.json()["count"] == 1,
                      "a new artifact has exactly one version", versions)
        return body["id"]

    @rule(artifact=artifacts, title=TEXT, patch=st.booleans())
    def update(self, artifact: int, title: str, patch: bool) -> None:
        time.sleep(0.002)
        ex = self.h.call("ibl_user", "PATCH" if patch else "PUT", f"{self.base}{artifact}/",
                         json={"title": self.tagged(title)})
        if artifact not in self.model:
            self.h.expect_status("artifacts.update_missing_404", ex, 404)
            return
        self.h.expect_status("artifacts.update_200", ex, 200)
        before = self.model[artifact]
        body = ex.json()
        elapsed = time.monotonic() - self.written_at[artifact]
        self.h.expect("artifacts.date_updated_moves", advanced(before["date_updated"], body["date_updated"], elapsed),
                      f"date_updated must move forward on {'PATCH' if patch else 'PUT'} "
                      f"({before['date_updated']} -> {body['date_updated']})", ex)
        read = self.h.call("ibl_user", "GET", f"{self.base}{artifact}/")
        self.h.expect("artifacts.update_then_read", read.json().get("title") == self.tagged(title),
                      "GET after update shows the old title", ex, read)
        self.model[artifact] = body
        self.written_at[artifact] = time.monotonic()

    @rule(artifact=consumes(artifacts))
    def delete(self, artifact: int) -> None:
        path = f"{self.base}{artifact}/"
        ex = self.h.call("ibl_user", "DELETE", path)
        self.h.expect_status("artifacts.delete_204", ex, 204)
        read = self.h.call("ibl_user", "GET", path)
        self.h.expect("artifacts.delete_then_404", read.status == 404,
                      f"GET after DELETE must answer 404, got {read.status}", ex, read)
        self.model.pop(artifact, None)
        self.untrack(path)

    @invariant()
    def search_finds_mine(self) -> None:
        if not self.model:
            return
        ex = self.h.call("ibl_user", "GET", self.base, params={"search": self.tag, "page_size": 100})
        ids = {a["id"] for a in ex.json()["results"]}
        self.h.expect("artifacts.search_read_your_writes", ids == set(self.model) and ex.json()["count"] == len(self.model),
                      f"search for the machine's tag found {sorted(ids)} (count {ex.json()['count']}), "
                      f"expected {sorted(self.model)}", ex)


def test_artifacts(harness: Harness) -> None:
    """artifacts (+ versions): create, read-your-writes, update-then-read, date_updated, delete-then-404, search."""
    harness.require("ibl_user")
    run_machine(harness, ArtifactMachine, 40)


# ---------------------------------------------------------------------------- chat-history
class ChatHistoryMachine(Base):
    """Admin plane of ibl: create 201 owned by the path user, PATCH then read, delete-then-404; users get 403."""

    conversations = Bundle("conversations")

    @initialize()
    def start(self) -> None:
        self.base = self.h.ibl("ai-analytics", "chat-history/")
        self.mentor = str(uuid.uuid4())

    @rule(target=conversations, title=TEXT)
    def create(self, title: str) -> str:
        body = {"topics": [], "mentor": self.mentor, "model": "gpt", "platform": self.h.org, "title": self.tagged(title)}
        ex = self.h.call("ibl_admin", "POST", self.base, json=body)
        self.h.expect_status("chat_history.create_201", ex, 201)
        conv = ex.json()
        self.track("ibl_admin", f"{self.base}{conv['id']}/")
        self.h.expect("chat_history.owner_is_path_user", conv["student"] == self.h.user,
                      f"a created conversation belongs to the path user {self.h.user}, got {conv['student']}", ex)
        read = self.h.call("ibl_admin", "GET", f"{self.base}{conv['id']}/")
        self.h.expect("chat_history.read_your_writes", read.status == 200 and read.json()["title"] == self.tagged(title),
                      "GET after POST must answer the conversation", ex, read)
        return str(conv["id"])

    @rule(conv=conversations, title=TEXT)
    def patch(self, conv: str, title: str) -> None:
        ex = self.h.call("ibl_admin", "PATCH", f"{self.base}{conv}/", json={"title": self.tagged(title)})
        self.h.expect_status("chat_history.patch_200", ex, 200)
        read = self.h.call("ibl_admin", "GET", f"{self.base}{conv}/")
        self.h.expect("chat_history.update_then_read", read.json().get("title") == self.tagged(title),
                      "GET after PATCH shows the old title", ex, read)

    @rule(conv=conversations)
    def user_is_refused(self, conv: str) -> None:
        ex = self.h.call("ibl_user", "GET", f"{self.base}{conv}/")
        self.h.expect_status("chat_history.admin_only_403", ex, 403)

    @rule(conv=consumes(conversations))
    def delete(self, conv: str) -> None:
        path = f"{self.base}{conv}/"
        ex = self.h.call("ibl_admin", "DELETE", path)
        self.h.expect_status("chat_history.delete_204", ex, 204)
        read = self.h.call("ibl_admin", "GET", path)
        self.h.expect("chat_history.delete_then_404", read.status == 404,
                      f"GET after DELETE must answer 404, got {read.status}", ex, read)
        self.untrack(path)


def test_chat_history(harness: Harness) -> None:
    """chat-history (admin): create, read-your-writes, update-then-read, delete-then-404, user token -> 403."""
    harness.require("ibl_admin")
    harness.require("ibl_user")
    run_machine(harness, ChatHistoryMachine, 40)


# ---------------------------------------------------------------------------- VirtuousAI memories
class VaiMemoryMachine(Base):
    """create 201 (explicit, caller's org); GET; total follows the model; DELETE 204 then 404."""

    memories = Bundle("memories")

    @initialize()
    def start(self) -> None:
        first = self.h.call("vai", "GET", "/api/v1/memory", params={"limit": 1})
        self.total = first.json()["total"]

    @rule(target=memories, content=TEXT)
    def create(self, content: str) -> str:
        ex = self.h.call("vai", "POST", "/api/v1/memory", json={"content": self.tagged(content)})
        self.h.expect_status("vai.create_201", ex, 201)
        mem = ex.json()
        self.track("vai", f"/api/v1/memory/{mem['id']}")
        self.h.expect("vai.create_fields", mem["source"] == "explicit" and mem["content"] == self.tagged(content),
                      "a created memory has source explicit and the content sent", ex)
        self.total += 1
        read = self.h.call("vai", "GET", f"/api/v1/memory/{mem['id']}")
        self.h.expect("vai.read_your_writes", read.status == 200 and read.json()["id"] == mem["id"],
                      "GET after POST must answer the memory", ex, read)
        return str(mem["id"])

    @rule(mem=consumes(memories))
    def delete(self, mem: str) -> None:
        path = f"/api/v1/memory/{mem}"
        ex = self.h.call("vai", "DELETE", path)
        self.h.expect("vai.delete_204", ex.status == 204 and not ex.response_body,
                      "DELETE must answer 204 with an empty body", ex)
        read = self.h.call("vai", "GET", path)
        self.h.expect("vai.delete_then_404", read.status == 404, f"GET after DELETE must answer 404, got {read.status}",
                      ex, read)
        self.total -= 1
        self.untrack(path)

    @rule()
    def missing_content_422(self) -> None:
        ex = self.h.call("vai", "POST", "/api/v1/memory", json={})
        self.h.expect("validation.vai_required_422", ex.status == 422, f"POST {{}} must answer 422, got {ex.status}", ex)
        if ex.status == 201:
            self.track("vai", f"/api/v1/memory/{ex.json()['id']}")

    @invariant()
    def total_follows(self) -> None:
        ex = self.h.call("vai", "GET", "/api/v1/memory", params={"limit": 1})
        self.h.expect("vai.total_consistent", ex.json()["total"] == self.total,
                      f"total is {ex.json()['total']}, expected {self.total} after this run's creates/deletes", ex)


def test_vai_memories(harness: Harness) -> None:
    """VirtuousAI memories: create, read-your-writes, delete-then-404, total follows, 422 on a missing field."""
    harness.require("vai")
    run_machine(harness, VaiMemoryMachine, 40)
