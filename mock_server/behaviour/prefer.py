"""The ``Prefer`` request header (RFC 7240), and Prism's ``__code``/``__example``/``__dynamic`` query parameters.

``Prefer: code=404, example=notFound, delay=300`` is a list of preferences, each ``name[=value]``
with optional ``; parameter[=value]`` after it; several ``Prefer`` headers add up; the first
mention of a name counts (RFC 7240 §2). Names this mock does not know are ignored, as the RFC
says; a known one that is malformed, or asks for what cannot be (``delay=70000``), is refused
with ``BadPreference``, which the plugin answers 400. The query parameters fill in what the
header leaves out (Prism reads them as the header's stand-ins); the request validators never
look at them, as they ignore every query parameter the spec does not declare.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from starlette.types import Scope

from .latency import MAX_DELAY_MS
from .network import FaultSpec, fault_spec

QUERY = {"__code": "code", "__example": "example", "__dynamic": "dynamic"}
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PAIR = re.compile(rf'\s*({_TOKEN})\s*(?:=\s*({_TOKEN}|"(?:[^"\\]|\\.)*")\s*)?')
_ESCAPE = re.compile(r"\\(.)")
_CODE = re.compile(r"[1-5][0-9][0-9]")
_MS = re.compile(r"\d{1,9}(?:\.\d{1,6})?")
_SEED = re.compile(r"\d{1,19}")
KNOWN = frozenset({"code", "example", "dynamic", "seed", "delay", "fault"})
_BOOLEANS = {"true": True, "false": False}


class BadPreference(ValueError):
    """A preference this mock knows, malformed or impossible; the message says which and why."""


@dataclass
class Preferences:
    """What one request prefers (None: not asked)."""

    code: str | None = None
    example: str | None = None
    dynamic: bool | None = None
    seed: int | None = None
    delay_ms: float | None = None
    fault: FaultSpec | None = None

    @property
    def forces(self) -> bool:
        """Whether the answer is to come from the spec, not from the stateful mock."""
        return self.code is not None or self.example is not None or self.dynamic is not None


def preferences(scope: Scope) -> Preferences:
    """The request's preferences, from its ``Prefer`` headers, then its ``__`` query parameters; BadPreference."""
    found: dict[str, tuple[str, dict[str, str], str]] = {}  # name → (value, parameters, as sent)
    for key, raw in scope["headers"]:
        if key == b"prefer":
            for name, value, parameters, sent in _elements(raw.decode("latin-1")):
                found.setdefault(name, (value, parameters, sent))
    query = scope.get("query_string", b"")
    if b"__" in query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            name = QUERY.get(key)
            if name is not None and name not in found:
                found[name] = (value, {}, f"{key}={value}")
    return _interpret(found)


def _elements(header: str) -> list[tuple[str, str, dict[str, str], str]]:
    """(name, value, parameters, the element as sent) of each known preference in one header value."""
    known = []
    for parts in _split(header):
        sent = ";".join(parts).strip()
        name = parts[0].partition("=")[0].strip().lower()
        if name not in KNOWN:
            continue  # unknown, or an empty list element (RFC 7230 allows them)
        pairs = [_PAIR.fullmatch(part) for part in parts]
        # A parameter may be left out after its ";" (RFC 7240: *( OWS ";" [ OWS parameter ] )).
        if pairs[0] is None or any(pair is None and part.strip() for pair, part in zip(pairs[1:], parts[1:])):
            raise BadPreference(f"Prefer: {sent!r} is not a preference (RFC 7240: name=value, then ;parameter=value)")
        parameters = {pair.group(1).lower(): _unquote(pair.group(2)) for pair in pairs[1:] if pair is not None}
        known.append((name, _unquote(pairs[0].group(2)), parameters, sent))
    return known


def _split(header: str) -> list[list[str]]:
    """A header value's list elements, each as its ``;``-separated parts; quoted strings kept whole."""
    elements: list[list[str]] = []
    parts: list[str] = []
    part: list[str] = []
    quoted = escaped = False
    for char in header:
        if quoted:
            part.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char in ",;":
            parts.append("".join(part))
            part = []
            if char == ",":
                elements.append(parts)
                parts = []
        else:
            quoted = char == '"'
            part.append(char)
    parts.append("".join(part))
    elements.append(parts)
    return elements


def _unquote(word: str | None) -> str:
    if word is None:
        return ""
    if word.startswith('"'):
        return _ESCAPE.sub(r"\1", word[1:-1])
    return word


def _interpret(found: dict[str, tuple[str, dict[str, str], str]]) -> Preferences:
    wanted = Preferences()
    for name, (value, parameters, sent) in found.items():
        if name == "code":
            if not _CODE.fullmatch(value):
                raise BadPreference(f"{sent!r}: code is an HTTP status code, three digits from 100 to 599")
            wanted.code = value
        elif name == "example":
            if not value:
                raise BadPreference(f"{sent!r}: example names one of the spec's examples")
            wanted.example = value
        elif name == "dynamic":
            # A bare "dynamic" asks for it, as a bare RFC 7240 preference does.
            flag = _BOOLEANS.get(value.lower() or "true")
            if flag is None:
                raise BadPreference(f"{sent!r}: dynamic is true or false")
            wanted.dynamic = flag
        elif name == "seed":
            if not _SEED.fullmatch(value):
                raise BadPreference(f"{sent!r}: seed is a whole number from 0 (at most 19 digits)")
            wanted.seed = int(value)
        elif name == "delay":
            wanted.delay_ms = _milliseconds(value, sent, "delay")
        else:
            wanted.fault = _fault(value, parameters, sent)
    return wanted


def _milliseconds(value: str, sent: str, what: str) -> float:
    if not _MS.fullmatch(value) or float(value) > MAX_DELAY_MS:
        raise BadPreference(f"{sent!r}: {what} is a number of milliseconds from 0 to {MAX_DELAY_MS:.0f}")
    return float(value)


def _fault(value: str, parameters: dict[str, str], sent: str) -> FaultSpec:
    retry_after = parameters.get("retry-after")
    duration = parameters.get("duration")
    if retry_after is not None and not _SEED.fullmatch(retry_after):
        raise BadPreference(f"{sent!r}: retry-after is a whole number of seconds")
    try:
        return fault_spec(value.lower(), None if retry_after is None else int(retry_after),
                          None if duration is None else _milliseconds(duration, sent, "duration"))
    except ValueError as exc:
        raise BadPreference(f"{sent!r}: {exc}") from None
