"""``--auth open``: any well-formed credential works, as an org admin (ibl) or a fixed dev org (VirtuousAI)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import analytics, mentor

OPEN = {"Authorization": "Api-Token whatever"}


def test_any_api_token_is_an_admin_of_the_path_org(open_client: TestClient) -> None:
    r = open_client.get(analytics("chat-history/", user="johndoe"), headers=OPEN)
    assert r.status_code == 200 and r.json()["count"] == 42
    r = open_client.get(mentor("artifacts/", user="johndoe"), headers=OPEN)
    assert r.status_code == 200 and r.json()["count"] == 13
    r = open_client.get(mentor("artifacts/", user="wile", org="acme"), headers={"Authorization": "Api-Token x"})
    assert r.status_code == 200
    r = open_client.get(analytics("chat-history/", user="wile", org="acme"), headers=OPEN)
    assert r.json()["count"] == 2


def test_open_mode_still_needs_a_credential_of_the_right_form(open_client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer x"}, {"Authorization": "Api-Token "}):
        r = open_client.get(mentor("artifacts/"), headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": "Authentication credentials were not provided."}
    assert open_client.get("/api/v1/memory").json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize("headers", [{"Authorization": "Bearer anything"}, {"X-API-Key": "anything"},
                                     {"Cookie": "vai_token=anything"}])
def test_any_vai_credential_works(open_client: TestClient, headers: dict) -> None:
    r = open_client.post("/api/v1/memory", headers=headers, json={"content": "open"})
    assert r.status_code == 201
    org = r.json()["organizationId"]
    listed = open_client.get("/api/v1/memory", headers={"X-API-Key": "other"}).json()
    assert listed["total"] == 1 and listed["memories"][0]["organizationId"] == org


def test_tokens_mode_rejects_what_open_mode_accepts(client: TestClient) -> None:
    assert client.get(mentor("artifacts/"), headers=OPEN).status_code == 401
    assert client.get("/api/v1/memory", headers={"X-API-Key": "anything"}).status_code == 401
