"""The session object every check uses: target, credentials, guarded client, recorder, cleanup."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from .client import INTERRUPTS, Exchange, Refused, WriteGuard, guarded_httpx_client
from .config import BaselineEntry, HarnessConfig
from .latitude import allows
from .report import Recorder
from .safety import Contract, Creator, Safety, auth_headers, evaluate, minimal_body
from .validate import SpecViolation, match_operation, validate_exchange

# Which variables each kind of credential needs.
NEEDS = {
    "ibl_user": ("IBL_ORG", "IBL_USER", "IBL_USER_TOKEN"),
    "ibl_admin": ("IBL_ORG", "IBL_USER", "IBL_ADMIN_TOKEN"),
    "ibl_other_org": ("IBL_ORG", "IBL_USER", "IBL_OTHER_ORG", "IBL_OTHER_ORG_TOKEN"),
    "vai": ("VAI_TOKEN",),
    "vai_other": ("VAI_TOKEN", "VAI_OTHER_TOKEN"),
}
TOKEN_OF = {"ibl_user": "IBL_USER_TOKEN", "ibl_admin": "IBL_ADMIN_TOKEN", "ibl_other_org": "IBL_OTHER_ORG_TOKEN",
            "vai": "VAI_TOKEN", "vai_other": "VAI_OTHER_TOKEN"}


class ContractViolation(AssertionError):
    """A named rule the target broke, with the exchanges that show it."""

    def __init__(self, rule: str, message: str, evidence: list[Exchange], replay: str) -> None:
        self.rule, self.message, self.evidence, self.replay = rule, message, evidence, replay
        super().__init__(self.render(replay))

    @property
    def operation(self) -> str:
        """The operationId of the last exchange of the evidence that addresses one ("-" when none does)."""
        for exchange in reversed(self.evidence):
            op = match_operation(exchange.method, exchange.url)
            if op is not None:
                return op.operation_id
        return "-"

    def render(self, replay: str) -> str:
        """Rule, message, the last three exchanges and the replay line, as the reports show them."""
        shown = "\n".join(x.describe() for x in self.evidence[-3:])
        return f"[{self.rule}] {self.message}\n{shown}\nReplay: {replay}"


@dataclass
class Harness:
    """One harness run against one target."""

    config: HarnessConfig
    target: str
    recorder: Recorder
    guard: WriteGuard
    admin_plane: bool = False
    _client: httpx.Client | None = None
    _safety: Safety | None = None
    current_test: str = ""

    def __post_init__(self) -> None:
        # Every unsafe request of the run, whichever transport sends it, passes this gate and tracker.
        self.guard.gate = self.safety.gate
        self.guard.tracker = self.safety.track

    @property
    def safety(self) -> Safety:
        """The run's gate and ledger of what it created and changed."""
        if self._safety is None:
            admins = {self.org: self.headers("ibl_admin")} if self.config.cred("IBL_ADMIN_TOKEN") else {}
            if self.config.cred("IBL_OTHER_ORG_TOKEN"):
                admins[self.config.cred("IBL_OTHER_ORG") or ""] = self.headers("ibl_other_org")
            defaults = {"ibl": self.headers("ibl_admin" if self.config.cred("IBL_ADMIN_TOKEN") else "ibl_user"),
                        "virtuousai": self.headers("vai")}
            self._safety = Safety(self.target, Contract(), self.config.destructive, defaults, admins,
                                  run_tag=self.config.tag)
        return self._safety

    # -- credentials ---------------------------------------------------------------------------
    def require(self, kind: str) -> None:
        """Skip the calling test when a credential it needs is not configured, naming the variables."""
        api = "virtuousai" if kind.startswith("vai") else "ibl"
        if api not in self.config.apis:
            pytest.skip(f"--api {','.join(self.config.apis)}: this check is about {api}")
        missing = [v for v in NEEDS[kind] if not self.config.cred(v)]
        if missing:
            pytest.skip(f"credentials missing: set {', '.join(missing)}")

    def headers(self, kind: str) -> dict[str, str]:
        """The auth header for a credential kind (ibl: Api-Token; VirtuousAI: Bearer)."""
        token = self.config.cred(TOKEN_OF[kind]) or ""
        return {"Authorization": f"Bearer {token}"} if kind.startswith("vai") else {"Authorization": f"Api-Token {token}"}

    @property
    def org(self) -> str:
        """The configured ibl org."""
        return self.config.cred("IBL_ORG") or ""

    @property
    def user(self) -> str:
        """The configured ibl user (of that org)."""
        return self.config.cred("IBL_USER") or ""

    def ibl(self, prefix: str, rest: str, org: str | None = None, user: str | None = None) -> str:
        """An ibl path: /api/<prefix>/orgs/<org>/users/<user>/<rest>."""
        return f"/api/{prefix}/orgs/{org or self.org}/users/{user or self.user}/{rest}"

    # -- HTTP ----------------------------------------------------------------------------------
    @property
    def client(self) -> httpx.Client:
        """The guarded client (shared by every state machine)."""
        if self._client is None:
            self._client = guarded_httpx_client(self.guard, self.target, observer=self.recorder.observe)
        return self._client

    def call(self, kind: str | None, method: str, path: str, *, json: Any = None, params: Any = None,
             headers: dict[str, str] | None = None, validate: bool = True, cleanup: bool = False,
             content: bytes | None = None) -> Exchange:
        """Send one request with ``kind``'s credential; validate the response against the spec.

        ``content`` sends raw bytes instead of ``json`` (malformed bodies, other media types).
        """
        all_headers = dict(self.headers(kind)) if kind else {}
        all_headers.update(headers or {})
        try:
            response = self.client.request(method, path, json=json, params=params, headers=all_headers,
                                           content=content, extensions={"memmock_cleanup": cleanup})
        except Refused as exc:
            pytest.skip(f"not sent: {exc}")
        exchange = Exchange.from_httpx(response)
        if exchange.status == 429 and not cleanup:
            allows("protocol-statuses")
            pytest.skip(f"the target throttled the run (429 on {method} {path}, Retry-After "
                        f"{exchange.response_headers.get('retry-after', '-')}): this check stopped, nothing was judged")
        if validate:
            try:
                validate_exchange(exchange)
                self.recorder.count("openapi_core.response_conforms", True)
            except SpecViolation as exc:
                self.recorder.count("openapi_core.response_conforms", False)
                raise self.violation("openapi_core.response_conforms", str(exc), [exchange]) from None
        return exchange

    # -- checks --------------------------------------------------------------------------------
    def replay(self, case: str | None = None) -> str:
        """The command that reruns the current check (and ``case``, a hypothesis case) on the same target."""
        return self.config.replay_command(self.current_test or "contract_tests", case)

    def violation(self, rule: str, message: str, evidence: list[Exchange]) -> ContractViolation:
        """A ContractViolation for the current test."""
        return ContractViolation(rule, message, evidence, self.replay())

    def expect(self, rule: str, ok: bool, message: str, *evidence: Exchange) -> None:
        """Count one evaluation of ``rule``; raise a ContractViolation when it does not hold.

        A failure the baseline accepts is counted as known and the check goes on.
        """
        if ok:
            self.recorder.count(rule, True)
            return
        violation = self.violation(rule, message, list(evidence))
        entry = self.known(rule, violation.operation)
        self.recorder.count(rule, False, known=entry is not None)
        if entry is None:
            raise violation

    def known(self, rule: str, operation: str) -> BaselineEntry | None:
        """The baseline entry accepting a failure of ``rule`` on ``operation``, recorded for the summary."""
        entry = self.config.known_deviation(rule, operation)
        if entry is not None:
            self.recorder.add_known(self.current_test, rule, operation, entry.reason)
        return entry

    def fail_checks(self, operation_id: str, failed: list[tuple[str, str]], exchange: Exchange) -> None:
        """Raise one ContractViolation for the schemathesis checks that failed on one case, less the known ones."""
        new = []
        for name, detail in failed:
            if self.known(f"schemathesis.{name}", operation_id) is None:
                new.append((name, detail))
            else:
                self.recorder.reclassify_known(f"schemathesis.{name}")
        if new:
            rules = ", ".join(f"schemathesis.{n}" for n, _ in new)
            detail = "\n".join(f"- schemathesis.{n}: {m}" for n, m in new)
            raise self.violation(rules, f"{operation_id}: {len(new)} check(s) failed\n{detail}", [exchange])

    def expect_status(self, rule: str, exchange: Exchange, *allowed: int) -> None:
        """The response status is one of ``allowed``."""
        self.expect(rule, exchange.status in allowed,
                    f"expected status {' or '.join(map(str, allowed))}, got {exchange.status}", exchange)

    # -- safety and cleanup -----------------------------------------------------------------------
    def created(self, kind: str, path: str) -> None:
        """Remember to DELETE ``path`` at the end of the session (even after a failure or Ctrl-C)."""
        self.safety.record(path, self.headers(kind))

    def restore(self, kind: str, method: str, path: str, body: Any) -> None:
        """At the end of the session, put back a per-user setting the run changed (the earliest snapshot wins)."""
        self.safety.restores.setdefault(path, (method, self.headers(kind), body))

    def forget(self, path: str) -> None:
        """The harness deleted ``path`` itself."""
        self.safety.forget(path)

    def refusal(self, kind: str, method: str, path: str, body: Any = None) -> str | None:
        """Why the gate would not send ``method path`` as ``kind`` (None: it would)."""
        return self.safety.permits(method, path, self.headers(kind), body)

    def require_safe(self, kind: str, method: str, path: str, body: Any = None) -> None:
        """Skip the calling check when the gate would refuse the request it needs, saying why."""
        reason = self.refusal(kind, method, path, body)
        if reason is not None:
            pytest.skip(f"{reason}: needs --allow-destructive" if not self.config.destructive else reason)

    def pin(self, kind: str, operation_id: str, values: dict[str, Any]) -> Pin | None:
        """Create an object of the run's for ``operation_id`` to address, and add its path parameters to ``values``.

        None when no creator owns such objects (or the run is read-only): then they stay drawn.
        """
        contract = self.safety.contract
        found = contract.owner(contract.by_id[operation_id])
        if found is None or self.config.read_only:
            return None
        pin = Pin(self, kind, operation_id, found[0], found[1], dict(values))
        pin.make()
        values.update(pin.values)
        return pin

    def confined_query(self, kind: str, operation_id: str) -> dict[str, int] | None:
        """Query parameters that keep ``operation_id`` to the run's own records (e.g. backfill's offset), if needed."""
        return self.safety.window(operation_id, self.headers(kind))

    def make_owned(self, kind: str, operation_id: str, path: str) -> Exchange:
        """Create one tagged object with the creator ``operation_id`` at ``path`` (the gate records it)."""
        creator = self.safety.contract.creators[operation_id]
        media = creator.op.raw.get("requestBody", {}).get("content", {}).get("application/json", {})
        label = f"{self.config.tag}-pin-{len(self.safety.owned)}"
        return self.call(kind, "POST", path, json=minimal_body(media.get("schema", {}), label, self.org, self.user),
                         validate=False)

    def cleanup(self) -> list[str]:
        """Delete everything this run created, newest first, and put settings back; returns what is left behind.

        Ctrl-C and SIGTERM cannot stop it half-way.
        """
        def send(method: str, path: str, headers: dict[str, str], body: Any) -> int:
            response = self.client.request(method, path, headers=auth_headers(headers), json=body,
                                           extensions={"memmock_cleanup": True})
            return response.status_code

        with INTERRUPTS.shielded():
            return self.safety.cleanup(send)

    def close(self) -> None:
        """Close the clients."""
        if self._client is not None:
            self._client.close()
        self.safety.close()


@dataclass
class Pin:
    """The run's own object that one operation's fuzzed cases address (a DELETE gets a fresh one when needed)."""

    harness: Harness
    kind: str
    operation_id: str
    creator: Creator
    link: dict[str, str]
    tenant: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    owned_path: str = ""

    def make(self) -> None:
        """Create the object (skipping the check when the target does not create it)."""
        made = self.harness.make_owned(self.kind, self.creator.op.operation_id, self.creator.op.fill(self.tenant))
        body = made.json()
        owned = self.creator.delete_path(self.tenant, body) if made.status in self.creator.statuses else None
        if owned is None:
            pytest.skip(f"{self.operation_id} is fuzzed on an object of the run's, but "
                        f"{self.creator.op.operation_id} answered {made.status} to a minimal create")
        self.owned_path = owned
        op = self.harness.safety.contract.by_id[self.operation_id]
        self.values = {name: evaluate(self.link[name], self.tenant, body) for name in op.object_parameters}

    def refresh(self, case: Any) -> None:
        """Point ``case`` at the object, first making a new one when an earlier case deleted it."""
        if not self.harness.safety.owns_live(self.owned_path):
            self.make()
        case.path_parameters.update(self.values)
