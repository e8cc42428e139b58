"""What the run saw: operations x status codes, checks run/failed, failures with evidence; text and HTML."""

from __future__ import annotations

import html
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .client import Exchange
from .validate import match_operation, operations


@dataclass
class FailureRecord:
    """One failed check, as the reports show it."""

    test: str
    rule: str
    message: str
    evidence: list[Exchange]
    replay: str


@dataclass
class Recorder:
    """Collects coverage and check outcomes from every part of the harness."""

    statuses: dict[tuple[str, str], Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    checks: dict[str, list[int]] = field(default_factory=dict)  # rule -> [run, failed]
    failures: list[FailureRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, exchange: Exchange) -> None:
        """Count the response under its operation."""
        op = match_operation(exchange.method, exchange.url)
        if op is not None:
            with self._lock:
                self.statuses[(op.api, op.operation_id)][exchange.status] += 1

    def count(self, rule: str, ok: bool) -> None:
        """One evaluation of a check."""
        with self._lock:
            run_failed = self.checks.setdefault(rule, [0, 0])
            run_failed[0] += 1
            run_failed[1] += 0 if ok else 1

    def add_failure(self, record: FailureRecord) -> None:
        """Keep a failure for the reports."""
        with self._lock:
            self.failures.append(record)

    def coverage_rows(self, apis: tuple[str, ...]) -> list[tuple[str, str, str, Counter[int]]]:
        """(api, method, operationId, statuses seen) for every operation of the APIs under test."""
        rows = []
        for api in apis:
            for op in sorted(operations(api), key=lambda o: (o.template, o.method)):
                rows.append((api, op.method, op.operation_id, self.statuses.get((api, op.operation_id), Counter())))
        return rows

    def text_summary(self, apis: tuple[str, ...]) -> str:
        """The per-operation table and the per-check table, for the terminal."""
        lines = ["operations x status codes seen:"]
        reached = 0
        for api, method, op_id, seen in self.coverage_rows(apis):
            reached += bool(seen)
            codes = " ".join(f"{code}x{n}" for code, n in sorted(seen.items())) or "-- not reached --"
            lines.append(f"  {api:<10} {method:<6} {op_id:<62} {codes}")
        total = len(self.coverage_rows(apis))
        lines.append(f"  {reached}/{total} operations reached")
        lines.append("checks (run / failed):")
        for rule, (run, failed) in sorted(self.checks.items()):
            mark = "FAIL" if failed else "ok"
            lines.append(f"  {mark:<4} {rule:<58} {run:>6} / {failed}")
        runs = sum(r for r, _ in self.checks.values())
        fails = sum(f for _, f in self.checks.values())
        lines.append(f"  {len(self.checks)} checks, {runs} evaluations, {fails} failed")
        return "\n".join(lines)

    def html(self, apis: tuple[str, ...], title: str, outcome: str, meta: dict[str, str]) -> str:
        """A self-contained HTML report (inline CSS, no external assets)."""
        e = html.escape
        rows = []
        all_codes = sorted({c for *_, seen in self.coverage_rows(apis) for c in seen})
        for api, method, op_id, seen in self.coverage_rows(apis):
            cells = "".join(f"<td class='{'hit' if seen.get(c) else ''}'>{seen.get(c, '')}</td>" for c in all_codes)
            rows.append(f"<tr class='{'' if seen else 'miss'}'><td>{e(api)}</td><td>{e(method)}</td>"
                        f"<td><code>{e(op_id)}</code></td>{cells}</tr>")
        checks = "".join(
            f"<tr class='{'bad' if f else ''}'><td><code>{e(rule)}</code></td><td>{r}</td><td>{f}</td></tr>"
            for rule, (r, f) in sorted(self.checks.items())
        )
        failures = []
        for n, rec in enumerate(self.failures, 1):
            ev = "".join(f"<pre>{e(x.describe())}</pre>" for x in rec.evidence)
            failures.append(
                f"<details open><summary>#{n} <b>{e(rec.rule)}</b> in <code>{e(rec.test)}</code></summary>"
                f"<pre>{e(rec.message)}</pre>{ev}<p>Replay:</p><pre>{e(rec.replay)}</pre></details>"
            )
        meta_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in meta.items())
        return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}} td.hit{{background:#d9f2d9}}
tr.miss td{{color:#999}} tr.bad td{{background:#f8d7da}} pre{{background:#f6f6f6;padding:8px;white-space:pre-wrap}}
.pass{{color:#1a7f37}} .fail{{color:#c62828}} details{{margin:1em 0;border-left:4px solid #c62828;padding-left:8px}}
</style></head><body>
<h1>{e(title)}: <span class="{'pass' if outcome == 'passed' else 'fail'}">{e(outcome)}</span></h1>
<table>{meta_rows}</table>
<h2>Operations x status codes seen</h2>
<table><tr><th>API</th><th>method</th><th>operation</th>{''.join(f'<th>{c}</th>' for c in all_codes)}</tr>{''.join(rows)}</table>
<h2>Checks</h2><table><tr><th>check</th><th>run</th><th>failed</th></tr>{checks}</table>
<h2>Failures ({len(self.failures)})</h2>{''.join(failures) or '<p>none</p>'}
</body></html>
"""
