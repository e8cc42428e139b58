"""The operation for a request's method and path, found segment by segment.

connexion routes through Starlette, which tries one regex per route, mount by mount, on every
request: a third of the cost of a request whose path carries an id (``DELETE
/api/v1/memory/<id>``). ``RouteTable`` is built from those same Starlette routes and gives the
same answer (the first route, in Starlette's order, that matches path and method) by walking a
tree of path segments. Anything it is not sure of (no full match, so a 404, 405 or slash
redirect) it leaves to Starlette.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Any, NamedTuple

from starlette.convertors import Convertor, IntegerConvertor
from starlette.routing import Mount, Route, Router

from .memo import Memo


class Routed(NamedTuple):
    """Where a request goes: the API's base path, the operation id and the typed path parameters."""

    # A tuple of strings and a dict of strings and ints: the collector stops tracking such
    # objects after one pass, so thousands of remembered paths (one per deleted id) cost the
    # garbage collector next to nothing.
    base_path: str
    operation_id: str
    path_params: dict[str, Any]


@dataclass
class _Endpoint:
    order: int
    methods: frozenset[str]
    operation_id: str
    convertors: dict[str, Convertor[Any]]


@dataclass
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    params: list[tuple[str, re.Pattern[str], Convertor[Any], _Node]] = field(default_factory=list)
    endpoints: list[_Endpoint] = field(default_factory=list)


class PathInteger(IntegerConvertor):
    """Django's ``int`` path converter: ASCII digits, no sign; longer than Python turns into an int is no match.

    connexion's own accepts a sign (``+1`` found artifact 1); Django's URL resolver would answer 404.
    """

    regex = f"[0-9]{{1,{sys.get_int_max_str_digits() or ''}}}"


_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}$")


class _MountTree:
    """The routes of one mount as a tree of segments; None from ``build`` when a route does not fit."""

    def __init__(self, root: _Node, mount_path: str) -> None:
        self.root = root
        self.mount_path = mount_path

    @classmethod
    def build(cls, mount: Mount) -> _MountTree | None:
        root = _Node()
        router = mount.app
        if not isinstance(router, Router):
            return None
        for order, route in enumerate(router.routes):
            operation_id = getattr(getattr(route, "app", None), "operation_id", None)
            if not isinstance(route, Route) or not route.methods or not operation_id:
                return None
            node = root
            for segment in route.path.split("/"):
                match = _PARAM.match(segment)
                if match is None:
                    if "{" in segment:  # a parameter inside a segment: not for this tree
                        return None
                    node = node.literals.setdefault(segment, _Node())
                    continue
                name = match.group(1)
                convertor = route.param_convertors[name]
                for existing_name, _, existing_convertor, child in node.params:
                    if existing_name == name and existing_convertor is convertor:
                        node = child
                        break
                else:
                    pattern = re.compile(f"(?:{convertor.regex})")
                    if pattern.fullmatch("a/b"):  # a parameter that spans segments (``path``)
                        return None
                    child = _Node()
                    node.params.append((name, pattern, convertor, child))
                    node = child
            node.endpoints.append(_Endpoint(order, frozenset(route.methods), operation_id, route.param_convertors))
        return cls(root, mount.path)

    def find(self, method: str, inner_path: str) -> tuple[str, dict[str, Any]] | None:
        """The first route (in Starlette's order) matching path and method: (operation id, params)."""
        best: tuple[_Endpoint, tuple[tuple[str, str], ...]] | None = None
        for endpoint, raw in self._matches(inner_path):
            if method in endpoint.methods and (best is None or endpoint.order < best[0].order):
                best = (endpoint, raw)
        if best is None:
            return None
        endpoint, raw = best
        convertors = endpoint.convertors
        return endpoint.operation_id, {name: convertors[name].convert(value) for name, value in raw}

    def methods(self, inner_path: str) -> frozenset[str]:
        """The methods of the path's most specific template (empty: no route has the path).

        ``/memory/backfill-entities`` also fits ``/memory/{memory_id}``; its methods are the
        literal template's, as the spec lists them.
        """
        matches = [(len(raw), endpoint) for endpoint, raw in self._matches(inner_path)]
        fewest = min((params for params, _ in matches), default=0)
        return frozenset(m for params, endpoint in matches if params == fewest for m in endpoint.methods)

    def _matches(self, inner_path: str) -> Iterator[tuple[_Endpoint, tuple[tuple[str, str], ...]]]:
        """Every endpoint whose path matches, with the raw path parameters it matched."""
        segments = inner_path.split("/")
        last = len(segments)
        # Depth-first over literal and parameter branches; few branches exist, so few are tried.
        stack: list[tuple[_Node, int, tuple[tuple[str, str], ...]]] = [(self.root, 0, ())]
        while stack:
            node, depth, raw = stack.pop()
            if depth == last:
                for endpoint in node.endpoints:
                    yield endpoint, raw
                continue
            segment = segments[depth]
            literal = node.literals.get(segment)
            if literal is not None:
                stack.append((literal, depth + 1, raw))
            for name, pattern, _, child in node.params:
                if pattern.fullmatch(segment):
                    stack.append((child, depth + 1, (*raw, (name, segment))))


