"""Harness options: target, credentials (environment and dotenv file), baseline, safety limits and profiles."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from .inprocess import dev_credentials_file

# Profiles: quick (default, CI: derandomized, a few examples per operation) and deep (`make fuzz`).
PROFILES: dict[str, dict[str, Any]] = {
    "quick": {"max_examples": 8, "stateful_examples": 6, "stateful_steps": 12, "shrink": False},
    "deep": {"max_examples": 150, "stateful_examples": 60, "stateful_steps": 40, "shrink": True},
}
DEFAULT_SEED = 20240701

CREDENTIAL_VARS = ("IBL_ORG", "IBL_USER", "IBL_USER_TOKEN", "IBL_ADMIN_TOKEN", "IBL_OTHER_ORG", "IBL_OTHER_ORG_TOKEN",
                   "VAI_TOKEN", "VAI_OTHER_TOKEN")
# The variables whose values are secrets: every output shows their names instead.
SECRET_VARS = tuple(name for name in CREDENTIAL_VARS if name.endswith("_TOKEN"))


class ConfigError(ValueError):
    """A credentials or baseline file the harness cannot use; the message says where and why."""


_DOTENV_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def read_dotenv(path: Traversable) -> dict[str, str]:
    """``NAME=value`` lines (``export`` allowed, ``#`` comments, values optionally quoted) of a dotenv file.

    Names of other programs are ignored, but an ``IBL_``/``VAI_`` name the harness does not know is an
    error: it is almost always a typo that would otherwise skip checks silently.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--credentials {path}: {exc.strerror or exc}") from None
    found: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            raise ConfigError(f"--credentials {path}:{number}: expected NAME=value, got {raw!r}")
        name, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if name.startswith(("IBL_", "VAI_")) and name not in CREDENTIAL_VARS:
            raise ConfigError(f"--credentials {path}:{number}: unknown variable {name} "
                              f"(known: {', '.join(CREDENTIAL_VARS)})")
        if name in CREDENTIAL_VARS:
            found[name] = value
    return found


def resolve_credentials(in_process: bool, file: Path | None = None,
                        environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Credentials by precedence: environment variables, then ``file``, then (in-process mock only) the dev tokens.

    The environment wins so that a pipeline can override a file checked into the repository.
    """
    environ = os.environ if environ is None else environ
    creds = {name: environ[name] for name in CREDENTIAL_VARS if environ.get(name)}
    layers = [read_dotenv(file)] if file is not None else []
    if in_process:
        # The mock's development tokens: the adapter that starts it knows them.
        layers.append(read_dotenv(dev_credentials_file()))
    for layer in layers:
        for name, value in layer.items():
            if value:
                creds.setdefault(name, value)
    return creds


# --------------------------------------------------------------------------------------- baseline
@dataclass
class BaselineEntry:
    """One known deviation: a check (rule) on an operation, with the reason it is accepted."""

    check: str
    operation: str
    reason: str
    seen: int = 0

    def matches(self, rule: str, operation: str) -> bool:
        """Whether a failure of ``rule`` on ``operation`` is this deviation (shell-style wildcards)."""
        return fnmatch.fnmatchcase(rule, self.check) and fnmatch.fnmatchcase(operation, self.operation)

    def describe(self) -> str:
        """``check on operation: reason``."""
        return f"{self.check} on {self.operation}: {self.reason}"


def load_baseline(path: Path, operation_ids: Iterable[str]) -> list[BaselineEntry]:
    """The entries of a baseline file; ConfigError names the entry and the field that is wrong.

    Format (YAML)::

        deviations:
          - check: schemathesis.negative_data_rejection
            operation: ai_mentor_orgs_users_artifacts_create
            reason: our serializer ignores read-only fields (TICKET-12)
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--baseline {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--baseline {path}: not YAML ({exc})") from None
    listed = document.get("deviations") if isinstance(document, dict) and set(document) == {"deviations"} else None
    if not isinstance(listed, list):
        raise ConfigError(f"--baseline {path}: expected a mapping with one key, deviations: a list of entries")
    known = set(operation_ids)
    entries = []
    for n, raw in enumerate(listed, 1):
        where = f"--baseline {path}: deviation {n}"
        if not isinstance(raw, dict) or set(raw) != {"check", "operation", "reason"}:
            raise ConfigError(f"{where}: needs exactly the keys check, operation and reason")
        if not all(isinstance(raw[k], str) and raw[k].strip() for k in raw):
            raise ConfigError(f"{where}: check, operation and reason must be non-empty strings")
        operation = raw["operation"].strip()
        if not any(fnmatch.fnmatchcase(op, operation) for op in known) and operation != "-":
            raise ConfigError(f"{where}: no operation of the contract matches {operation!r} "
                              "(an operationId, a wildcard pattern, or - for checks about no single operation)")
        entries.append(BaselineEntry(raw["check"].strip(), operation, raw["reason"].strip()))
    return entries


# ----------------------------------------------------------------------------------------- config
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
    credentials_file: str | None = None
    baseline: list[BaselineEntry] = field(default_factory=list)
    fail_on_uncovered: bool = False
    hypothesis_case: str | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    invocation: str = ""
    cli: bool = False  # started by `memmock check` (replay lines use that form)

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

    @property
    def destructive(self) -> bool:
        """Whether checks may change or delete what existed before the run.

        True with --allow-destructive, and for the in-process mock: the harness started it and throws it away.
        """
        return self.allow_destructive or self.target is None

    def cred(self, name: str) -> str | None:
        """A credential variable's value, or None when it is not configured."""
        return self.credentials.get(name) or None

    def secrets(self) -> dict[str, str]:
        """Secret values by variable name (what redaction replaces)."""
        return {name: value for name in SECRET_VARS if (value := self.credentials.get(name))}

    def known_deviation(self, rule: str, operation: str) -> BaselineEntry | None:
        """The baseline entry that accepts a failure of ``rule`` on ``operation`` (counted), if any."""
        for entry in self.baseline:
            if entry.matches(rule, operation):
                entry.seen += 1
                return entry
        return None

    def replay_command(self, nodeid: str, case: str | None = None) -> str:
        """The command that reruns exactly one check (``nodeid``), and one hypothesis case of it, on the same target."""
        options: list[str] = []
        if self.target:
            options += ["--target", self.target]
        elif self.mock_fault:
            options += ["--mock-fault", self.mock_fault]
        options += ["--api", "all" if len(self.apis) > 1 else self.apis[0], "--profile", self.profile,
                    "--seed", str(self.seed)]
        for flag, value in (("--max-examples", self.max_examples), ("--max-writes", self.max_writes),
                            ("--credentials", self.credentials_file)):
            if value is not None:
                options += [flag, str(value)]
        switches = (("--read-only", self.read_only), ("--allow-destructive", self.allow_destructive))
        options += [flag for flag, on in switches if on]
        if self.spec_source != "file":
            options += ["--spec-source", self.spec_source]
        if case:
            options += ["--hypothesis-case", case]
        if self.cli:
            return shlex.join(["memmock", "check", *options, "--replay", nodeid])
        return shlex.join(["python", "-m", "pytest", nodeid, "-p", "no:cacheprovider", *options])
