"""The files of ``--state-file FILE``: the snapshot ``FILE`` and the command log ``FILE.log``.

Records are appended on the event loop and written by one thread: a write waits for its record
to be durable before its reply starts, and while one batch is being written and synced every
record appended meanwhile waits for the next (group commit: under load one ``fdatasync`` serves
many writes). ``--fsync always`` (the default) syncs each batch before the replies it holds
leave; ``--fsync never`` only writes it (the operating system syncs when it likes: that survives
the mock being killed, not the machine losing power).

A snapshot is written beside the file, synced and renamed over it (then the folder is synced),
and the log is emptied after it: a crash in between leaves records the snapshot already holds,
which startup skips by their sequence numbers.
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

    def __init__(self, path: Path, *, sync: bool) -> None:
        self.path = path
        self.sync = sync
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError as exc:
            raise StartupError(f"state file log {path}: {exc.strerror or exc}") from None
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(self._fd)
                raise StartupError(f"state file log {path}: another memmock is using it (it holds the file's "
                                   "lock); stop that one, or give this one another --state-file") from None
        self.appended = 0  # the sequence number of the last record appended
        self.durable = 0  # ... and of the last one written (and synced, under --fsync always)
        self.size = os.fstat(self._fd).st_size  # bytes in the file and waiting to be written
        self.failure: str | None = None
        self._pending = bytearray()
        self._flushing = False  # a batch is with the writer
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # (seq, its waiter), in the order they came
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="memmock-log")
        self._closed = False

    def start_at(self, seq: int, size: int) -> None:
        """Continue after record ``seq``, the file cut to its first ``size`` bytes (what startup read whole)."""
        if size != self.size:
            os.ftruncate(self._fd, size)
            _datasync(self._fd)
            self.size = size
        self.appended = self.durable = seq

    def append(self, record: dict[str, Any]) -> int:
        """Queue ``record`` (numbered here: its ``seq``) for the next batch; its sequence number."""
        self.appended += 1
        record["seq"] = self.appended
        line = frame(record)
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
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, waiter))
        if not self._flushing:
            self._flush()
        await waiter

    def _flush(self) -> None:
        """Hand what is pending to the writer; the waiters it covers are released when it is done."""
        data, self._pending = self._pending, bytearray()
        self._flushing = True
        upto = self.appended
        written = asyncio.get_running_loop().run_in_executor(self._writer, self._write, data)
        written.add_done_callback(lambda done: self._flushed(done, upto))

    def _flushed(self, done: asyncio.Future[None], upto: int) -> None:
        self._flushing = False
        error = done.exception() if not done.cancelled() else OSError("the write was cancelled")
        if error is not None:
            self.failure = f"memmock cannot write its state file log {self.path}: {getattr(error, 'strerror', None) or error}"
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
        if later:  # appended while this batch was written: the next batch
            self._flush()

    def _write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]
        if self.sync:
            _datasync(self._fd)

    def restart(self, write_snapshot: Callable[[], None]) -> asyncio.Future[None]:
        """Run ``write_snapshot`` on the writer, after every batch before it, then empty the log.

        The caller has made sure the snapshot holds every record appended so far; records
        appended later are written after the emptying, into the new log.
        """
        covered = self.size - len(self._pending)
        future = asyncio.get_running_loop().run_in_executor(self._writer, self._restart, write_snapshot)
        future.add_done_callback(lambda done: None if done.cancelled() or done.exception() else self._restarted(covered))
        return future

    def restart_now(self, write_snapshot: Callable[[], None]) -> None:
        """``restart``, for startup: the caller waits (no loop runs yet)."""
        self._write_pending()
        covered = self.size
        self._writer.submit(self._restart, write_snapshot).result()
        self._restarted(covered)

    def _write_pending(self) -> None:
        data, self._pending = self._pending, bytearray()
        upto = self.appended
        self._writer.submit(self._write, data).result()
        self.durable = upto

    def _restart(self, write_snapshot: Callable[[], None]) -> None:
        write_snapshot()
        os.ftruncate(self._fd, 0)
        _datasync(self._fd)

    def _restarted(self, covered: int) -> None:
        self.size -= covered

    def close(self) -> None:
        """Write what is still queued, then close the file (its lock goes with it)."""
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
            os.close(self._fd)
