"""The whole state of the mock: credentials, users and one backend per resource family.

A fixtures document (YAML or JSON; the bundled ``DEFAULT_FIXTURES`` is one) has this shape::

    version: 1
    ids: {seed: 0, uuid_counter: 0, next: {artifact: 16, ...}}   # optional
    users:  [{org, username, email, lti_email?, lti_username?}]
    tokens: {ibl: [{key, org, username, is_admin}], vai: [{key, organization_id, name}]}
    ibl:    {chat_memory_status: [...], all_chats_memory: [...], chat_memory_tasks: [...],
             profile_memory: [...], custom_instructions: [...], artifacts: [...],
             edx_memory: [...], download_tasks: [...], chat_history: [...]}
    vai:    {memories: [...]}

``export()`` writes the same shape, so ``load(export())`` round-trips, counters included.
"""

from __future__ import annotations

import os
import pickle
import zlib
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path as FsPath
from typing import Any

import yaml

from mock_server.clock import Clock, SystemClock
from mock_server.errors import InvalidRequest, MalformedJSON, Problem, field_message
from mock_server.models.analytics import AnalyticsBackend
from mock_server.models.artifacts import ArtifactsBackend
from mock_server.models.chat_history import ChatHistoryBackend
from mock_server.models.chat_memory import ChatMemoryBackend
from mock_server.models.collection import Family
from mock_server.models.common import Context, DocReader, IdSource, ItemCount, UserInfo, UserRegistry
from mock_server.models.custom_instruction import CustomInstructionBackend
from mock_server.models.downloads import DownloadsBackend
from mock_server.models.edx_memory import EdxMemoryBackend
from mock_server.models.profile_memory import ProfileMemoryBackend
from mock_server.models.vai_memory import VaiMemoryBackend
from mock_server.settings import DEFAULT_FIXTURES, StartupError
from mock_server.wire import check_value, loads, loads_in_pieces

DOCUMENT_VERSION = 1
# A fixtures file's problems named in its one-line error, at most; the rest are counted.
_PROBLEMS_SHOWN = 3


class FixturesError(StartupError):
    """A fixtures file that cannot be loaded; the one-line message names the file and what is wrong."""


@dataclass(frozen=True, slots=True)
class IblPrincipal:
    """Who an ibl token belongs to."""

    org: str
    username: str
    is_admin: bool


@dataclass(frozen=True, slots=True)
class VaiPrincipal:
    """Which VirtuousAI organization a token belongs to."""

    organization_id: str
    name: str = ""


class Credentials:
    """Token -> principal, for each API."""

    def __init__(self) -> None:
        self.ibl_tokens: dict[str, IblPrincipal] = {}
        self.vai_tokens: dict[str, VaiPrincipal] = {}

    def ibl(self, key: str) -> IblPrincipal | None:
        """The principal of an ibl token, or None if unknown."""
        return self.ibl_tokens.get(key)

    def vai(self, key: str) -> VaiPrincipal | None:
        """The principal of a VirtuousAI token, or None if unknown."""
        return self.vai_tokens.get(key)

    @staticmethod
    def ibl_can_reach(principal: IblPrincipal, org: str, username: str) -> bool:
        """A user token reaches only its own org and username; an admin token every user of its org."""
        if principal.org != org:
            return False
        return principal.is_admin or principal.username == username

    def clear(self) -> None:
        """Forget every token."""
        self.ibl_tokens.clear()
        self.vai_tokens.clear()

    def adopt(self, other: Credentials) -> list[Any]:
        """Take ``other``'s tokens (a staged state's) as these; the containers replaced, for freeing."""
        replaced: list[Any] = [self.ibl_tokens, self.vai_tokens]
        self.ibl_tokens, self.vai_tokens = other.ibl_tokens, other.vai_tokens
        other.ibl_tokens, other.vai_tokens = {}, {}
        return replaced


# libyaml's C loader when PyYAML was built with it (about 10x faster), else the pure-Python one.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_IBL_TOKEN_SPEC = {"key": ("str", True, None), "org": ("str", True, None), "username": ("str", True, None),
                   "is_admin": ("bool", False, False)}
