"""TimeIndex against a plain sorted list: same order, spans, values and pages after any edits."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server.clock import to_micros
from mock_server.models.common import TimeIndex

# Uuids, and short ids that are prefixes of one another ("1" < "10" < "9"): ties are by id as text.
IDS = st.sampled_from([f"{n:08x}-0000-4000-8000-000000000000" for n in range(12)] + ["1", "10", "9", "a"])
EARLIEST, LATEST = (to_micros(datetime(y, m, d, tzinfo=timezone.utc)) for y, m, d in ((1, 1, 1), (9999, 12, 31)))
# Few distinct times (many ties), with the ends of datetime's range mixed in.
TIMES = st.one_of(st.integers(min_value=0, max_value=6), st.sampled_from([EARLIEST, -1, LATEST]))
EDITS = st.lists(st.tuples(st.sampled_from(["insert", "remove", "value"]), TIMES, IDS, st.integers(0, 5)), max_size=60)


def oldest_first(model: dict[str, tuple[int, int]]) -> list[tuple[int, str, int]]:
    """The documented order: time ascending, equal times by id descending."""
    rows = [(t, item_id, value) for item_id, (t, value) in model.items()]
    rows.sort(key=lambda r: r[1], reverse=True)
    rows.sort(key=lambda r: r[0])
    return rows


@settings(max_examples=300, deadline=None)
@given(initial=st.lists(st.tuples(TIMES, IDS, st.integers(0, 5)), max_size=20, unique_by=lambda x: x[1]),
       edits=EDITS, start=TIMES, end=TIMES)
def test_index_matches_a_sorted_list(initial: list[tuple[int, str, int]], edits: list[tuple[str, int, str, int]],
                                     start: int, end: int) -> None:
    index = TimeIndex.build(initial)
    model = {item_id: (t, value) for t, item_id, value in initial}
    for action, t, item_id, value in edits:
        version = index.version
        if action == "insert" and item_id not in model:
            index.insert(t, item_id, value)
            model[item_id] = (t, value)
        elif action == "remove" and item_id in model:
            index.remove(model[item_id][0], item_id)
            del model[item_id]
        elif action == "value" and item_id in model:
            index.set_value(model[item_id][0], item_id, value)
            model[item_id] = (model[item_id][0], value)
        else:
            continue
        assert index.version > version  # every change invalidates what readers cached

    rows = oldest_first(model)
    by_id = {item_id: item_id for item_id in model}
    assert len(index) == len(rows)
    assert list(index.newest_first(by_id)) == [r[1] for r in reversed(rows)]
    assert list(reversed(index.newest_first(by_id))) == [r[1] for r in rows]
    i, j = index.span(start, end)
    inside = [r for r in rows if start <= r[0] < end]
    assert j - i == len(inside)
    assert [r[1] for r in rows[i:j]] == [r[1] for r in inside]
    assert index.values(i, j) == [r[2] for r in inside]
    assert index.position(start) == sum(1 for r in rows if r[0] < start)
    assert index.position(EARLIEST - 10**20) == 0
    assert index.position(LATEST + 10**20) == len(rows)
    page = index.newest_first(by_id, i, j)
    assert page[1:3] == [r[1] for r in reversed(inside)][1:3]
    if inside:
        assert page[0] == inside[-1][1] and page[-1] == inside[0][1]


def test_removing_what_is_not_there_is_a_key_error() -> None:
    index = TimeIndex.build([(1, "a", 0)])
    for t, item_id in ((1, "b"), (2, "a")):
        try:
            index.remove(t, item_id)
        except KeyError:
            pass
        else:
            raise AssertionError("no KeyError")
    assert len(index) == 1
