"""CORS as a browser uses it: a page on another origin, with credentials, reaches its namespace by cookie."""

from __future__ import annotations

from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.settings import Settings

ORIGIN = "http://127.0.0.1:5173"
VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
MEMORIES = "/api/v1/memory"


def client() -> TestClient:
    return TestClient(create_app(Settings()), base_url="http://127.0.0.1")


def test_a_credentialed_preflight_is_granted_for_the_origin_and_the_headers_asked() -> None:
    # With credentials a browser takes "*" literally: the origin and the headers must be named.
    reply = client().options(MEMORIES, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "authorization,content-type"})
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == ORIGIN
    assert reply.headers["access-control-allow-credentials"] == "true"
    assert set(reply.headers["access-control-allow-headers"].lower().split(",")) >= {"authorization", "content-type"}
    assert "POST" in reply.headers["access-control-allow-methods"]


def test_a_page_sending_the_namespace_cookie_writes_and_reads_its_namespace() -> None:
    mock = client()
    page = {**VAI, "Origin": ORIGIN, "Cookie": "memmock_ns=from-a-page"}
    written = mock.post(MEMORIES, json={"content": "from a page"}, headers=page)
    assert written.status_code == 201
    assert written.headers["access-control-allow-origin"] == ORIGIN
    assert written.headers["access-control-allow-credentials"] == "true"
    exposed = {name.strip().lower() for name in written.headers["access-control-expose-headers"].split(",")}
    assert {"preference-applied", "retry-after", "www-authenticate", "allow"} <= exposed

    def contents(headers: dict[str, str]) -> set[str]:
        return {m["content"] for m in mock.get(MEMORIES, params={"limit": 100}, headers=headers).json()["memories"]}

    assert "from a page" in contents(page)
    assert "from a page" not in contents({**VAI, "Origin": ORIGIN})
