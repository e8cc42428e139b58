"""StoreTemplate: a loaded store copied out whole, as each new namespace starts."""

from __future__ import annotations

import gc
import weakref
from datetime import datetime, timedelta, timezone

import pytest

from mock_server.clock import FixedClock
from mock_server.store import Store
from mock_server.store_template import StoreTemplate

ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"


def loaded() -> Store:
    return Store.from_file(clock=FixedClock(datetime(2026, 1, 2, tzinfo=timezone.utc)), seed=7, keep_seed=True)


def test_a_copy_exports_what_the_store_did_and_hands_out_the_same_ids_next() -> None:
    store = loaded()
    copy = StoreTemplate(store).copy()
    assert copy.export() == store.export()
    assert copy.vai_memory.create(ORG, "x")["id"] == store.vai_memory.create(ORG, "x")["id"]


def test_copies_are_independent_of_the_store_and_of_each_other() -> None:
    store = loaded()
    before = store.export()
    template = StoreTemplate(store)
    first, second = template.copy(), template.copy()
    first.vai_memory.create(ORG, "only in the first copy")
    store.vai_memory.create(ORG, "only in the store")
    assert second.export() == before
    assert template.copy().export() == before  # the template keeps the store as it was when made
    assert "only in the first copy" not in str(store.export())


def test_a_copy_shares_the_clock_so_a_test_that_moves_time_moves_every_namespace() -> None:
    store = loaded()
    copy = StoreTemplate(store).copy()
    assert copy.clock is store.clock
    clock = store.clock
    assert isinstance(clock, FixedClock)
    clock.advance(timedelta(hours=1))
    assert copy.clock.now() == datetime(2026, 1, 2, 1, tzinfo=timezone.utc)


def test_a_closure_in_the_state_is_refused_since_copies_would_share_what_it_closes_over() -> None:
    store = loaded()
    counts: list[int] = []
    store.vai_memory.on_change = lambda: counts.append(1)  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="a closure"):
        StoreTemplate(store)


class _Node:
    partner: _Node


def test_garbage_waiting_for_the_collector_is_not_frozen_with_a_copy() -> None:
    template = StoreTemplate(loaded())
    first, second = _Node(), _Node()
    first.partner, second.partner = second, first  # a cycle: only the collector frees it
    watched = weakref.ref(first)
    del first, second
    template.copy()
    gc.collect()
    assert watched() is None