RECENT_PATHS = 1_000
RECENT_BYTES = 2 * 1024 * 1024
_UNKNOWN: Any = object()
# The order Django lists a view's methods in its Allow header (http_method_names).
ALLOW_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class RouteTable:
    """Starlette's routing decision for the mounts of connexion's router, without the regex scan.

    A mock is hit with the same few paths again and again, so the latest decisions are also kept
    by exact method and path (up to ``RECENT_PATHS`` or ``RECENT_BYTES``, then forgotten all at
    once: few enough that forgetting is quick when every path is new, as when deleting one id
    after another, and a flood of long paths holds little).
    """

    def __init__(self, router: Router) -> None:
        self._recent: Memo[tuple[str, str], Routed | None] = Memo(
            RECENT_PATHS, RECENT_BYTES, lambda key, _: 2 * len(key[1]) + 400)
        self._mounts: list[tuple[Mount, _MountTree | None]] = [
            (route, _MountTree.build(route)) if isinstance(route, Mount) else (route, None)  # type: ignore[misc]
            for route in router.routes
        ]

    def find(self, method: str, path: str) -> Routed | None:
        """The operation Starlette would pick for a full match; None when only Starlette can tell."""
        key = (method, path)
        routed = self._recent.get(key, _UNKNOWN)
        if routed is _UNKNOWN:
            routed = self._recent.put(key, self._find(method, path))
        return routed  # type: ignore[return-value]

    def allowed(self, path: str) -> tuple[str, ...]:
        """The methods the path's routes take, in Django's order (empty: only Starlette can tell)."""
        placed = self._mount_of(path)
        if placed is None:
            return ()
        tree, inner = placed
        methods = tree.methods(inner)
        return tuple(m for m in ALLOW_ORDER if m in methods) + tuple(sorted(methods - set(ALLOW_ORDER)))

    def _find(self, method: str, path: str) -> Routed | None:
        placed = self._mount_of(path)
        if placed is None:
            return None
        tree, inner = placed
        found = tree.find(method, inner)
        if found is None:
            return None
        return Routed(tree.mount_path, found[0], found[1])

    def _mount_of(self, path: str) -> tuple[_MountTree, str] | None:
        """The tree of the mount Starlette hands the path to, and the rest of the path."""
        for mount, tree in self._mounts:
            if not isinstance(mount, Mount):
                return None
            match = mount.path_regex.match(path)
            if match is None:
                continue
            # Starlette hands the rest of the path to the first mount that matches, and to no other.
            if tree is None:
                return None
            return tree, "/" + match.group("path")
        return None
