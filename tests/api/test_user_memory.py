"""ai-mentor: profile memory, custom instruction, downloads and edX memory through HTTP."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from tests.api.conftest import FINISHED_TASK, JANE, JOHN, ibl, mentor


# --- ai-user-profile-memory ---------------------------------------------------------------------


def test_profile_memory_list_is_a_bare_array(client: TestClient) -> None:
    r = client.get(mentor("ai-user-profile-memory/"), headers=ibl(JOHN))
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body, list) and len(body) == 3
    assert {"tag": "favorite-animal", "detail": "my favorite animal is cat"} in body


def test_profile_memory_post_upserts_by_tag_and_answers_200(client: TestClient) -> None:
    path = mentor("ai-user-profile-memory/")
    r = client.post(path, headers=ibl(JOHN), json={"tag": "favorite-animal", "detail": "dogs now"})
    assert r.status_code == 200 and r.json() == {"tag": "favorite-animal", "detail": "dogs now"}
    listed = client.get(path, headers=ibl(JOHN)).json()
    assert len(listed) == 3 and {"tag": "favorite-animal", "detail": "dogs now"} in listed
    r = client.post(path, headers=ibl(JOHN), json={"tag": "new-tag", "detail": "fresh"})
    assert r.status_code == 200
    assert len(client.get(path, headers=ibl(JOHN)).json()) == 4


def test_profile_memory_delete_then_404(client: TestClient) -> None:
    path = mentor("ai-user-profile-memory/favorite-animal/")
    assert client.delete(path, headers=ibl(JOHN)).status_code == 204
    tags = [m["tag"] for m in client.get(mentor("ai-user-profile-memory/"), headers=ibl(JOHN)).json()]
    assert "favorite-animal" not in tags
    r = client.delete(path, headers=ibl(JOHN))
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}


def test_profile_memory_missing_fields_400(client: TestClient) -> None:
    r = client.post(mentor("ai-user-profile-memory/"), headers=ibl(JOHN), json={})
    assert r.status_code == 400
    assert r.json() == {"detail": ["This field is required."], "tag": ["This field is required."]}


# --- custom-instruction -------------------------------------------------------------------------


def test_custom_instruction_get_has_seed_and_client_fields(client: TestClient) -> None:
    body = client.get(mentor("custom-instruction/"), headers=ibl(JOHN)).json()
    assert set(body) >= {"id", "username", "platform_key", "content", "created_at", "updated_at",
                         "about_user", "mentor_tone", "profession", "desired_mentor_traits"}
    assert body["id"] == 1 and body["profession"] == "Engineer" and body["username"] == "johndoe"


def test_custom_instruction_put_moves_updated_at_only(client: TestClient, clock) -> None:
    before = client.get(mentor("custom-instruction/"), headers=ibl(JOHN)).json()
    clock.set(clock.now() + timedelta(hours=3))
    r = client.put(mentor("custom-instruction/"), headers=ibl(JOHN), json={"mentor_tone": "formal"})
    assert r.status_code == 200
    after = r.json()
    assert after["mentor_tone"] == "formal"
    assert after["updated_at"] == "2024-07-01T15:00:00Z" and after["updated_at"] > before["updated_at"]
    assert after["created_at"] == before["created_at"] and after["id"] == before["id"]
    assert after["content"] == before["content"]
    assert client.get(mentor("custom-instruction/"), headers=ibl(JOHN)).json() == after


def test_custom_instruction_create_then_twice_400(client: TestClient) -> None:
    path = mentor("custom-instruction/", user="alice")
    assert client.get(path, headers=ibl()).status_code == 404
    assert client.put(path, headers=ibl(), json={"content": "x"}).status_code == 404
    r = client.post(path, headers=ibl(), json={"content": "Be brief.", "profession": "Student"})
    assert r.status_code == 201
    body = r.json()
    assert body["content"] == "Be brief." and body["username"] == "alice" and body["platform_key"] == "main"
    assert body["created_at"] == body["updated_at"] == "2024-07-01T12:00:00Z"
    assert client.get(path, headers=ibl()).json() == body
    again = client.post(path, headers=ibl(), json={"content": "again"})
    assert again.status_code == 400
    assert list(again.json()) == ["non_field_errors"] and again.json()["non_field_errors"][0]


def test_custom_instruction_profession_too_long_400(client: TestClient) -> None:
    r = client.put(mentor("custom-instruction/"), headers=ibl(JOHN), json={"profession": "x" * 101})
    assert r.status_code == 400
    assert r.json() == {"profession": ["Ensure this field has no more than 100 characters."]}


# --- downloads ----------------------------------------------------------------------------------


def test_downloads_unknown_task_is_not_ready(client: TestClient) -> None:
    r = client.get(mentor("downloads/tasks/0d7f0f52-1111-4444-8888-000000000000/"), headers=ibl(JOHN))
    assert r.status_code == 200 and r.json() == {"state": "task_not_ready"}


def test_downloads_finished_task_answers_its_item(client: TestClient) -> None:
    r = client.get(mentor(f"downloads/tasks/{FINISHED_TASK}/?to_csv=false"), headers=ibl(JOHN))
    assert r.status_code == 200
    assert r.json() == {"type": "ai", "content": "Here is your chat history export.",
                        "timestamp": "2024-06-21T12:00:00Z"}


def test_downloads_bad_to_csv_400(client: TestClient) -> None:
    r = client.get(mentor(f"downloads/tasks/{FINISHED_TASK}/?to_csv=perhaps"), headers=ibl(JOHN))
    assert r.status_code == 400 and r.json() == {"to_csv": ["Must be a valid boolean."]}


def test_downloads_finished_task_of_another_user_is_not_ready(client: TestClient) -> None:
    r = client.get(mentor(f"downloads/tasks/{FINISHED_TASK}/", user="janedoe"), headers=ibl(JANE))
    assert r.status_code == 200 and r.json() == {"state": "task_not_ready"}


# --- edx-memory ---------------------------------------------------------------------------------


def test_edx_memory_list_get_delete(client: TestClient) -> None:
    listed = client.get(mentor("edx-memory/"), headers=ibl(JOHN)).json()
    assert listed["count"] == 3 and listed["next"] is None and listed["previous"] is None
    assert all(m["username"] == "johndoe" for m in listed["results"])
    first = listed["results"][0]
    one = client.get(mentor(f"edx-memory/{first['id']}/"), headers=ibl(JOHN))
    assert one.status_code == 200 and one.json() == first
    assert client.delete(mentor(f"edx-memory/{first['id']}/"), headers=ibl(JOHN)).status_code == 204
    assert client.get(mentor(f"edx-memory/{first['id']}/"), headers=ibl(JOHN)).status_code == 404
    assert client.get(mentor("edx-memory/"), headers=ibl(JOHN)).json()["count"] == 2
    assert client.delete(mentor(f"edx-memory/{first['id']}/"), headers=ibl(JOHN)).status_code == 404


def test_edx_memory_default_order_is_newest_modified_first(client: TestClient) -> None:
    results = client.get(mentor("edx-memory/"), headers=ibl(JOHN)).json()["results"]
    keys = [(r["last_modified"], -r["id"]) for r in results]
    assert keys == sorted(keys, reverse=True)


def test_edx_memory_foreign_id_404(client: TestClient, store) -> None:
    johns = [m["id"] for m in client.get(mentor("edx-memory/"), headers=ibl(JOHN)).json()["results"]]
    r = client.get(mentor(f"edx-memory/{johns[0]}/", user="janedoe"), headers=ibl(JANE))
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    assert client.delete(mentor(f"edx-memory/{johns[0]}/", user="janedoe"), headers=ibl()).status_code == 404
    assert client.get(mentor(f"edx-memory/{johns[0]}/"), headers=ibl(JOHN)).status_code == 200


def test_edx_memory_filters(client: TestClient) -> None:
    listed = client.get(mentor("edx-memory/"), headers=ibl(JOHN)).json()["results"]
    course = listed[0]["course_id"]
    r = client.get(mentor("edx-memory/"), headers=ibl(JOHN), params={"course_id": course}).json()
    assert r["count"] == sum(1 for m in listed if m["course_id"] == course) and r["count"] >= 1
    assert client.get(mentor("edx-memory/?student=abc"), headers=ibl(JOHN)).json() == {
        "student": ["A valid integer is required."]}
