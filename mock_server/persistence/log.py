"""The files of ``--state-file FILE``: the snapshot ``FILE`` and the command log ``FILE.log``.

Records are appended on the event loop and written by one thread: a write waits for its record
to be durable before its reply starts, and while one batch is being written and synced every
record appended meanwhile waits for the next (group commit: under load one ``fdatasync`` serves
many writes). ``--fsync always`` (the default) syncs each batch before the replies it holds
leave; ``--fsync never`` only writes it (the operating system syncs when it likes: that survives
the mock being killed, not the machine losing power).

Compaction goes on while writes do: the log is first switched to ``FILE.log.next`` (records
appended from then on go there); the snapshot is written beside ``FILE``, synced and renamed over
it (then the folder is synced), and ``FILE.log.next`` is renamed over ``FILE.log``. A crash in
between leaves both logs, which startup reads in turn, skipping by sequence number the records
the snapshot already holds. ``FILE.lock`` holds the lock that keeps a second memmock away.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import MalformedJSON
from ..settings import StartupError
from ..wire import loads
from .records import frame

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one memmock per state file is then the user's care
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("memmock")

_datasync = getattr(os, "fdatasync", os.fsync)  # data and size, not the times (macOS and Windows: fsync)


class LogFailed(Exception):
    """The log could not be written: nothing more is acknowledged."""


def log_path(state_file: Path) -> Path:
    """Where the command log of ``state_file`` is."""
    return state_file.with_name(state_file.name + ".log")


def next_log_path(state_file: Path) -> Path:
    """Where the command log goes while a snapshot is written."""
    return state_file.with_name(state_file.name + ".log.next")


def _open_for_append(path: Path, *, truncate: bool = False) -> int:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | (os.O_TRUNC if truncate else 0)
    return os.open(path, flags, 0o644)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where folders can be opened: not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomically(path: Path, content: bytes) -> None:
    """``content`` in ``path``, whole or not at all: written beside it, synced, renamed over it."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    _sync_folder(path.parent)


