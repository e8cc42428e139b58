"""CORS: browsers get the headers they need, with or without credentials; every response says it varies by Origin.

With credentials a browser takes ``*`` literally, so the mock answers the request's own origin
(never ``*``), grants the headers a preflight asks for, and names the headers it exposes.
"""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.api.conftest import JOHN, VAI_DEV, ibl, prompt, vai

ORIGIN = "http://localhost:5173"


def test_request_without_origin_gets_vary_and_no_cors_headers(client: TestClient) -> None:
    r = client.get(prompt("chat-memory-status/"), headers=ibl(JOHN))
    assert r.status_code == 200
    assert r.headers.get_list("vary") == ["Origin"]
    assert "access-control-allow-origin" not in r.headers


def test_request_with_origin_gets_allow_origin_and_expose(client: TestClient) -> None:
    r = client.get("/api/v1/memory", headers={**vai(VAI_DEV), "Origin": ORIGIN})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"
    exposed = [name.strip() for name in r.headers["access-control-expose-headers"].split(",")]
    assert exposed == ["*", "Allow", "Preference-Applied", "Retry-After", "WWW-Authenticate"]
    assert r.headers["vary"] == "Origin"


def test_error_responses_carry_cors_headers_too(client: TestClient) -> None:
    without = client.get("/api/v1/memory")
    with_origin = client.get("/api/v1/memory", headers={"Origin": ORIGIN})
    assert without.status_code == with_origin.status_code == 401
    assert without.headers["vary"] == "Origin" and "access-control-allow-origin" not in without.headers
    assert with_origin.headers["access-control-allow-origin"] == ORIGIN


def test_preflight_is_answered_before_auth(client: TestClient) -> None:
    r = client.options("/api/v1/memory", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "authorization,content-type"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"
    assert set(r.headers["access-control-allow-headers"].lower().split(",")) >= {"authorization", "content-type"}
    assert "POST" in r.headers["access-control-allow-methods"]


def test_a_page_sending_the_namespace_cookie_writes_and_reads_its_namespace(client: TestClient) -> None:
    page = {**vai(VAI_DEV), "Origin": ORIGIN, "Cookie": "memmock_ns=from-a-page"}
    written = client.post("/api/v1/memory", json={"content": "from a page"}, headers=page)
    assert written.status_code == 201
    assert written.headers["access-control-allow-origin"] == ORIGIN

    def contents(headers: dict[str, str]) -> set[str]:
        listed = client.get("/api/v1/memory", params={"limit": 100}, headers=headers).json()["memories"]
        return {memory["content"] for memory in listed}

    assert "from a page" in contents(page)
    assert "from a page" not in contents({**vai(VAI_DEV), "Origin": ORIGIN})
