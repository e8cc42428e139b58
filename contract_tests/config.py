"""Harness options: the target, credentials (options or env vars), safety limits and profiles."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

# Profiles: quick (default, CI: derandomized, a few examples per operation) and deep (`make fuzz`).
PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"max_examples": 8, "stateful_examples": 6, "stateful_steps": 12, "shrink": False},
    "deep": {"max_examples": 150, "stateful_examples": 60, "stateful_steps": 40, "shrink": True},
}
DEFAULT_SEED = 20240701

# The in-process mock's development tokens (fixtures/default.yaml).
MOCK_CREDENTIALS = {
    "IBL_ORG": "main",
    "IBL_USER": "johndoe",
    "IBL_USER_TOKEN": "dev-ibl-user-johndoe-0001",
    "IBL_ADMIN_TOKEN": "dev-ibl-admin-main-0001",
    "IBL_OTHER_ORG": "acme",
    "IBL_OTHER_ORG_TOKEN": "dev-ibl-admin-acme-0001",
    "VAI_TOKEN": "dev-vai-virtuous-dev-0001",
    "VAI_OTHER_TOKEN": "dev-vai-other-org-0001",
}
CREDENTIAL_VARS = tuple(MOCK_CREDENTIALS)


@dataclass
class HarnessConfig:
    """Everything one harness run was asked to do."""

    target: str | None = None  # None: start the mock in-process
    apis: tuple[str, ...] = ("ibl", "virtuousai")
    read_only: bool = False
    max_writes: int | None = None
    seed: int = DEFAULT_SEED
    profile: str = "quick"
    max_examples: int | None = None
    report: str | None = None
    mock_fault: str | None = None
    allow_destructive: bool = False
    spec_source: str = "file"
    credentials: dict[str, str] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    invocation: str = ""

    @property
    def settings(self) -> dict[str, Any]:
        """The profile's numbers, with --max-examples applied."""
        values = dict(PROFILES[self.profile])
        if self.max_examples is not None:
            values["max_examples"] = self.max_examples
            values["stateful_examples"] = max(1, min(values["stateful_examples"], self.max_examples))
        return values

    @property
    def tag(self) -> str:
        """The prefix of everything this run creates (so it can be found and cleaned up)."""
        return f"memmock-check-{self.run_id}"

    def cred(self, name: str) -> str | None:
        """A credential variable's value, or None when it is not configured."""
        return self.credentials.get(name) or None


def resolve_credentials(in_process: bool, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Credentials from env vars; the in-process mock falls back to the fixtures' dev tokens."""
    environ = dict(os.environ if environ is None else environ)
    creds = {name: environ[name] for name in CREDENTIAL_VARS if environ.get(name)}
    if in_process:
        for name, value in MOCK_CREDENTIALS.items():
            creds.setdefault(name, value)
    return creds
