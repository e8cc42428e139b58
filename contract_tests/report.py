"""What the run saw: operations x status codes (observed against declared), checks, failures; text and HTML.

Both renderings pass through ``client.redact``: no credential appears in them.
"""

from __future__ import annotations

import functools
import html
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .client import Exchange, redact
from .specs import load_contract
from .validate import match_operation, operations


@dataclass
class FailureRecord:
    """One failed check, as the reports show it."""

    test: str
    rule: str
    message: str
    evidence: list[Exchange]
    replay: str
    operation: str = "-"


@dataclass
class KnownDeviation:
    """A failure the baseline accepts, with how often it occurred."""

    test: str
    rule: str
    operation: str
    reason: str
    times: int = 0


@dataclass(frozen=True)
class CoverageRow:
    """One operation: the status codes its responses declare and those the run saw."""

    api: str
    method: str
    operation_id: str
    declared: tuple[int, ...]
    seen: Counter[int]

    @property
    def reached_2xx(self) -> bool:
        """Whether any response of the run was a success."""
        return any(200 <= code < 300 for code in self.seen)

    @property
    def undeclared(self) -> list[int]:
        """Codes the run saw that the spec does not declare for this operation."""
        return sorted(code for code in self.seen if code not in self.declared)


@functools.lru_cache(maxsize=None)
def declared_statuses(api: str) -> dict[str, tuple[int, ...]]:
    """operationId -> the status codes its responses declare (``default`` aside)."""
    found = {}
    for item in load_contract(api)["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = tuple(sorted(int(c) for c in op.get("responses", {}) if str(c).isdigit()))
    return found


@dataclass
class Recorder:
    """Collects coverage and check outcomes from every part of the harness."""

    statuses: dict[tuple[str, str], Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    checks: dict[str, list[int]] = field(default_factory=dict)  # rule -> [run, failed, known]
    failures: list[FailureRecord] = field(default_factory=list)
    known: dict[tuple[str, str, str], KnownDeviation] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, exchange: Exchange) -> None:
        """Count the response under its operation."""
        op = match_operation(exchange.method, exchange.url)
        if op is not None:
            with self._lock:
                self.statuses[(op.api, op.operation_id)][exchange.status] += 1

    def count(self, rule: str, ok: bool, known: bool = False) -> None:
        """One evaluation of a check (a failure the baseline accepts is ``known``, not failed)."""
        with self._lock:
            tally = self.checks.setdefault(rule, [0, 0, 0])
            tally[0] += 1
            if not ok:
                tally[2 if known else 1] += 1

    def reclassify_known(self, rule: str) -> None:
        """One failure already counted for ``rule`` is a known deviation after all."""
        with self._lock:
            tally = self.checks.setdefault(rule, [0, 0, 0])
            if tally[1]:
                tally[1] -= 1
                tally[2] += 1

    def add_known(self, test: str, rule: str, operation: str, reason: str) -> None:
        """A failure the baseline accepted."""
        with self._lock:
            entry = self.known.setdefault((test, rule, operation), KnownDeviation(test, rule, operation, reason))
            entry.times += 1

    def add_failure(self, record: FailureRecord) -> None:
        """Keep a failure for the reports."""
        with self._lock:
            self.failures.append(record)

    def coverage_rows(self, apis: tuple[str, ...]) -> list[CoverageRow]:
        """Every operation of the APIs under test, with declared and seen status codes."""
        rows = []
        for api in apis:
            declared = declared_statuses(api)
            for op in sorted(operations(api), key=lambda o: (o.template, o.method)):
                rows.append(CoverageRow(api, op.method, op.operation_id, declared.get(op.operation_id, ()),
                                        self.statuses.get((api, op.operation_id), Counter())))
        return rows

    def uncovered(self, apis: tuple[str, ...]) -> list[CoverageRow]:
        """The operations no response of the run answered with a 2xx."""
        return [row for row in self.coverage_rows(apis) if not row.reached_2xx]

    def text_summary(self, apis: tuple[str, ...]) -> str:
        """The operations x status codes table (observed against declared) and the per-check table."""
        rows = self.coverage_rows(apis)
        lines = ["operations x status codes (seen: code x count; ! not declared; unseen declared codes in brackets):"]
        for row in rows:
            seen = " ".join(f"{code}x{n}{'' if code in row.declared else '!'}" for code, n in sorted(row.seen.items()))
            unseen = " ".join(str(c) for c in row.declared if c not in row.seen)
            flag = "" if row.reached_2xx else "  << no 2xx"
            lines.append(f"  {row.api:<10} {row.method:<6} {row.operation_id:<62} {seen or '-- not reached --'}"
                         + (f"  [{unseen}]" if unseen else "") + flag)
        reached = sum(bool(r.seen) for r in rows)
        uncovered = [r for r in rows if not r.reached_2xx]
        lines.append(f"  {reached}/{len(rows)} operations reached, {len(rows) - len(uncovered)}/{len(rows)} with a 2xx")
        if uncovered:
            lines.append(f"  never a 2xx ({len(uncovered)}): " + ", ".join(r.operation_id for r in uncovered))
        lines.append("checks (run / failed / known):")
        for rule, (run, failed, known) in sorted(self.checks.items()):
            mark = "FAIL" if failed else "known" if known else "ok"
            lines.append(f"  {mark:<5} {rule:<58} {run:>6} / {failed}" + (f" / {known}" if known else ""))
        runs = sum(t[0] for t in self.checks.values())
        fails = sum(t[1] for t in self.checks.values())
        knowns = sum(t[2] for t in self.checks.values())
        lines.append(f"  {len(self.checks)} checks, {runs} evaluations, {fails} failed"
                     + (f", {knowns} known deviations (baseline)" if knowns else ""))
        return redact("\n".join(lines))

    def html(self, apis: tuple[str, ...], title: str, outcome: str, meta: dict[str, str],
             notes: list[str] | None = None) -> str:
        """A self-contained HTML report (inline CSS, no external assets) that opens with the failures."""
        def e(text: str) -> str:
            return html.escape(redact(text))

        rows = self.coverage_rows(apis)
        codes = sorted({c for r in rows for c in (*r.declared, *r.seen)})
        coverage = []
        for row in rows:
            cells = []
            for c in codes:
                n = row.seen.get(c, 0)
                css = "hit" if n and c in row.declared else "bad" if n else "want" if c in row.declared else ""
                cells.append(f"<td class='{css}'>{n if n else ('0' if c in row.declared else '')}</td>")
            flag = "" if row.reached_2xx else " <b class='fail'>no 2xx</b>"
            coverage.append(f"<tr class='{'' if row.reached_2xx else 'miss'}'><td>{e(row.api)}</td>"
                            f"<td>{e(row.method)}</td><td><code>{e(row.operation_id)}</code>{flag}</td>"
                            f"{''.join(cells)}</tr>")
        checks = "".join(
            f"<tr class='{'bad' if f else ''}'><td><code>{e(rule)}</code></td><td>{r}</td><td>{f}</td><td>{k}</td></tr>"
            for rule, (r, f, k) in sorted(self.checks.items()))
        index, details = [], []
        for n, rec in enumerate(self.failures, 1):
            index.append(f"<li><a href='#failure-{n}'>#{n} <b>{e(rec.rule)}</b></a> on <code>{e(rec.operation)}</code>"
                         f" in <code>{e(rec.test)}</code></li>")
            ev = "".join(f"<pre>{e(x.describe())}</pre>" for x in rec.evidence)
            details.append(f"<details open id='failure-{n}'><summary>#{n} <b>{e(rec.rule)}</b> in <code>{e(rec.test)}"
                           f"</code></summary><pre>{e(rec.message)}</pre>{ev}<p>Replay:</p><pre>{e(rec.replay)}</pre>"
                           "</details>")
        known = "".join(f"<tr><td><code>{e(k.rule)}</code></td><td><code>{e(k.operation)}</code></td><td>{k.times}</td>"
                        f"<td>{e(k.reason)}</td></tr>" for k in self.known.values())
        meta_rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in meta.items())
        uncovered = [r for r in rows if not r.reached_2xx]
        page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}} td.hit{{background:#d9f2d9}}
td.want{{color:#999}} td.bad,tr.bad td{{background:#f8d7da}} tr.miss td{{background:#fff3cd}}
pre{{background:#f6f6f6;padding:8px;white-space:pre-wrap}}
.pass{{color:#1a7f37}} .fail{{color:#c62828}} details{{margin:1em 0;border-left:4px solid #c62828;padding-left:8px}}
</style></head><body>
<h1>{e(title)}: <span class="{'pass' if outcome == 'passed' else 'fail'}">{e(outcome)}</span></h1>
<h2 id="failures">Failures ({len(self.failures)})</h2>
{'<ol>' + ''.join(index) + '</ol>' if index else '<p>none</p>'}
{''.join(f'<p class="fail">{e(note)}</p>' for note in notes or [])}
<table>{meta_rows}</table>
<h2>Operations x status codes (observed; 0 = declared, not seen; red = not declared)</h2>
<p>{len(rows) - len(uncovered)}/{len(rows)} operations reached a 2xx{': never a 2xx: ' + ', '.join(e(r.operation_id) for r in uncovered) if uncovered else ''}</p>
<table><tr><th>API</th><th>method</th><th>operation</th>{''.join(f'<th>{c}</th>' for c in codes)}</tr>{''.join(coverage)}</table>
<h2>Checks</h2><table><tr><th>check</th><th>run</th><th>failed</th><th>known</th></tr>{checks}</table>
<h2>Known deviations (baseline)</h2>
{'<table><tr><th>check</th><th>operation</th><th>times</th><th>reason</th></tr>' + known + '</table>' if known else '<p>none</p>'}
<h2>Failure evidence</h2>{''.join(details) or '<p>none</p>'}
</body></html>
"""
        return redact(page)
