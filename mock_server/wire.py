"""The one JSON codec: everything the mock sends, and every JSON text it reads.

``loads`` refuses, as a parse error, any value the mock could store but not send back: nesting
deeper than ``MAX_DEPTH``, lone surrogates (not Unicode: no UTF-8 reply can carry them), NaN and
infinities, integers past Python's digit limit, and text in an unknown charset. ``loads_in_pieces``
does the same for a big document in a worker thread, a record at a time.
"""

from __future__ import annotations

import codecs
import encodings
import encodings.aliases
import json
import math
import pkgutil
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import Response

from .errors import MalformedJSON

# orjson writes at most this many levels; a deeper stored value would make every reply that
# carries it fall back to the slow encoder, or past Python's recursion limit, fail.
MAX_DEPTH = 254
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_TOKEN_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_LONG_INTEGER = re.compile(r"\d{4301,}")
_LONG_DIGITS = re.compile(r"[0-9]{19}")
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{19}")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|(?<![0-9a-fA-F]{4})\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def dumps(body: Any) -> bytes:
    """``body`` as JSON bytes: orjson, or the stdlib for what orjson refuses (integers over 64 bits)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        # A client may send (and have echoed back) an integer Python holds but orjson does not.
        # ASCII output: whatever text reaches here, the reply is still valid UTF-8.
        return json.dumps(body, separators=(",", ":")).encode()


def json_headers(content: bytes) -> list[tuple[bytes, bytes]]:
    """The raw headers of a JSON reply of ``content`` (what Starlette's JSON ``Response`` sends)."""
    return [(b"content-length", str(len(content)).encode("latin-1")), (b"content-type", b"application/json")]


class _Reply(Response):
    """A Starlette response whose headers are given, not derived.

    Starlette's constructor works them out from the media type and optional headers on every reply.
    """

    def __init__(self, body: bytes, status_code: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body
        self.raw_headers = raw_headers


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON reply (the headers Starlette's ``Response(..., media_type="application/json")`` sends)."""
    content = dumps(body)
    return _Reply(content, status, json_headers(content))


def no_content() -> Response:
    """An empty 204 reply (no headers, as Starlette sends it)."""
    return _Reply(b"", 204, [])


async def send_json(send: Callable[[dict[str, Any]], Awaitable[None]], status: int, body: Any,
                    headers: dict[str, str] | None = None) -> None:
    """Send ``body`` as a whole JSON reply through an ASGI ``send``, with ``headers`` besides the JSON ones."""
    content = dumps(body)
    await send({"type": "http.response.start", "status": status, "headers": [
        *json_headers(content),
        *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in (headers or {}).items())]})
    await send({"type": "http.response.body", "body": content, "more_body": False})


def loads(data: bytes | str, encoding: str = "utf-8") -> Any:
    """JSON text (bytes in ``encoding``) as Python values; ``MalformedJSON`` (reason, position) for anything refused."""
    if isinstance(data, bytes) and encoding != "utf-8" and codec_name(encoding) != "utf-8":
        data = _decode(data, encoding)  # the declared charset, not orjson's UTF-8
    # orjson reads an integer past 64 bits as a float (losing digits): such text goes to the stdlib.
    if (_LONG_DIGITS_BYTES if isinstance(data, bytes) else _LONG_DIGITS).search(data) is None:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
        else:
            # Nesting needs an opener per level: most bodies have too few to be deep, and counting is cheap.
            if (data.count(b"[") + data.count(b"{") if isinstance(data, bytes)
                    else data.count("[") + data.count("{")) > MAX_DEPTH:
                try:
                    orjson.dumps(value)  # values orjson parsed fail to write only when nested too deep
                except orjson.JSONEncodeError:
                    raise _too_deep(data) from None
            return value
    # orjson takes UTF-8 only and refuses what the stdlib lets through: the stdlib decodes any
    # charset and gives the messages DRF and pydantic users know, then the value is checked.
    value = _stdlib_loads(data, encoding)
    check_value(value, data)
    return value


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a surrogate code point (valid pairs never survive decoding as such)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def _too_deep(data: bytes | str) -> MalformedJSON:
    """The parse error for too deep a value, placed at its first bracket too many (0 when not found)."""
    depth = 0
    tokens = _TOKEN_BYTES if isinstance(data, bytes) else _TOKEN
    for match in tokens.finditer(data):  # type: ignore[arg-type]
        token = match.group()
        if token in ("[", "{", b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return MalformedJSON(f"Nested deeper than {MAX_DEPTH} levels", match.start())
        elif token in ("]", "}", b"]", b"}"):
            depth -= 1
    return MalformedJSON(f"Nested deeper than {MAX_DEPTH} levels", 0)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# The codecs Python ships, by normalised name. Only these are looked up: the codec registry
# remembers every name it is asked for, unknown ones too, so a client sending a fresh charset
# per request would grow it for ever.
_CODECS = frozenset(encodings.aliases.aliases) | frozenset(encodings.aliases.aliases.values()) | frozenset(
    module.name for module in pkgutil.iter_modules(encodings.__path__))


def codec_name(charset: str) -> str | None:
    """The canonical name of a charset Python can decode text with, or None (unknown, or not text)."""
    normalised = encodings.normalize_encoding(charset.strip()).lower()
    if normalised not in _CODECS:
        return None
    try:
        # LookupError for base64, rot13 and the like, which do not make text (empty input is not checked)
        b"\x00".decode(normalised)
    except LookupError:
        return None
    except ValueError:  # UnicodeDecodeError: a text codec all the same
        pass
    return codecs.lookup(normalised).name


def _decode(data: bytes, charset: str) -> str:
    name = codec_name(charset)
    if name is None:
        raise MalformedJSON(f"Unknown charset {charset!r}")
    try:
        return data.decode(name)
    except UnicodeDecodeError as exc:
        raise MalformedJSON(f"Invalid {'UTF-8' if name == 'utf-8' else name}: {exc.reason}", exc.start) from None


def _stdlib_loads(data: bytes | str, encoding: str) -> Any:
    text = _decode(data, encoding) if isinstance(data, bytes) else data
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise MalformedJSON(str(exc), exc.pos) from None
    except RecursionError:
        raise _too_deep(text) from None
    except ValueError as exc:  # a constant (NaN, Infinity), or an integer past the digit limit
        found = _LONG_INTEGER.search(text)
        if found is not None:
            raise MalformedJSON("An integer has more than 4300 digits", found.start()) from None
        raise MalformedJSON(str(exc)) from None


def check_value(value: Any, data: bytes | str = "") -> None:
    """``MalformedJSON`` for lone surrogates, non-finite numbers or deep nesting in a parsed value.

    ``data``, the text it was parsed from, places the problem; without it the position is 0.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if has_lone_surrogate(node):
                text = data.decode("latin-1") if isinstance(data, bytes) else data
                found = _SURROGATE_ESCAPE.search(text)
                raise MalformedJSON("A string holds a lone surrogate (not Unicode)", found.start() if found else 0)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise MalformedJSON("A number is out of range")
        elif isinstance(node, (list, dict)):
            if depth >= MAX_DEPTH:
                raise _too_deep(data)
            if isinstance(node, dict):
                stack.extend((key, depth) for key in node)
                stack.extend((item, depth + 1) for item in node.values())
            else:
                stack.extend((item, depth + 1) for item in node)


# --- big documents, in pieces ------------------------------------------------------------------

_DESCEND = 3  # levels parsed here, one value at a time; below them the stdlib's C scanner parses whole values
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE_PREFIX = re.compile(r"\\u[dD][89a-fA-F]")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("A number is out of range")
    return value


_PIECEWISE = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite)


def loads_in_pieces(data: bytes, encoding: str = "utf-8") -> Any:
    """As ``loads``, for a big document in a worker thread: the other threads get the GIL between pieces.

    orjson parses a 65 MB state document in one call that holds the GIL for 0.6 s or more; here
    the top ``_DESCEND`` levels are read value by value and each value below them (a record) is
    one short call to the stdlib's scanner, with the same refusals as ``loads``.
    """
    text = _decode(data, encoding)
    try:
        value, end = _piece(text, 0, 0)
        end = _WHITESPACE.match(text, end).end()  # type: ignore[union-attr]
        if end != len(text):
            raise json.JSONDecodeError("Extra data", text, end)
    except json.JSONDecodeError as exc:
        raise MalformedJSON(str(exc), exc.pos) from None
    except RecursionError:
        raise _too_deep(text) from None
    except ValueError as exc:  # a constant or an infinite number (the hooks), or a very long integer
        found = _LONG_INTEGER.search(text)
        if found is not None:
            raise MalformedJSON("An integer has more than 4300 digits", found.start()) from None
        raise MalformedJSON(str(exc)) from None
    if _SURROGATE_PREFIX.search(text) is not None:  # an escape that may spell one: look at every string
        check_value(value, text)
    return value


def _piece(text: str, idx: int, depth: int) -> tuple[Any, int]:
    idx = _WHITESPACE.match(text, idx).end()  # type: ignore[union-attr]
    opener = text[idx:idx + 1]
    if depth < _DESCEND and opener == "{":
        return _object(text, idx + 1, depth + 1)
    if depth < _DESCEND and opener == "[":
        return _array(text, idx + 1, depth + 1)
    value, end = _PIECEWISE.raw_decode(text, idx)
    if opener in ("[", "{") and text.count("[", idx, end) + text.count("{", idx, end) > MAX_DEPTH - depth:
        _check_depth(value, depth, text)  # enough brackets to be too deep: measure it
    return value, end


def _check_depth(value: Any, depth: int, text: str) -> None:
    stack = [(value, depth + 1)]
    while stack:
        node, level = stack.pop()
        if level > MAX_DEPTH:
            raise _too_deep(text)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, level + 1) for child in children if isinstance(child, (list, dict)))


def _object(text: str, idx: int, depth: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    idx = _WHITESPACE.match(text, idx).end()  # type: ignore[union-attr]
    if text[idx:idx + 1] == "}":
        return out, idx + 1
    while True:
        if text[idx:idx + 1] != '"':
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, idx)
        key, idx = _PIECEWISE.raw_decode(text, idx)
        idx = _WHITESPACE.match(text, idx).end()  # type: ignore[union-attr]
        if text[idx:idx + 1] != ":":
            raise json.JSONDecodeError("Expecting ':' delimiter", text, idx)
        out[key], idx = _piece(text, idx + 1, depth)
        idx = _WHITESPACE.match(text, idx).end()  # type: ignore[union-attr]
        separator = text[idx:idx + 1]
        if separator == "}":
            return out, idx + 1
        if separator != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, idx)
        idx = _WHITESPACE.match(text, idx + 1).end()  # type: ignore[union-attr]


def _array(text: str, idx: int, depth: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    idx = _WHITESPACE.match(text, idx).end()  # type: ignore[union-attr]
    if text[idx:idx + 1] == "]":
        return out, idx + 1
    while True:
        value, idx = _piece(text, idx, depth)
        out.append(value)
        idx = _WHITESPACE.match(text, idx).end()  # type: ignore[union-attr]
        separator = text[idx:idx + 1]
        if separator == "]":
            return out, idx + 1
        if separator != ",":
            raise json.JSONDecodeError("Expecting ',' delimiter", text, idx)
        idx += 1
