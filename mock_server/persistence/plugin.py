"""The persistence plugin: every write a command in the log before its reply leaves; startup replays them.

It is the innermost plugin of every plan (``app.py`` puts it first), so it sees the handler's
real outcome. Its handler hook runs each write under one lock (the log's order is then the
order the writes changed the state in, even for a reset or an import, which wait on worker
threads), with a recording tape on the clock and the id counters noted; a write answered below
400 is appended as a command. Every reply, a read's too, then waits until what was appended up
to then is durable, so no client is told of (or shown) a write the file would not give back.
Its authentication hook hands a replayed command the principal it was recorded with: a
command was authorised when it ran.

It also keeps, for every namespace, whether it has changed since the fixtures were loaded, which
``--watch`` reads (``watch.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from starlette.responses import Response
from starlette.types import Message, Scope

from ..wire import json_response as json
from ..clock import SystemClock
from ..errors import InvalidRequest
from ..namespaces import DEFAULT, Namespaces
from ..plan import CURRENT_CALL, Authenticate, Handler, OperationPlan, Plugin
from ..settings import Settings, StartupError
from ..state import NAMESPACES_KEY, OPERATION_KEY, STATE_KEY, MockState
from ..store import Snapshot, Store, describe_problems
from ..wire import dumps
from .log import CommandLog, LogFailed, read_snapshot, write_atomically
from .records import Command, LogReader, command_record
from .tape import TAPE, Recording, Replaying, TapeClock
from .watch import FixturesWatch, watched_file

logger = logging.getLogger("memmock")

EXTENSION = "persistence"  # MockState.extensions: the namespace's Mark
PRINCIPAL_KEY = "memmock.persistence.principal"  # scope extensions: the principal security found
REPLAY_KEY = "memmock.persistence.replay"  # ... the Command a replayed request runs
SNAPSHOT_FORMAT = "memmock-state"
SNAPSHOT_VERSION = 1
_READS = frozenset({"GET", "HEAD", "OPTIONS"})

# What a write does to its namespace, where that is not an ordinary change.
WRITE, RESET, IMPORT, ELSEWHERE, OUTSIDE = "write", "reset", "import", "elsewhere", "outside"
_EFFECTS = {
    "mock_server.api.admin.reset_state": RESET,
    "mock_server.api.admin.import_state": IMPORT,
    "mock_server.api.namespaces.delete_namespace": ELSEWHERE,  # drops another namespace (a command all the same)
    "mock_server.api.journal.clear_requests": OUTSIDE,  # the journal is no state: not a command
    # How a namespace answers (delays, faults), not what it holds: kept until the mock stops, as --latency is.
    "mock_server.api.behaviour.put_behaviour": OUTSIDE,
    "mock_server.api.behaviour.delete_behaviour": OUTSIDE,
}

T = TypeVar("T")


@dataclass
class Mark:
    """What the plugin keeps with one namespace's state."""

    name: str | None = None  # the namespace's name, found at its first write
    diverged: bool = False  # written to since the fixtures were loaded into it (--watch leaves it alone)
    from_fixtures: bool = True  # its last loaded document is the fixtures (a reset brings them back)
    # What a reset returns to, once known: a document by reference (the base it was made from) or
    # the store's own Snapshot of it; None until a compaction asks (or after a load).
    reset: Any = None


def mark_of(state: MockState) -> Mark:
    """The plugin's Mark of a state."""
    mark: Mark = state.extensions[EXTENSION]
    return mark


def json_ready(value: Any) -> Any:
    """A document as JSON holds it: YAML's dates and datetimes as ISO text, mapping keys as text."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


async def _to_the_end(task: asyncio.Future[Response]) -> tuple[Response, bool]:
    """``task``'s reply once it is done, and whether the request was cancelled meanwhile."""
    cancelled = False
    while True:
        try:
            return await asyncio.shield(task), cancelled
        except asyncio.CancelledError:
            if task.done():
                raise
            cancelled = True


