"""The fault switch: each fault breaks exactly the behaviour it names, and the healthy mock does not."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_server.app import create_app, load_spec
from mock_server.cli import main
from mock_server.clock import FixedClock
from mock_server.faults import CREATE_OPERATIONS, FAULTS
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)

ADMIN = {"Authorization": "Api-Token dev-ibl-admin-main-0001"}
JOHN = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
VAI_OTHER = {"Authorization": "Bearer dev-vai-other-org-0001"}
ACME_ADMIN = {"Authorization": "Api-Token dev-ibl-admin-acme-0001"}

MENTOR = "/api/ai-mentor/orgs/main/users/johndoe"
PROMPT = "/api/ai-prompt/orgs/main/users/johndoe"
ANALYTICS = "/api/ai-analytics/orgs/main/users/admin"
VAI_MEMORY = "/api/v1/memory"

CATEGORIES = {"status", "schema", "state", "pagination", "ordering", "isolation", "auth", "validation", "analytics",
              "counters", "server-error"}

Client = Callable[..., TestClient]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """The default fixtures, read once."""
    return Store.from_file(DEFAULT_FIXTURES).export()


@pytest.fixture
def clock() -> FixedClock:
    """A clock that only moves when a test moves it."""
    return FixedClock(NOW)


@pytest.fixture
def make(document: dict[str, Any], clock: FixedClock) -> Iterator[Client]:
    """``make(fault)``: a client of a fresh strict mock (``None``: the healthy one)."""
    clients: list[TestClient] = []

    def build(fault: str | None, doc: dict[str, Any] | None = None) -> TestClient:
        store = Store(clock=clock)
        store.load(copy.deepcopy(doc or document))
        client = TestClient(create_app(Settings(strict=True, fixtures=None, fault=fault), store=store))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


def both(make: Client, fault: str, doc: dict[str, Any] | None = None) -> tuple[TestClient, TestClient]:
    """A healthy mock and one with ``fault``, each on its own copy of the fixtures."""
    return make(None, doc), make(fault, doc)


def first_artifact(client: TestClient) -> int:
    return int(client.get(f"{MENTOR}/artifacts/", headers=JOHN).json()["results"][0]["id"])


# --- the registry and the switch -----------------------------------------------------------


def test_registry_has_the_faults_the_harness_is_promised() -> None:
    expected = {
        "create-returns-200", "server-error-edx", "artifact-missing-field", "status-id-as-string",
        "conversation-null-email", "vai-wrong-content-type", "lost-update", "delete-noop", "stale-read",
        "timestamp-frozen", "count-off-by-one", "page-overlap", "ordering-ignored", "vai-total-all-orgs",
        "user-leak", "org-leak", "auth-bypass", "validation-off", "analytics-round-down", "analytics-stale",
        "backfill-skips-skipped",
        # second round: at least one per family of rules in the conventions
        "cross-org-admin", "chat-history-user-token", "chat-history-all-orgs", "analytics-all-orgs",
        "edx-memory-any-user", "all-chats-delete-any-user", "page-size-uncapped", "default-page-size-20",
        "next-link-drops-query", "first-page-link-numbered", "ordering-ties-unstable", "unknown-ordering-400",
        "ordering-first-field-only", "analytics-weeks-from-sunday", "analytics-end-exclusive",
        "analytics-hourly-gaps", "vai-limit-uncapped", "vai-negative-offset", "analytics-cap-too-high",
        "patch-keeps-date-updated", "vai-create-drops-content", "profile-upsert-duplicates",
        "search-non-ascii-500", "title-max-length-500", "page-size-100-500",
    }
    assert expected <= set(FAULTS)
    for name, fault in FAULTS.items():
        assert fault.name == name
        assert fault.category in CATEGORIES
        assert fault.description and fault.catch
        assert fault.action is not None or fault.setup is not None


def test_create_operations_are_exactly_the_specs_201_operations() -> None:
    created = set()
    for api in ("ibl", "virtuousai"):
        for item in load_spec(api)["paths"].values():
            for operation in item.values():
                if isinstance(operation, dict) and "201" in operation.get("responses", {}):
                    created.add(operation["operationId"])
    assert created == set(CREATE_OPERATIONS)


def test_unknown_fault_is_rejected_with_the_valid_names() -> None:
    with pytest.raises(ValueError) as info:  # refused when the mock is built
        create_app(Settings(fixtures=None, fault="no-such-fault"))
    message = str(info.value)
    assert "no-such-fault" in message
    for name in FAULTS:
        assert name in message


def test_fault_from_the_environment() -> None:
    assert Settings.from_env({"MEMMOCK_FAULT": "Delete-Noop "}, fixtures=None).fault == "delete-noop"
    with pytest.raises(ValueError, match="valid faults: "):  # refused when the mock is built
        create_app(Settings.from_env({"MEMMOCK_FAULT": "bogus"}, fixtures=None))


def test_serve_help_mentions_fault(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "--fault" in out and "MEMMOCK_FAULT" in out


def test_serve_rejects_an_unknown_fault(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--no-fixtures", "--fault", "bogus"])
    assert info.value.code == 2
    assert "valid faults: " in capsys.readouterr().err


def test_a_fault_wraps_only_its_operations_runs() -> None:
    app = create_app(Settings(fixtures=None, fault="delete-noop"), store=Store())
    # Inside the built-in behaviour plugin's wrapper, which every API operation has.
    wrapped = {plan.operation_id.rpartition(".")[2] for plan in app.plans
               if getattr(plan.run, "__wrapped__", plan.run) != plan.serve}
    assert wrapped == FAULTS["delete-noop"].operations


def test_a_faulty_reply_gets_past_strict_response_validation(make: Client) -> None:
    client = make("status-id-as-string")  # strict: the healthy mock's replies are all checked
    reply = client.get(f"{PROMPT}/chat-memory-status/", headers=JOHN)
    assert reply.status_code == 200
    assert isinstance(reply.json()["id"], str)


def test_untargeted_operations_are_untouched(make: Client) -> None:
    healthy, faulty = both(make, "server-error-edx")
    for path in (f"{MENTOR}/artifacts/", f"{MENTOR}/custom-instruction/", f"{MENTOR}/edx-memory/"):
        assert faulty.get(path, headers=JOHN).json() == healthy.get(path, headers=JOHN).json()


# --- status ----------------------------------------------------------------------------------


def test_create_returns_200(make: Client) -> None:
    healthy, faulty = both(make, "create-returns-200")
    for client, status in ((healthy, 201), (faulty, 200)):
        assert client.post(f"{MENTOR}/artifacts/", headers=JOHN, json={"title": "t"}).status_code == status
        assert client.post(VAI_MEMORY, headers=VAI, json={"content": "c"}).status_code == status
        assert client.post(f"{PROMPT}/all-chats-memory/", headers=JOHN,
                           json={"username": "johndoe", "platform_key": "main", "content": "c"}).status_code == status
    # Only the status changes: the body is the created object.
    assert faulty.post(f"{MENTOR}/artifacts/", headers=JOHN, json={"title": "u"}).json()["title"] == "u"


def test_server_error_edx(make: Client) -> None:
    healthy, faulty = both(make, "server-error-edx")
    memory_id = healthy.get(f"{MENTOR}/edx-memory/", headers=JOHN).json()["results"][0]["id"]
    assert healthy.get(f"{MENTOR}/edx-memory/{memory_id}/", headers=JOHN).status_code == 200
    response = faulty.get(f"{MENTOR}/edx-memory/{memory_id}/", headers=JOHN)
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    # Errors the real service would give still come first.
    assert faulty.get(f"{MENTOR}/edx-memory/99999/", headers=JOHN).status_code == 404
    assert faulty.get(f"{MENTOR}/edx-memory/{memory_id}/").status_code == 401


# --- schema ----------------------------------------------------------------------------------


def test_artifact_missing_field(make: Client) -> None:
    healthy, faulty = both(make, "artifact-missing-field")
    artifact_id = first_artifact(healthy)
    good = healthy.get(f"{MENTOR}/artifacts/{artifact_id}/", headers=JOHN).json()
    bad = faulty.get(f"{MENTOR}/artifacts/{artifact_id}/", headers=JOHN).json()
    assert "date_updated" in good
    assert "date_updated" not in bad
    assert {k: v for k, v in good.items() if k != "date_updated"} == bad


def test_status_id_as_string(make: Client) -> None:
    healthy, faulty = both(make, "status-id-as-string")
    assert isinstance(healthy.get(f"{PROMPT}/chat-memory-status/", headers=JOHN).json()["id"], int)
    assert isinstance(faulty.get(f"{PROMPT}/chat-memory-status/", headers=JOHN).json()["id"], str)
    put = faulty.put(f"{PROMPT}/chat-memory-status/", headers=JOHN, json={"enabled": False}).json()
    assert isinstance(put["id"], str) and put["enabled"] is False


def test_conversation_null_email(make: Client) -> None:
    healthy, faulty = both(make, "conversation-null-email")
    good = healthy.get(f"{ANALYTICS}/chat-history/", headers=ADMIN).json()["results"]
    bad = faulty.get(f"{ANALYTICS}/chat-history/", headers=ADMIN).json()["results"]
    assert good and all(isinstance(item["email"], str) for item in good)
    assert bad and all(item["email"] is None for item in bad)
    one = faulty.get(f"{ANALYTICS}/chat-history/{good[0]['id']}/", headers=ADMIN).json()
    assert one["email"] is None


def test_vai_wrong_content_type(make: Client) -> None:
    healthy, faulty = both(make, "vai-wrong-content-type")
    good = healthy.get(VAI_MEMORY, headers=VAI)
    bad = faulty.get(VAI_MEMORY, headers=VAI)
    assert good.headers["content-type"].startswith("application/json")
    assert bad.headers["content-type"].startswith("text/plain")
    assert bad.content == good.content  # the same JSON text, mislabelled


# --- state -----------------------------------------------------------------------------------


def test_lost_update(make: Client) -> None:
    healthy, faulty = both(make, "lost-update")
    url = f"{MENTOR}/custom-instruction/"
    before = healthy.get(url, headers=JOHN).json()["content"]
    for client in (healthy, faulty):
        put = client.put(url, headers=JOHN, json={"content": "Use metric units."})
        assert put.status_code == 200 and put.json()["content"] == "Use metric units."
    assert healthy.get(url, headers=JOHN).json()["content"] == "Use metric units."
    assert faulty.get(url, headers=JOHN).json()["content"] == before


def test_delete_noop(make: Client) -> None:
    healthy, faulty = both(make, "delete-noop")
    artifact_id = first_artifact(healthy)
    vai_id = healthy.get(VAI_MEMORY, headers=VAI).json()["memories"][0]["id"]
    cases = (
        (f"{MENTOR}/artifacts/{artifact_id}/", JOHN, f"{MENTOR}/artifacts/{artifact_id}/"),
        (f"{VAI_MEMORY}/{vai_id}", VAI, f"{VAI_MEMORY}/{vai_id}"),
    )
    for delete, headers, read in cases:
        assert healthy.delete(delete, headers=headers).status_code == 204
        assert healthy.get(read, headers=headers).status_code == 404
        assert faulty.delete(delete, headers=headers).status_code == 204
        assert faulty.get(read, headers=headers).status_code == 200
    # all-chats-memory has no GET by id: deleting twice shows it.
    assert healthy.delete(f"{PROMPT}/all-chats-memory/1/", headers=JOHN).status_code == 204
    assert healthy.delete(f"{PROMPT}/all-chats-memory/1/", headers=JOHN).status_code == 404
    assert faulty.delete(f"{PROMPT}/all-chats-memory/1/", headers=JOHN).status_code == 204
    assert faulty.delete(f"{PROMPT}/all-chats-memory/1/", headers=JOHN).status_code == 204
    # Authentication, reach and absence are still answered as the real service would.
    assert faulty.delete(f"{MENTOR}/artifacts/{artifact_id}/").status_code == 401
    assert faulty.delete(f"{PROMPT}/all-chats-memory/3/", headers=JOHN).status_code == 404  # janedoe's
    assert faulty.delete(f"{MENTOR}/artifacts/99999/", headers=JOHN).status_code == 404
    assert faulty.delete(f"{VAI_MEMORY}/{vai_id}", headers=VAI_OTHER).status_code == 404


def test_stale_read(make: Client) -> None:
    healthy, faulty = both(make, "stale-read")
    url = f"{PROMPT}/chat-memory-status/"
    for client in (healthy, faulty):
        assert client.get(url, headers=JOHN).json()["enabled"] is True
        assert client.put(url, headers=JOHN, json={"enabled": False}).json()["enabled"] is False
    assert healthy.get(url, headers=JOHN).json()["enabled"] is False
    assert faulty.get(url, headers=JOHN).json()["enabled"] is True


def test_timestamp_frozen(make: Client, clock: FixedClock) -> None:
    healthy, faulty = both(make, "timestamp-frozen")
    url = f"{MENTOR}/custom-instruction/"
    before = healthy.get(url, headers=JOHN).json()["updated_at"]
    clock.advance(timedelta(hours=1))
    assert healthy.put(url, headers=JOHN, json={"content": "x"}).json()["updated_at"] == "2024-07-01T13:00:00Z"
    assert healthy.get(url, headers=JOHN).json()["updated_at"] == "2024-07-01T13:00:00Z"
    put = faulty.put(url, headers=JOHN, json={"content": "x"}).json()
    assert put["updated_at"] == before and put["content"] == "x"
    stored = faulty.get(url, headers=JOHN).json()
    assert stored["updated_at"] == before and stored["content"] == "x"


# --- pagination ------------------------------------------------------------------------------


def test_count_off_by_one(make: Client) -> None:
    healthy, faulty = both(make, "count-off-by-one")
    url = f"{MENTOR}/artifacts/?page_size=100"
    good = healthy.get(url, headers=JOHN).json()
    bad = faulty.get(url, headers=JOHN).json()
    assert good["count"] == len(good["results"]) == 13
    assert bad["count"] == 14 and len(bad["results"]) == 13


def _ids_over_pages(client: TestClient, size: int) -> list[list[int]]:
    pages, url = [], f"{MENTOR}/artifacts/?page_size={size}"
    while url:
        body = client.get(url, headers=JOHN).json()
        pages.append([item["id"] for item in body["results"]])
        url = body["next"]
    return pages


def test_page_overlap(make: Client) -> None:
    healthy, faulty = both(make, "page-overlap")
    good = _ids_over_pages(healthy, 5)
    bad = _ids_over_pages(faulty, 5)
    flat = [i for page in good for i in page]
    assert len(flat) == len(set(flat)) == 13
    assert len(bad) == len(good) == 3
    assert bad[0] == good[0]
    for n in (1, 2):
        assert bad[n] == [good[n - 1][-1]] + good[n]  # repeats the previous page's last item


def test_ordering_ignored(make: Client) -> None:
    healthy, faulty = both(make, "ordering-ignored")
    default = [a["title"] for a in healthy.get(f"{MENTOR}/artifacts/?page_size=100", headers=JOHN).json()["results"]]
    good = [a["title"] for a in
            healthy.get(f"{MENTOR}/artifacts/?page_size=100&ordering=title", headers=JOHN).json()["results"]]
    bad = [a["title"] for a in
           faulty.get(f"{MENTOR}/artifacts/?page_size=100&ordering=title", headers=JOHN).json()["results"]]
    assert good == sorted(good) != default
    assert bad == default
    # The links still carry the ordering, as if it had been honoured.
    link = faulty.get(f"{MENTOR}/artifacts/?page_size=5&ordering=title", headers=JOHN).json()["next"]
    assert "ordering=title" in link and "page=2" in link


def test_vai_total_all_orgs(make: Client) -> None:
    healthy, faulty = both(make, "vai-total-all-orgs")
    assert healthy.get(VAI_MEMORY, headers=VAI).json()["total"] == 30
    assert healthy.get(VAI_MEMORY, headers=VAI_OTHER).json()["total"] == 5
    assert faulty.get(VAI_MEMORY, headers=VAI).json()["total"] == 35
    assert faulty.get(VAI_MEMORY, headers=VAI_OTHER).json()["total"] == 35


# --- isolation -------------------------------------------------------------------------------


def test_user_leak(make: Client) -> None:
    healthy, faulty = both(make, "user-leak")
    janes = "/api/ai-mentor/orgs/main/users/janedoe/custom-instruction/"
    assert healthy.get(janes, headers=JOHN).status_code == 403
    leaked = faulty.get(janes, headers=JOHN)
    assert leaked.status_code == 200 and leaked.json()["username"] == "janedoe"
    # Still bounded: another org stays 403, admin-only chat-history stays 403, own data unchanged.
    assert faulty.get("/api/ai-mentor/orgs/acme/users/wile/custom-instruction/", headers=JOHN).status_code == 403
    assert faulty.get("/api/ai-analytics/orgs/main/users/janedoe/chat-history/", headers=JOHN).status_code == 403
    assert faulty.get(f"{MENTOR}/custom-instruction/", headers=JOHN).json()["username"] == "johndoe"


def test_org_leak(make: Client) -> None:
    healthy, faulty = both(make, "org-leak")
    other = healthy.get(VAI_MEMORY, headers=VAI_OTHER).json()["memories"][0]
    assert healthy.get(f"{VAI_MEMORY}/{other['id']}", headers=VAI).status_code == 404
    leaked = faulty.get(f"{VAI_MEMORY}/{other['id']}", headers=VAI)
    assert leaked.status_code == 200 and leaked.json() == other
    assert faulty.get(f"{VAI_MEMORY}/00000000-0000-4000-8000-00000000abcd", headers=VAI).status_code == 404
    assert faulty.get(f"{VAI_MEMORY}/{other['id']}").status_code == 401


# --- auth ------------------------------------------------------------------------------------


def test_auth_bypass(make: Client) -> None:
    healthy, faulty = both(make, "auth-bypass")
    assert healthy.get(f"{MENTOR}/artifacts/").status_code == 401
    assert healthy.get(VAI_MEMORY).status_code == 401
    ibl = faulty.get(f"{MENTOR}/artifacts/")
    assert ibl.status_code == 200 and ibl.json()["count"] == 13
    vai = faulty.get(VAI_MEMORY)
    assert vai.status_code == 200 and vai.json()["total"] == 30
    # A wrong credential is still refused: only its absence is the bug.
    assert faulty.get(f"{MENTOR}/artifacts/", headers={"Authorization": "Api-Token nope"}).status_code == 401
    assert faulty.get(VAI_MEMORY, headers={"Authorization": "Bearer nope"}).status_code == 401


# --- validation ------------------------------------------------------------------------------


def test_validation_off(make: Client) -> None:
    healthy, faulty = both(make, "validation-off")
    url = f"{PROMPT}/chat-memory-status/"
    bad_bodies: list[dict[str, Any]] = [
        {"json": {}},
        {"json": {"enabled": "maybe"}},
        {"json": {"enabled": None}},
        {"data": {"enabled": "maybe"}},
        {},
    ]
    for kwargs in bad_bodies:
        response = healthy.put(url, headers=JOHN, **kwargs)
        assert response.status_code == 400 and "enabled" in response.json(), kwargs
        response = faulty.put(url, headers=JOHN, **kwargs)
        assert response.status_code == 200 and response.json()["enabled"] is True, kwargs
    # Valid input keeps working, and malformed JSON is still a parse error.
    assert faulty.put(url, headers=JOHN, json={"enabled": False}).json()["enabled"] is False
    assert faulty.put(url, headers=JOHN, data={"enabled": "off"}).json()["enabled"] is False
    malformed = faulty.put(url, headers={**JOHN, "Content-Type": "application/json"}, content=b"{")
    assert malformed.status_code == 400


# --- analytics -------------------------------------------------------------------------------


def _with_conversations(document: dict[str, Any], message_counts: list[int], org: str = "main",
                        day: str = "2024-08-01") -> dict[str, Any]:
    """The document plus conversations of ``org`` on ``day`` (at 00:00, 01:00, ...) with these message counts."""
    doc = copy.deepcopy(document)
    template = next(c for c in doc["ibl"]["chat_history"] if c["org"] == org)
    for n, count in enumerate(message_counts):
        conv = copy.deepcopy(template)
        conv["id"] = f"00000000-0000-4000-8000-{len(doc['ibl']['chat_history']):012d}"
        conv["inserted_at"] = f"{day}T{n:02d}:00:00Z"
        conv["messages"] = [{"type": "human", "content": "q", "timestamp": conv["inserted_at"]}] * count
        doc["ibl"]["chat_history"].append(conv)
    return doc


def test_analytics_round_down(make: Client, document: dict[str, Any]) -> None:
    doc = _with_conversations(document, [1, 2])  # 3 messages over 2 sessions: 1.5
    healthy, faulty = both(make, "analytics-round-down", doc)
    url = f"{ANALYTICS}/average-messages-per-session/?start_date=2024-08-01&end_date=2024-08-01"
    assert healthy.get(url, headers=ADMIN).json() == [
        {"time": "2024-08-01T00:00:00Z", "avg_messages": 2, "total_sessions": 2}]
    assert faulty.get(url, headers=ADMIN).json() == [
        {"time": "2024-08-01T00:00:00Z", "avg_messages": 1, "total_sessions": 2}]


def test_analytics_stale(make: Client) -> None:
    healthy, faulty = both(make, "analytics-stale")
    url = f"{ANALYTICS}/average-messages-per-session/?start_date=2024-07-01&end_date=2024-07-01"
    conversation = {"topics": [], "mentor": "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f", "model": "m", "platform": "main"}
    for client in (healthy, faulty):
        assert client.get(url, headers=ADMIN).json()[0]["total_sessions"] == 0
        assert client.post(f"{ANALYTICS}/chat-history/", headers=ADMIN, json=conversation).status_code == 201
    assert healthy.get(url, headers=ADMIN).json()[0]["total_sessions"] == 1
    assert faulty.get(url, headers=ADMIN).json()[0]["total_sessions"] == 0
    # Validation still happens first.
    assert faulty.get(f"{ANALYTICS}/average-messages-per-session/", headers=ADMIN).status_code == 400


# --- counters --------------------------------------------------------------------------------


def test_backfill_skips_skipped(make: Client) -> None:
    healthy, faulty = both(make, "backfill-skips-skipped")
    url = f"{VAI_MEMORY}/backfill-entities"
    for client in (healthy, faulty):
        client.post(f"{url}?limit=5&offset=0", headers=VAI)  # marks the five oldest
    good = healthy.post(f"{url}?limit=10&offset=0", headers=VAI).json()
    bad = faulty.post(f"{url}?limit=10&offset=0", headers=VAI).json()
    assert good["skipped"] >= 5 and good["skipped"] == bad["skipped"]
    assert good["nextOffset"] == good["offset"] + good["examined"] == 10
    assert bad["nextOffset"] == bad["offset"] + bad["processed"] < 10
    # hasMore is computed from the wrong offset too: at the end, a healthy mock says stop.
    end = healthy.post(f"{url}?limit=50&offset=0", headers=VAI).json()
    assert end["hasMore"] is False
    assert faulty.post(f"{url}?limit=50&offset=0", headers=VAI).json()["hasMore"] is True


# --- second round: auth ----------------------------------------------------------------------


def test_cross_org_admin(make: Client) -> None:
    healthy, faulty = both(make, "cross-org-admin")
    url = f"{MENTOR}/custom-instruction/"
    assert healthy.get(url, headers=ACME_ADMIN).status_code == 403
    leaked = faulty.get(url, headers=ACME_ADMIN)
    assert leaked.status_code == 200 and leaked.json()["username"] == "johndoe"
    status = f"{PROMPT}/chat-memory-status/"
    assert healthy.put(status, headers=ACME_ADMIN, json={"enabled": False}).status_code == 403
    assert faulty.put(status, headers=ACME_ADMIN, json={"enabled": False}).json()["enabled"] is False
    assert faulty.get(status, headers=JOHN).json()["enabled"] is False  # the write landed in org main
    # Only admins leave their org; the admin's own org and user tokens are as before.
    assert faulty.get("/api/ai-mentor/orgs/acme/users/wile/custom-instruction/", headers=JOHN).status_code == 403
    acme = "/api/ai-mentor/orgs/acme/users/acme-admin/artifacts/"
    assert faulty.get(acme, headers=ACME_ADMIN).json() == healthy.get(acme, headers=ACME_ADMIN).json()
    assert faulty.get(url, headers={"Authorization": "Api-Token nope"}).status_code == 401


def test_chat_history_user_token(make: Client) -> None:
    healthy, faulty = both(make, "chat-history-user-token")
    own = "/api/ai-analytics/orgs/main/users/johndoe/chat-history/"
    assert healthy.get(own, headers=JOHN).status_code == 403
    listed = faulty.get(own, headers=JOHN)
    assert listed.status_code == 200
    assert listed.json() == healthy.get(own, headers=ADMIN).json()  # the whole org, as an admin sees it
    conversation = listed.json()["results"][0]["id"]
    assert healthy.get(f"{own}{conversation}/", headers=JOHN).status_code == 403
    assert faulty.get(f"{own}{conversation}/", headers=JOHN).status_code == 200
    # The user's reach still holds, and other admin-free operations are untouched.
    assert faulty.get("/api/ai-analytics/orgs/main/users/janedoe/chat-history/", headers=JOHN).status_code == 403
    assert faulty.get(f"{ANALYTICS}/average-messages-per-session/?start_date=2024-06-01&end_date=2024-06-01",
                      headers=JOHN).status_code == 403


# --- second round: isolation -----------------------------------------------------------------


def _walk(client: TestClient, url: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a DRF list, following next links."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        body = client.get(next_url, headers=headers).json()
        items += body["results"]
        next_url = body["next"]
    return items


def test_chat_history_all_orgs(make: Client) -> None:
    healthy, faulty = both(make, "chat-history-all-orgs")
    url = f"{ANALYTICS}/chat-history/"
    good = _walk(healthy, f"{url}?page_size=7", ADMIN)
    bad = _walk(faulty, f"{url}?page_size=7", ADMIN)
    assert {c["student"] for c in bad} - {c["student"] for c in good} == {"wile"}  # acme's conversations
    assert len(bad) == len(good) + 2 == faulty.get(url, headers=ADMIN).json()["count"]
    # Still one list: pages partition it, newest first, filters apply to every org.
    assert len({c["id"] for c in bad}) == len(bad)
    assert [c["inserted_at"] for c in bad] == sorted((c["inserted_at"] for c in bad), reverse=True)
    assert healthy.get(f"{url}?filter_user_id=wile", headers=ADMIN).json()["count"] == 0
    assert faulty.get(f"{url}?filter_user_id=wile", headers=ADMIN).json()["count"] == 2
    acme = "/api/ai-analytics/orgs/acme/users/acme-admin/chat-history/"
    assert healthy.get(acme, headers=ACME_ADMIN).json()["count"] == 2
    assert faulty.get(acme, headers=ACME_ADMIN).json()["count"] == len(bad)


def test_analytics_all_orgs(make: Client, document: dict[str, Any]) -> None:
    doc = _with_conversations(_with_conversations(document, [1, 2]), [6], org="acme")
    healthy, faulty = both(make, "analytics-all-orgs", doc)
    url = f"{ANALYTICS}/average-messages-per-session/?start_date=2024-08-01&end_date=2024-08-02"
    assert healthy.get(url, headers=ADMIN).json() == [
        {"time": "2024-08-01T00:00:00Z", "avg_messages": 2, "total_sessions": 2},
        {"time": "2024-08-02T00:00:00Z", "avg_messages": 0, "total_sessions": 0}]
    assert faulty.get(url, headers=ADMIN).json() == [
        {"time": "2024-08-01T00:00:00Z", "avg_messages": 3, "total_sessions": 3},  # 9 messages, 3 sessions
        {"time": "2024-08-02T00:00:00Z", "avg_messages": 0, "total_sessions": 0}]
    assert faulty.get(f"{url}&aggregation=hourly", headers=ADMIN).json()[0]["total_sessions"] == 2  # 00:00
    assert faulty.get(f"{ANALYTICS}/average-messages-per-session/", headers=ADMIN).status_code == 400


def test_edx_memory_any_user(make: Client) -> None:
    healthy, faulty = both(make, "edx-memory-any-user")
    janes = healthy.get("/api/ai-mentor/orgs/main/users/janedoe/edx-memory/", headers=ADMIN).json()["results"][0]
    url = f"{MENTOR}/edx-memory/{janes['id']}/"
    assert healthy.get(url, headers=JOHN).status_code == 404
    leaked = faulty.get(url, headers=JOHN)
    assert leaked.status_code == 200 and leaked.json() == janes
    assert healthy.delete(url, headers=JOHN).status_code == 404
    assert faulty.delete(url, headers=JOHN).status_code == 204
    assert faulty.get("/api/ai-mentor/orgs/main/users/janedoe/edx-memory/", headers=ADMIN).json()["count"] == 0
    # Own records, absent ids and the reach check answer as before.
    own = healthy.get(f"{MENTOR}/edx-memory/", headers=JOHN).json()["results"][0]
    assert faulty.get(f"{MENTOR}/edx-memory/{own['id']}/", headers=JOHN).json() == own
    assert faulty.get(f"{MENTOR}/edx-memory/99999/", headers=JOHN).status_code == 404
    assert faulty.get(f"/api/ai-mentor/orgs/main/users/janedoe/edx-memory/{janes['id']}/",
                      headers=JOHN).status_code == 403


def test_all_chats_delete_any_user(make: Client) -> None:
    healthy, faulty = both(make, "all-chats-delete-any-user")
    janes = "/api/ai-prompt/orgs/main/users/janedoe/all-chats-memory/"
    entry = healthy.get(janes, headers=ADMIN).json()["id"]  # janedoe's only entry
    assert healthy.delete(f"{PROMPT}/all-chats-memory/{entry}/", headers=JOHN).status_code == 404
    assert healthy.get(janes, headers=ADMIN).status_code == 200
    assert faulty.delete(f"{PROMPT}/all-chats-memory/{entry}/", headers=JOHN).status_code == 204
    assert faulty.get(janes, headers=ADMIN).status_code == 404  # gone
    assert faulty.delete(f"{PROMPT}/all-chats-memory/{entry}/", headers=JOHN).status_code == 404
    assert faulty.delete(f"{PROMPT}/all-chats-memory/99999/", headers=JOHN).status_code == 404
    assert faulty.delete(f"{PROMPT}/all-chats-memory/1/", headers=JOHN).status_code == 204  # own, as before


# --- second round: counts and pages ----------------------------------------------------------


def _add_artifacts(client: TestClient, n: int, title: str = "extra") -> list[int]:
    return [client.post(f"{MENTOR}/artifacts/", headers=JOHN, json={"title": title}).json()["id"] for _ in range(n)]


def test_page_size_uncapped(make: Client) -> None:
    healthy, faulty = both(make, "page-size-uncapped")
    for client in (healthy, faulty):
        _add_artifacts(client, 100)  # 113 in all
    url = f"{MENTOR}/artifacts/"
    good = healthy.get(f"{url}?page_size=150", headers=JOHN).json()
    bad = faulty.get(f"{url}?page_size=150", headers=JOHN).json()
    assert len(good["results"]) == 100 and good["next"] is not None
    assert good["count"] == bad["count"] == len(bad["results"]) == 113 and bad["next"] is None
    second = faulty.get(f"{url}?page_size=110&page=2", headers=JOHN).json()
    assert [a["id"] for a in second["results"]] == [a["id"] for a in bad["results"][110:]]
    assert second["previous"].endswith(f"{url}?page_size=110")
    assert faulty.get(f"{url}?page_size=110&page=3", headers=JOHN).status_code == 404
    for query in ("page_size=100", "page_size=30&page=3", ""):
        assert faulty.get(f"{url}?{query}", headers=JOHN).json() == healthy.get(f"{url}?{query}", headers=JOHN).json()


def test_default_page_size_20(make: Client) -> None:
    healthy, faulty = both(make, "default-page-size-20")
    url = f"{MENTOR}/artifacts/"
    for query in ("", "?page_size=0", "?page_size=-3", "?page_size=many"):
        good = healthy.get(f"{url}{query}", headers=JOHN).json()
        bad = faulty.get(f"{url}{query}", headers=JOHN).json()
        assert len(good["results"]) == 10 and good["next"] is not None, query
        assert len(bad["results"]) == 13 and bad["next"] is None, query
    five = f"{url}?page_size=5"
    assert faulty.get(five, headers=JOHN).json() == healthy.get(five, headers=JOHN).json()
    _add_artifacts(faulty, 10)
    body = faulty.get(url, headers=JOHN).json()
    assert len(body["results"]) == 20 and body["next"].endswith(f"{url}?page=2")  # the links keep what was sent


def test_next_link_drops_query(make: Client) -> None:
    healthy, faulty = both(make, "next-link-drops-query")
    url = f"{MENTOR}/artifacts/"
    good = healthy.get(f"{url}?page_size=5&ordering=title&page=2", headers=JOHN).json()
    bad = faulty.get(f"{url}?page_size=5&ordering=title&page=2", headers=JOHN).json()
    assert good["next"].endswith(f"{url}?page_size=5&ordering=title&page=3")
    assert good["previous"].endswith(f"{url}?page_size=5&ordering=title")
    assert bad["next"].endswith(f"{url}?page=3") and bad["previous"].endswith(url)
    assert bad["results"] == good["results"] and bad["count"] == good["count"]


def test_first_page_link_numbered(make: Client) -> None:
    healthy, faulty = both(make, "first-page-link-numbered")
    url = f"{MENTOR}/artifacts/"
    assert healthy.get(f"{url}?page_size=5&page=2", headers=JOHN).json()["previous"].endswith(f"{url}?page_size=5")
    assert faulty.get(f"{url}?page_size=5&page=2", headers=JOHN).json()["previous"].endswith(
        f"{url}?page_size=5&page=1")
    for query in ("?page_size=5", "?page_size=5&page=3"):
        assert faulty.get(f"{url}{query}", headers=JOHN).json() == healthy.get(f"{url}{query}", headers=JOHN).json()


# --- second round: ordering ------------------------------------------------------------------


def test_ordering_ties_unstable(make: Client) -> None:
    healthy, faulty = both(make, "ordering-ties-unstable")
    url = f"{MENTOR}/artifacts/?ordering=title&page_size=5"
    # Without ties (the fixtures' titles differ) every page is as before.
    assert _walk(faulty, url, JOHN) == _walk(healthy, url, JOHN)
    for client in (healthy, faulty):
        ties = _add_artifacts(client, 3, title="Tie")
    tied = f"{MENTOR}/artifacts/?search=Tie&ordering=title&page_size=2"
    assert [a["id"] for a in _walk(healthy, tied, JOHN)] == ties
    assert [a["id"] for a in _walk(faulty, tied, JOHN)] == [ties[0], ties[1], ties[0]]  # repeats one, skips one


def test_unknown_ordering_400(make: Client) -> None:
    healthy, faulty = both(make, "unknown-ordering-400")
    url = f"{MENTOR}/artifacts/"
    default = healthy.get(url, headers=JOHN).json()
    for ordering in ("nope", "title,nope"):
        assert healthy.get(f"{url}?ordering={ordering}", headers=JOHN).status_code == 200
        bad = faulty.get(f"{url}?ordering={ordering}", headers=JOHN)
        assert bad.status_code == 400 and bad.json() == {"ordering": ["Invalid ordering field: nope"]}
    assert healthy.get(f"{url}?ordering=nope", headers=JOHN).json()["results"] == default["results"]  # ignored
    for query in ("?ordering=-title,date_created", "?ordering=", ""):
        assert faulty.get(f"{url}{query}", headers=JOHN).json() == healthy.get(f"{url}{query}", headers=JOHN).json()


def test_ordering_first_field_only(make: Client, clock: FixedClock) -> None:
    healthy, faulty = both(make, "ordering-first-field-only")
    for _ in range(3):  # three artifacts with one title, a minute apart
        clock.advance(timedelta(minutes=1))
        for client in (healthy, faulty):
            _add_artifacts(client, 1, title="Tie")
    tied = f"{MENTOR}/artifacts/?search=Tie&ordering=title,-date_created&page_size=2"
    good = [a["id"] for a in _walk(healthy, tied, JOHN)]
    bad = [a["id"] for a in _walk(faulty, tied, JOHN)]
    assert len(good) == 3 and good == sorted(good, reverse=True)  # newest created first
    assert bad == sorted(good)  # by id: the second field is lost
    link = faulty.get(tied, headers=JOHN).json()["next"]
    assert "ordering=title%2C-date_created" in link  # the links keep what was sent
    single = f"{MENTOR}/artifacts/?ordering=-title&page_size=5"
    assert _walk(faulty, single, JOHN) == _walk(healthy, single, JOHN)


# --- second round: analytics -----------------------------------------------------------------


def test_analytics_weeks_from_sunday(make: Client, document: dict[str, Any]) -> None:
    doc = _with_conversations(_with_conversations(document, [3], day="2024-08-04"), [1], day="2024-08-05")
    healthy, faulty = both(make, "analytics-weeks-from-sunday", doc)  # a Sunday and the Monday after it
    url = f"{ANALYTICS}/average-messages-per-session/?start_date=2024-08-01&end_date=2024-08-14"
    assert healthy.get(f"{url}&aggregation=weekly", headers=ADMIN).json() == [
        {"time": "2024-07-29T00:00:00Z", "avg_messages": 3, "total_sessions": 1},
        {"time": "2024-08-05T00:00:00Z", "avg_messages": 1, "total_sessions": 1},
        {"time": "2024-08-12T00:00:00Z", "avg_messages": 0, "total_sessions": 0}]
    assert faulty.get(f"{url}&aggregation=weekly", headers=ADMIN).json() == [
        {"time": "2024-07-28T00:00:00Z", "avg_messages": 0, "total_sessions": 0},
        {"time": "2024-08-04T00:00:00Z", "avg_messages": 2, "total_sessions": 2},
        {"time": "2024-08-11T00:00:00Z", "avg_messages": 0, "total_sessions": 0}]
    for aggregation in ("daily", "hourly"):
        query = f"{url}&aggregation={aggregation}"
        assert faulty.get(query, headers=ADMIN).json() == healthy.get(query, headers=ADMIN).json()


def test_analytics_end_exclusive(make: Client, document: dict[str, Any]) -> None:
    healthy, faulty = both(make, "analytics-end-exclusive", _with_conversations(document, [1, 2]))
    url = f"{ANALYTICS}/average-messages-per-session/?start_date=2024-08-01"
    one_day = {"time": "2024-08-01T00:00:00Z", "avg_messages": 2, "total_sessions": 2}
    assert healthy.get(f"{url}&end_date=2024-08-01", headers=ADMIN).json() == [one_day]
    assert faulty.get(f"{url}&end_date=2024-08-01", headers=ADMIN).json() == []
    assert len(healthy.get(f"{url}&end_date=2024-08-02", headers=ADMIN).json()) == 2
    assert faulty.get(f"{url}&end_date=2024-08-02", headers=ADMIN).json() == [one_day]
    assert len(faulty.get(f"{url}&end_date=2024-08-02&aggregation=hourly", headers=ADMIN).json()) == 24
    assert faulty.get(f"{url}&end_date=2024-07-01", headers=ADMIN).json() == []  # end before start, as before


def test_analytics_hourly_gaps(make: Client, document: dict[str, Any]) -> None:
    healthy, faulty = both(make, "analytics-hourly-gaps", _with_conversations(document, [1, 2]))
    url = f"{ANALYTICS}/average-messages-per-session/?start_date=2024-08-01&end_date=2024-08-01"
    good = healthy.get(f"{url}&aggregation=hourly", headers=ADMIN).json()
    assert len(good) == 24 and [b["total_sessions"] for b in good[:3]] == [1, 1, 0]
    assert faulty.get(f"{url}&aggregation=hourly", headers=ADMIN).json() == good[:2]
    for aggregation in ("daily", "weekly"):
        query = f"{url}&aggregation={aggregation}"
        assert faulty.get(query, headers=ADMIN).json() == healthy.get(query, headers=ADMIN).json()


# --- second round: bounds --------------------------------------------------------------------


def test_vai_limit_uncapped(make: Client) -> None:
    healthy, faulty = both(make, "vai-limit-uncapped")
    assert healthy.get(f"{VAI_MEMORY}?limit=101", headers=VAI).status_code == 422
    every = healthy.get(f"{VAI_MEMORY}?limit=100", headers=VAI).json()
    assert faulty.get(f"{VAI_MEMORY}?limit=101", headers=VAI).json() == every  # the org has 30
    assert faulty.get(f"{VAI_MEMORY}?limit=1000&offset=20", headers=VAI).json() == {
        "memories": every["memories"][20:], "total": 30}
    assert faulty.get(f"{VAI_MEMORY}?limit=101&offset=-1", headers=VAI).status_code == 422  # the rest is checked
    assert faulty.get(f"{VAI_MEMORY}?limit=0", headers=VAI).status_code == 422
    assert faulty.get(f"{VAI_MEMORY}?limit=101").status_code == 401


def test_vai_negative_offset(make: Client) -> None:
    healthy, faulty = both(make, "vai-negative-offset")
    assert healthy.get(f"{VAI_MEMORY}?offset=-1", headers=VAI).status_code == 422
    assert faulty.get(f"{VAI_MEMORY}?offset=-1&limit=5", headers=VAI).json() == healthy.get(
        f"{VAI_MEMORY}?offset=0&limit=5", headers=VAI).json()
    assert faulty.get(f"{VAI_MEMORY}?offset=-1&limit=101", headers=VAI).status_code == 422
    assert faulty.get(f"{VAI_MEMORY}?offset=3", headers=VAI).json() == healthy.get(
        f"{VAI_MEMORY}?offset=3", headers=VAI).json()


def test_analytics_cap_too_high(make: Client) -> None:
    healthy, faulty = both(make, "analytics-cap-too-high")
    url = f"{ANALYTICS}/average-messages-per-session/"
    past_cap = {"start_date": "2000-01-01", "end_date": "2027-05-19"}  # 10,001 days
    refused = healthy.get(url, params=past_cap, headers=ADMIN)
    assert refused.status_code == 400 and "end_date" in refused.json()
    served = faulty.get(url, params=past_cap, headers=ADMIN).json()
    assert len(served) == 10_001 and served[0]["time"] == "2000-01-01T00:00:00Z"
    assert served[-1]["time"] == "2027-05-19T00:00:00Z"
    june = [b for b in served if b["time"].startswith("2024-06-2")]
    assert june == healthy.get(url, params={"start_date": "2024-06-20", "end_date": "2024-06-29"}, headers=ADMIN).json()
    weekly = faulty.get(url, params={"start_date": "2000-01-05", "end_date": "2199-12-31", "aggregation": "weekly"},
                        headers=ADMIN).json()
    assert len(weekly) == 10_436 and weekly[0]["time"] == "2000-01-03T00:00:00Z"  # whole weeks, from a Monday
    hourly = faulty.get(url, params={"start_date": "2024-01-01", "end_date": "2025-12-31", "aggregation": "hourly"},
                        headers=ADMIN).json()
    assert len(hourly) == 731 * 24 and len({b["time"] for b in hourly}) == len(hourly)
    # Past 100,000 buckets, and any other problem, still answer 400.
    too_far = {"start_date": "2000-01-01", "end_date": "2499-01-01"}  # 182,258 days
    assert faulty.get(url, params=too_far, headers=ADMIN).status_code == 400
    assert faulty.get(url, params={**past_cap, "aggregation": "yearly"}, headers=ADMIN).status_code == 400


# --- second round: reads and writes ----------------------------------------------------------


def test_patch_keeps_date_updated(make: Client, clock: FixedClock) -> None:
    healthy, faulty = both(make, "patch-keeps-date-updated")
    artifact_id = first_artifact(healthy)
    url = f"{MENTOR}/artifacts/{artifact_id}/"
    before = healthy.get(url, headers=JOHN).json()["date_updated"]
    clock.advance(timedelta(hours=1))
    assert healthy.patch(url, headers=JOHN, json={"title": "p"}).json()["date_updated"] == "2024-07-01T13:00:00Z"
    patched = faulty.patch(url, headers=JOHN, json={"title": "p"}).json()
    assert patched["date_updated"] == before and patched["title"] == "p"
    stored = faulty.get(url, headers=JOHN).json()
    assert stored["date_updated"] == before and stored["title"] == "p"
    clock.advance(timedelta(hours=1))
    assert faulty.put(url, headers=JOHN, json={"title": "q"}).json()["date_updated"] == "2024-07-01T14:00:00Z"
    assert faulty.patch(f"{MENTOR}/artifacts/99999/", headers=JOHN, json={"title": "p"}).status_code == 404


def test_vai_create_drops_content(make: Client) -> None:
    healthy, faulty = both(make, "vai-create-drops-content")
    assert healthy.post(VAI_MEMORY, headers=VAI, json={"content": "remember"}).json()["content"] == "remember"
    created = faulty.post(VAI_MEMORY, headers=VAI, json={"content": "remember"})
    assert created.status_code == 201 and created.json()["content"] == ""
    assert faulty.get(f"{VAI_MEMORY}/{created.json()['id']}", headers=VAI).json()["content"] == ""
    assert faulty.post(VAI_MEMORY, headers=VAI, json={}).status_code == 422
    assert faulty.post(VAI_MEMORY, headers=VAI, json={"content": 5}).status_code == 422


def test_profile_upsert_duplicates(make: Client) -> None:
    healthy, faulty = both(make, "profile-upsert-duplicates")
    url = f"{MENTOR}/ai-user-profile-memory/"
    for client in (healthy, faulty):
        assert client.post(url, headers=JOHN, json={"tag": "profession", "detail": "teacher"}).status_code == 200
        assert client.post(url, headers=JOHN, json={"tag": "hobby", "detail": "chess"}).status_code == 200
    good = [r for r in healthy.get(url, headers=JOHN).json() if r["tag"] in ("profession", "hobby")]
    bad = [r for r in faulty.get(url, headers=JOHN).json() if r["tag"] in ("profession", "hobby")]
    assert good == [{"tag": "hobby", "detail": "chess"}, {"tag": "profession", "detail": "teacher"}]
    assert bad == [{"tag": "hobby", "detail": "chess"}, {"tag": "profession", "detail": "software engineer"},
                   {"tag": "profession", "detail": "teacher"}]
    # A delete removes every row of the tag; created again, it is one row.
    assert faulty.delete(f"{url}profession/", headers=JOHN).status_code == 204
    assert all(r["tag"] != "profession" for r in faulty.get(url, headers=JOHN).json())
    faulty.post(url, headers=JOHN, json={"tag": "profession", "detail": "pilot"})
    assert [r for r in faulty.get(url, headers=JOHN).json() if r["tag"] == "profession"] == [
        {"tag": "profession", "detail": "pilot"}]
    janes = "/api/ai-mentor/orgs/main/users/janedoe/ai-user-profile-memory/"
    assert faulty.get(janes, headers=ADMIN).json() == healthy.get(janes, headers=ADMIN).json()


# --- second round: server errors on unusual but valid input ----------------------------------


def test_search_non_ascii_500(make: Client) -> None:
    healthy, faulty = both(make, "search-non-ascii-500")
    url = f"{MENTOR}/artifacts/"
    assert healthy.get(url, params={"search": "café"}, headers=JOHN).json()["count"] == 0
    broken = faulty.get(url, params={"search": "café"}, headers=JOHN)
    assert broken.status_code == 500 and broken.json() == {"detail": "Internal Server Error"}
    assert faulty.get(url, params={"search": "calc"}, headers=JOHN).json() == healthy.get(
        url, params={"search": "calc"}, headers=JOHN).json()
    assert faulty.get(url, params={"search": "café"}).status_code == 401


def test_title_max_length_500(make: Client) -> None:
    healthy, faulty = both(make, "title-max-length-500")
    url = f"{MENTOR}/artifacts/"
    assert healthy.post(url, headers=JOHN, json={"title": "x" * 255}).status_code == 201
    count = faulty.get(url, headers=JOHN).json()["count"]
    broken = faulty.post(url, headers=JOHN, json={"title": "x" * 255})
    assert broken.status_code == 500 and broken.json() == {"detail": "Internal Server Error"}
    assert faulty.get(url, headers=JOHN).json()["count"] == count  # nothing stored
    # Shorter titles are created; invalid requests get the answer they always got.
    assert faulty.post(url, headers=JOHN, json={"title": "x" * 254}).status_code == 201
    for client in (healthy, faulty):
        assert client.post(url, headers=JOHN, json={"title": "x" * 256}).status_code == 400
        bad = client.post(url, headers=JOHN, json={"title": "x" * 255, "metadata": {}, "session_id": "no"})
        assert bad.status_code == 400 and "session_id" in bad.json()
        assert client.post(url, json={"title": "x" * 255}).status_code == 401


def test_page_size_100_500(make: Client) -> None:
    healthy, faulty = both(make, "page-size-100-500")
    url = f"{MENTOR}/artifacts/"
    for size in (100, 500):
        assert healthy.get(f"{url}?page_size={size}", headers=JOHN).status_code == 200
        assert faulty.get(f"{url}?page_size={size}", headers=JOHN).status_code == 500
    assert faulty.get(f"{url}?page_size=99", headers=JOHN).json() == healthy.get(
        f"{url}?page_size=99", headers=JOHN).json()
    assert faulty.get(f"{VAI_MEMORY}?limit=100", headers=VAI).status_code == 200
