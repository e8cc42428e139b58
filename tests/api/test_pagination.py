"""DRF page-number pagination, ordering and search, on the paginated ibl lists."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from tests.api.conftest import JOHN, analytics, ibl, mentor

ARTIFACTS = mentor("artifacts/")
HISTORY = analytics("chat-history/")


def _ids(client: TestClient, path: str, **params: object) -> list[object]:
    r = client.get(path, headers=ibl(), params=params)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["results"]]


def test_default_page_size_is_10(client: TestClient) -> None:
    body = client.get(HISTORY, headers=ibl()).json()
    assert body["count"] == 42 and len(body["results"]) == 10


def test_page_size_is_clamped_at_100(client: TestClient, store) -> None:
    for i in range(100):
        store.artifacts.create("main", "johndoe", {"title": f"bulk {i}"})
    body = client.get(ARTIFACTS, headers=ibl(JOHN), params={"page_size": 500}).json()
    assert body["count"] == 113 and len(body["results"]) == 100
    assert body["next"] is not None and "page_size=500" in body["next"]


@pytest.mark.parametrize("size", ["0", "-1", "abc", ""])
def test_bad_page_size_falls_back_to_the_default(client: TestClient, size: str) -> None:
    r = client.get(HISTORY, headers=ibl(), params={"page_size": size})
    assert r.status_code == 200 and len(r.json()["results"]) == 10


@pytest.mark.parametrize("page", ["5", "99", "abc", "0", "-1"])
def test_invalid_page_404(client: TestClient, page: str) -> None:
    # 42 conversations at 10 a page: pages 1..5 exist, 5 is the last.
    r = client.get(HISTORY, headers=ibl(), params={"page": page})
    if page == "5":
        assert r.status_code == 200 and len(r.json()["results"]) == 2 and r.json()["next"] is None
    else:
        assert r.status_code == 404 and r.json() == {"detail": "Invalid page."}


def test_empty_list_page_1(client: TestClient) -> None:
    r = client.get(mentor("artifacts/", user="alice"), headers=ibl())
    assert r.json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert client.get(mentor("artifacts/", user="alice"), headers=ibl(), params={"page": 2}).status_code == 404


def test_next_and_previous_are_absolute_and_keep_the_query(client: TestClient) -> None:
    params = {"page_size": 4, "sentiment": "positive", "page": 2}
    body = client.get(HISTORY, headers=ibl(), params=params).json()
    assert body["count"] > 8
    nxt, prev = urlsplit(body["next"]), urlsplit(body["previous"])
    assert (nxt.scheme, nxt.netloc, nxt.path) == ("http", "testserver", HISTORY)
    assert parse_qs(nxt.query) == {"page_size": ["4"], "sentiment": ["positive"], "page": ["3"]}
    # The link to page 1 carries no page at all.
    assert parse_qs(prev.query) == {"page_size": ["4"], "sentiment": ["positive"]}
    # Following next gives the following page.
    following = client.get(body["next"], headers=ibl()).json()
    assert following["previous"] == str(client.base_url) + HISTORY + "?" + nxt.query.replace("page=3", "page=2")
    page1 = client.get(body["previous"], headers=ibl()).json()
    assert page1["previous"] is None


def test_walking_every_page_gives_every_item_once(client: TestClient) -> None:
    seen: list[object] = []
    url: str | None = HISTORY + "?page_size=7"
    while url:
        body = client.get(url, headers=ibl()).json()
        seen += [c["id"] for c in body["results"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 42


def test_ties_break_by_id(client: TestClient) -> None:
    # Artifacts 4 and 5 share date_updated: the lower id comes first, whatever the direction.
    ids = _ids(client, mentor("artifacts/"), page_size=100)
    assert ids.index(4) + 1 == ids.index(5)
    ids = _ids(client, mentor("artifacts/"), page_size=100, ordering="date_updated")
    assert ids.index(4) + 1 == ids.index(5)
    # Page boundaries cannot split the pair inconsistently.
    pages = [_ids(client, mentor("artifacts/"), page_size=1, page=n) for n in range(1, 14)]
    assert sorted(i for p in pages for i in p) == list(range(1, 14))


def test_ordering_several_fields_and_unknown_names(client: TestClient) -> None:
    body = client.get(ARTIFACTS, headers=ibl(JOHN), params={"ordering": "nonsense,-title,date_created", "page_size": 100})
    titles = [a["title"] for a in body.json()["results"]]
    assert titles == sorted(titles, reverse=True)
    # Ascending date_updated, then descending title for equal dates.
    results = client.get(ARTIFACTS, headers=ibl(JOHN),
                         params={"ordering": "date_updated,-title", "page_size": 100}).json()["results"]
    keys = [(a["date_updated"], a["title"]) for a in results]
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    tied = [a["title"] for a in results if a["date_updated"] == "2024-06-06T09:00:00Z"]
    assert tied == sorted(tied, reverse=True) and len(tied) == 2
    # Only unknown names: the default order.
    default = _ids(client, ARTIFACTS, page_size=100)
    assert _ids(client, ARTIFACTS, page_size=100, ordering="nope,-nada") == default


def test_search_is_case_insensitive_over_title_and_content(client: TestClient) -> None:
    by_title = client.get(ARTIFACTS, headers=ibl(JOHN), params={"search": "cALCulator"}).json()
    assert {a["title"] for a in by_title["results"]} == {"Python Calculator", "Python Calculator 2"}
    by_content = client.get(ARTIFACTS, headers=ibl(JOHN), params={"search": "RETURN A + B"}).json()
    assert 1 in [a["id"] for a in by_content["results"]]
    none = client.get(ARTIFACTS, headers=ibl(JOHN), params={"search": "zzz-nothing"}).json()
    assert none == {"count": 0, "next": None, "previous": None, "results": []}


def test_search_matches_content_only(client: TestClient, store) -> None:
    store.artifacts.create("main", "johndoe", {"title": "Plain", "content": "Contains a Needle inside"})
    found = client.get(ARTIFACTS, headers=ibl(JOHN), params={"search": "needle"}).json()
    assert [a["title"] for a in found["results"]] == ["Plain"]


def test_edx_memory_and_versions_paginate(client: TestClient) -> None:
    body = client.get(mentor("edx-memory/"), headers=ibl(JOHN), params={"page_size": 2}).json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"].endswith("page_size=2&page=2")
    body = client.get(mentor("artifacts/3/versions/"), headers=ibl(JOHN),
                      params={"page_size": 1, "page": 2, "ordering": "version_number"}).json()
    assert [v["version_number"] for v in body["results"]] == [2]
    assert body["previous"].endswith("versions/?page_size=1&ordering=version_number")