def run_blocking(work: Awaitable[T]) -> T:
    """Run ``work`` to its end on an event loop of its own (create_app may be called inside a running loop)."""
    async def main() -> T:
        return await work

    with ThreadPoolExecutor(1, thread_name_prefix="memmock-replay") as pool:
        return pool.submit(asyncio.run, main()).result()


def unavailable(reason: str) -> Response:
    """The reply to a write (or a read that would show one) the log cannot make durable."""
    return json({"detail": f"{reason}: no write is acknowledged from now on; restart memmock (the state file holds "
                           "every write acknowledged so far)"}, 503)


class Persistence(Plugin):
    """``--state-file`` and ``--watch``: the command log and its replay, and which namespaces are still the fixtures."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path: Path | None = settings.state_file
        self.clock = TapeClock(SystemClock())  # for the store create_app builds
        self.log: CommandLog | None = None
        self._snapshot: Any = None  # the state file read at startup (None: there was none)
        self._resets: list[Snapshot] = []  # what its namespaces' resets return to
        self._plans: dict[str, OperationPlan] = {}
        self._lock = asyncio.Lock()
        self._namespaces: Namespaces | None = None
        self.base: Any = None  # the document new namespaces start from, as ``Namespaces.rebase`` was given it
        self._threshold: float = settings.compact_bytes
        self._compacting: asyncio.Task[None] | None = None
        self._replaying = False
        self.watch = FixturesWatch(watched_file(settings), self.reload) if settings.watch else None
        if self.path is not None:
            with self._closed_on_failure():
                self._open(self.path)

    @contextlib.contextmanager
    def _closed_on_failure(self) -> Iterator[None]:
        """A startup that fails lets go of the log (and its lock): the same process may try again."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    # --- startup ---------------------------------------------------------------------------

    def _open(self, path: Path) -> None:
        if path.is_dir():
            raise StartupError(f"state file {path}: is a folder, not a file")
        self.log = CommandLog(path, sync=self.settings.fsync == "always")
        path.with_name(path.name + ".tmp").unlink(missing_ok=True)  # a snapshot cut short: the file before it stands
        self._snapshot = read_snapshot(path)
        self._threshold = max(self._threshold, path.stat().st_size if self._snapshot is not None else 0)
        if self._snapshot is None:
            held = sum(log.stat().st_size for log in self.log.files)
            if held:
                raise StartupError(f"state file {path} is missing, but its log {self.log.path} holds "
                                   f"{held} bytes of commands, which cannot be replayed without it: "
                                   "restore the file, or move the log aside to start afresh")
            return
        snapshot = self._snapshot
        if (not isinstance(snapshot, dict) or snapshot.get("format") != SNAPSHOT_FORMAT
                or type(snapshot.get("seq")) is not int or type(snapshot.get("seed")) is not int
                or not isinstance(snapshot.get("base"), dict) or not isinstance(snapshot.get("resets"), list)
                or not isinstance(snapshot.get("namespaces"), list) or not snapshot["namespaces"]
                or not isinstance(snapshot["namespaces"][0], dict) or snapshot["namespaces"][0].get("name") != DEFAULT):
            raise StartupError(f"state file {path}: not a memmock state file")
        if snapshot.get("version") != SNAPSHOT_VERSION:
            raise StartupError(f"state file {path}: written in version {snapshot.get('version')!r} of the format; "
                               f"this memmock reads version {SNAPSHOT_VERSION}")

    @property
    def restoring(self) -> bool:
        """Whether the state comes from the state file (not from the fixtures)."""
        return self._snapshot is not None

    def bind(self, store: Store) -> None:
        """Take the default namespace's store (before ``Namespaces`` is made): restore it from the state file."""
        if self.log is not None:
            with self._closed_on_failure():
                self._bind(store)

    def _bind(self, store: Store) -> None:
        if not isinstance(store.clock, TapeClock):
            raise StartupError("--state-file replays the clock: a store given to create_app needs "
                               "clock=mock_server.persistence.TapeClock(<its clock>)")
        snapshot = self._snapshot
        if snapshot is None:
            return
        if self.settings.seed is not None and self.settings.seed != snapshot["seed"]:
            logger.warning("memmock: --seed %d ignored: the state file %s continues seed %d", self.settings.seed,
                           self.path, snapshot["seed"])
        store.seed = snapshot["seed"]
        self._resets = [Snapshot.of_json(dumps(doc)) for doc in snapshot["resets"]]
        self._restore(store, snapshot["namespaces"][0])

    def _entry_name(self, entry: Any) -> str:
        """A namespace entry's name, once the entry is known to be whole."""
        name = entry.get("name") if isinstance(entry, dict) else None
        reset = entry.get("reset") if isinstance(entry, dict) else None
        if not isinstance(name, str) or type(reset) is not int or not 0 <= reset < len(self._resets):
            raise StartupError(f"state file {self.path}: not a memmock state file (a namespace entry is malformed)")
        return name

    def _restore(self, store: Store, entry: Any) -> None:
        """A namespace's state as the snapshot holds it, and what a reset returns it to."""
        name = self._entry_name(entry)
        try:
            staged = store.stage(entry.get("state"))
        except InvalidRequest as exc:
            raise StartupError(f"state file {self.path}: namespace {name!r} does not load: "
                               f"{describe_problems(exc.problems)}") from None
        store.adopt(dataclasses.replace(staged, snapshot=self._resets[entry["reset"]]))

    def attach(self, state: MockState) -> None:
        """Every namespace gets its Mark; a new one starts from the base (not changed, the fixtures)."""
        state.extensions[EXTENSION] = Mark(DEFAULT if self._namespaces is None else None,
                                           reset=None if self._namespaces is None else self.base)

    def start(self, namespaces: Namespaces) -> None:
        """Once the plans and namespaces exist: restore the named namespaces and replay the log (or, on a fresh
        file, write the first snapshot)."""
        self._namespaces = namespaces
        default = mark_of(namespaces.default)
        default.from_fixtures = self.settings.fixtures is not None
        if self.log is not None:
            with self._closed_on_failure():
                self._start(namespaces)

    def _start(self, namespaces: Namespaces) -> None:
        assert self.log is not None
        snapshot = self._snapshot
        if snapshot is None:
            self.base = namespaces.default.store.export()
            namespaces.rebase(self.base)
            self._compact_now()
            return
        self.base = snapshot.get("base")
        namespaces.rebase(self.base)
        self._replaying = True
        try:
            entries = snapshot["namespaces"]
            self._set_marks(mark_of(namespaces.default), entries[0])
            for entry in entries[1:]:
                state = namespaces.state(self._entry_name(entry))
                self._restore(state.store, entry)
                self._set_marks(mark_of(state), entry)
            reader = LogReader(self.log.files)
            seq = run_blocking(self._replay(reader, snapshot["seq"]))
        finally:
            self._replaying = False
        if reader.torn is not None:
            logger.warning("memmock: state file log: dropped a torn last record (%s), a write cut off while it was "
                           "written, which was never acknowledged", reader.torn)
        interrupted = len(reader.paths) > 1  # a compaction cut short: its two logs become one again
        self.log.start_at(seq, None if interrupted else reader.cut)
        logger.info("memmock: state file %s: %d commands replayed after its snapshot", self.path, seq - snapshot["seq"])
        if interrupted or self.log.size >= self._threshold:
            self._compact_now()

    def _set_marks(self, mark: Mark, entry: dict[str, Any]) -> None:
        mark.diverged = bool(entry.get("diverged", True))
        mark.from_fixtures = bool(entry.get("from_fixtures", False))
        mark.reset = self._resets[entry["reset"]]

    async def _replay(self, reader: LogReader, after: int) -> int:
        """Apply the log's commands after snapshot ``after``; the last one's seq."""
        expected = after + 1
        for path, offset, record in reader:
            seq = record["seq"]
            if seq < expected:
                continue  # the snapshot holds it already (a compaction cut short)
            if seq > expected:
                raise StartupError(f"state file log {path}: the record at byte {offset} is command {seq}, but "
                                   f"{expected} comes next: commands are missing, so memmock will not start from it")
            await self._apply(record, path, offset)
            expected += 1
        return expected - 1

    async def _apply(self, record: dict[str, Any], path: Path, offset: int) -> None:
        """Apply one record of the log."""
        namespaces = self._namespaces
        assert namespaces is not None and self.log is not None
        kind = record.get("kind", "op")
        try:
            if kind == "drop":
                namespaces.drop(str(record["ns"]))
            elif kind == "fixtures":
                self._reload(record["base"], [str(name) for name in record["into"]])
            elif kind == "ids":
                ids = namespaces.state(str(record["ns"])).store.ids
                ids.reset(ids.seed, int(record["ids"][0]), {str(k): int(v) for k, v in record["ids"][1].items()})
            else:
                command = Command.of(record)
                plan = self._plans.get(command.operation)
                if plan is None:
                    raise ValueError(f"operation {command.operation} is not one this memmock serves")
                await self._run(plan, namespaces.state(command.namespace), command)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, InvalidRequest) as exc:
            raise StartupError(f"state file log {path}: the record at byte {offset} cannot be replayed "
                               f"({type(exc).__name__}: {exc}); memmock will not start without it") from None

    async def _run(self, plan: OperationPlan, state: MockState, command: Command) -> None:
        """A command through its plan again: validated anew, its handler on the recorded principal, time and ids."""
        headers = [(b"content-length", str(len(command.body)).encode("latin-1"))]
        if command.content_type is not None:
            headers.append((b"content-type", command.content_type))
        scope: Scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": plan.method,
            "scheme": "http", "path": command.path, "raw_path": command.path.encode("utf-8"), "root_path": "",
            "query_string": command.query, "headers": headers, "client": None, "server": None,
            "path_params": dict(command.params),
            "extensions": {STATE_KEY: state, NAMESPACES_KEY: self._namespaces, OPERATION_KEY: plan.operation_id,
                           REPLAY_KEY: command},
        }
        messages = [{"type": "http.request", "body": command.body, "more_body": False}]
        status = 0

        async def receive() -> Message:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        try:
            await plan.run(scope, receive, send)
        except Exception as exc:  # whatever it is, the rest of the log still replays
            outcome = f"{type(exc).__name__}: {exc}"
        else:
            if status < 400:
                return
            outcome = f"status {status}"
        logger.warning("memmock: state file log %s: %s did not succeed on replay (%s); the state may differ "
                       "from before the restart", self.log.path if self.log else "", command.where, outcome)

    # --- the hooks -------------------------------------------------------------------------

    def authenticate(self, plan: OperationPlan, authenticate: Authenticate) -> Authenticate:
        """A replayed command's principal is the one recorded; a live write's is noted for its command."""
        if self.log is None or plan.method in _READS:
            return authenticate

        def authenticated(scope: Scope) -> Any:
            extensions = scope["extensions"]
            command = extensions.get(REPLAY_KEY)
            if command is not None:
                return command.principal
            principal = extensions[PRINCIPAL_KEY] = authenticate(scope)
            return principal

        return authenticated

    def handler(self, plan: OperationPlan, handler: Handler) -> Handler:
        """A write runs under the lock on a recording tape; once it succeeds its command is appended, and its reply
        waits until the command is durable. A read's reply waits until every write it may have seen is."""
        self._plans[plan.operation_id] = plan
        effect = _EFFECTS.get(plan.operation_id, WRITE)
        log = self.log
        if plan.method in _READS or effect == OUTSIDE:
            if log is None:
                return handler

            async def after_writes() -> Response:
                response = await handler()
                # What it read holds every write appended so far: its reply waits until they are in the file,
                # so no reply shows a write a crash would take back.
                try:
                    await log.wait(log.appended)
                except LogFailed as exc:
                    return unavailable(str(exc))
                return response

            return after_writes

        async def recorded() -> Response:
            scope, state, data, _ = CURRENT_CALL.get()
            mark = mark_of(state)
            command = scope["extensions"].get(REPLAY_KEY)
            if command is not None:
                return await self._replayed(command, mark, effect, handler)
            if log is None:
                response = await handler()
                self._note(mark, effect, response.status_code)
                return response
            if log.failure is not None:
                return unavailable(log.failure)
            async with self._lock:
                response = await self._record(plan, scope, state, data, mark, effect, handler, log)
            self._compact_soon()
            try:
                await log.wait(log.appended)  # its command (appended last), or what a failed write may have seen
            except LogFailed as exc:
                return unavailable(str(exc))
            return response

        return recorded

    async def _record(self, plan: OperationPlan, scope: Scope, state: MockState, data: Any, mark: Mark, effect: str,
                      handler: Handler, log: CommandLog) -> Response:
        """Run a write's handler on a recording tape; append its command if it succeeded."""
        name = self._name(state, mark)
        ids = state.store.ids
        uuid_counter, next_ids = ids.uuid_counter, dict(ids.next)
        raw = data.raw  # an import lets go of its body in the handler
        tape = Recording()
        token = TAPE.set(tape)
        logged = cancelled = False
        try:
            if effect in (RESET, IMPORT):
                # They wait on worker threads and change the state after: a client that leaves meanwhile
                # (granian then cancels the request) must not cut them short of their command.
                response, cancelled = await _to_the_end(asyncio.ensure_future(handler()))
            else:
                response = await handler()
            if response.status_code < 400 and name is not None:
                log.append(command_record(name, plan.operation_id, scope, raw, scope["extensions"].get(PRINCIPAL_KEY),
                                          tape.instants))
                logged = True
                self._note(mark, effect, response.status_code)
        finally:
            TAPE.reset(token)
            if not logged and name is not None and (ids.uuid_counter != uuid_counter or ids.next != next_ids):
                # A write that failed after taking ids: they stay taken after a restart too.
                log.append({"kind": "ids", "ns": name, "ids": [ids.uuid_counter, dict(ids.next)]})
        if cancelled:
            raise asyncio.CancelledError
        return response

    async def _replayed(self, command: Command, mark: Mark, effect: str, handler: Handler) -> Response:
        token = TAPE.set(Replaying(command.clock, command.where))
        try:
            response = await handler()
        finally:
            TAPE.reset(token)
        self._note(mark, effect, response.status_code)
        return response

    def _name(self, state: MockState, mark: Mark) -> str | None:
        """The namespace ``state`` is (None if it was dropped while the write waited for its turn)."""
        if mark.name is None and self._namespaces is not None:
            mark.name = next((ns.name for ns in self._namespaces.all() if ns.state is state), None)
        return mark.name

    @staticmethod
    def _note(mark: Mark, effect: str, status: int) -> None:
        """What a write answered ``status`` did to its namespace's standing against the fixtures."""
        if status >= 400 or effect == ELSEWHERE:
            return
        if effect == RESET:
            mark.diverged = not mark.from_fixtures
            return
        mark.diverged = True
        if effect == IMPORT:
            mark.from_fixtures = False
            mark.reset = None

    def dropped(self, name: str) -> None:
        """A namespace dropped past --max-namespaces: a record of it, so a restart drops it too."""
        if self.log is not None and not self._replaying:
            self.log.append({"kind": "drop", "ns": name})

    # --- --watch -----------------------------------------------------------------------------

    async def reload(self, document: Any) -> None:
        """Load a fixtures document (read by the watch) into every namespace not changed since it was loaded."""
        namespaces = self._namespaces
        if namespaces is None:
            return
        default = namespaces.default.store
        try:
            base = await asyncio.to_thread(lambda: default.stage(document).store.export())
        except InvalidRequest as exc:
            logger.warning("memmock: --watch: fixtures file %s does not load (%s); the state is kept",
                           self.watch.path if self.watch else "", describe_problems(exc.problems))
            return
        async with self._lock:
            listing = namespaces.all()
            into = [ns.name for ns in listing if not mark_of(ns.state).diverged]
            kept = [ns.name for ns in listing if mark_of(ns.state).diverged]
            self._reload(base, into)
            if self.log is not None:
                seq = self.log.append({"kind": "fixtures", "base": base, "into": into})
                with contextlib.suppress(LogFailed):
                    await self.log.wait(seq)
        logger.warning("memmock: --watch: fixtures file %s changed: reloaded into %s%s",
                       self.watch.path if self.watch else "", ", ".join(into) or "no namespace",
                       f"; kept {', '.join(kept)} (changed since the fixtures were loaded)" if kept else "")

    def _reload(self, base: Any, into: list[str]) -> None:
        """``base`` is the fixtures now: new namespaces start from it, and namespaces ``into`` hold it."""
        namespaces = self._namespaces
        assert namespaces is not None
        self.base = base
        namespaces.rebase(base)
        for name in into:
            state = namespaces.state(name)
            state.store.load(base)
            mark = mark_of(state)
            mark.diverged, mark.from_fixtures, mark.reset = False, True, base

    # --- snapshots ---------------------------------------------------------------------------

    def _snapshot_content(self) -> bytes:
        """Every namespace's state (the default, then the least recently used first), as the state file holds it."""
        namespaces = self._namespaces
        assert namespaces is not None and self.log is not None
        listing = namespaces.all()
        resets: dict[Any, int] = {}
        documents: list[Any] = []
        entries = []
        for ns in [listing[0], *reversed(listing[1:])]:
            mark = mark_of(ns.state)
            if mark.reset is None:
                mark.reset = ns.state.store.stage_reset().snapshot  # the store's own copy, shared
            reset = mark.reset
            key = (reset.blob, reset.is_json) if isinstance(reset, Snapshot) else id(reset)
            if key not in resets:
                resets[key] = len(documents)
                documents.append(reset if not isinstance(reset, Snapshot)
                                 else reset.document() if reset.is_json else json_ready(reset.document()))
            entries.append({"name": ns.name, "diverged": mark.diverged, "from_fixtures": mark.from_fixtures,
                            "reset": resets[key], "state": ns.state.store.export()})
        return dumps({"format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, "seq": self.log.appended,
                      "seed": namespaces.default.store.seed, "base": self.base, "resets": documents,
                      "namespaces": entries})

    def _compact_now(self) -> None:
        """A snapshot and an empty log, at startup (nothing else runs)."""
        assert self.log is not None and self.path is not None
        path, content = self.path, self._snapshot_content()
        self.log.restart_now(lambda: write_atomically(path, content))
        self._threshold = max(self.settings.compact_bytes, len(content))

    def _compact_soon(self) -> None:
        log = self.log
        if (log is not None and self._compacting is None and log.failure is None and log.size >= self._threshold):
            self._compacting = asyncio.get_running_loop().create_task(self._compact())

    async def _compact(self) -> None:
        """A snapshot of every namespace taken between writes, written while the writes go on into the next log."""
        log, path = self.log, self.path
        assert log is not None and path is not None
        try:
            async with self._lock:
                await log.wait(log.appended)
                content = self._snapshot_content()
                log.rotate()
            await asyncio.to_thread(write_atomically, path, content)
            await log.retire()
            self._threshold = max(self.settings.compact_bytes, len(content))
        except LogFailed:
            pass  # said when it happened; the replies say it too
        except OSError as exc:
            # Both logs stay, and startup reads them both; there is no third to rotate to until then.
            self._threshold = float("inf")
            logger.error("memmock: cannot write the state file %s: %s; no snapshot until memmock starts again (the "
                         "logs keep every write meanwhile)", path, exc.strerror or exc)
        finally:
            self._compacting = None

    # --- lifetime ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """The app's lifespan: the watch runs while it serves; on the way out the log is written and closed."""
        watching = asyncio.get_running_loop().create_task(self.watch.run()) if self.watch is not None else None
        try:
            yield
        finally:
            if watching is not None:
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watching
            if self._compacting is not None:
                with contextlib.suppress(Exception):
                    await self._compacting
            self.close()

    def close(self) -> None:
        """Write what is queued and close the log (a mock made again from the same file may then open it)."""
        if self.log is not None:
            self.log.close()


