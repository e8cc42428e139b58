"""The heap of a mock that keeps what it is sent: garbage-collector settings and the freeing of a replaced state."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
from collections.abc import Iterator
from typing import Any

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6")
    _LIBC.malloc_trim  # noqa: B018 - glibc only; elsewhere there is nothing to trim
except (OSError, AttributeError):
    _LIBC = None

_pauses = 0
_pause_lock = threading.Lock()
_collecting_before = True


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection inside: for a bulk parse or import, which builds millions of objects and no cycles.

    Collections would walk them again and again while they are being made (a 65 MB JSON document
    parsed in 0.6 s without, 1.1 to 1.8 s with), holding the GIL all the while. When the last pause
    ends (pauses nest, across threads), what was made meanwhile is frozen before collection
    resumes: it is a state (long-lived) or a parsed document (freed by reference counting), and
    the first collection would otherwise walk all of it at once (a second's stall). The first
    pause collects before it begins: the freeze takes every object there is, and garbage left
    for the collector then would be frozen with the rest and never freed.
    """
    global _pauses, _collecting_before
    with _pause_lock:
        if _pauses == 0:
            gc.collect()
            _collecting_before = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0:
                gc.freeze()
                if _collecting_before:
                    gc.enable()


_PIECE = 256


def dismantle(pile: list[Any]) -> None:
    """Empty ``pile`` one reference at a time, taking apart in the same way the big lists and dicts
    only it holds, so that freeing a whole state (millions of objects) is many short steps.

    Freeing a big container is one long call that holds the GIL (a dict of 100,000 conversations
    for a third of a second); here a worker thread frees it while other threads get their turns.
    A container someone else still refers to is only let go of, never emptied.
    """
    stack: list[Any] = [pile]
    while stack:
        node = stack.pop()
        while node:
            item = node.pop() if isinstance(node, list) else node.popitem()[1]
            # Two references: ``item`` and getrefcount's argument; then nothing else holds it.
            if isinstance(item, (list, dict)) and len(item) > _PIECE and sys.getrefcount(item) == 2:
                stack.append(item)
            del item
        del node


def settle_replaced_state() -> None:
    """After an import or a reset: the new state is long-lived; the old one is gone already.

    A state holds no reference cycles (records, dicts, sorted lists), so reference counting freed
    the replaced one; a full collection would walk the new one for nothing (0.4 s over 100,000
    memories and 100,000 conversations, holding every other client). Freezing is instant, and
    giving memory back to the OS runs outside the GIL, so a worker thread may call this.
    """
    gc.freeze()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def settle_heap() -> None:
    """Tell the garbage collector the current heap is long-lived (after startup or a state swap).

    Specs, validators and stored state are hundreds of thousands of objects that never die;
    without this, each full collection walks them all and stalls requests for tens of
    milliseconds. Unfreezing first lets a collection reclaim cycles of the state just replaced.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    # A bulk import frees a parsed document as big as the state; glibc keeps that memory unless
    # asked to give it back (about 70 MB after importing 100,000 memories and conversations).
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


# Young objects collected every 10,000 net allocations (Python's default is 700): a request makes
# a few hundred, so collections are rare, and short when a write keeps most of what it made
# (a pass costs ~0.3 microseconds per surviving object: 50,000 meant 20 ms pauses). The middle
# generation every 3 young passes: under concurrency it fills with requests that were in flight
# at a young pass, and after 10 passes it took 15-23 ms to walk (DELETE, POST at 32 connections).
GC_THRESHOLDS = (10_000, 3, 10)


def _refreeze(phase: str, info: dict[str, int]) -> None:
    # Right after a full collection the young generations are empty and every object left is
    # reachable: freezing them keeps the next full collection as small as what was added since.
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def serve_gc() -> None:
    """Garbage-collector settings for a served mock that keeps what it is sent (see GC_THRESHOLDS)."""
    gc.set_threshold(*GC_THRESHOLDS)
    if _refreeze not in gc.callbacks:
        gc.callbacks.append(_refreeze)
