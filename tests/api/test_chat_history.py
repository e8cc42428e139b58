"""ai-analytics: chat-history (org-wide, admins only) and chat-history-filter through HTTP."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from starlette.testclient import TestClient

from tests.api.conftest import ACME, JOHN, MENTOR_A, MENTOR_B, analytics, conversation_body, ibl

HISTORY = analytics("chat-history/")
ACME_CONVERSATION = "b85c3f20"  # prefix of an acme conversation id in the fixtures


def _all(client: TestClient, **params: object) -> list[dict]:
    r = client.get(HISTORY, headers=ibl(), params={"page_size": 100, **params})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_list_is_org_wide_whatever_the_path_user(client: TestClient) -> None:
    as_admin = client.get(HISTORY, headers=ibl()).json()
    other_path = client.get(analytics("chat-history/", user="johndoe"), headers=ibl()).json()
    assert as_admin["count"] == other_path["count"] == 42
    assert {c["student"] for c in _all(client)} == {"johndoe", "janedoe", "bob", "alice"}


def test_default_order_is_newest_first(client: TestClient) -> None:
    stamps = [c["inserted_at"] for c in _all(client)]
    assert stamps == sorted(stamps, reverse=True) and stamps[0] == "2024-06-21T14:14:00Z"


def test_non_admin_is_forbidden(client: TestClient) -> None:
    for method, path in (("GET", analytics("chat-history/", user="johndoe")),
                         ("GET", analytics("chat-history-filter/", user="johndoe")),
                         ("POST", analytics("chat-history/", user="johndoe"))):
        r = client.request(method, path, headers=ibl(JOHN), json=conversation_body())
        assert r.status_code == 403
        assert r.json() == {"detail": "You do not have permission to perform this action."}


def test_create_belongs_to_the_path_user_with_read_only_fields_computed(client: TestClient, clock) -> None:
    clock.set(datetime(2024, 7, 2, 8, 30, tzinfo=timezone.utc))
    body = conversation_body(student="mallory", email="x@y.z", inserted_at="2000-01-01T00:00:00Z",
                             message_count_human=99, title="Algebra help")
    r = client.post(analytics("chat-history/", user="alice"), headers=ibl(), json=body)
    assert r.status_code == 201
    conv = r.json()
    uuid.UUID(conv["id"])
    assert conv["student"] == "alice" and conv["email"] == "alice@university.example.edu"
    assert conv["lti_email"] == "alice.lti@lms.example.edu" and conv["lti_username"] == "alice_lti"
    assert conv["inserted_at"] == "2024-07-02T08:30:00Z"
    assert conv["message_count_human"] == conv["message_count_ai"] == 0 and conv["messages"] == ""
    assert conv["is_conversation"] is False
    assert conv["topics"] == [{"name": "algebra"}] and conv["mentor"] == MENTOR_A and conv["title"] == "Algebra help"
    assert conv["sentiment"] == "neutral" and conv["rating"] == 0
    listed = client.get(HISTORY, headers=ibl()).json()
    assert listed["count"] == 43 and listed["results"][0] == conv


def test_conversation_lifecycle(client: TestClient) -> None:
    conv = client.post(HISTORY, headers=ibl(), json=conversation_body()).json()
    one = analytics(f"chat-history/{conv['id']}/")
    assert client.get(one, headers=ibl()).json() == conv
    put = client.put(one, headers=ibl(), json=conversation_body(mentor=MENTOR_B, model="gpt-4", topics=[]))
    assert put.status_code == 200
    assert put.json()["mentor"] == MENTOR_B and put.json()["model"] == "gpt-4" and put.json()["topics"] == []
    assert put.json()["inserted_at"] == conv["inserted_at"] and put.json()["id"] == conv["id"]
    patch = client.patch(one, headers=ibl(), json={"is_shared": True})
    assert patch.status_code == 200 and patch.json()["is_shared"] is True and patch.json()["model"] == "gpt-4"
    assert client.get(one, headers=ibl()).json() == patch.json()
    assert client.delete(one, headers=ibl()).status_code == 204
    assert client.get(one, headers=ibl()).json() == {"detail": "Not found."}
    assert client.delete(one, headers=ibl()).status_code == 404
    assert client.get(HISTORY, headers=ibl()).json()["count"] == 42


def test_put_requires_the_writable_required_fields(client: TestClient) -> None:
    cid = _all(client)[0]["id"]
    r = client.put(analytics(f"chat-history/{cid}/"), headers=ibl(), json={"model": "x"})
    assert r.status_code == 400
    assert r.json() == {"mentor": ["This field is required."], "platform": ["This field is required."],
                        "topics": ["This field is required."]}
    r = client.post(HISTORY, headers=ibl(), json={"mentor": "not-a-uuid", "topics": "x", "model": 1, "platform": "p"})
    assert r.status_code == 400 and set(r.json()) == {"mentor", "topics", "model"}


def test_unknown_and_foreign_conversations_404(client: TestClient, store) -> None:
    acme_id = next(c["id"] for c in store.export()["ibl"]["chat_history"] if c["org"] == "acme")
    for cid in (acme_id, str(uuid.uuid4()), "not-a-uuid"):
        r = client.get(analytics(f"chat-history/{cid}/"), headers=ibl())
        assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    # The acme admin sees it on its own org.
    assert client.get(analytics(f"chat-history/{acme_id}/", user="acme-admin", org="acme"),
                      headers=ibl(ACME)).status_code == 200


def test_filters(client: TestClient) -> None:
    everything = _all(client)
    johns = _all(client, filter_user_id="johndoe")
    assert len(johns) == 11 and {c["student"] for c in johns} == {"johndoe"}
    ranged = _all(client, start_date="2024-06-20", end_date="2024-06-21")
    assert len(ranged) == 5 and all("2024-06-20" <= c["inserted_at"][:10] <= "2024-06-21" for c in ranged)
    by_mentor = _all(client, mentor=MENTOR_A)
    assert by_mentor and all(c["mentor"] == MENTOR_A for c in by_mentor)
    assert len(by_mentor) == sum(1 for c in everything if c["mentor"] == MENTOR_A)
    negative = _all(client, sentiment="negative")
    assert len(negative) == sum(1 for c in everything if c["sentiment"] == "negative") > 0
    limits = _all(client, topics="LIMITS")
    assert len(limits) == sum(1 for c in everything if any(t["name"] == "limits" for t in c["topics"])) > 0
    both = _all(client, filter_user_id="janedoe", sentiment="negative", start_date="2024-06-10")
    assert both and all(c["student"] == "janedoe" and c["sentiment"] == "negative"
                        and c["inserted_at"] >= "2024-06-10" for c in both)


def test_filters_apply_to_detail_routes(client: TestClient) -> None:
    conv = _all(client, filter_user_id="johndoe")[0]
    one = analytics(f"chat-history/{conv['id']}/")
    assert client.get(one, headers=ibl(), params={"filter_user_id": "johndoe"}).status_code == 200
    assert client.get(one, headers=ibl(), params={"filter_user_id": "janedoe"}).status_code == 404


def test_bad_filters_400(client: TestClient) -> None:
    r = client.get(HISTORY, headers=ibl(), params={"start_date": "2024-13-01", "end_date": "yesterday",
                                                     "mentor": "nope"})
    assert r.status_code == 400
    date_message = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
    assert r.json() == {"end_date": [date_message], "mentor": ["Must be a valid UUID."], "start_date": [date_message]}


def test_message_counts_follow_appended_messages(client: TestClient, clock) -> None:
    conv = client.post(HISTORY, headers=ibl(), json=conversation_body()).json()
    clock.advance(timedelta(minutes=1))
    r = client.post(f"/_mock/ibl/orgs/main/chat-history/{conv['id']}/messages",
                    json={"messages": [{"type": "human", "content": "hi"}, {"type": "ai", "content": "hello"},
                                       {"type": "human", "content": "bye"}]})
    assert r.status_code == 200
    assert r.json()["message_count_human"] == 2 and r.json()["message_count_ai"] == 1
    got = client.get(analytics(f"chat-history/{conv['id']}/"), headers=ibl()).json()
    assert got["message_count_human"] == 2 and got["message_count_ai"] == 1 and got["is_conversation"] is True
    assert got["messages"] == "human: hi\nai: hello\nhuman: bye"
    assert got["inserted_at"] == conv["inserted_at"]


def test_filter_data(client: TestClient) -> None:
    r = client.get(analytics("chat-history-filter/"), headers=ibl())
    assert r.status_code == 200
    body = r.json()
    assert body["topics"] == [{"name": n} for n in
                              ["algebra", "derivatives", "essay structure", "grammar", "integrals", "limits"]]
    assert body["sentiment"] == ["negative", "neutral", "positive"]
    assert [u["username"] for u in body["users"]] == ["alice", "bob", "janedoe", "johndoe"]
    assert body["date_ranges"] == [{"start_date": "2024-06-01", "end_date": "2024-06-21"}]
    narrowed = client.get(analytics("chat-history-filter/"), headers=ibl(),
                          params={"start_date": "2024-06-20", "end_date": "2024-06-20", "mentor_id": MENTOR_B}).json()
    assert narrowed["date_ranges"] == [{"start_date": "2024-06-20", "end_date": "2024-06-20"}]
    assert [u["username"] for u in narrowed["users"]] == ["bob", "janedoe"]


def test_filter_data_monthly_range(client: TestClient, clock) -> None:
    clock.set(datetime(2024, 7, 3, 10, 0, tzinfo=timezone.utc))
    client.post(HISTORY, headers=ibl(), json=conversation_body())
    body = client.get(analytics("chat-history-filter/"), headers=ibl(), params={"monthly_range": "true"}).json()
    assert body["date_ranges"] == [{"start_date": "2024-06-01", "end_date": "2024-06-30"},
                                   {"start_date": "2024-07-01", "end_date": "2024-07-03"}]
    bad = client.get(analytics("chat-history-filter/"), headers=ibl(), params={"monthly_range": "sometimes"})
    assert bad.status_code == 400 and bad.json() == {"monthly_range": ["Must be a valid boolean."]}
