"""Hostile input answers in the API's own style and never reaches the state: no 5xx, lists and export still answer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings, strategies as st
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.clock import FixedClock
from mock_server.errors import MalformedJSON
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store
from mock_server.wire import loads, loads_in_pieces
from tests.api.conftest import ADMIN, JOHN, MENTOR_A, NOW, TESTSERVER, analytics, ibl, mentor, prompt, vai

SETTINGS = Settings(fixtures=None, strict=True, admin_hosts=TESTSERVER)
JSON = {"Content-Type": "application/json"}
ARTIFACTS = mentor("artifacts/")
AVERAGES = analytics("average-messages-per-session/")
DEEP = 5_000  # far past Python's recursion limit
MANY_DIGITS = "9" * 5_000  # past Python's 4,300-digit limit for int <-> str


@pytest.fixture(scope="module")
def document() -> dict:
    """The default fixtures, read once."""
    return Store.from_file(DEFAULT_FIXTURES).export()


@pytest.fixture(scope="module")
def shared() -> tuple[Store, object]:
    """One strict app for the module."""
    store = Store(clock=FixedClock(NOW))
    return store, create_app(SETTINGS, store=store)


@pytest.fixture
def client(shared: tuple[Store, object], document: dict) -> Iterator[TestClient]:
    """A client of the strict app, its store back to the default fixtures."""
    store, app = shared
    store.load(document)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def lists_and_export_answer(client: TestClient) -> None:
    """Every list of both APIs and the export still answer 200 with JSON."""
    for path, headers in ((ARTIFACTS, ibl(JOHN)), (mentor("edx-memory/"), ibl(JOHN)),
                          (mentor("ai-user-profile-memory/"), ibl(JOHN)), (analytics("chat-history/"), ibl(ADMIN)),
                          ("/api/v1/memory?limit=100", vai()), ("/_mock/state", {})):
        r = client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        r.json()


def drf_parse_error(r: object) -> str:
    """The reason of a DRF ``JSON parse error - ...`` 400."""
    assert r.status_code == 400, r.text[:300]  # type: ignore[attr-defined]
    detail = r.json()["detail"]  # type: ignore[attr-defined]
    assert detail.startswith("JSON parse error - ")
    return detail


def fastapi_json_invalid(r: object) -> dict:
    """The one ``json_invalid`` item of a FastAPI 422."""
    assert r.status_code == 422, r.text[:300]  # type: ignore[attr-defined]
    (item,) = r.json()["detail"]  # type: ignore[attr-defined]
    assert item["type"] == "json_invalid" and item["loc"][0] == "body" and isinstance(item["loc"][1], int)
    return item


# --- lone surrogates ------------------------------------------------------------------------

@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "x\\udc00y", "\\ud83d"])
def test_lone_surrogate_is_a_parse_error_in_both_apis_and_nothing_is_stored(client: TestClient, escape: str) -> None:
    body = f'{{"content": "{escape}", "title": "{escape}"}}'.encode()
    assert "surrogate" in drf_parse_error(client.post(ARTIFACTS, headers={**ibl(JOHN), **JSON}, content=body))
    item = fastapi_json_invalid(client.post("/api/v1/memory", headers={**vai(), **JSON}, content=body))
    assert "surrogate" in item["ctx"]["error"]
    assert client.get(ARTIFACTS, headers=ibl(JOHN)).json()["count"] == 13
    assert client.get("/api/v1/memory", headers=vai()).json()["total"] == 30
    lists_and_export_answer(client)


def test_paired_surrogates_are_text(client: TestClient) -> None:
    r = client.post("/api/v1/memory", headers={**vai(), **JSON}, content=b'{"content": "\\ud83d\\ude00"}')
    assert r.status_code == 201 and r.json()["content"] == "\U0001F600"
    lists_and_export_answer(client)


def test_lone_surrogate_through_a_charset_is_refused(client: TestClient) -> None:
    # UTF-7 spells a lone surrogate without an escape. (connexion reads a charset only with no space
    # after the semicolon.)
    body = '{"content": "+2AA-"}'.encode("ascii")
    r = client.post("/api/v1/memory", headers={**vai(), "Content-Type": "application/json;charset=utf-7"},
                    content=body)
    assert "surrogate" in fastapi_json_invalid(r)["ctx"]["error"]
    lists_and_export_answer(client)


@pytest.mark.parametrize("charset", ["no-such-codec", "rot13", "base64"])
def test_an_unknown_or_binary_charset_is_a_parse_error(client: TestClient, charset: str) -> None:
    r = client.put(prompt("chat-memory-status/"), headers={**ibl(JOHN), "Content-Type": f"application/json;charset={charset}"},
                   content=b'{"enabled": tru')
    assert charset in drf_parse_error(r)


def test_lone_surrogate_in_a_state_import_is_refused(client: TestClient, document: dict) -> None:
    text = json.dumps({**document, "users": [{"org": "main", "username": "\ud800", "email": "x@example.com"}]})
    r = client.put("/_mock/state", headers=JSON, content=text.encode("utf-8", "surrogatepass").replace(
        "\ud800".encode("utf-8", "surrogatepass"), b"\\ud800"))
    assert r.status_code == 400 and "surrogate" in r.json()["detail"]
    lists_and_export_answer(client)


# --- nesting --------------------------------------------------------------------------------

def nested(depth: int) -> bytes:
    """A JSON array nested ``depth`` levels."""
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("depth", [255, 1_025, DEEP])
def test_deep_json_bodies_are_parse_errors(client: TestClient, depth: int) -> None:
    ibl_body = b'{"title": "x", "metadata": ' + nested(depth) + b"}"
    assert "Nested deeper" in drf_parse_error(client.post(ARTIFACTS, headers={**ibl(JOHN), **JSON}, content=ibl_body))
    vai_body = b'{"content": "x", "organizationId": ' + nested(depth) + b"}"
    item = fastapi_json_invalid(client.post("/api/v1/memory", headers={**vai(), **JSON}, content=vai_body))
    # The body object is level 1, so the 254th bracket (at 35 + 253) is the first level too many.
    assert "Nested deeper" in item["ctx"]["error"] and item["loc"][1] == 35 + 253
    r = client.put("/_mock/state", headers=JSON, content=nested(depth))
    assert r.status_code == 400 and "Nested deeper" in r.json()["detail"]
    assert client.get(ARTIFACTS, headers=ibl(JOHN)).json()["count"] == 13
    lists_and_export_answer(client)


def test_nesting_up_to_the_limit_is_stored_and_sent_back(client: TestClient) -> None:
    # 254 levels in all: the metadata array sits inside the body object.
    r = client.post(ARTIFACTS, headers={**ibl(JOHN), **JSON}, content=b'{"title": "deep", "metadata": ' + nested(253) + b"}")
    assert r.status_code == 201
    got = client.get(mentor(f"artifacts/{r.json()['id']}/"), headers=ibl(JOHN)).json()["metadata"]
    for _ in range(252):
        (got,) = got
    assert got == []
    lists_and_export_answer(client)


def test_many_shallow_arrays_are_not_deep(client: TestClient) -> None:
    body = b'{"title": "wide", "metadata": [' + b",".join([b"[]"] * 5_000) + b"]}"
    r = client.post(ARTIFACTS, headers={**ibl(JOHN), **JSON}, content=body)
    assert r.status_code == 201 and len(r.json()["metadata"]) == 5_000


def test_deep_json_in_a_form_field_is_a_field_error(client: TestClient) -> None:
    history = analytics("chat-history/")
    form = {"mentor": MENTOR_A, "model": "m", "platform": "main"}
    for topics in ("[" * DEEP + "]" * DEEP, '[{"name": "\\ud800"}]'):
        r = client.post(history, headers=ibl(), data={**form, "topics": topics})
        assert r.status_code == 400 and list(r.json()) == ["topics"], r.text[:200]
    assert client.get(history, headers=ibl()).json()["count"] == 42
    lists_and_export_answer(client)


def test_lone_surrogate_in_a_multipart_field_is_a_field_error(client: TestClient) -> None:
    body = (b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\n+2AA-\r\n--b--\r\n')
    r = client.post(ARTIFACTS, headers={**ibl(JOHN), "Content-Type": "multipart/form-data; boundary=b; charset=utf-7"},
                    content=body)
    assert r.status_code == 400 and r.json() == {"title": ["Not valid Unicode (a lone surrogate)."]}
    lists_and_export_answer(client)


# --- numbers --------------------------------------------------------------------------------

def test_integers_past_the_digit_limit_in_a_query(client: TestClient) -> None:
    r = client.get(f"/api/v1/memory?offset={MANY_DIGITS}", headers=vai())
    assert r.status_code == 422
    (item,) = r.json()["detail"]
    assert item["loc"] == ["query", "offset"] and item["type"] == "int_parsing"
    r = client.get(mentor(f"edx-memory/?student={MANY_DIGITS}"), headers=ibl(JOHN))
    assert r.status_code == 400 and r.json() == {"student": ["A valid integer is required."]}


def test_integers_past_the_digit_limit_in_a_body(client: TestClient) -> None:
    body = b'{"title": "x", "chat_message": ' + MANY_DIGITS.encode() + b"}"
    assert "digits" in drf_parse_error(client.post(ARTIFACTS, headers={**ibl(JOHN), **JSON}, content=body))
    body = b'{"content": "x", "extra": ' + MANY_DIGITS.encode() + b"}"
    assert "digits" in fastapi_json_invalid(client.post("/api/v1/memory", headers={**vai(), **JSON},
                                                        content=body))["ctx"]["error"]
    lists_and_export_answer(client)


def test_integers_past_64_bits_are_kept_exactly(client: TestClient) -> None:
    big = 2**64 * 1000 + 1
    r = client.post(ARTIFACTS, headers={**ibl(JOHN), **JSON}, content=b'{"title": "x", "metadata": {"n": %d}}' % big)
    assert r.status_code == 201 and r.json()["metadata"] == {"n": big}
    lists_and_export_answer(client)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers_are_parse_errors(client: TestClient, literal: bytes) -> None:
    body = b'{"title": "x", "metadata": {"n": ' + literal + b"}}"
    drf_parse_error(client.post(ARTIFACTS, headers={**ibl(JOHN), **JSON}, content=body))
    lists_and_export_answer(client)


@pytest.mark.parametrize("segment", ["+1", "-1", "\uff11", "\u0661", "1\u0660", " 1", "1.0"])
def test_ibl_integer_path_ids_are_ascii_digits_only(client: TestClient, segment: str) -> None:
    # Django's int converter is [0-9]+: a sign, fullwidth or Arabic-Indic digits do not match the route.
    assert client.get(mentor(f"artifacts/{segment}/"), headers=ibl(JOHN)).json() == {"detail": "Not found."}
    assert client.delete(prompt(f"all-chats-memory/{segment}/"), headers=ibl(JOHN)).status_code == 404
    assert client.get(mentor(f"artifacts/3/versions/{segment}/"), headers=ibl(JOHN)).status_code == 404


def test_leading_zeros_are_still_the_number(client: TestClient) -> None:
    assert client.get(mentor("artifacts/001/"), headers=ibl(JOHN)).json()["id"] == 1


def test_huge_path_ids_are_not_found(client: TestClient) -> None:
    r = client.get(mentor(f"artifacts/{MANY_DIGITS}/"), headers=ibl(JOHN))
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    r = client.delete(prompt(f"all-chats-memory/{MANY_DIGITS}/"), headers=ibl(JOHN))
    assert r.status_code == 404


@pytest.mark.parametrize("offset", ["9" * 19, "9" * 30, "9" * 4_300])
def test_huge_virtuousai_offsets_answer_an_empty_window(client: TestClient, offset: str) -> None:
    r = client.get(f"/api/v1/memory?offset={offset}", headers=vai())
    assert r.status_code == 200 and r.json() == {"memories": [], "total": 30}
    r = client.post(f"/api/v1/memory/backfill-entities?offset={offset}", headers=vai())
    assert r.status_code == 200
    body = r.json()
    assert body["examined"] == 0 and body["nextOffset"] == int(offset) and body["hasMore"] is False


# --- analytics ranges at the ends of the calendar -------------------------------------------

@pytest.mark.parametrize("aggregation", ["hourly", "daily", "weekly"])
def test_analytics_up_to_the_last_day_of_the_calendar(client: TestClient, aggregation: str) -> None:
    r = client.get(f"{AVERAGES}?start_date=9999-12-25&end_date=9999-12-31&aggregation={aggregation}", headers=ibl())
    assert r.status_code == 200
    buckets = r.json()
    assert buckets and all(b["total_sessions"] == 0 for b in buckets)
    assert buckets[-1]["time"].startswith("9999-12-")


@pytest.mark.parametrize("aggregation", ["hourly", "daily", "weekly"])
def test_analytics_from_the_first_day_of_the_calendar(client: TestClient, aggregation: str) -> None:
    r = client.get(f"{AVERAGES}?start_date=0001-01-01&end_date=0001-01-07&aggregation={aggregation}", headers=ibl())
    assert r.status_code == 200 and r.json()[0]["time"] == "0001-01-01T00:00:00Z"


def test_analytics_over_the_whole_calendar_is_the_bucket_limit(client: TestClient) -> None:
    r = client.get(f"{AVERAGES}?start_date=0001-01-01&end_date=9999-12-31&aggregation=weekly", headers=ibl())
    assert r.status_code == 400 and list(r.json()) == ["end_date"]


# --- 405 lists the path's real methods ------------------------------------------------------

@pytest.mark.parametrize("method, path, allow", [
    ("DELETE", prompt("chat-memory-status/"), "GET, PUT, HEAD"),
    ("POST", mentor("artifacts/1/"), "GET, PUT, PATCH, DELETE, HEAD"),
    ("PUT", ARTIFACTS, "GET, POST, HEAD"),
    ("PATCH", "/api/v1/memory", "GET, POST, HEAD"),
    ("PUT", "/api/v1/memory/1b86c637-be06-4f2b-9156-27fe0802dd94", "GET, DELETE, HEAD"),
    ("BREW", prompt("all-chats-memory/"), "GET, POST, PUT, DELETE, HEAD"),
    ("OPTIONS", "/_mock/state", "GET, PUT, HEAD"),
    ("GET", "/_mock/reset", "POST"),
])
def test_405_allow_lists_the_methods_of_the_path(client: TestClient, method: str, path: str, allow: str) -> None:
    r = client.request(method, path, headers=ibl(JOHN) if path.startswith("/api/ai") else vai())
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert r.json() == ({"detail": "Method Not Allowed"} if path.startswith("/api/v1") else
                        {"detail": f'Method "{method}" not allowed.'})
    for listed in allow.split(", "):  # and each method listed is served, not another 405
        if listed != "HEAD":
            assert client.request(listed, path, headers=ibl(JOHN) if path.startswith("/api/ai") else vai(),
                                  json={}).status_code != 405


# --- VirtuousAI ids parse as pydantic parses a UUID ------------------------------------------

MEMORY = "1b86c637-be06-4f2b-9156-27fe0802dd94"  # a memory of the dev organization


@pytest.mark.parametrize("spelling", [MEMORY, MEMORY.upper(), MEMORY.replace("-", ""), "{" + MEMORY + "}",
                                      "urn:uuid:" + MEMORY])
def test_virtuousai_takes_the_uuid_forms_pydantic_takes(client: TestClient, spelling: str) -> None:
    r = client.get(f"/api/v1/memory/{spelling}", headers=vai())
    assert r.status_code == 200 and r.json()["id"] == MEMORY


@pytest.mark.parametrize("spelling", [
    MEMORY.replace("-", "")[:4] + "-" + MEMORY.replace("-", "")[4:],  # hyphens where they do not go
    "+" + MEMORY.replace("-", "")[1:],  # a sign int() would take
    MEMORY.replace("-", "_"),  # underscores int() would take
    MEMORY.replace("1", "\uff11"),  # fullwidth digits int() would take
    "uuid:" + MEMORY, "{" + MEMORY.replace("-", "") + "}", MEMORY + "0",
])
def test_virtuousai_refuses_what_only_python_would_parse(client: TestClient, spelling: str) -> None:
    r = client.get(f"/api/v1/memory/{spelling}", headers=vai())
    assert r.status_code == 422, r.text
    (item,) = r.json()["detail"]
    assert item["type"] == "uuid_parsing" and item["loc"] == ["path", "memory_id"]
    body = client.post("/api/v1/memory", headers=vai(), json={"content": "x", "organizationId": spelling})
    assert body.status_code == 422 and body.json()["detail"][0]["loc"] == ["body", "organizationId"]


def test_ibl_uuids_still_parse_as_drf_does(client: TestClient) -> None:
    # DRF's UUIDField hands the text to uuid.UUID, hyphens anywhere included.
    cid = "2a3f909e-ca8f-4c2d-aae4-6436439caaed"
    odd = cid.replace("-", "")[:4] + "-" + cid.replace("-", "")[4:]
    assert client.get(analytics(f"chat-history/{odd}/"), headers=ibl()).json()["id"] == cid


# --- the piecewise parser agrees with the whole-document one ----------------------------------

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, database=None)
@given(value=_JSON_VALUES, spacing=st.sampled_from([None, 1]))
def test_loads_in_pieces_reads_what_loads_reads(value: object, spacing: int | None) -> None:
    text = json.dumps(value, indent=spacing).encode()
    assert loads_in_pieces(text) == loads(text) == json.loads(text)


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(alphabet='[]{}",:0123456789. -eEtrufalsn\\u\n', max_size=24))
def test_loads_in_pieces_refuses_what_loads_refuses(text: str) -> None:
    outcomes = []
    for parse in (loads, loads_in_pieces):
        try:
            outcomes.append(("ok", parse(text.encode())))
        except MalformedJSON:
            outcomes.append(("refused", None))
    assert outcomes[0] == outcomes[1]


def test_virtuousai_integers_are_ascii_digits_as_pydantic_reads_them(client: TestClient) -> None:
    for limit in ("\uff11", "\u0661"):  # fullwidth and Arabic-Indic one
        r = client.get(f"/api/v1/memory?limit={limit}", headers=vai())
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "int_parsing"
    # DRF's IntegerField reads them with int(), as Python does.
    assert client.get(mentor("edx-memory/?student=\uff11"), headers=ibl(JOHN)).status_code == 200


def test_405_on_a_literal_path_lists_that_template_not_a_parameter_one_it_also_fits(client: TestClient) -> None:
    # /api/v1/memory/backfill-entities also fits /api/v1/memory/{memory_id} (GET, DELETE).
    r = client.request("OPTIONS", "/api/v1/memory/backfill-entities", headers=vai())
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_a_blank_form_value_of_a_nullable_uuid_is_null_as_drf_reads_it(client: TestClient) -> None:
    form = {"username": "johndoe", "platform_key": "main", "session_id": ""}
    r = client.post(prompt("all-chats-memory/"), headers=ibl(JOHN), data={**form, "content": "x"})
    assert r.status_code == 201, r.text
    assert r.json()["session_id"] is None and r.json()["content"] == "x"
    r = client.post(prompt("all-chats-memory/"), headers=ibl(JOHN), data={**form, "content": ""})
    assert r.status_code == 201 and r.json()["content"] == ""  # text keeps its blank
