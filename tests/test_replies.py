"""The handlers' replies carry exactly the headers and body Starlette's own responses would."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.responses import Response

from mock_server.wire import json_response as json
from mock_server.wire import no_content
from mock_server.wire import dumps


@pytest.mark.parametrize("body, status", [({"a": 1}, 200), ([], 201), ({"detail": "ü"}, 400), (None, 200)])
def test_json_reply_is_what_starlette_would_send(body: Any, status: int) -> None:
    ours, theirs = json(body, status), Response(dumps(body), status_code=status, media_type="application/json")
    assert (ours.status_code, ours.body, ours.raw_headers) == (theirs.status_code, theirs.body, theirs.raw_headers)
    assert ours.background is None


def test_no_content_is_what_starlette_would_send() -> None:
    ours, theirs = no_content(), Response(status_code=204)
    assert (ours.status_code, ours.body, ours.raw_headers) == (theirs.status_code, theirs.body, theirs.raw_headers)
