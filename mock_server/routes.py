"""The operation for a request's method and path, found segment by segment.

``RouteTable`` is built from the operations' plans (each spec's path templates and base path) and
gives Starlette's answer, the one connexion's router would give: the first route, in the
spec's order, that matches path and method, under the first base path (longest first) that
matches. It walks a tree of path segments instead of trying one regex per route. For a path no
route has, it also gives Starlette's slash redirect: the same path with its trailing slash added
or dropped, when that one has routes, and (for the journal) the operation it came nearest to and why
it is not that one.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any, NamedTuple

from connexion.frameworks.starlette import PATH_PARAMETER_CONVERTERS, FloatConverter
from starlette.convertors import Convertor, IntegerConvertor, PathConvertor, StringConvertor

from .memo import Memo

if TYPE_CHECKING:
    from .plan import OperationPlan


class Routed(NamedTuple):
    """Where a request goes: the operation's plan and the typed path parameters."""

    # A tuple and a dict of strings and ints: the collector stops tracking such objects after
    # one pass, so thousands of remembered paths (one per deleted id) cost it next to nothing.
    plan: OperationPlan
    path_params: dict[str, Any]


class Nearest(NamedTuple):
    """For a request no operation takes: the operation it came nearest to, and why it is not that one."""

    plan: OperationPlan | None  # None: no API's base path takes the request
    reason: str


@dataclass
class _Endpoint:
    order: int
    methods: frozenset[str]
    plan: OperationPlan
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


_PARAM = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_-]*)\}$")
# The convertor of a path parameter, by the name connexion gives its schema's type
# (``PATH_PARAMETER_CONVERTERS``: integer → int, number → float, a string of format path → path).
_CONVERTORS: dict[str, Convertor[Any]] = {"int": PathInteger(), "float": FloatConverter(), "path": PathConvertor()}
_STRING = StringConvertor()
# What a value of each convertor is, for saying why a segment is not one.
_KINDS: dict[type[Convertor[Any]], str] = {PathInteger: "an integer", FloatConverter: "a number"}


def _convertor(types: dict[str, str], name: str) -> Convertor[Any]:
    """The convertor of path parameter ``name``, by the type connexion gives its schema."""
    return _CONVERTORS.get(PATH_PARAMETER_CONVERTERS.get(types.get(name), ""), _STRING)


class _MountTree:
    """The routes under one base path as a tree of segments."""

    def __init__(self, base_path: str, plans: Sequence[OperationPlan]) -> None:
        self.root = _Node()
        self.base_path = base_path
        for order, plan in enumerate(plans):
            self._add(order, plan)

    def _add(self, order: int, plan: OperationPlan) -> None:
        types = plan.operation.get_path_parameter_types()
        convertors: dict[str, Convertor[Any]] = {}
        node = self.root
        for segment in plan.path.split("/"):
            match = _PARAM.match(segment)
            if match is None:
                if "{" in segment:
                    raise ValueError(f"{plan.path}: a parameter must be a whole path segment")
                node = node.literals.setdefault(segment, _Node())
                continue
            name = match.group(1)
            convertor = convertors[name] = _convertor(types, name)
            if convertor is _CONVERTORS["path"]:
                raise ValueError(f"{plan.path}: a parameter may not span segments")
            for existing_name, _, existing_convertor, child in node.params:
                if existing_name == name and existing_convertor is convertor:
                    node = child
                    break
            else:
                child = _Node()
                node.params.append((name, re.compile(f"(?:{convertor.regex})"), convertor, child))
                node = child
        # Starlette answers HEAD wherever GET is routed.
        methods = {plan.method, "HEAD"} if plan.method == "GET" else {plan.method}
        node.endpoints.append(_Endpoint(order, frozenset(methods), plan, convertors))

    def find(self, method: str, inner_path: str) -> Routed | None:
        """The first route (in the spec's order) matching path and method."""
        best: tuple[_Endpoint, tuple[tuple[str, str], ...]] | None = None
        for endpoint, raw in self._matches(inner_path):
            if method in endpoint.methods and (best is None or endpoint.order < best[0].order):
                best = (endpoint, raw)
        if best is None:
            return None
        endpoint, raw = best
        convertors = endpoint.convertors
        return Routed(endpoint.plan, {name: convertors[name].convert(value) for name, value in raw})

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


