"""``--watch``: the fixtures file read again whenever it changes, and loaded where nothing has changed since.

The file is polled (its modification time, size and inode, four times a second): that notices an
editor that writes in place and one that saves beside it and renames, with no dependency, on
every platform. A change is read once the file has stopped changing for one poll; a file that
does not load is logged and the state kept. ``Persistence.reload`` does the loading.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..settings import Settings, StartupError
from ..store import FixturesError, read_document

logger = logging.getLogger("memmock")

POLL_SECONDS = 0.25

Signature = tuple[int, int, int] | None


def watched_file(settings: Settings) -> Path:
    """The fixtures file ``--watch`` polls; StartupError when there is none on disk."""
    fixtures = settings.fixtures
    if fixtures is None:
        raise StartupError("--watch reloads the fixtures file when it changes: it needs one (--fixtures FILE), "
                           "not --no-fixtures")
    if not isinstance(fixtures, os.PathLike):
        raise StartupError(f"--watch needs a fixtures file on disk; {fixtures} is inside a package archive")
    return Path(fixtures)


def signature(path: Path) -> Signature:
    """What changes when the file does (None while there is no file)."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino


class FixturesWatch:
    """Polls ``path`` and hands each new version of the document to ``reload``."""

    def __init__(self, path: Path, reload: Callable[[Any], Awaitable[None]], interval: float = POLL_SECONDS) -> None:
        self.path = path
        self.reload = reload
        self.interval = interval
        self._seen = signature(path)  # before the mock loads the file: a change while it starts is not missed

    async def run(self) -> None:
        """Poll until cancelled."""
        seen = self._seen
        while True:
            await asyncio.sleep(self.interval)
            now = signature(self.path)
            if now == seen:
                continue
            while True:  # an editor may still be writing: wait for one quiet poll
                await asyncio.sleep(self.interval)
                settled = signature(self.path)
                if settled == now:
                    break
                now = settled
            seen = now
            try:
                document = await asyncio.to_thread(read_document, self.path)
            except FixturesError as exc:
                logger.warning("memmock: --watch: %s; the state is kept", exc)
                continue
            if document is None:
                logger.warning("memmock: --watch: fixtures file %s is empty; the state is kept", self.path)
                continue
            try:
                await self.reload(document)
            except Exception:  # the watch goes on; the next change is read again
                logger.exception("memmock: --watch: reloading fixtures file %s failed; the state is kept", self.path)
