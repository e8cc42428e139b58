"""The bench's target lines (bench/run.py ``targets``): what each compares, and when it says met."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

from tests.paths import ROOT


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    """bench/run.py as a module (a script, not a package: loaded from its file)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def table_of(bench: ModuleType, ratios: dict[tuple[str, int], dict[str, float]]) -> dict[tuple[str, int], tuple]:
    """A table whose every server answered 1,000 req/s with a 1 ms p99, and these mock/other ratios."""
    result = bench.Result(rps=1000.0, p50_ms=0.5, p99_ms=1.0)
    return {key: ({"memmock": result, **dict.fromkeys(r, result)}, r) for key, r in ratios.items()}


def line(lines: list[str], about: str) -> str:
    found = [text for text in lines if about in text]
    assert len(found) == 1, lines
    return found[0]


def test_the_journal_target_misses_a_row_under_095_and_names_it(bench: ModuleType) -> None:
    off = bench.JOURNAL_OFF
    table = table_of(bench, {("GET a", 1): {off: 0.95}, ("GET a", 32): {off: 0.94}})
    text = line(bench.targets(table, [1, 32], []), "hooks cost")
    assert "not met: met on 1 of 2" in text
    assert "GET a at 32 0.940" in text and "GET a at 1" not in text


def test_the_journal_target_is_met_when_every_row_is_within_5_percent(bench: ModuleType) -> None:
    off = bench.JOURNAL_OFF
    table = table_of(bench, {("GET a", 1): {off: 0.97}, ("GET a", 32): {off: 1.02}})
    assert line(bench.targets(table, [1, 32], []), "hooks cost").endswith(": met")


def test_the_state_file_target_takes_write_rows_at_32_connections_as_the_files_share(bench: ModuleType) -> None:
    state = bench.STATE_FILE
    rows = [bench.Row("PUT w", "PUT", "/w", {}), bench.Row("POST v", "POST", "/v", {}), bench.Row("GET r", "GET", "/r", {})]
    table = table_of(bench, {
        ("PUT w", 32): {state: 1.6},   # the file keeps 0.62 of the in-memory rate: met
        ("POST v", 32): {state: 2.5},  # 0.40: missed
        ("POST v", 1): {state: 4.0},   # one connection: not a target
        ("GET r", 32): {state: 9.0},   # a read: not a target
    })
    text = line(bench.targets(table, [1, 32], rows), "--state-file")
    assert "not met: met on 1 of 2" in text
    assert "POST v 0.40" in text and "PUT w" not in text and "GET r" not in text


def test_the_runs_own_swing_is_the_state_file_ratio_on_read_rows_only(bench: ModuleType) -> None:
    state = bench.STATE_FILE
    rows = [bench.Row("PUT w", "PUT", "/w", {}), bench.Row("GET r", "GET", "/r", {}), bench.Row("GET s", "GET", "/s", {})]
    table = table_of(bench, {
        ("PUT w", 32): {state: 1.6},   # a write waits for its sync: not the same code path
        ("GET r", 1): {state: 0.97},
        ("GET r", 32): {state: 1.08},
        ("GET s", 32): {state: 1.01},
    })
    text = line(bench.targets(table, [1, 32], rows), "own swing")
    assert text.endswith("on the read rows (the same code there; 3 measured) 0.97–1.08"), text


def test_no_swing_line_without_a_state_file_column(bench: ModuleType) -> None:
    table = table_of(bench, {("GET a", 32): {bench.JOURNAL_OFF: 1.0}})
    assert not any("swing" in text for text in bench.targets(table, [32], [])), table


def test_no_wiremock_line_when_no_wiremock_ran(bench: ModuleType) -> None:
    table = table_of(bench, {("GET a", 32): {bench.JOURNAL_OFF: 1.0}})
    lines = bench.targets(table, [32], [])
    assert not any("WireMock" in text for text in lines), lines
    assert any("p99" in text for text in lines)
