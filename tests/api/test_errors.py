"""Error paths in each API's own house style: 401, 403, 404, 405, 413, 415, 400/422."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import (ACME, ADMIN, FINISHED_TASK, JANE, JOHN, VAI_DEV, analytics, fill, ibl, mentor, prompt,
                                spec_operations, vai)

# Every operation, on paths of user johndoe of org main (a chat-history id 1 is simply not found).
IBL_OPERATIONS = [(method, fill(template, {"org": "main", "user_id": "johndoe", "memory_id": "1", "id": "1",
                                           "tag": "favorite-animal", "version_id": "1", "task_id": FINISHED_TASK}))
                  for method, template in spec_operations("ibl")]
VAI_OPERATIONS = [(method, fill(template, {"memory_id": "1b86c637-be06-4f2b-9156-27fe0802dd94"}))
                  for method, template in spec_operations("virtuousai")]
MISSING = {"detail": "Authentication credentials were not provided."}
FORBIDDEN = {"detail": "You do not have permission to perform this action."}


def test_the_table_covers_every_ibl_operation() -> None:
    assert len(IBL_OPERATIONS) == len(set(IBL_OPERATIONS)) == 35


@pytest.mark.parametrize(("method", "path"), IBL_OPERATIONS)
def test_ibl_401_and_403_on_every_operation(client: TestClient, method: str, path: str) -> None:
    # Security answers before the body is read, so no body is needed.
    for headers, expected in (({}, MISSING), ({"Authorization": "Bearer x"}, MISSING),
                              ({"Authorization": "Api-Token"}, MISSING),
                              ({"Authorization": "Api-Token nope"}, {"detail": "Invalid token."})):
        r = client.request(method, path, headers=headers)
        assert r.status_code == 401 and r.json() == expected, (headers, r.text)
    # A known key outside its reach: another org's admin, and another user of the same org.
    for token in (ACME, JANE):
        r = client.request(method, path, headers=ibl(token))
        assert r.status_code == 403 and r.json() == FORBIDDEN
    # The right key gets past authentication and reach.
    assert client.request(method, path, headers=ibl(ADMIN)).status_code not in (401, 403)


@pytest.mark.parametrize(("method", "path"), VAI_OPERATIONS)
def test_vai_401_on_every_operation(client: TestClient, method: str, path: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    for headers in ({"Authorization": "Bearer nope"}, {"X-API-Key": "nope"}, {"Cookie": "vai_token=nope"}):
        r = client.request(method, path, headers=headers)
        assert r.status_code == 401 and r.json() == {"detail": "Invalid authentication credentials"}, headers


@pytest.mark.parametrize("headers", [{"Authorization": f"Bearer {VAI_DEV}"}, {"X-API-Key": VAI_DEV},
                                     {"Cookie": f"vai_token={VAI_DEV}"}])
def test_vai_each_carrier_works(client: TestClient, headers: dict) -> None:
    r = client.get("/api/v1/memory", headers=headers)
    assert r.status_code == 200 and r.json()["total"] == 30


def test_ibl_prefix_is_case_insensitive_but_required(client: TestClient) -> None:
    assert client.get(mentor("artifacts/"), headers={"Authorization": f"api-token {JOHN}"}).status_code == 200
    assert client.get(mentor("artifacts/"), headers={"Authorization": JOHN}).json() == MISSING


def test_user_token_on_another_users_path_403(client: TestClient) -> None:
    r = client.get(mentor("artifacts/", user="janedoe"), headers=ibl(JOHN))
    assert r.status_code == 403 and r.json() == FORBIDDEN


def test_admin_of_acme_on_main_403_but_on_acme_200(client: TestClient) -> None:
    assert client.get(mentor("artifacts/"), headers=ibl(ACME)).json() == FORBIDDEN
    r = client.get(mentor("artifacts/", user="acme-admin", org="acme"), headers=ibl(ACME))
    assert r.status_code == 200 and r.json()["count"] == 1


def test_ibl_malformed_json_400(client: TestClient) -> None:
    r = client.post(mentor("artifacts/"), headers={**ibl(JOHN), "Content-Type": "application/json"},
                    content=b'{"title": ')
    assert r.status_code == 400
    assert r.json()["detail"].startswith("JSON parse error - ") and list(r.json()) == ["detail"]


def test_ibl_json_that_is_not_an_object_400(client: TestClient) -> None:
    r = client.post(mentor("artifacts/"), headers=ibl(JOHN), json=[1, 2])
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_vai_malformed_json_422(client: TestClient) -> None:
    r = client.post("/api/v1/memory", headers={**vai(), "Content-Type": "application/json"},
                    content=b'{"content": "x",}')
    assert r.status_code == 422
    (item,) = r.json()["detail"]
    assert item["type"] == "json_invalid" and item["loc"] == ["body", 16]
    assert item["msg"] == "JSON decode error"


def test_vai_missing_body_422(client: TestClient) -> None:
    r = client.post("/api/v1/memory", headers={**vai(), "Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]
    assert r.json()["detail"][0]["type"] == "missing"


def test_405_in_each_style(client: TestClient) -> None:
    r = client.post(prompt("chat-memory-status/"), headers=ibl(JOHN))
    assert r.status_code == 405 and r.json() == {"detail": 'Method "POST" not allowed.'}
    r = client.patch(mentor("custom-instruction/"), headers=ibl(JOHN), json={})
    assert r.status_code == 405 and r.json() == {"detail": 'Method "PATCH" not allowed.'}
    r = client.put("/api/v1/memory", headers=vai(), json={})
    assert r.status_code == 405 and r.json() == {"detail": "Method Not Allowed"}


def test_unknown_paths_404(client: TestClient) -> None:
    r = client.get("/api/ai-mentor/orgs/main/users/johndoe/nothing-here/", headers=ibl(JOHN))
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    r = client.get("/api/v1/nothing", headers=vai())
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}


def test_415_in_each_style(client: TestClient) -> None:
    r = client.put(prompt("chat-memory-status/"), headers={**ibl(JOHN), "Content-Type": "text/plain"},
                   content=b"enabled")
    assert r.status_code == 415 and r.json() == {"detail": 'Unsupported media type "text/plain" in request.'}
    r = client.post(mentor("artifacts/"), headers={**ibl(JOHN), "Content-Type": "application/xml; charset=utf-8"},
                    content=b"<a/>")
    assert r.status_code == 415 and r.json() == {"detail": 'Unsupported media type "application/xml" in request.'}
    r = client.post("/api/v1/memory", headers={**vai(), "Content-Type": "text/plain"}, content=b"hello")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]


def test_413_over_the_body_limit(small_client: TestClient) -> None:
    big = {"title": "x" * 100}
    r = small_client.post(mentor("artifacts/"), headers=ibl(JOHN), json=big)
    assert r.status_code == 413 and r.json() == {"detail": "Request body is larger than the limit of 64 bytes."}
    r = small_client.post("/api/v1/memory", headers=vai(), json={"content": "x" * 100})
    assert r.status_code == 413 and r.json() == {"detail": "Request Entity Too Large"}
    # Under the limit is fine.
    assert small_client.post("/api/v1/memory", headers=vai(), json={"content": "x"}).status_code == 201


def test_413_for_a_streamed_body_without_length(small_client: TestClient) -> None:
    def chunks():
        for _ in range(10):
            yield b'{"content": "' + b"x" * 20

    r = small_client.post("/api/v1/memory", headers={**vai(), "Content-Type": "application/json"}, content=chunks())
    assert r.status_code == 413 and r.json() == {"detail": "Request Entity Too Large"}


def test_several_bad_query_fields_at_once(client: TestClient) -> None:
    r = client.get(mentor("edx-memory/"), headers=ibl(JOHN), params={"student": "x", "page": "2"})
    assert r.status_code == 400 and r.json() == {"student": ["A valid integer is required."]}
    r = client.get("/api/v1/memory", headers=vai(), params={"limit": "0", "offset": "x"})
    assert r.status_code == 422 and sorted(d["loc"][1] for d in r.json()["detail"]) == ["limit", "offset"]


def test_403_wins_over_a_bad_body(client: TestClient) -> None:
    # DRF checks permissions before it parses the body: an outsider learns nothing about validation.
    r = client.post(mentor("artifacts/"), headers=ibl(JANE), json={"title": 5})
    assert r.status_code == 403 and r.json() == FORBIDDEN
    r = client.post(analytics("chat-history/", user="johndoe"), headers=ibl(JOHN), json={})
    assert r.status_code == 403 and r.json() == FORBIDDEN
    r = client.put(prompt("chat-memory-status/"), headers=ibl(ACME), content=b"{bad")
    assert r.status_code == 403


def test_a_path_with_a_control_character_is_not_found_without_redirects(client):
    """'x%0A/' and 'x%0A' used to redirect to each other for ever (Starlette's regexes and a newline)."""
    for path, detail in (("/api/ai-analytics/orgs/main/users/main/chat-history/0%0A/", "Not found."),
                         ("/api/ai-analytics/orgs/main/users/main/chat-history/0%0A", "Not found."),
                         ("/api/v1/memory/a%00b", "Not Found")):
        r = client.get(path, headers={"Authorization": "Api-Token dev-ibl-admin-main-0001"}, follow_redirects=False)
        assert (r.status_code, r.json()) == (404, {"detail": detail}), path


def test_a_json_null_body_is_not_a_missing_body(client):
    """DRF: 400 non_field_errors "No data provided"; FastAPI: 422 missing at ["body"]."""
    r = client.post("/api/ai-prompt/orgs/main/users/johndoe/all-chats-memory/", content=b"null",
                    headers={"Authorization": "Api-Token dev-ibl-user-johndoe-0001", "Content-Type": "application/json"})
    assert (r.status_code, r.json()) == (400, {"non_field_errors": ["No data provided"]})
    r = client.post("/api/v1/memory", content=b"null",
                    headers={"Authorization": "Bearer dev-vai-virtuous-dev-0001", "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "missing" and r.json()["detail"][0]["loc"] == ["body"]
    # An absent body is read as an empty form by DRF: the required fields say so.
    r = client.post("/api/ai-prompt/orgs/main/users/johndoe/all-chats-memory/",
                    headers={"Authorization": "Api-Token dev-ibl-user-johndoe-0001"})
    assert (r.status_code, r.json()) == (400, {"username": ["This field is required."],
                                               "platform_key": ["This field is required."]})