class _Template:
    """One operation's whole path (base path included) as segments: literals, and parameters' patterns."""

    def __init__(self, order: int, plan: OperationPlan) -> None:
        self.order = order
        self.plan = plan
        types = plan.operation.get_path_parameter_types()
        segments: list[str | tuple[re.Pattern[str], str]] = []
        for segment in (plan.base_path + plan.path)[1:].split("/"):
            match = _PARAM.match(segment)
            if match is None:
                segments.append(segment)
            else:
                convertor = _convertor(types, match.group(1))
                segments.append((re.compile(f"(?:{convertor.regex})"), _KINDS.get(type(convertor), "a path segment")))
        self.segments = tuple(segments)

    def score(self, method: str, segments: list[str]) -> tuple[bool, int, int, float, bool, int]:
        """How near a request comes: the same number of segments, how many literals match, how many
        segments match, how alike the literals that do not are, the same method, the earlier in the
        spec; greater is nearer."""
        same_length = len(self.segments) == len(segments)
        literals = params = 0
        alike = 0.0
        for want, got in zip(self.segments, segments):
            if isinstance(want, str):
                if want == got:
                    literals += 1
                elif same_length:
                    alike += SequenceMatcher(None, got, want).ratio()
            elif want[0].fullmatch(got):
                params += 1
        same_method = self.plan.method == method or (method == "HEAD" and self.plan.method == "GET")
        return same_length, literals, literals + params, alike, same_method, -self.order

    def mismatch(self, segments: list[str]) -> str:
        """Why the first segment (counted from 1) this template does not take is not one it takes.

        ``segments`` are as many as the template's, and one of them does not match it (or the
        table would have routed the request, or answered 405).
        """
        pairs = enumerate(zip(self.segments, segments), 1)
        number, want, got = next((number, want, got) for number, (want, got) in pairs
                                 if (want != got if isinstance(want, str) else want[0].fullmatch(got) is None))
        if isinstance(want, str):
            return f"segment {number}: {got!r} is not {want!r}"
        return f"segment {number} is empty" if not got else f"segment {number}: {got!r} is not {want[1]}"


