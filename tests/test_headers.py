"""first_header reads raw ASGI headers as Starlette's Headers.get does."""

from __future__ import annotations

from starlette.datastructures import Headers

from mock_server.headers import first_header

RAW = [(b"host", b"a"), (b"x-key", b"one"), (b"X-Key", b"capital"), (b"x-key", b"two")]


def test_the_first_value_wins_as_in_starlette() -> None:
    assert first_header(RAW, b"x-key") == Headers(raw=RAW).get("x-key").encode() == b"one"


def test_absent_is_none() -> None:
    assert first_header(RAW, b"origin") is None and first_header([], b"host") is None


def test_names_sent_in_capitals_match_only_when_asked() -> None:
    assert first_header([(b"Content-Type", b"text/plain")], b"content-type") is None
    assert first_header([(b"Content-Type", b"text/plain")], b"content-type", any_case=True) == b"text/plain"
    assert first_header(RAW[2:], b"x-key", any_case=True) == b"capital"
