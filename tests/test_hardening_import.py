"""A big state import or reset leaves the mock answering other clients meanwhile."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest

from mock_server.settings import DEFAULT_FIXTURES
from mock_server.store import Store
from tests.api.conftest import VAI_DEV, VAI_DEV_ORG
from tests.served import Served, serve

RECORDS = 12_000  # memories and conversations each: a document of about 8 MB
JSON = {"Content-Type": "application/json"}


def big_document() -> bytes:
    """The default fixtures plus RECORDS memories and RECORDS conversations, as JSON."""
    document = Store.from_file(DEFAULT_FIXTURES).export()
    template = next(c for c in document["ibl"]["chat_history"] if c["messages"])
    for n in range(RECORDS):
        document["ibl"]["chat_history"].append({**template, "id": str(uuid.UUID(int=n + 1, version=4))})
        document["vai"]["memories"].append({"id": str(uuid.UUID(int=10**9 + n, version=4)),
                                            "organizationId": VAI_DEV_ORG, "content": f"memory {n}",
                                            "createdAt": "2024-05-01T00:00:00Z"})
    return orjson.dumps(document)


@pytest.fixture(scope="module")
def mock() -> Iterator[Served]:
    """A served mock that takes bodies of up to 100 MB."""
    with serve("--body-limit", "100000000") as served:
        yield served


def probing(mock: Served, work: callable) -> tuple[object, list[float]]:  # type: ignore[valid-type]
    """Run ``work()`` while another client asks for health every 10 ms; its result and the probes' seconds."""
    probes: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=mock.url, trust_env=False, timeout=30) as client:
            while not done.is_set():
                start = time.perf_counter()
                assert client.get("/_mock/health").status_code == 200
                probes.append(time.perf_counter() - start)
                time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        result = work()
    finally:
        done.set()
        prober.join()
    return result, probes


def test_an_import_and_a_reset_keep_the_mock_answering(mock: Served) -> None:
    document = big_document()
    assert len(document) > 6_000_000
    with httpx.Client(base_url=mock.url, trust_env=False, timeout=120) as client:
        for request in (lambda: client.put("/_mock/state", content=document, headers=JSON),
                        lambda: client.post("/_mock/reset", headers=JSON)):
            started = time.perf_counter()
            response, probes = probing(mock, request)
            took = time.perf_counter() - started
            assert response.status_code == 204  # type: ignore[attr-defined]
            # Answered all along: many probes while it ran, none held for long. (On the landed
            # main the loop was busy for the whole import: one probe waited as long as it took.)
            assert len(probes) >= 10, (took, probes)
            assert max(probes) < 0.5 and max(probes) < took / 2, (took, max(probes))
        listed = client.get("/api/v1/memory?limit=1", headers={"Authorization": f"Bearer {VAI_DEV}"}).json()
        assert listed["total"] == 30 + RECORDS


def test_dismantle_lets_go_of_everything_but_empties_only_what_nothing_else_holds() -> None:
    from mock_server.heap import dismantle

    shared = list(range(1_000))
    pile = [shared, {"mine": [list(range(1_000)) for _ in range(3)], "shared": shared}, list(range(2_000))]
    dismantle(pile)
    assert pile == [] and shared == list(range(1_000))


def test_gc_pauses_nest_and_freeze_what_was_made() -> None:
    import gc

    from mock_server.heap import gc_paused

    assert gc.isenabled()
    with gc_paused():
        with gc_paused():
            made = [[n] for n in range(1_000)]
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() >= len(made)
    gc.unfreeze()
