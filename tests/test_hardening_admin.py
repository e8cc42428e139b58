"""The admin plane is out of reach of web pages, and beyond loopback of anyone without its token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.cli import banner, main, startup_warnings
from mock_server.clock import FixedClock
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store
from tests.api.conftest import JOHN, NOW, ibl, mentor, vai

ORIGIN = "http://evil.example"
JSON = {"Content-Type": "application/json"}


def make(settings: Settings, base_url: str = "http://127.0.0.1:8000") -> TestClient:
    """A client of a mock with the default fixtures, addressing it as ``base_url``."""
    store = Store.from_file(DEFAULT_FIXTURES, clock=FixedClock(NOW))
    return TestClient(create_app(settings, store=store), base_url=base_url)


@pytest.fixture
def client() -> Iterator[TestClient]:
    """A loopback mock reached as 127.0.0.1."""
    with make(Settings(strict=True, fixtures=None)) as test_client:
        yield test_client


# --- no CORS ---------------------------------------------------------------------------------

def test_admin_answers_carry_no_cors_headers(client: TestClient) -> None:
    for r in (client.get("/_mock/state", headers={"Origin": ORIGIN}),
              client.post("/_mock/reset", headers={"Origin": ORIGIN, **JSON}),
              client.get("/_mock/health", headers={"Origin": ORIGIN})):
        assert r.status_code in (200, 204)
        assert not [h for h in r.headers if h.lower().startswith("access-control-")]


def test_admin_preflight_is_not_granted(client: TestClient) -> None:
    r = client.options("/_mock/state", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "PUT",
                                               "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 405 and "access-control-allow-origin" not in r.headers


def test_the_apis_keep_their_cors(client: TestClient) -> None:
    r = client.get("/api/v1/memory", headers={**vai(), "Origin": ORIGIN})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true"


# --- a state change needs a JSON Content-Type (no CORS-simple request reaches it) -------------

@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_state_changing_admin_calls_need_json(client: TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    client.delete(mentor("artifacts/1/"), headers=ibl(JOHN))
    r = client.post("/_mock/reset", headers=headers)
    expected = (content_type or "").split(";")[0]
    assert r.status_code == 415 and r.json() == {"detail": f'Unsupported media type "{expected}" in request.'}
    assert client.put("/_mock/state", headers=headers, content=b"{}").status_code == 415
    assert client.get(mentor("artifacts/1/"), headers=ibl(JOHN)).status_code == 404  # not reset


def test_reads_need_no_content_type_and_json_writes_work(client: TestClient) -> None:
    assert client.get("/_mock/state").status_code == 200
    assert client.post("/_mock/reset", headers={"Content-Type": "application/json; charset=utf-8"}).status_code == 204


# --- loopback bind: loopback Host only (DNS rebinding) ----------------------------------------

@pytest.mark.parametrize("base_url", ["http://evil.example", "http://evil.example:8000", "http://127.0.0.1.evil.example",
                                      "http://192.168.1.20:8000", "http://localhost.evil.example"])
def test_a_foreign_host_is_refused(base_url: str) -> None:
    with make(Settings(strict=True, fixtures=None), base_url) as c:
        r = c.get("/_mock/state")
        assert r.status_code == 403 and "Host" in r.json()["detail"]
        assert c.post("/_mock/reset", headers=JSON).status_code == 403
        assert c.get("/_mock/docs/").status_code == 403
        assert c.get("/api/v1/memory", headers=vai()).status_code == 200  # the APIs are not the admin plane


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8000", "http://127.8.9.1", "http://localhost:8000",
                                      "http://LOCALHOST", "http://[::1]:8000", "http://app.localhost:8000"])
def test_loopback_hosts_are_answered(base_url: str) -> None:
    with make(Settings(strict=True, fixtures=None), base_url) as c:
        assert c.get("/_mock/health").status_code == 200


def test_configured_names_are_answered_too() -> None:
    settings = Settings(strict=True, fixtures=None, admin_hosts=("mock.test",))
    with make(settings, "http://mock.test:8000") as c:
        assert c.get("/_mock/health").status_code == 200
    with make(settings, "http://other.test:8000") as c:
        assert c.get("/_mock/health").status_code == 403


# --- the admin token ----------------------------------------------------------------------

def test_with_a_token_every_admin_request_needs_it() -> None:
    with make(Settings(strict=True, fixtures=None, admin_token="s3cret")) as c:
        for path in ("/_mock/health", "/_mock/state", "/_mock/docs/"):
            r = c.get(path)
            assert r.status_code == 401 and r.json() == {"detail": "Authentication credentials were not provided."}
            assert r.headers["www-authenticate"].startswith("Bearer")
            wrong = c.get(path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid token."}
            assert c.get(path, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.post("/_mock/reset", headers={"Authorization": "Bearer s3cret", **JSON}).status_code == 204
        assert c.post("/_mock/reset", headers=JSON).status_code == 401
        assert c.get("/api/v1/memory", headers=vai()).status_code == 200


def test_a_non_loopback_bind_without_a_token_refuses_to_start(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    import mock_server.listen

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the mock got as far as listening")  # and a test must listen on loopback only

    monkeypatch.setattr(mock_server.listen, "listen", never)
    monkeypatch.setattr(uvicorn.Server, "run", never)
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.com"):
        with pytest.raises(SystemExit) as info:
            main(["serve", "--host", host, "--no-fixtures"])
        assert info.value.code == 2
        assert "--admin-token" in capsys.readouterr().err
        with pytest.raises(ValueError, match="MEMMOCK_ADMIN_TOKEN"):
            Settings(host=host)


def test_a_non_loopback_bind_with_a_token_needs_it_on_any_host() -> None:
    settings = Settings(strict=True, fixtures=None, host="0.0.0.0", admin_token="s3cret")
    with make(settings, "http://mock.example.com:8000") as c:
        assert c.get("/_mock/health").status_code == 401
        assert c.get("/_mock/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_the_banner_says_how_the_admin_plane_is_locked() -> None:
    store = Store()
    loopback = banner(Settings(fixtures=None), 8000, store)
    assert "/_mock" in loopback and "loopback Host" in loopback
    exposed = banner(Settings(fixtures=None, host="0.0.0.0", admin_token="s3cret"), 8000, store)
    assert "Authorization: Bearer" in exposed and "s3cret" not in exposed


def test_open_auth_beyond_loopback_warns() -> None:
    assert startup_warnings(Settings(fixtures=None, auth="open")) == []
    assert startup_warnings(Settings(fixtures=None, host="0.0.0.0", admin_token="t")) == []
    (warning,) = startup_warnings(Settings(fixtures=None, host="0.0.0.0", admin_token="t", auth="open"))
    assert "--auth open" in warning and "0.0.0.0" in warning
