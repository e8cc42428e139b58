"""Form content types on write operations, with DRF's form boolean rules."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import JOHN, MENTOR_A, analytics, ibl, mentor, prompt

STATUS = prompt("chat-memory-status/")
TRUE_WORDS = ["true", "True", "1", "on"]
FALSE_WORDS = ["false", "False", "0", "off"]


@pytest.mark.parametrize(("word", "expected"), [(w, True) for w in TRUE_WORDS] + [(w, False) for w in FALSE_WORDS])
def test_status_urlencoded_booleans(client: TestClient, word: str, expected: bool) -> None:
    # Start from the opposite value so the PUT has to change it.
    client.put(STATUS, headers=ibl(JOHN), json={"enabled": not expected})
    r = client.put(STATUS, headers=ibl(JOHN), data={"enabled": word})
    assert r.status_code == 200 and r.json()["enabled"] is expected
    assert client.get(STATUS, headers=ibl(JOHN)).json()["enabled"] is expected


@pytest.mark.parametrize(("word", "expected"), [("on", True), ("False", False), ("1", True), ("off", False)])
def test_status_multipart_booleans(client: TestClient, word: str, expected: bool) -> None:
    client.put(STATUS, headers=ibl(JOHN), json={"enabled": not expected})
    r = client.put(STATUS, headers=ibl(JOHN), files={"enabled": (None, word)})
    assert r.request.headers["content-type"].startswith("multipart/form-data")
    assert r.status_code == 200 and r.json()["enabled"] is expected


def test_status_form_errors(client: TestClient) -> None:
    r = client.put(STATUS, headers=ibl(JOHN), data={"enabled": "maybe"})
    assert r.status_code == 400 and r.json() == {"enabled": ["Must be a valid boolean."]}
    r = client.put(STATUS, headers={**ibl(JOHN), "Content-Type": "application/x-www-form-urlencoded"}, content=b"")
    assert r.status_code == 400 and r.json() == {"enabled": ["This field is required."]}


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_custom_instruction_put_with_a_form(client: TestClient, clock, kind: str) -> None:
    clock.advance(timedelta(minutes=1))
    fields = {"mentor_tone": "formal", "profession": "Chef"}
    if kind == "urlencoded":
        r = client.put(mentor("custom-instruction/"), headers=ibl(JOHN), data=fields)
    else:
        r = client.put(mentor("custom-instruction/"), headers=ibl(JOHN),
                       files={k: (None, v) for k, v in fields.items()})
    assert r.status_code == 200
    assert r.json()["mentor_tone"] == "formal" and r.json()["profession"] == "Chef"
    assert r.json()["updated_at"] == "2024-07-01T12:01:00Z"
    assert client.get(mentor("custom-instruction/"), headers=ibl(JOHN)).json()["profession"] == "Chef"


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_chat_history_post_with_a_form(client: TestClient, kind: str) -> None:
    fields = {"topics": json.dumps([{"name": "algebra"}]), "mentor": MENTOR_A, "model": "gpt-4o",
              "platform": "main", "is_shared": "on", "has_document": "False"}
    path = analytics("chat-history/", user="janedoe")
    if kind == "urlencoded":
        r = client.post(path, headers=ibl(), data=fields)
    else:
        r = client.post(path, headers=ibl(), files={k: (None, v) for k, v in fields.items()})
    assert r.status_code == 201, r.text
    conv = r.json()
    assert conv["student"] == "janedoe" and conv["mentor"] == MENTOR_A and conv["model"] == "gpt-4o"
    assert conv["topics"] == [{"name": "algebra"}]
    assert conv["is_shared"] is True and conv["has_document"] is False
    assert client.get(analytics(f"chat-history/{conv['id']}/"), headers=ibl()).json() == conv


def test_chat_history_form_missing_fields(client: TestClient) -> None:
    r = client.post(analytics("chat-history/"), headers=ibl(), data={"model": "x", "is_shared": "perhaps"})
    assert r.status_code == 400
    assert r.json() == {"is_shared": ["Must be a valid boolean."], "mentor": ["This field is required."],
                        "platform": ["This field is required."], "topics": ["This field is required."]}


def test_profile_memory_and_artifact_with_forms(client: TestClient) -> None:
    r = client.post(mentor("ai-user-profile-memory/"), headers=ibl(JOHN), data={"tag": "t", "detail": "d"})
    assert r.status_code == 200 and r.json() == {"tag": "t", "detail": "d"}
    r = client.post(mentor("artifacts/"), headers=ibl(JOHN), files={"title": (None, "Formed"), "content": (None, "c")})
    assert r.status_code == 201 and r.json()["title"] == "Formed" and r.json()["content"] == "c"
    r = client.post(mentor("artifacts/3/versions/set-current/"), headers=ibl(JOHN), data={"version_id": "4"})
    assert r.status_code == 200 and r.json()["id"] == 4