RECENT_PATHS = 1_000
RECENT_BYTES = 2 * 1024 * 1024
_UNKNOWN: Any = object()
# The order Django lists a view's methods in its Allow header (http_method_names).
ALLOW_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class RouteTable:
    """The routing decision for every operation's plan, without a regex scan.

    A mock is hit with the same few paths again and again, so the latest decisions are also kept
    by exact method and path (up to ``RECENT_PATHS`` or ``RECENT_BYTES``, then forgotten all at
    once: few enough that forgetting is quick when every path is new, as when deleting one id
    after another, and a flood of long paths holds little).
    """

    def __init__(self, plans: Sequence[OperationPlan]) -> None:
        self.plans = tuple(plans)
        self._recent: Memo[tuple[str, str], Routed | None] = Memo(
            RECENT_PATHS, RECENT_BYTES, lambda key, _: 2 * len(key[1]) + 400)
        bases = sorted({plan.base_path for plan in plans}, key=len, reverse=True)
        # Starlette mounts each base path as "<base>/{path:path}": the rest of the path starts with "/".
        self._mounts = [(re.compile(f"^{re.escape(base)}/(?P<path>.*)$"),
                         _MountTree(base, [plan for plan in plans if plan.base_path == base])) for base in bases]

    def find(self, method: str, path: str) -> Routed | None:
        """The operation a request goes to; None when no operation has its path and method."""
        key = (method, path)
        routed = self._recent.get(key, _UNKNOWN)
        if routed is _UNKNOWN:
            routed = self._recent.put(key, self._find(method, path))
        return routed  # type: ignore[no-any-return]

    def allowed(self, path: str) -> tuple[str, ...]:
        """The methods the path's routes take, in Django's order (empty: no route has the path)."""
        placed = self._mount_of(path)
        if placed is None:
            return ()
        tree, inner = placed
        methods = tree.methods(inner)
        return tuple(m for m in ALLOW_ORDER if m in methods) + tuple(sorted(methods - set(ALLOW_ORDER)))

    def redirect(self, path: str) -> str | None:
        """The path with its trailing slash added or dropped when that path has routes (Starlette's slash redirect)."""
        placed = self._mount_of(path)
        if placed is None or placed[1] == "/":
            return None
        tree, inner = placed
        toggled = inner.rstrip("/") if inner.endswith("/") else inner + "/"
        return tree.base_path + toggled if tree.methods(toggled) else None

    def nearest(self, method: str, path: str) -> Nearest | None:
        """For a request no operation takes, the operation it came nearest to and why not; None when one takes it.

        A wrong method or a trailing slash is named as such. Otherwise the nearest is, of the
        templates under the base path that takes the request, the one with as many segments as the
        path that matches most of them, literals first (ties: the literal segments most alike, then
        the same method, then the spec's order); one with another number of segments only when none
        has the path's. Segments are counted from 1 over the whole path, base path included.
        """
        if self.find(method, path) is not None:
            return None
        allowed = self.allowed(path)
        if allowed:
            return Nearest(self._plan_at(method, path), f"method {method} not allowed: {', '.join(allowed)}")
        toggled = self.redirect(path)
        if toggled is not None:
            return Nearest(self._plan_at(method, toggled), f"trailing slash: did you mean {toggled}")
        best = self._closest(method, path)
        if best is None:
            return Nearest(None, "no API's base path takes it")
        segments = path[1:].split("/")
        if len(best.segments) == len(segments):
            return Nearest(best.plan, best.mismatch(segments))
        trailing = segments[-1] == ""
        count = len(segments) - trailing
        if count == 0:
            return Nearest(best.plan, "no operation at /")
        return Nearest(best.plan, f"no template has {count} segment{'' if count == 1 else 's'}"
                                  f"{' and a trailing slash' if trailing else ''}")

    def _plan_at(self, method: str, path: str) -> OperationPlan:
        """The nearest operation of a path some template matches."""
        closest = self._closest(method, path)
        assert closest is not None  # a path with routes is under a base path
        return closest.plan

    def _closest(self, method: str, path: str) -> _Template | None:
        """The nearest template under the base path that takes ``path`` (None: no base path takes it)."""
        placed = self._mount_of(path)
        if placed is None:
            return None
        segments = path[1:].split("/")
        return max(self._templates[placed[0].base_path], key=lambda template: template.score(method, segments))

    @functools.cached_property
    def _templates(self) -> dict[str, list[_Template]]:
        """Every operation's template by base path, made on the first ``nearest`` (no request needs them)."""
        templates: dict[str, list[_Template]] = {}
        for order, plan in enumerate(self.plans):
            templates.setdefault(plan.base_path, []).append(_Template(order, plan))
        return templates

    def _find(self, method: str, path: str) -> Routed | None:
        placed = self._mount_of(path)
        return None if placed is None else placed[0].find(method, placed[1])

    def _mount_of(self, path: str) -> tuple[_MountTree, str] | None:
        """The tree of the base path that takes the request, and the rest of the path."""
        for pattern, tree in self._mounts:
            match = pattern.match(path)
            if match is not None:
                # Starlette hands the rest of the path to the first mount that matches, and to no other.
                return tree, "/" + match.group("path")
        return None
