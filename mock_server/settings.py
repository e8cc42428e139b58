"""One frozen settings object, read from CLI flags and ``MEMMOCK_*`` environment variables."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from .behaviour.latency import parse_latency

# Installed with memmock (pyproject.toml maps the repo's spec/ and fixtures/ to packages), so an
# installed memmock finds them wherever it runs. The specs are a data-only package of their own,
# which the harness reads too without loading the mock.
SPEC_DIR: Traversable = files("memmock_spec")
DEFAULT_FIXTURES: Traversable = files("mock_server.fixtures") / "default.yaml"

AUTH_MODES = ("tokens", "open")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
FSYNC_POLICIES = ("always", "never")  # --fsync: when an acknowledged write reaches the disk (persistence/log.py)


class StartupError(Exception):
    """What stops the mock from starting (a bad fixtures file, a taken port): the message names it and why."""


@dataclass(frozen=True)
class Settings:
    """Everything that shapes one mock instance; build it with ``Settings.from_env``."""

    host: str = "127.0.0.1"
    port: int = 8000
    fixtures: Traversable | None = DEFAULT_FIXTURES
    auth: str = "tokens"
    strict: bool = False
    log_level: str = "warning"
    cors: bool = True
    body_limit: int = 1024 * 1024
    fault: str | None = None
    # Seed of the generated UUIDs; None: a fresh one per start, so ids never repeat across restarts.
    seed: int | None = None
    header_timeout: float = 10.0  # seconds for a request's header block, from its first byte
    body_timeout: float = 10.0  # seconds for a request's body, from the end of its headers
    max_items: int = 1_000_000  # items stored in all (records, artifact versions, chat messages)
    max_namespaces: int = 100  # named namespaces kept (X-Memmock-Namespace); past it the least recently used goes
    journal_size: int = 1000  # requests the journal keeps (GET /_mock/requests); 0 turns it off
    journal_bytes: int = 8 * 1024 * 1024  # what the journal may hold, about; past it the oldest requests go
    journal_body_bytes: int = 4096  # bytes of each request and response body the journal keeps
    admin_token: str | None = None  # required on every /_mock request when set (and beyond loopback)
    admin_hosts: tuple[str, ...] = ()  # Host names /_mock answers on a loopback bind, beyond the loopback ones
    latency: str | None = None  # every API request's delay ('50ms', 'uniform:20ms-80ms', behaviour/latency.py)
    state_file: Path | None = None  # the state kept there across restarts (snapshot; commands in <file>.log)
    fsync: str = "always"  # always: a write is synced to disk before its reply; never: written, the OS syncs
    compact_bytes: int = 8 * 1024 * 1024  # log size past which (and past the snapshot's) a new snapshot is written
    watch: bool = False  # reload the fixtures file when it changes, into namespaces unchanged since loaded

    def __post_init__(self) -> None:
        if self.auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, not {self.port}")
        if self.body_limit < 1:
            raise ValueError("body limit must be positive")
        if self.seed is not None and self.seed < 0:
            raise ValueError("seed must not be negative")
        for name in ("header_timeout", "body_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name.replace('_', ' ')} must be a positive number of seconds")
        if self.max_items < 0:
            raise ValueError("max items must not be negative")
        if self.max_namespaces < 0:
            raise ValueError("max namespaces must not be negative")
        if self.fsync not in FSYNC_POLICIES:
            raise ValueError(f"fsync must be one of {', '.join(FSYNC_POLICIES)}, not {self.fsync!r}")
        if self.compact_bytes < 1:
            raise ValueError("compact bytes must be positive")
        for name in ("journal_size", "journal_bytes", "journal_body_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.replace('_', ' ')} must not be negative")
        if self.latency is not None:
            parse_latency(self.latency)  # its ValueError says what is wrong
        if self.admin_token is not None and not self.admin_token.strip():
            raise ValueError("admin token must not be empty")
        if self.admin_token is None and not is_loopback(self.host):
            raise ValueError(
                f"--host {self.host} is beyond loopback, where anyone who reaches the port could read and replace "
                "every token and record through /_mock: set --admin-token (or MEMMOCK_ADMIN_TOKEN), which every "
                "/_mock request must then send as 'Authorization: Bearer <token>'")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``MEMMOCK_<FIELD>`` variables, then ``overrides`` (None means unset)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(_variable(f.name))
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, raw)
        if environ.get(NO_FIXTURES_VARIABLE, "").lower() in ("1", "true", "yes"):
            values["fixtures"] = None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed."""
        return replace(self, **changes)


NO_FIXTURES_VARIABLE = "MEMMOCK_NO_FIXTURES"  # start with empty state: the one variable that is no field


def _variable(name: str) -> str:
    return f"MEMMOCK_{name.upper()}"


def environment_variables() -> list[str]:
    """Every variable ``Settings.from_env`` reads, in the order of the fields."""
    return [*(_variable(f.name) for f in fields(Settings)), NO_FIXTURES_VARIABLE]


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` listens on this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # 0.0.0.0 and :: are addresses, not loopback; any other name may resolve anywhere
        return False


def _parse(name: str, raw: str) -> Any:
    if name in ("port", "body_limit", "seed", "max_items", "max_namespaces", "journal_size", "journal_bytes",
                "journal_body_bytes", "compact_bytes"):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"MEMMOCK_{name.upper()} must be an integer, not {raw!r}") from None
    if name in ("header_timeout", "body_timeout"):
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"MEMMOCK_{name.upper()} must be a number of seconds, not {raw!r}") from None
    if name == "admin_hosts":
        return tuple(host.strip() for host in raw.split(",") if host.strip())
    if name in ("strict", "cors", "watch"):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"MEMMOCK_{name.upper()} must be true or false, not {raw!r}")
    if name in ("fixtures", "state_file"):
        return Path(raw)
    return raw.strip().lower() if name in ("auth", "log_level", "fault", "fsync") else raw