_VAI_TOKEN_SPEC = {"key": ("str", True, None), "organization_id": ("uuid", True, None), "name": ("str", False, "")}
_USER_SPEC = {"org": ("str", True, None), "username": ("str", True, None), "email": ("str", True, None),
              "lti_email": ("str", False, ""), "lti_username": ("str", False, "")}
_TOP_KEYS = ("version", "ids", "users", "tokens", "ibl", "vai")


class Store:
    """All state. ``load`` replaces it from a fixtures document; ``reset`` goes back to the last one."""

    def __init__(self, clock: Clock | None = None, seed: int = 0, *, keep_seed: bool = False,
                 max_items: int | None = None) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.seed = seed
        # A served mock's own seed wins over a document's ``ids.seed`` (a fresh one per start: a
        # restart from the same fixtures hands out new UUIDs); a library store follows documents.
        self.keep_seed = keep_seed
        self.ids = IdSource(seed)
        self.users = UserRegistry()
        self.credentials = Credentials()
        self.items = ItemCount(max_items)  # every family's items, against --max-items
        ctx = Context(self.clock, self.ids, self.users, self.items)
        self.chat_memory = ChatMemoryBackend(ctx)
        self.profile_memory = ProfileMemoryBackend(ctx)
        self.custom_instruction = CustomInstructionBackend(ctx)
        self.artifacts = ArtifactsBackend(ctx)
        self.edx_memory = EdxMemoryBackend(ctx)
        self.downloads = DownloadsBackend(ctx)
        self.chat_history = ChatHistoryBackend(ctx)
        self.analytics = AnalyticsBackend(self.chat_history)
        self.vai_memory = VaiMemoryBackend(ctx)
        self._ibl_backends: tuple[Family, ...] = (self.chat_memory, self.profile_memory, self.custom_instruction,
                                                  self.artifacts, self.edx_memory, self.downloads, self.chat_history)
        self._families = (*self._ibl_backends, self.vai_memory)
        self._last_document = Snapshot.of({})

    # --- whole-state operations ------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str] | Traversable = DEFAULT_FIXTURES, clock: Clock | None = None,
                  seed: int = 0, *, keep_seed: bool = False, max_items: int | None = None) -> Store:
        """A store loaded from a YAML or JSON fixtures file; FixturesError names the file and its problem."""
        store = cls(clock=clock, seed=seed, keep_seed=keep_seed, max_items=max_items)
        document = read_document(path)
        if document is None:
            raise FixturesError(f"fixtures file {path}: is empty (a fixtures document is a mapping: users, tokens, ...)")
        try:
            store.load(document)
        except InvalidRequest as exc:
            raise FixturesError(f"fixtures file {path}: {describe_problems(exc.problems)}") from None
        return store

    def load(self, document: Any) -> None:
        """Replace all state from a fixtures document; InvalidRequest (location body) if it is malformed.

        On a bad document the previous state stays as it was.
        """
        self.adopt(self.stage(document))

    def reset(self) -> None:
        """Go back to the last loaded document (an empty state if none was loaded); ids keep counting."""
        self.adopt(self.stage_reset())

    def stage(self, document: Any, source: bytes | None = None) -> Staged:
        """A fixtures document read into a state not yet in use; InvalidRequest if it is malformed.

        Reads nothing of this store's state, so it may run in a worker thread while requests are
        served; ``adopt`` then swaps it in. ``source``, the JSON text the document was parsed from,
        is kept (compressed) for ``reset`` instead of a pickled copy of the document.
        """
        staged = self._staging()
        staged._read(document)
        return Staged(staged, Snapshot.of_json(source) if source is not None else Snapshot.of(document), False)

    def stage_reset(self) -> Staged:
        """The last loaded document read anew, as ``stage`` reads one (a worker thread may run it)."""
        staged = self._staging()
        staged._read(self._last_document.document())
        return Staged(staged, self._last_document, True)

    def adopt(self, staged: Staged) -> list[Any]:
        """Make a staged state this store's (after a reset, no id counter moves back).

        Returns the replaced state: whoever drops it frees it, which takes a while for a big one.
        """
        replaced = self._adopt(staged.store, keep_ahead=staged.is_reset)
        self._last_document = staged.snapshot
        return replaced

    def export(self) -> dict[str, Any]:
        """The whole state as a JSON-serialisable fixtures document."""
        ibl: dict[str, Any] = {}
        for backend in self._ibl_backends:
            ibl.update(backend.export())
        return {
            "version": DOCUMENT_VERSION,
            "ids": {"seed": self.ids.seed, "uuid_counter": self.ids.uuid_counter, "next": dict(sorted(self.ids.next.items()))},
            "users": [{"org": u.org, "username": u.username, "email": u.email, "lti_email": u.lti_email,
                       "lti_username": u.lti_username} for u in self.users.all()],
            "tokens": {
                "ibl": [{"key": k, "org": p.org, "username": p.username, "is_admin": p.is_admin}
                        for k, p in self.credentials.ibl_tokens.items()],
                "vai": [{"key": k, "organization_id": p.organization_id, "name": p.name}
                        for k, p in self.credentials.vai_tokens.items()],
            },
            "ibl": ibl,
            "vai": self.vai_memory.export(),
        }

    # --- internals -------------------------------------------------------------------------

    def _staging(self) -> Store:
        return Store(self.clock, self.seed, keep_seed=self.keep_seed, max_items=self.items.limit)

    def _adopt(self, other: Store, *, keep_ahead: bool) -> list[Any]:
        # The family objects stay (handlers and the analytics hold them); the other's state moves into them.
        replaced: list[Any] = [self.ids.reserved]
        self.ids.adopt(other.ids, keep_ahead=keep_ahead)
        self.items.used = other.items.used
        replaced += self.users.adopt(other.users)
        replaced += self.credentials.adopt(other.credentials)
        for mine, theirs in zip(self._families, other._families):
            replaced += mine.adopt(theirs)
        return replaced

    def _read(self, document: Any) -> None:
        reader = DocReader()
        if not isinstance(document, dict):
            reader.fail((), "object", document)
            reader.raise_if_failed()
        reader.known_keys(document, _TOP_KEYS, ())
        version = document.get("version", DOCUMENT_VERSION)
        if version != DOCUMENT_VERSION:
            reader.fail(("version",), "custom", version, message=f"Unsupported version; expected {DOCUMENT_VERSION}.")
        self._read_ids(reader, document)
        for i, raw in enumerate(reader.section(document, "users", ())):
            rec = reader.record(raw, ("users", i), _USER_SPEC)
            if rec is not None:
                self.users.add(UserInfo(**rec))
        tokens = reader.section(document, "tokens", (), kind="dict")
        reader.known_keys(tokens, ("ibl", "vai"), ("tokens",))
        for i, raw in enumerate(reader.section(tokens, "ibl", ("tokens",))):
            rec = reader.record(raw, ("tokens", "ibl", i), _IBL_TOKEN_SPEC)
            if rec is not None:
                self.credentials.ibl_tokens[rec["key"]] = IblPrincipal(rec["org"], rec["username"], rec["is_admin"])
        for i, raw in enumerate(reader.section(tokens, "vai", ("tokens",))):
            rec = reader.record(raw, ("tokens", "vai", i), _VAI_TOKEN_SPEC)
            if rec is not None:
                self.credentials.vai_tokens[rec["key"]] = VaiPrincipal(rec["organization_id"], rec["name"])
        for api, backends in (("ibl", self._ibl_backends), ("vai", (self.vai_memory,))):
            block = reader.section(document, api, (), kind="dict")
            reader.known_keys(block, [s for b in backends for s in b.sections], (api,))
            for backend in backends:
                sections = {name: reader.section(block, name, (api,)) for name in backend.sections}
                backend.load(reader, sections, (api,))
        self.items.used = sum(backend.item_count() for backend in self._families)
        limit = self.items.limit
        if limit is not None and self.items.used > limit:
            reader.fail((), "custom", None, message=f"The document holds {self.items.used} items; this mock "
                        f"holds at most {limit} (--max-items).")
        reader.raise_if_failed()
        self.ids.reserved = reader.uuids

    def _read_ids(self, reader: DocReader, document: dict[str, Any]) -> None:
        ids = reader.section(document, "ids", (), kind="dict")
        reader.known_keys(ids, ("seed", "uuid_counter", "next"), ("ids",))
        seed, counter = ids.get("seed", self.seed), ids.get("uuid_counter", 0)
        for name, value in (("seed", seed), ("uuid_counter", counter)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                reader.fail(("ids", name), "integer", value)
        if self.keep_seed:
            seed = self.seed
        nxt = reader.section(ids, "next", ("ids",), kind="dict")
        clean: dict[str, int] = {}
        for name, value in nxt.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                reader.fail(("ids", "next", str(name)), "integer", value)
            else:
                clean[str(name)] = value
        if isinstance(seed, int) and isinstance(counter, int):
            self.ids.reset(seed, counter, clean)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The last loaded document, kept for ``reset``: compressed JSON text, or a compressed pickle.

    Not the parsed document itself (deep copies are slow, and a big document's copy would cost as
    much memory as its state); compressing releases the GIL, so a worker thread can make one.
    """

    blob: bytes
    is_json: bool

    @classmethod
    def of(cls, document: Any) -> Snapshot:
        """A pickled copy (many times faster than deepcopy); YAML documents hold dates, not only JSON."""
        return cls(zlib.compress(pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL), 1), False)

    @classmethod
    def of_json(cls, text: bytes) -> Snapshot:
        """The JSON text a document was parsed from."""
        return cls(zlib.compress(text, 1), True)

    def document(self) -> Any:
        """The document, parsed anew."""
        raw = zlib.decompress(self.blob)
        return loads_in_pieces(raw) if self.is_json else pickle.loads(raw)


@dataclass(frozen=True, slots=True)
class Staged:
    """A state read from a document, ready for ``Store.adopt``."""

    store: Store
    snapshot: Snapshot
    is_reset: bool


def read_document(path: str | os.PathLike[str] | Traversable) -> Any:
    """Parse a YAML or JSON fixtures file (JSON by the ``.json`` suffix, else YAML); FixturesError says why not."""
    source: Traversable = FsPath(path) if isinstance(path, (str, os.PathLike)) else path
    where = f"fixtures file {source}"
    if source.is_dir():
        raise FixturesError(f"{where}: is a folder, not a file")
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise FixturesError(f"{where}: {exc.strerror or exc}") from None
    try:
        if source.name.lower().endswith(".json"):
            return loads(data)
        document = yaml.load(data.decode("utf-8"), Loader=YAML_LOADER)
        check_value(document)  # YAML spells lone surrogates, infinities and deep nesting too
    except MalformedJSON as exc:
        raise FixturesError(f"{where}: not valid JSON: {exc.reason}") from None
    except UnicodeDecodeError as exc:
        raise FixturesError(f"{where}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except yaml.YAMLError as exc:
        raise FixturesError(f"{where}: {yaml_problem(exc)}") from None
    except (ValueError, RecursionError) as exc:  # ValueError: an integer past the digit limit
        raise FixturesError(f"{where}: not readable as YAML: {' '.join(str(exc).split())}") from None
    return document


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error on one line: where it is (line and column, from 1) and what the parser found."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"YAML syntax error{at}: {exc.problem or exc.context}"
    return f"not readable as YAML: {' '.join(str(exc).split())}"


def describe_problems(problems: list[Problem]) -> str:
    """Problems of a fixtures document on one line: where each is (``tokens.ibl[0].key``) and what is wrong."""
    described = []
    for problem in problems[:_PROBLEMS_SHOWN]:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem.name).lstrip(".")
        described.append(f"{where or 'the document'}: {field_message(problem)}")
    more = len(problems) - _PROBLEMS_SHOWN
    return "; ".join(described) + (f" (and {more} more)" if more > 0 else "")


__all__ = ["Store", "Credentials", "IblPrincipal", "VaiPrincipal", "FixturesError", "read_document", "DEFAULT_FIXTURES"]
