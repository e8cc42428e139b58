"""The session object every check uses: target, credentials, guarded client, recorder, cleanup."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from .client import Exchange, WriteGuard, guarded_httpx_client
from .config import HarnessConfig
from .latitude import allows
from .report import Recorder
from .validate import SpecViolation, validate_exchange

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
        shown = "\n".join(x.describe() for x in evidence[-3:])
        super().__init__(f"[{rule}] {message}\n{shown}\nReplay: {replay}")


@dataclass
class Harness:
    """One harness run against one target."""

    config: HarnessConfig
    target: str
    recorder: Recorder
    guard: WriteGuard
    admin_plane: bool = False
    _client: httpx.Client | None = None
    _cleanups: list[tuple[str, str, str, dict[str, str], Any]] = field(default_factory=list)
    current_test: str = ""

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
        response = self.client.request(method, path, json=json, params=params, headers=all_headers, content=content,
                                       extensions={"memmock_cleanup": cleanup})
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
    def replay(self) -> str:
        """The command line that replays the current test with the same seed."""
        base = self.config.invocation or "python -m pytest contract_tests"
        test = self.current_test.split("::")[-1].split("[")[0] if self.current_test else ""
        # memmock check passes pytest options after "--".
        k = (" -- -k " if base.startswith("memmock") and " -- " not in base else " -k ") + shlex.quote(test)
        return f"{base} --seed {self.config.seed}" + (k if test else "")

    def violation(self, rule: str, message: str, evidence: list[Exchange]) -> ContractViolation:
        """A ContractViolation for the current test."""
        return ContractViolation(rule, message, evidence, self.replay())

    def expect(self, rule: str, ok: bool, message: str, *evidence: Exchange) -> None:
        """Count one evaluation of ``rule``; raise a ContractViolation when it does not hold."""
        self.recorder.count(rule, bool(ok))
        if not ok:
            raise self.violation(rule, message, list(evidence))

    def expect_status(self, rule: str, exchange: Exchange, *allowed: int) -> None:
        """The response status is one of ``allowed``."""
        self.expect(rule, exchange.status in allowed,
                    f"expected status {' or '.join(map(str, allowed))}, got {exchange.status}", exchange)

    # -- cleanup -------------------------------------------------------------------------------
    def created(self, kind: str, path: str) -> None:
        """Remember to DELETE ``path`` at the end of the session (even after a failure)."""
        self._cleanups.append(("DELETE", kind, path, self.headers(kind), None))

    def restore(self, kind: str, method: str, path: str, body: Any) -> None:
        """At the end of the session, put back a per-user setting the run changed (e.g. chat-memory-status)."""
        self._cleanups.append((method, kind, path, self.headers(kind), body))

    def forget(self, path: str) -> None:
        """The harness deleted ``path`` itself."""
        self._cleanups = [c for c in self._cleanups if not (c[0] == "DELETE" and c[2] == path)]

    def cleanup(self) -> list[str]:
        """Delete everything this run created, newest first; returns what could not be deleted."""
        leftovers = []
        for method, _kind, path, headers, body in reversed(self._cleanups):
            try:
                response = self.client.request(method, path, headers=headers, json=body,
                                               extensions={"memmock_cleanup": True})
                if response.status_code not in (200, 202, 204, 404):
                    leftovers.append(f"{path} ({response.status_code})")
            except Exception as exc:  # a cleanup must try every item
                leftovers.append(f"{path} ({exc})")
        self._cleanups.clear()
        return leftovers

    def close(self) -> None:
        """Close the client."""
        if self._client is not None:
            self._client.close()
