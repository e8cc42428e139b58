"""Latency: Prefer delay, --latency, and /_mock/behaviour per namespace and per operation; delays block nobody."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from contract_tests.inprocess import start_mock
from mock_server.app import create_app
from mock_server.behaviour.config import Activity, Behaviour
from mock_server.behaviour.latency import parse_latency
from mock_server.settings import Settings

VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
JSON = {"Content-Type": "application/json"}
MEMORIES = "/api/v1/memory"
OPERATIONS = frozenset({"list_memories", "get_memory"})


def behaviour(document: dict[str, object] | None = None, serve: str | None = None) -> Behaviour:
    found = Behaviour(OPERATIONS, Activity(parse_latency(serve) if serve else None), lambda: 5)
    if document is not None:
        found.replace(document)
    return found


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Settings(seed=5)), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    mock = start_mock()
    try:
        yield mock.url
    finally:
        mock.stop()


# --- specs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, low, high", [
    ("50ms", 0.05, 0.05), ("0.2s", 0.2, 0.2), ("1s", 1.0, 1.0), ("uniform:20ms-80ms", 0.02, 0.08),
    ("lognormal:median=50ms,sigma=0.5", 0.0, 60.0), ("UNIFORM:1s-2s", 1.0, 2.0)])
def test_latency_specs_draw_within_their_range(spec: str, low: float, high: float) -> None:
    latency = parse_latency(spec)
    rng = random.Random(1)
    draws = [latency.sample(rng) for _ in range(500)]
    assert all(low <= draw <= high for draw in draws)


def test_a_lognormal_centres_on_its_median() -> None:
    latency = parse_latency("lognormal:median=50ms,sigma=0.5")
    rng = random.Random(2)
    assert 0.045 < statistics.median(latency.sample(rng) for _ in range(4000)) < 0.055


@pytest.mark.parametrize("spec", ["50", "fast", "uniform:80ms-20ms", "uniform:20ms", "lognormal:median=50ms",
                                  "lognormal:median=0ms,sigma=1", "lognormal:median=5ms,sigma=9", "61s", "-5ms"])
def test_a_bad_latency_spec_says_what_a_latency_is(spec: str) -> None:
    with pytest.raises(ValueError, match="a latency is '50ms'"):
        parse_latency(spec)


def test_the_latency_setting_is_checked_when_read() -> None:
    assert Settings.from_env({"MEMMOCK_LATENCY": "uniform:1ms-2ms"}).latency == "uniform:1ms-2ms"
    with pytest.raises(ValueError, match="not a duration"):
        Settings(latency="soon")


# --- precedence and draws ------------------------------------------------------------------


def test_an_operations_latency_wins_over_the_namespaces_which_wins_over_the_flag() -> None:
    assert behaviour(serve="10ms").delay("get_memory") == 0.01
    assert behaviour({"latency": "20ms"}, serve="10ms").delay("get_memory") == 0.02
    both = behaviour({"latency": "20ms", "operations": {"get_memory": {"latency": "30ms"}}}, serve="10ms")
    assert (both.delay("get_memory"), both.delay("list_memories")) == (0.03, 0.02)
    assert behaviour().delay("get_memory") == 0.0


def test_an_idle_behaviour_lets_requests_through_untouched() -> None:
    assert behaviour().idle and behaviour({}).idle
    assert not behaviour(serve="1ms").idle
    assert not behaviour({"operations": {"get_memory": {"latency": "1ms"}}}).idle


def test_draws_are_seeded_per_operation_and_restart_at_each_put() -> None:
    document = {"seed": 3, "latency": "uniform:0ms-100ms"}
    first = behaviour(document)
    draws = [first.delay("get_memory") for _ in range(5)]
    fresh = behaviour(document)
    assert [fresh.delay("get_memory") for _ in range(5)] == draws
    again = behaviour(document)
    for _ in range(20):
        again.delay("list_memories")  # another operation's traffic draws from its own source
    assert [again.delay("get_memory") for _ in range(5)] == draws
    first.replace(document)
    assert [first.delay("get_memory") for _ in range(5)] == draws
    assert [behaviour({**document, "seed": 4}).delay("get_memory") for _ in range(5)] != draws


# --- over HTTP -----------------------------------------------------------------------------


def test_a_preferred_delay_holds_the_reply(client: TestClient) -> None:
    started = time.monotonic()
    reply = client.get(MEMORIES, headers={**VAI, "Prefer": "delay=120"})
    assert time.monotonic() - started >= 0.12
    assert reply.status_code == 200
    assert reply.headers["preference-applied"] == "delay=120"


def test_a_namespaces_behaviour_applies_to_its_requests_only(client: TestClient) -> None:
    slow = {"X-Memmock-Namespace": "slow"}
    put = client.put("/_mock/behaviour", json={"operations": {"list_memories": {"latency": "150ms"}}},
                     headers={**JSON, **slow})
    assert put.status_code == 200
    assert put.json() == {"seed": 5, "operations": {"list_memories": {"latency": "150ms"}}, "serve_latency": None}
    assert client.get("/_mock/behaviour").json() == {"seed": 5, "operations": {}, "serve_latency": None}
    started = time.monotonic()
    client.get(MEMORIES, headers={**VAI, **slow})
    assert time.monotonic() - started >= 0.15
    assert client.delete("/_mock/behaviour", headers={**JSON, **slow}).status_code == 204
    assert client.get("/_mock/behaviour", headers=slow).json()["operations"] == {}


def test_the_flag_latency_shows_and_applies_to_every_namespace() -> None:
    client = TestClient(create_app(Settings(latency="60ms")), base_url="http://127.0.0.1")
    assert client.get("/_mock/behaviour", headers={"X-Memmock-Namespace": "n"}).json()["serve_latency"] == "60ms"
    started = time.monotonic()
    client.get(MEMORIES, headers={**VAI, "X-Memmock-Namespace": "n"})
    assert time.monotonic() - started >= 0.06
    started = time.monotonic()
    client.get("/_mock/health")  # never the admin plane
    assert time.monotonic() - started < 0.06


@pytest.mark.parametrize("document, where", [
    ({"latency": "5"}, ["latency"]),
    ({"operations": {"list_memory": {"latency": "5ms"}}}, ["operations", "list_memory"]),
    ({"operations": {"list_memories": {"probability": 0.5}}}, ["operations", "list_memories", "probability"]),
    ({"fault": "reset", "retry_after": 3}, ["retry_after"]),
    ({"fault": "429", "duration": 3}, ["duration"]),
    ({"fault": "429", "probability": 2}, ["probability"]),
    ({"seed": -1}, ["seed"]),
    ({"fault": "teapot"}, ["fault"]),
    ({"latency": 5}, ["latency"]),
    ({"surprise": True}, ["non_field_errors"]),
    ({"operations": {"get_memory": {"latncy": "5ms"}}}, ["operations"]),
])
def test_a_document_that_is_not_a_behaviour_is_400_and_changes_nothing(client: TestClient, document: dict[str, object],
                                                                        where: list[str]) -> None:
    client.put("/_mock/behaviour", json={"latency": "1ms"}, headers=JSON)
    reply = client.put("/_mock/behaviour", json=document, headers=JSON)
    assert reply.status_code == 400, reply.text
    node = reply.json()
    for key in where:
        node = node[key]
    assert node
    assert client.get("/_mock/behaviour").json()["latency"] == "1ms"


def test_an_unknown_operation_is_named_with_its_near_misses(client: TestClient) -> None:
    reply = client.put("/_mock/behaviour", json={"operations": {"list_memory": {}}}, headers=JSON)
    assert reply.json() == {"operations": {"list_memory": [
        "No operation 'list_memory' in either API. Did you mean list_memories or get_memory or delete_memory?"]}}


def test_behaviour_writes_need_json_as_every_admin_write(client: TestClient) -> None:
    assert client.put("/_mock/behaviour", content=b"{}").status_code == 415
    assert client.delete("/_mock/behaviour").status_code == 415


def test_a_delay_never_slows_another_request(served: str) -> None:
    """A 300 ms delay on one request, a plain one beside it: the plain one takes what it takes alone."""
    with httpx.Client(base_url=served, timeout=30) as plain, httpx.Client(base_url=served, timeout=30) as held:
        def timed() -> float:
            started = time.monotonic()
            assert plain.get(MEMORIES, headers=VAI).status_code == 200
            return time.monotonic() - started

        baseline = statistics.median(timed() for _ in range(7))
        beside = []
        for _ in range(3):
            finished: list[float] = []
            holder = threading.Thread(target=lambda: (held.get(MEMORIES, headers={**VAI, "Prefer": "delay=300"}),
                                                      finished.append(time.monotonic())))
            start = time.monotonic()
            holder.start()
            time.sleep(0.05)  # the held request is in the mock by now
            beside.append(timed())
            done = time.monotonic()
            holder.join()
            assert finished[0] - start >= 0.3
            assert finished[0] > done  # it was still held when the plain one came back
        assert min(beside) < baseline + 0.15, (baseline, beside)


@pytest.mark.parametrize("how", ["dropped", "past the cap"])
def test_a_namespace_gone_with_a_behaviour_holds_no_request_back(how: str) -> None:
    # While any namespace has a behaviour of its own, every request takes the slower way through the
    # behaviour plugin; one dropped with it must stop counting (it held the shortcut off for good).
    from mock_server.behaviour.config import KEY as BEHAVIOUR

    app = create_app(Settings(max_namespaces=1))
    client = TestClient(app, base_url="http://127.0.0.1")
    activity = app.namespaces.default.extensions[BEHAVIOUR].activity
    put = client.put("/_mock/behaviour", json={"latency": "1ms"}, headers={"X-Memmock-Namespace": "slow"})
    assert put.status_code == 200, put.text
    assert not activity.idle
    if how == "dropped":
        assert client.delete("/_mock/namespaces/slow", headers=JSON).status_code == 204
    else:
        assert client.get("/api/v1/memory", headers={**VAI, "X-Memmock-Namespace": "next"}).status_code == 200
    assert [n["name"] for n in client.get("/_mock/namespaces").json()["namespaces"]] == (
        ["default"] if how == "dropped" else ["default", "next"])
    assert activity.idle
