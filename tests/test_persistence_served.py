"""--state-file on a served mock: kill -9 in the middle of 64 writers loses no acknowledged write and invents none."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from pathlib import Path

from mock_server.persistence.log import next_log_path
from tests.served import Connection, Served, serve

VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
WRITERS = 64
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def export(mock: Served) -> bytes:
    """The default namespace's whole state, as sent."""
    with _DIRECT.open(f"{mock.url}/_mock/state", timeout=30) as response:
        return response.read()  # type: ignore[no-any-return]


def contents(document: bytes, prefix: str) -> set[str]:
    """The VirtuousAI memories of a state whose content starts with ``prefix``."""
    return {m["content"] for m in json.loads(document)["vai"]["memories"] if m["content"].startswith(prefix)}


async def write_until_killed(mock: Served, acked: set[str], sent: set[str], enough: int, limit: float,
                             during: Path | None = None) -> bool:
    """64 writers create uniquely tagged memories; the mock is killed (SIGKILL) once ``enough`` are acknowledged
    and, for a while, only while ``during`` exists; whether it did."""
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        connection = await Connection.open(mock.port)
        i = 0
        try:
            while not stop.is_set():
                content = f"kill-{n}-{i}"
                sent.add(content)  # before a byte of it leaves
                status, _ = await connection.request("POST", "/api/v1/memory", VAI, {"content": content})
                assert status == 201, status
                acked.add(content)
                i += 1
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            pass  # killed under it
        finally:
            connection.writer.close()

    tasks = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and (len(acked) < enough or (during is not None and not during.exists())):
        await asyncio.sleep(0.002)
    mock.process.send_signal(signal.SIGKILL)
    caught = during is not None and during.exists()
    mock.process.wait()
    stop.set()
    await asyncio.gather(*tasks)
    return caught


def test_kill_9_in_the_middle_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    acked: set[str] = set()
    sent: set[str] = set()
    # A small --compact-bytes: snapshots are written (and logs swapped) under the writers; the kill waits a
    # while for one (the next log exists only then).
    with serve("--state-file", str(state_file), "--seed", "3", "--compact-bytes", "65536") as mock:
        asyncio.run(write_until_killed(mock, acked, sent, enough=2000, limit=20, during=next_log_path(state_file)))
    assert len(acked) >= 500, len(acked)
    with serve("--state-file", str(state_file)) as mock:
        after = export(mock)
        stored = contents(after, "kill-")
        assert acked <= stored, f"{len(acked - stored)} acknowledged writes lost"
        assert stored <= sent, f"{len(stored - sent)} writes never sent"
        in_flight = len(stored - acked)
        assert in_flight <= WRITERS  # at most each writer's last request, sent and not yet answered
    with serve("--state-file", str(state_file)) as mock:  # a restart after a clean stop: the same bytes
        assert export(mock) == after


def test_a_stop_and_start_gives_the_same_state_byte_for_byte(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with serve("--state-file", str(state_file), "--fsync", "never") as mock:

        async def writes() -> None:
            connection = await Connection.open(mock.port)
            for i in range(50):
                assert (await connection.request("POST", "/api/v1/memory", VAI, {"content": f"m{i}"}))[0] == 201
                ns = {**VAI, "X-Memmock-Namespace": "other"}
                assert (await connection.request("POST", "/api/v1/memory", ns, {"content": f"o{i}"}))[0] == 201
            await connection.close()

        asyncio.run(writes())
        before = export(mock)
    with serve("--state-file", str(state_file)) as mock:
        assert export(mock) == before
