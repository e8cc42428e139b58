"""Clock helpers, ordering and DRF page math."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.clock import FixedClock, isoformat_z, parse_datetime
from mock_server.errors import InvalidPage
from mock_server.models.pagination import order_items, paginate, parse_ordering, parse_page_size

UTC = timezone.utc


def test_fixed_clock_steps_advances_and_sets():
    c = FixedClock(datetime(2024, 1, 1, tzinfo=UTC), timedelta(seconds=2))
    assert c.now() == datetime(2024, 1, 1, tzinfo=UTC)
    assert c.now() == datetime(2024, 1, 1, 0, 0, 2, tzinfo=UTC)
    c.advance(timedelta(hours=1))
    assert c.now() == datetime(2024, 1, 1, 1, 0, 4, tzinfo=UTC)
    c.set(datetime(2030, 5, 5))
    assert c.now() == datetime(2030, 5, 5, tzinfo=UTC)


def test_isoformat_z_and_parse():
    assert isoformat_z(datetime(2024, 1, 15, 10, 30, tzinfo=UTC)) == "2024-01-15T10:30:00Z"
    assert isoformat_z(datetime(2024, 6, 25, 15, 30, 26, 257140, tzinfo=UTC)) == "2024-06-25T15:30:26.257140Z"
    assert isoformat_z(datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == "2024-01-01T00:00:00Z"
    assert parse_datetime("2024-06-25T15:30:26.257140Z") == datetime(2024, 6, 25, 15, 30, 26, 257140, tzinfo=UTC)
    assert parse_datetime("2024-06-25T15:30:26") == datetime(2024, 6, 25, 15, 30, 26, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("yesterday")


@pytest.mark.parametrize("raw, size", [(None, 10), ("5", 5), (7, 7), ("100", 100), ("1000", 100), ("0", 10),
                                       ("-3", 10), ("abc", 10), ("", 10), ("2.5", 10)])
def test_page_size_is_lenient(raw, size):
    assert parse_page_size(raw) == size


def test_page_math():
    items = list(range(25))
    p1 = paginate(items, None, None)
    assert (p1.count, p1.results, p1.number, p1.has_next, p1.has_previous) == (25, list(range(10)), 1, True, False)
    p3 = paginate(items, "3", None)
    assert p3.results == [20, 21, 22, 23, 24] and not p3.has_next and p3.has_previous
    assert paginate(items, "last", "10").number == 3
    assert paginate(items, "1", "1000").results == items


@pytest.mark.parametrize("page", ["4", "0", "-1", "abc", "1.5"])
def test_invalid_pages(page):
    with pytest.raises(InvalidPage) as info:
        paginate(list(range(25)), page, None)
    assert info.value.detail == "Invalid page."


def test_empty_list_page_one_is_valid_page_two_is_not():
    page = paginate([], "1", None)
    assert (page.count, page.results, page.has_next, page.has_previous) == (0, [], False, False)
    with pytest.raises(InvalidPage):
        paginate([], "2", None)


def test_ordering_parse_ignores_unknown_and_falls_back():
    allowed = {"a": 1, "b": 1}
    assert parse_ordering("-a,zzz,b", allowed, "-b") == [("a", True), ("b", False)]
    assert parse_ordering("zzz", allowed, "-b") == [("b", True)]
    assert parse_ordering(None, allowed, "-b") == [("b", True)]


def test_order_items_ties_by_id():
    rows = [{"id": i, "k": i % 2} for i in (5, 3, 4, 1, 2)]
    fields = {"k": lambda r: r["k"]}
    out = order_items(rows, [("k", True)], fields, lambda r: r["id"])
    assert [r["id"] for r in out] == [1, 3, 5, 2, 4]


@settings(max_examples=150, deadline=None)
@given(
    keys=st.lists(st.integers(0, 5), max_size=60),
    page_size=st.integers(1, 12),
    ordering=st.sampled_from(["k", "-k", "v", "-v", "k,-v", "-k,v", "bogus", ""]),
)
def test_pages_partition_the_collection(keys, page_size, ordering):
    rows = [{"id": i, "k": k, "v": (i * 7) % 3} for i, k in enumerate(keys)]
    fields = {"k": lambda r: r["k"], "v": lambda r: r["v"]}
    ordered = order_items(rows, parse_ordering(ordering, fields, "-k"), fields, lambda r: r["id"])
    seen = []
    number = 1
    while True:
        page = paginate(ordered, str(number), str(page_size))
        assert page.count == len(rows)
        assert len(page.results) <= page_size
        seen.extend(r["id"] for r in page.results)
        if not page.has_next:
            break
        number += 1
    assert seen == [r["id"] for r in ordered]
    assert sorted(seen) == list(range(len(rows)))
    with pytest.raises(InvalidPage):
        paginate(ordered, str(number + 1), str(page_size))
