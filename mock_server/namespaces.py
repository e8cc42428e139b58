"""Namespaces: a state of its own for each caller that names one, so parallel tests never meet.

A request names its namespace with the header ``X-Memmock-Namespace: NAME`` (or, for a browser
app, the cookie ``memmock_ns=NAME``); without one it uses the default namespace, the state
``memmock serve`` loaded (or, under the pytest plugin, the current test's namespace). A namespace starts, on its first request, as the default namespace was
at startup (the loaded fixtures), with the same seed: the same requests give the same ids in
every namespace. At most ``--max-namespaces`` are kept besides the default; past that the least
recently used one is dropped, and the drop is logged.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

from .errors import InvalidRequest, Problem
from .headers import first_header
from .state import MockState
from .store import Store
from .store_template import StoreTemplate

logger = logging.getLogger("memmock")

DEFAULT = "default"
HEADER = b"x-memmock-namespace"
COOKIE = "memmock_ns"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,63}")
_COOKIE = re.compile(r"(?:^|;)\s*memmock_ns=\"?([^\";]*)\"?")


def namespace_of(scope: Scope) -> str | None:
    """The namespace a request names (None: it names none); InvalidRequest for a name that cannot be one."""
    headers = scope["headers"]
    raw = first_header(headers, HEADER)
    where = "header"
    if raw is None:
        cookie = first_header(headers, b"cookie")
        if cookie is None or b"memmock_ns=" not in cookie:
            return None
        match = _COOKIE.search(cookie.decode("latin-1"))
        raw, where = (match.group(1).encode("latin-1") if match else b""), "cookie"
    name = raw.decode("latin-1").strip()
    if not _NAME.fullmatch(name):
        raise InvalidRequest([Problem(where, ("X-Memmock-Namespace" if where == "header" else COOKIE,), "custom", name,
                                      {"message": "A namespace name is 1 to 64 letters, digits and . _ ~ - "
                                                  "(starting with a letter or digit)."})])
    return name


@dataclass
class Namespace:
    """One namespace's state, and when it was made and last used (``time.time()`` seconds)."""

    name: str
    state: MockState
    created: float
    used: float


class Namespaces:
    """The default namespace's state and the named ones, made on first use, the least recently used dropped past the cap."""

    def __init__(self, default: MockState, on_new: Callable[[MockState], None] = lambda state: None,
                 on_drop: Callable[[str], None] = lambda name: None,
                 on_gone: Callable[[MockState], None] = lambda state: None) -> None:
        self.default = default
        self.limit = default.settings.max_namespaces
        self.on_new = on_new
        self.on_drop = on_drop  # told the name of each namespace dropped past the cap
        self.on_gone = on_gone  # told the state of each namespace dropped, past the cap or not
        self._named: OrderedDict[str, Namespace] = OrderedDict()
        # Where requests that name no namespace go: the default one, unless a test runner (the
        # pytest plugin) points them at the current test's own.
        self.fallback = DEFAULT
        # The default state before its first change, exported when that comes (or the base set by ``rebase``).
        self._document: Any = None
        # What namespaces start from, copied for each (None: none made since the base was last set).
        self._template: StoreTemplate | None = None
        self._seed = default.store.ids.seed
        self.created = time.time()
        on_new(default)

    def state_of_request(self, scope: Scope, *, write: bool) -> MockState:
        """The state a request runs on: its namespace's, or the fallback's when it names none."""
        name = namespace_of(scope) or self.fallback
        if name == DEFAULT:
            if write and self._document is None:
                self.before_default_write()
            return self.default
        return self.state(name)

    def state(self, name: str) -> MockState:
        """The state of namespace ``name`` (made now if it is new)."""
        if name == DEFAULT:
            return self.default
        found = self._named.get(name)
        if found is not None:
            self._named.move_to_end(name)
            found.used = time.time()
            return found.state
        return self._make(name).state

    def drop(self, name: str) -> bool:
        """Forget namespace ``name`` (not the default); whether there was one."""
        found = self._named.pop(name, None)
        if found is not None:
            self.on_gone(found.state)
        return found is not None

    def all(self) -> list[Namespace]:
        """Every namespace, the default first, then the most recently used first."""
        default = Namespace(DEFAULT, self.default, self.created, time.time())
        return [default, *reversed(self._named.values())]

    def rebase(self, document: Any) -> None:
        """Make ``document`` (a fixtures document) what namespaces made from now on start from."""
        self._document = document
        self._template = None

    def _start(self) -> Store:
        """A store as namespaces start: the default's document read into a store of no namespace's.

        Not the default store itself, though it may be unchanged: plugins and tests set hooks on a
        namespace's store (``Plugin.attach``), and a store given to ``create_app`` may follow its
        documents' seeds; a new namespace has neither.
        """
        default = self.default.store
        self.before_default_write()
        store = Store(clock=default.clock, seed=self._seed, keep_seed=True, max_items=default.items.limit)
        store.load(self._document)
        return store

    def before_default_write(self) -> None:
        """Called before a request may change the default state: what namespaces start from is kept first."""
        if self._document is None:
            self._document = self.default.store.export()

    def _make(self, name: str) -> Namespace:
        if self._template is None:
            self._template = StoreTemplate(self._start())
        store = self._template.copy()
        now = time.time()
        namespace = self._named[name] = Namespace(name, MockState(store=store, settings=self.default.settings), now, now)
        self.on_new(namespace.state)
        while len(self._named) > self.limit:
            evicted, gone = self._named.popitem(last=False)
            self.on_gone(gone.state)
            logger.warning("memmock: namespace %r dropped: the least recently used of more than %d "
                           "(--max-namespaces)", evicted, self.limit)
            self.on_drop(evicted)
        return namespace
