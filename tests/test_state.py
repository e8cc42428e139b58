"""The served mock's garbage-collector settings."""

from __future__ import annotations

import gc

from mock_server.heap import GC_THRESHOLDS, _refreeze, serve_gc


def test_serve_gc_sets_thresholds_once_and_freezes_after_full_collections_only() -> None:
    thresholds = gc.get_threshold()
    try:
        serve_gc()
        serve_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.callbacks.count(_refreeze) == 1
        gc.unfreeze()
        gc.collect(1)
        assert gc.get_freeze_count() == 0  # a young collection leaves survivors to the collector
        gc.collect()
        assert gc.get_freeze_count() > 0  # a full one hands them to the permanent generation
    finally:
        while _refreeze in gc.callbacks:
            gc.callbacks.remove(_refreeze)
        gc.unfreeze()
        gc.set_threshold(*thresholds)
