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
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.security import SecurityMiddleware
from mock_server.faults import CREATE_OPERATIONS, FAULTS, FaultMiddleware
from mock_server.settings import DEFAULT_FIXTURES, Settings
from mock_server.store import Store

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)

ADMIN = {"Authorization": "Api-Token dev-ibl-admin-main-0001"}
JOHN = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
VAI_OTHER = {"Authorization": "Bearer dev-vai-other-org-0001"}

MENTOR = "/api/ai-mentor/orgs/main/users/johndoe"
PROMPT = "/api/ai-prompt/orgs/main/users/johndoe"
ANALYTICS = "/api/ai-analytics/orgs/main/users/admin"
VAI_MEMORY = "/api/v1/memory"

CATEGORIES = {"status", "schema", "state", "pagination", "isolation", "auth", "validation", "analytics", "counters"}

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
    with pytest.raises(ValueError) as info:
        Settings(fixtures=None, fault="no-such-fault")
    message = str(info.value)
    assert "no-such-fault" in message
    for name in FAULTS:
        assert name in message


def test_fault_from_the_environment() -> None:
    assert Settings.from_env({"MEMMOCK_FAULT": "Delete-Noop "}, fixtures=None).fault == "delete-noop"
    with pytest.raises(ValueError, match="valid faults: "):
        Settings.from_env({"MEMMOCK_FAULT": "bogus"})


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


def _middlewares(settings: Settings) -> list[Any]:
    app = create_app(settings, store=Store())
    return [getattr(m, "func", m) for m in app.middleware.middlewares]


def test_healthy_mock_installs_no_fault_middleware() -> None:
    assert FaultMiddleware not in _middlewares(Settings(fixtures=None))
    assert FaultMiddleware in _middlewares(Settings(fixtures=None, fault="delete-noop"))


def test_fault_middleware_sits_after_routing_and_before_security() -> None:
    stack = _middlewares(Settings(fixtures=None, fault="delete-noop", strict=True))

    def position(cls: type) -> int:
        return next(i for i, m in enumerate(stack) if isinstance(m, type) and issubclass(m, cls))

    assert position(RoutingMiddleware) < position(FaultMiddleware) < position(SecurityMiddleware)
    assert position(FaultMiddleware) < position(ResponseValidationMiddleware)


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


def _with_conversations(document: dict[str, Any], message_counts: list[int]) -> dict[str, Any]:
    """The fixtures plus conversations on 2024-08-01 with these message counts."""
    doc = copy.deepcopy(document)
    template = next(c for c in doc["ibl"]["chat_history"] if c["org"] == "main")
    for n, count in enumerate(message_counts):
        conv = copy.deepcopy(template)
        conv["id"] = f"00000000-0000-4000-8000-{n:012d}"
        conv["inserted_at"] = f"2024-08-01T0{n}:00:00Z"
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
