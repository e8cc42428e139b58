"""Many clients at once against a running ``memmock serve``: no write lost, no id handed out twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.api.conftest import ADMIN, JOHN, MENTOR_A, VAI_DEV, conversation_body
from tests.served import Connection, Served, serve

CLIENTS = 64  # each on its own connection
CREATES = 20  # per client and resource: 64 x 20 x 3 = 3,840 creates
DELETE_EVERY = 3  # every third creation is deleted again, by the client that made it: 1,344 deletes
MEMORIES = "/api/v1/memory"
ARTIFACTS = "/api/ai-mentor/orgs/main/users/johndoe/artifacts/"
HISTORY = "/api/ai-analytics/orgs/main/users/admin/chat-history/"
VAI_AUTH = {"Authorization": f"Bearer {VAI_DEV}"}
JOHN_AUTH = {"Authorization": f"Api-Token {JOHN}"}
ADMIN_AUTH = {"Authorization": f"Api-Token {ADMIN}"}
KINDS = ("memory", "artifact", "conversation")


@pytest.fixture(scope="module")
def mock() -> Iterator[Served]:
    """A served mock with the default fixtures."""
    with serve() as served:
        yield served


@dataclass
class Ledger:
    """What the clients were told: every id created, and every id deleted, per resource."""

    created: dict[str, list[object]] = field(default_factory=lambda: {kind: [] for kind in KINDS})
    deleted: dict[str, set[object]] = field(default_factory=lambda: {kind: set() for kind in KINDS})


async def one_client(port: int, n: int, ledger: Ledger) -> None:
    """Create memories, artifacts and conversations, deleting some of each again."""
    connection = await Connection.open(port)
    try:
        for i in range(CREATES):
            tag = f"c{n}-{i}"
            for kind, collection, auth, body, item in (
                ("memory", MEMORIES, VAI_AUTH, {"content": tag}, "{}/{}"),
                ("artifact", ARTIFACTS, JOHN_AUTH, {"title": tag}, "{}{}/"),
                ("conversation", HISTORY, ADMIN_AUTH, conversation_body(title=tag, mentor=MENTOR_A), "{}{}/"),
            ):
                status, made = await connection.request("POST", collection, auth, body)
                assert status == 201, made
                ident = made["id"]  # type: ignore[index]
                ledger.created[kind].append(ident)
                if i % DELETE_EVERY == 0:
                    status, _ = await connection.request("DELETE", item.format(collection, ident), auth)
                    assert status == 204
                    ledger.deleted[kind].add(ident)
    finally:
        await connection.close()


async def every_id(port: int) -> dict[str, list[object]]:
    """Every id each list holds now, page by page."""
    connection = await Connection.open(port)
    out: dict[str, list[object]] = {kind: [] for kind in KINDS}
    try:
        while True:
            _, body = await connection.request("GET", f"{MEMORIES}?limit=100&offset={len(out['memory'])}", VAI_AUTH)
            page = body["memories"]  # type: ignore[index]
            if not page:
                break
            out["memory"] += [m["id"] for m in page]
        for kind, collection, auth in (("artifact", ARTIFACTS, JOHN_AUTH), ("conversation", HISTORY, ADMIN_AUTH)):
            number = 1
            while True:
                _, body = await connection.request("GET", f"{collection}?page_size=100&page={number}", auth)
                out[kind] += [item["id"] for item in body["results"]]  # type: ignore[index]
                if body["next"] is None:  # type: ignore[index]
                    break
                number += 1
    finally:
        await connection.close()
    return out


def test_64_clients_lose_no_write_and_share_no_id(mock: Served) -> None:
    async def run() -> tuple[Ledger, dict[str, list[object]], dict[str, list[object]]]:
        before = await every_id(mock.port)
        ledger = Ledger()
        await asyncio.gather(*(one_client(mock.port, n, ledger) for n in range(CLIENTS)))
        return ledger, before, await every_id(mock.port)

    ledger, before, after = asyncio.run(run())
    for kind, created in ledger.created.items():
        assert len(created) == CLIENTS * CREATES
        assert len(set(created)) == len(created), f"duplicate {kind} ids"
        assert not set(created) & set(before[kind]), f"a {kind} id of the fixtures handed out again"
        assert len(after[kind]) == len(set(after[kind])), f"a {kind} listed twice"
        expected = (set(before[kind]) | set(created)) - ledger.deleted[kind]
        lost, unexpected = expected - set(after[kind]), set(after[kind]) - expected
        assert not lost and not unexpected, f"{kind}: {len(lost)} lost, {len(unexpected)} unexpected"
    assert sum(len(deleted) for deleted in ledger.deleted.values()) == 3 * CLIENTS * len(range(0, CREATES, DELETE_EVERY))
