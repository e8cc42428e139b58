"""A loaded store kept as one pickled copy, so each namespace starts from it without reading its document again.

Reading a fixtures document checks and converts every record: 4-5 s for 100,000 memories and
100,000 conversations. Unpickling the store that reading built gives the same state in 0.6 s
(1.0 s as a served request's new namespace): pickle's C loader makes the objects, and nothing is
checked twice; pickling it once takes 1.8 s. What every store shares is kept out of the copy and
handed back as it is, through pickle's documented hooks (``reducer_override`` names it by its
position in a list, ``find_class`` reads that list): the functions (record layouts compile
theirs; classes hold lambdas), the record layouts themselves, and the clock. A closure is
refused: what it closes over could be one store's own. The pickled bytes are this process's
own, made here and read only here.
"""

from __future__ import annotations

import io
import pickle
import types
from typing import Any

from .clock import Clock
from .heap import gc_paused
from .models.collection import Layout
from .store import Store


def _shared(at: int) -> Any:
    """What a pickled copy names by position among what it shares (``_Unpickler.find_class`` binds it)."""
    raise RuntimeError("only a StoreTemplate's own unpickler reads a copy")


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, shared: list[Any], clock: Clock) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared
        self.clock = clock
        self.ids: dict[int, int] = {}

    def reducer_override(self, obj: Any) -> Any:  # noqa: D102 - pickle's documented hook
        # Not called for the builtin values and containers (pickle's fast path): records and the
        # objects below, not every string, so the state pickles at C speed for the most part.
        if obj is _shared or not (isinstance(obj, (types.FunctionType, Layout)) or obj is self.clock):
            return NotImplemented
        if isinstance(obj, types.FunctionType) and obj.__closure__:
            # What it closes over may be this store's own state, which a copy must not share.
            raise TypeError(f"the state holds {obj.__qualname__}, a closure: copies would share what it "
                            "closes over; hold a module-level function instead")
        at = self.ids.get(id(obj))
        if at is None:
            at = self.ids[id(obj)] = len(self.shared)
            self.shared.append(obj)
        return _shared, (at,)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, shared: list[Any]) -> None:
        super().__init__(file)
        self.shared = shared

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - pickle's documented hook
        if module == __name__ and name == _shared.__name__:
            return self.shared.__getitem__
        return super().find_class(module, name)


class StoreTemplate:
    """A store as it was when this was made, copied out whole by ``copy``; later changes to it are not seen."""

    def __init__(self, store: Store) -> None:
        self._shared: list[Any] = []  # what copies share with the store, named by position
        buffer = io.BytesIO()
        _Pickler(buffer, self._shared, store.clock).dump(store)
        self._pickled = buffer.getvalue()

    def copy(self) -> Store:
        """A store of its own, equal to the one this was made of (its ids counting on from the same point)."""
        with gc_paused():  # see heap.gc_paused: millions of objects, no cycles among them
            store: Store = _Unpickler(io.BytesIO(self._pickled), self._shared).load()
        return store
