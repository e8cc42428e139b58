"""ai-mentor: artifacts and their versions through HTTP."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from tests.api.conftest import JANE, JOHN, ibl, mentor


def test_artifact_lifecycle(client: TestClient, clock) -> None:
    r = client.post(mentor("artifacts/"), headers=ibl(JOHN),
                    json={"title": "Notes", "content": "first draft", "metadata": {"k": 1},
                          "file_extension": "txt", "llm_name": "gpt-4o", "llm_provider": "openai"})
    assert r.status_code == 201
    created = r.json()
    aid = created["id"]
    assert aid == 17  # ids increase per resource past the fixtures' 16
    assert created["title"] == "Notes" and created["content"] == "first draft"
    assert created["metadata"] == {"k": 1} and created["file_extension"] == "txt"
    assert created["date_created"] == created["date_updated"] == "2024-07-01T12:00:00Z"
    assert created["username"] == "johndoe"

    listed = client.get(mentor("artifacts/"), headers=ibl(JOHN)).json()
    assert listed["count"] == 14 and listed["results"][0]["id"] == aid  # newest date_updated first
    assert client.get(mentor(f"artifacts/{aid}/"), headers=ibl(JOHN)).json() == created

    clock.advance(timedelta(minutes=5))
    put = client.put(mentor(f"artifacts/{aid}/"), headers=ibl(JOHN), json={"title": "Notes v2", "metadata": None})
    assert put.status_code == 200
    assert put.json()["title"] == "Notes v2" and put.json()["metadata"] is None
    assert put.json()["date_updated"] == "2024-07-01T12:05:00Z"
    assert put.json()["date_created"] == "2024-07-01T12:00:00Z"
    assert put.json()["content"] == "first draft"  # PUT writes title and metadata only

    clock.advance(timedelta(minutes=5))
    patch = client.patch(mentor(f"artifacts/{aid}/"), headers=ibl(JOHN), json={"metadata": {"k": 2}})
    assert patch.status_code == 200
    assert patch.json()["title"] == "Notes v2" and patch.json()["metadata"] == {"k": 2}
    assert patch.json()["date_updated"] == "2024-07-01T12:10:00Z"
    assert client.get(mentor(f"artifacts/{aid}/"), headers=ibl(JOHN)).json() == patch.json()

    assert client.delete(mentor(f"artifacts/{aid}/"), headers=ibl(JOHN)).status_code == 204
    gone = client.get(mentor(f"artifacts/{aid}/"), headers=ibl(JOHN))
    assert gone.status_code == 404 and gone.json() == {"detail": "Not found."}
    assert client.delete(mentor(f"artifacts/{aid}/"), headers=ibl(JOHN)).status_code == 404
    assert client.get(mentor("artifacts/"), headers=ibl(JOHN)).json()["count"] == 13


def test_update_moves_artifact_to_the_top_of_the_default_order(client: TestClient) -> None:
    assert client.get(mentor("artifacts/"), headers=ibl(JOHN)).json()["results"][0]["id"] == 13
    client.patch(mentor("artifacts/1/"), headers=ibl(JOHN), json={"title": "Touched"})
    assert client.get(mentor("artifacts/"), headers=ibl(JOHN)).json()["results"][0]["id"] == 1


def test_artifact_create_requires_title(client: TestClient) -> None:
    r = client.post(mentor("artifacts/"), headers=ibl(JOHN), json={"content": "x"})
    assert r.status_code == 400 and r.json() == {"title": ["This field is required."]}
    r = client.put(mentor("artifacts/1/"), headers=ibl(JOHN), json={})
    assert r.status_code == 400 and r.json() == {"title": ["This field is required."]}


def test_artifact_several_bad_fields_at_once(client: TestClient) -> None:
    r = client.post(mentor("artifacts/"), headers=ibl(JOHN),
                    json={"title": "x" * 256, "content": 3, "file_extension": ["md"]})
    assert r.status_code == 400
    assert r.json() == {
        "content": ["Not a valid string."],
        "file_extension": ["Not a valid string."],
        "title": ["Ensure this field has no more than 255 characters."],
    }


def test_another_users_artifact_is_not_found(client: TestClient) -> None:
    # Artifact 14 is janedoe's: absent from johndoe's path, even for the admin.
    for headers in (ibl(JOHN), ibl()):
        r = client.get(mentor("artifacts/14/"), headers=headers)
        assert r.status_code == 404 and r.json() == {"detail": "Not found."}
        assert client.patch(mentor("artifacts/14/"), headers=headers, json={"title": "x"}).status_code == 404
        assert client.delete(mentor("artifacts/14/"), headers=headers).status_code == 404
        assert client.get(mentor("artifacts/14/versions/"), headers=headers).status_code == 404
    assert client.get(mentor("artifacts/14/", user="janedoe"), headers=ibl(JANE)).status_code == 200


def test_versions_list_and_retrieve(client: TestClient) -> None:
    r = client.get(mentor("artifacts/3/versions/"), headers=ibl(JOHN))
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 3 and body["next"] is None
    assert [v["version_number"] for v in body["results"]] == [3, 2, 1]
    assert all(v["artifact"]["id"] == 3 for v in body["results"])
    one = client.get(mentor("artifacts/3/versions/5/"), headers=ibl(JOHN))
    assert one.status_code == 200 and one.json()["id"] == 5 and one.json()["version_number"] == 2
    # Version 1 belongs to artifact 1, not 3.
    assert client.get(mentor("artifacts/3/versions/1/"), headers=ibl(JOHN)).status_code == 404


def test_set_current_version_changes_content(client: TestClient, clock) -> None:
    before = client.get(mentor("artifacts/3/"), headers=ibl(JOHN)).json()
    v4 = client.get(mentor("artifacts/3/versions/4/"), headers=ibl(JOHN)).json()
    assert v4["is_current"] is False
    clock.advance(timedelta(hours=1))
    r = client.post(mentor("artifacts/3/versions/set-current/"), headers=ibl(JOHN), json={"version_id": 4})
    assert r.status_code == 200
    assert r.json()["id"] == 4 and r.json()["is_current"] is True
    after = client.get(mentor("artifacts/3/"), headers=ibl(JOHN)).json()
    assert after["content"] == v4["content"] != before["content"]
    assert after["date_updated"] == "2024-07-01T13:00:00Z"
    assert client.get(mentor("artifacts/3/versions/6/"), headers=ibl(JOHN)).json()["is_current"] is False


def test_set_current_with_a_foreign_version_400(client: TestClient) -> None:
    r = client.post(mentor("artifacts/3/versions/set-current/"), headers=ibl(JOHN), json={"version_id": 1})
    assert r.status_code == 400 and list(r.json()) == ["version_id"]
    r = client.post(mentor("artifacts/3/versions/set-current/"), headers=ibl(JOHN), json={})
    assert r.status_code == 400 and r.json() == {"version_id": ["This field is required."]}
    r = client.post(mentor("artifacts/3/versions/set-current/"), headers=ibl(JOHN), json={"version_id": "x"})
    assert r.status_code == 400 and r.json() == {"version_id": ["A valid integer is required."]}


def test_list_filters(client: TestClient) -> None:
    r = client.get(mentor("artifacts/"), headers=ibl(JOHN), params={"file_extension": "py", "page_size": 100}).json()
    assert r["count"] >= 1 and all(a["file_extension"] == "py" for a in r["results"])
    bad = client.get(mentor("artifacts/"), headers=ibl(JOHN), params={"session_id": "nope", "mentor_id": "x"})
    assert bad.status_code == 400
    assert bad.json() == {"mentor_id": ["Must be a valid UUID."], "session_id": ["Must be a valid UUID."]}
