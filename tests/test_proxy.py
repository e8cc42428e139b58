"""The test proxy forwards everything to a memmock except its ``/_mock`` plane."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from contract_tests.inprocess import InProcessMock, start_mock
from tests.proxy import HidingProxy, start_hiding_proxy

USER = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
MEMORY = "/api/ai-mentor/orgs/main/users/johndoe/ai-user-profile-memory/"
ARTIFACTS = "/api/ai-mentor/orgs/main/users/johndoe/artifacts/"


@pytest.fixture(scope="module")
def mock() -> Iterator[InProcessMock]:
    """A healthy memmock with the default fixtures."""
    server = start_mock()
    yield server
    server.stop()


@pytest.fixture
def proxy(mock: InProcessMock) -> Iterator[HidingProxy]:
    """The proxy in front of it, reset to the fixtures after each test."""
    with start_hiding_proxy(mock.url) as running:
        yield running
    httpx.post(mock.url + "/_mock/reset", headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/_mock", "/_mock/", "/_mock/health", "/_mock/state?x=1"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT"])
def test_mock_plane_is_hidden(proxy: HidingProxy, mock: InProcessMock, method: str, path: str) -> None:
    """Anything under /_mock is a 404 at the proxy, though the mock itself answers it."""
    assert httpx.get(mock.url + "/_mock/health").status_code == 200
    assert httpx.request(method, proxy.url + path, content=b"{}").status_code == 404


def test_request_is_forwarded_whole(proxy: HidingProxy, mock: InProcessMock) -> None:
    """Method, query, headers and body reach the upstream; the reply comes back with its status and links."""
    created = httpx.post(proxy.url + MEMORY, headers=USER, json={"tag": "via-proxy", "detail": "forwarded"})
    assert created.status_code == 200, created.text
    assert "via-proxy" in {m["tag"] for m in httpx.get(mock.url + MEMORY, headers=USER).json()}
    direct = httpx.get(mock.url + ARTIFACTS, headers=USER, params={"page_size": 1}).json()
    proxied = httpx.get(proxy.url + ARTIFACTS, headers=USER, params={"page_size": 1})
    assert proxied.status_code == 200 and proxied.headers["content-type"].startswith("application/json")
    body = proxied.json()
    assert body["count"] == direct["count"] and body["results"] == direct["results"]
    assert body["next"].startswith(proxy.url)  # the Host header went through
    assert httpx.get(proxy.url + ARTIFACTS).status_code == 401  # no header, no auth
    head = httpx.head(proxy.url + MEMORY, headers=USER)
    assert head.status_code == httpx.head(mock.url + MEMORY, headers=USER).status_code and head.content == b""
    assert httpx.delete(proxy.url + MEMORY + "via-proxy/", headers=USER).status_code == 204
    assert "via-proxy" not in {m["tag"] for m in httpx.get(mock.url + MEMORY, headers=USER).json()}

def test_concurrent_requests(proxy: HidingProxy) -> None:
    """Forty requests on eight threads (each its own connection) all succeed."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: httpx.get(proxy.url + MEMORY, headers=USER).status_code, range(40)))
    assert codes == [200] * 40
    with httpx.Client(base_url=proxy.url, headers=USER) as client:  # one keep-alive connection, many requests
        assert {client.get(MEMORY).status_code for _ in range(10)} == {200}
