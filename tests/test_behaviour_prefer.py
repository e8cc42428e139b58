"""Prefer (RFC 7240, as Prism reads it) and Prism's __code/__example/__dynamic: forced answers from the spec."""

from __future__ import annotations

import random
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.behaviour.generate import generate
from mock_server.behaviour.network import FaultSpec
from mock_server.behaviour.prefer import BadPreference, Preferences, preferences
from mock_server.settings import Settings

JOHN = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
ADMIN = {"Authorization": "Api-Token dev-ibl-admin-main-0001"}
VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
STATUS = "/api/ai-prompt/orgs/main/users/johndoe/chat-memory-status/"
MEMORIES = "/api/v1/memory"
JSON = {"Content-Type": "application/json"}


def prefer(*values: str, query: bytes = b"") -> Preferences:
    return preferences({"headers": [(b"prefer", value.encode()) for value in values], "query_string": query})


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Settings(seed=11)), base_url="http://127.0.0.1")


# --- the header, as RFC 7240 reads it ------------------------------------------------------


def test_preferences_combine_in_one_header_and_across_headers() -> None:
    assert prefer("code=404, example=notFound", "delay=250") == Preferences(code="404", example="notFound",
                                                                           delay_ms=250.0)


def test_the_first_mention_of_a_preference_counts() -> None:
    assert prefer("code=404, code=500", "code=401").code == "404"


def test_unknown_preferences_are_ignored_even_malformed_ones() -> None:
    assert prefer('respond-async, wait=10, return=minimal, handling=lenient, ;;, dynamic, x="unclosed') == \
        Preferences(dynamic=True)


def test_values_may_be_quoted_and_parameters_follow_semicolons() -> None:
    wanted = prefer('example="with space, and comma", fault=429 ; retry-after="7";, DELAY = 5')
    assert wanted.example == "with space, and comma"
    assert wanted.fault == FaultSpec("429", retry_after=7)
    assert wanted.delay_ms == 5.0


@pytest.mark.parametrize("header", ["code=44", "code=600", "code", "code=abc", "dynamic=maybe", "delay=60001",
                                    "delay=-1", "delay=soon", "seed=x", "fault=meltdown", "fault=429; retry-after=x",
                                    "fault=dribble; duration=70000", 'example="unclosed', "example=", "code=200 404"])
def test_a_malformed_known_preference_is_refused(header: str) -> None:
    with pytest.raises(BadPreference):
        prefer(header)


def test_prisms_query_parameters_fill_in_what_the_header_leaves_out() -> None:
    assert prefer(query=b"__code=404&__example=notFound&__dynamic=false&limit=2") == \
        Preferences(code="404", example="notFound", dynamic=False)
    assert prefer("code=401", query=b"__code=404&__dynamic=true") == Preferences(code="401", dynamic=True)


# --- forced answers over HTTP --------------------------------------------------------------


def test_a_declared_code_is_answered_with_the_specs_example(client: TestClient) -> None:
    reply = client.get(STATUS, headers={**JOHN, "Prefer": "code=404"})
    assert reply.status_code == 404
    assert reply.json() == {"detail": "Not found."}
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["preference-applied"] == "code=404"


def test_a_named_example_is_found_under_the_code_that_has_it(client: TestClient) -> None:
    reply = client.get(STATUS, headers={**JOHN, "Prefer": "example=invalidPage"})
    assert (reply.status_code, reply.json()) == (404, {"detail": "Invalid page."})
    assert client.get(MEMORIES, headers={**VAI, "Prefer": "example=empty"}).json() == {"memories": [], "total": 0}


def test_an_undeclared_code_is_400_naming_the_declared_ones_in_each_apis_style(client: TestClient) -> None:
    ibl = client.get(STATUS, headers={**JOHN, "Prefer": "code=500"})
    assert ibl.status_code == 400
    assert ibl.json() == {"detail": "code=500: this operation does not declare it; it declares 200, 401, 403, 404"}
    vai = client.get(MEMORIES, params={"__code": "418"}, headers=VAI)
    assert vai.status_code == 400
    assert vai.json() == {"detail": "code=418: this operation does not declare it; it declares 200, 401, 422"}


def test_an_unknown_example_is_400_naming_the_responses_examples(client: TestClient) -> None:
    reply = client.get(MEMORIES, headers={**VAI, "Prefer": "code=200, example=nope"})
    assert reply.status_code == 400
    assert "its examples: page, empty" in reply.json()["detail"]


def test_a_malformed_preference_is_400_and_nothing_is_served(client: TestClient) -> None:
    reply = client.get(MEMORIES, headers={**VAI, "Prefer": "delay=99999"})
    assert reply.status_code == 400
    assert reply.json() == {"detail": "'delay=99999': delay is a number of milliseconds from 0 to 60000"}


