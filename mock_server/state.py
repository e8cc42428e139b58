"""The running mock's state as the request path sees it: the store and settings, and the scope keys that carry them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.types import Scope

from .settings import Settings
from .store import IblPrincipal, Store, VaiPrincipal

__all__ = ["NAMESPACES_KEY", "OPERATION_KEY", "STATE_KEY", "IblPrincipal", "MockState", "VaiPrincipal", "state_of"]

# What the request path leaves in ``scope["extensions"]`` for the layers below it.
STATE_KEY = "memmock.state"  # the MockState answering the request
OPERATION_KEY = "memmock.operation"  # the routed operation's id (module.function)
NAMESPACES_KEY = "memmock.namespaces"  # every namespace's state (namespaces.Namespaces)


@dataclass
class MockState:
    """One app's store and settings, reachable from every request."""

    store: Store
    settings: Settings
    extensions: dict[str, Any] = field(default_factory=dict)  # what plugins keep with this state, by plugin


def state_of(scope: Scope) -> MockState:
    """The ``MockState`` of the app serving this request."""
    return scope["extensions"][STATE_KEY]  # type: ignore[no-any-return]