def read_snapshot(path: Path) -> Any:
    """The snapshot document in ``path`` (None when there is none); StartupError if it cannot be read."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StartupError(f"state file {path}: {exc.strerror or exc}") from None
    try:
        return loads(content)
    except MalformedJSON as exc:
        raise StartupError(f"state file {path}: not a memmock state file (not JSON: {exc.reason})") from None


class CommandLog:
    """The open command log: records appended on the loop, written (and synced) in batches by one thread."""

    def __init__(self, state_file: Path, *, sync: bool) -> None:
        self.path = log_path(state_file)
        self.next_path = next_log_path(state_file)
        self.sync = sync
        lock = state_file.with_name(state_file.name + ".lock")
        try:
            self._lock = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise StartupError(f"state file {state_file}: cannot create its lock {lock}: "
                               f"{exc.strerror or exc}") from None
        if fcntl is not None:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(self._lock)
                raise StartupError(f"state file {state_file}: another memmock is using it (it holds {lock}); stop "
                                   "that one, or give this one another --state-file") from None
        try:
            self._fd = _open_for_append(self.path)
        except OSError as exc:
            os.close(self._lock)
            raise StartupError(f"state file log {self.path}: {exc.strerror or exc}") from None
        self._retired: int | None = None  # the log before a rotation, until the snapshot stands
        self.appended = 0  # the sequence number of the last record appended
        self.durable = 0  # ... and of the last one written (and synced, under --fsync always)
        self.size = os.fstat(self._fd).st_size  # bytes in the current file and waiting to be written
        self.failure: str | None = None
        self._pending = bytearray()
        self._flushing = False  # a batch is with the writer
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # (seq, its waiter), in the order they came
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="memmock-log")
        self._closed = False

    @property
    def files(self) -> list[Path]:
        """The log files startup reads, in order (the second only while a compaction was cut short)."""
        return [self.path, self.next_path] if self.next_path.exists() else [self.path]

    def start_at(self, seq: int, cut: int | None) -> None:
        """Continue after record ``seq``; ``cut``: the length the log is cut back to (a torn record dropped)."""
        if cut is not None:
            os.ftruncate(self._fd, cut)
            _datasync(self._fd)
            self.size = cut
        self.appended = self.durable = seq

    def append(self, record: dict[str, Any]) -> int:
        """Queue ``record``, numbered here (its ``seq``), for the next batch; its sequence number."""
        self.appended += 1
        line = frame({"seq": self.appended, **record})
        self._pending += line
        self.size += len(line)
        return self.appended

    async def wait(self, seq: int) -> None:
        """Return once record ``seq`` is written (and synced); LogFailed if the log cannot be."""
        if self.durable >= seq:
            return
        if self.failure is not None:
            raise LogFailed(self.failure)
        # A future of its own per waiter: one that goes away (its client left) cancels only its own.
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append((seq, waiter))
        if not self._flushing:
            # Not now, but once the loop has run what is ready: the requests that came in with this
            # one append their commands first, and one sync serves them all.
            self._flushing = True
            loop.call_soon(self._flush)
        await waiter

    def _flush(self) -> None:
        """Hand what is pending to the writer; the waiters it covers are released when it is done."""
        data, self._pending = self._pending, bytearray()
        upto = self.appended
        written = asyncio.get_running_loop().run_in_executor(self._writer, self._write, data)
        written.add_done_callback(lambda done: self._flushed(done, upto))

    def _flushed(self, done: asyncio.Future[None], upto: int) -> None:
        self._flushing = False
        error = done.exception() if not done.cancelled() else OSError("the write was cancelled")
        if error is not None:
            reason = getattr(error, "strerror", None) or error
            self.failure = f"memmock cannot write its state file log {self.path}: {reason}"
            logger.error("memmock: %s; no write is acknowledged from now on (restart memmock: the file holds every "
                         "write acknowledged so far)", self.failure)
            for _, waiter in self._waiters:
                if not waiter.done():
                    waiter.set_exception(LogFailed(self.failure))
            self._waiters.clear()
            return
        self.durable = upto
        later = []
        for seq, waiter in self._waiters:
            if seq > upto:
                later.append((seq, waiter))
            elif not waiter.done():
                waiter.set_result(None)
        self._waiters = later
        if later:  # appended while this batch was written: the next batch (once what is ready has run)
            self._flushing = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        if self.sync:
            _datasync(self._fd)

    def rotate(self) -> None:
        """Send the records appended from now on to the next log (after every batch queued before)."""
        self.size = len(self._pending)
        self._writer.submit(self._rotate)

    def _rotate(self) -> None:
        self._retired, self._fd = self._fd, _open_for_append(self.next_path, truncate=True)
        _sync_folder(self.path.parent)  # the new file itself must survive a power cut with what is synced in it

    async def retire(self) -> None:
        """Once the snapshot stands: the next log becomes the log, the one before it goes."""
        await asyncio.get_running_loop().run_in_executor(self._writer, self._retire)

    def _retire(self) -> None:
        os.replace(self.next_path, self.path)
        _sync_folder(self.path.parent)
        if self._retired is not None:
            os.close(self._retired)
            self._retired = None

    def restart_now(self, write_snapshot: Callable[[], None]) -> None:
        """At startup (no loop runs yet): ``write_snapshot``, then one empty log."""
        self._write_pending()
        write_snapshot()
        os.ftruncate(self._fd, 0)
        _datasync(self._fd)
        if self.next_path.exists():
            self.next_path.unlink()
            _sync_folder(self.path.parent)
        self.size = 0

    def _write_pending(self) -> None:
        data, self._pending = self._pending, bytearray()
        upto = self.appended
        self._writer.submit(self._write, data).result()
        self.durable = upto

    def close(self) -> None:
        """Write what is still queued, then close the files (the lock goes with them)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._pending and self.failure is None:
                self._write_pending()
        except OSError as exc:
            logger.error("memmock: cannot write its state file log %s on the way out: %s", self.path,
                         exc.strerror or exc)
        finally:
            self._writer.shutdown(wait=True)
            for fd in (self._fd, self._retired, self._lock):
                if fd is not None:
                    os.close(fd)