def test_forced_answers_change_no_state(client: TestClient) -> None:
    before = client.get("/_mock/state").json()
    created = client.post(MEMORIES, json={"content": "never stored"}, headers={**VAI, "Prefer": "code=201"})
    assert created.status_code == 201
    deleted = client.delete(f"{MEMORIES}/{before['vai']['memories'][0]['id']}",
                            headers={**VAI, "Prefer": "code=204"})
    assert deleted.status_code == 204
    assert client.get("/_mock/state").json() == before


def test_authentication_and_validation_come_first(client: TestClient) -> None:
    assert client.get(STATUS, headers={"Prefer": "code=200"}).status_code == 401
    assert client.get(MEMORIES, params={"limit": 500}, headers={**VAI, "Prefer": "code=200"}).status_code == 422
    assert client.put(STATUS, json={"enabled": "sometimes"}, headers={**JOHN, "Prefer": "code=200"}).status_code == 400
    # Preference-Applied names only what was applied: the delay, not the code the 401 pre-empted.
    reply = client.get(STATUS, headers={"Prefer": "code=200, delay=1"})
    assert (reply.status_code, reply.headers["preference-applied"]) == (401, "delay=1")


def test_dynamic_bodies_are_reproducible_per_seed_method_and_path(client: TestClient) -> None:
    def body(preference: str, path: str = STATUS, through: TestClient = client) -> Any:
        reply = through.get(path, headers={**ADMIN, "Prefer": preference})
        assert reply.status_code == 200
        return reply.json()

    first = body("dynamic=true")
    assert body("dynamic=true") == first
    assert body("dynamic=true, seed=11") == first  # the mock's own --seed
    assert body("dynamic=true, seed=12") != first
    assert body("dynamic=true", STATUS.replace("johndoe", "janedoe")) != first
    assert body("dynamic=true", through=TestClient(create_app(Settings(seed=11)), base_url="http://127.0.0.1")) == first


def test_static_answers_are_the_same_every_time(client: TestClient) -> None:
    replies = {client.get(MEMORIES, headers={**VAI, "Prefer": "dynamic=false"}).text for _ in range(3)}
    assert len(replies) == 1


def test_example_and_dynamic_together_are_refused(client: TestClient) -> None:
    reply = client.get(MEMORIES, headers={**VAI, "Prefer": "example=page, dynamic=true"})
    assert reply.status_code == 400


def test_the_admin_plane_ignores_prefer(client: TestClient) -> None:
    reply = client.get("/_mock/health", headers={"Prefer": "code=401, delay=99999"})
    assert reply.status_code == 200
    assert "preference-applied" not in reply.headers


def test_without_preferences_the_stateful_mock_answers(client: TestClient) -> None:
    reply = client.get(STATUS, headers={**JOHN, "Prefer": "return=minimal"}, params={"x__y": "1"})
    assert reply.status_code == 200
    assert reply.json()["username"] == "johndoe"
    assert "preference-applied" not in reply.headers


# --- the generator -------------------------------------------------------------------------


def test_the_generator_honours_the_keywords_it_knows() -> None:
    schema = {"type": "object", "required": ["n", "s", "when", "day", "id", "link", "mail", "tags", "kind", "maybe"],
              "properties": {
                  "n": {"type": "integer", "minimum": 5, "maximum": 7},
                  "x": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
                  "s": {"type": "string", "minLength": 50, "maxLength": 60},
                  "when": {"type": "string", "format": "date-time"},
                  "day": {"type": "string", "format": "date"},
                  "id": {"type": "string", "format": "uuid"},
                  "link": {"type": "string", "format": "uri"},
                  "mail": {"type": "string", "format": "email"},
                  "tags": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string", "maxLength": 3}},
                  "kind": {"enum": ["a", "b"]},
                  "maybe": {"type": "string", "nullable": True},
                  "either": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                  "any": {"anyOf": [{"type": "boolean"}, {"type": "integer"}]},
                  "all": {"allOf": [{"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}},
                                    {"required": ["b"], "properties": {"b": {"type": "string"}}}]},
              }}
    for seed in range(50):
        value = generate(schema, random.Random(seed))
        assert 5 <= value["n"] <= 7
        assert 50 <= len(value["s"]) <= 60
        assert value["when"].endswith("Z") and value["day"].count("-") == 2 and len(value["id"]) == 36
        assert value["link"].startswith("https://") and "@" in value["mail"]
        assert len(value["tags"]) == 2 and all(len(tag) <= 3 for tag in value["tags"])
        assert value["kind"] in ("a", "b")
        if "x" in value:
            assert 0 < value["x"] <= 1
        if "all" in value:
            assert set(value["all"]) == {"a", "b"}
    assert generate(schema, random.Random(3)) == generate(schema, random.Random(3))
    static = generate({"type": "object", "properties": {"n": {"type": "integer", "example": 42}}}, random.Random(0),
                      examples=True)
    assert static == {"n": 42}
