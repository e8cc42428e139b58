"""Compare: which injected faults does a plain `schemathesis run` catch, next to memmock's harness?

Not a test: a script. For the healthy mock and each fault it starts `memmock serve --fault NAME` on a
free loopback port, runs the schemathesis CLI over both specs (ibl at TARGET, VirtuousAI at
TARGET/api/v1, each with its dev credential as a header, --max-examples N, fixed --seed, all checks),
and reads the JUnit reports. A fault counts as caught when its run shows a (operation, failure) pair
the healthy run does not: plain schemathesis has false positives on the healthy mock too.

    .venv/bin/python -m contract_tests.compare_plain_schemathesis [--max-examples 10] [--faults a,b]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx

from contract_tests.inprocess import free_port
from mock_server.settings import SPEC_DIR

BIN = Path(sys.executable).parent
RUNS = (
    ("ibl", "ibl-data-manager.yaml", "", "Authorization: Api-Token dev-ibl-admin-main-0001"),
    ("virtuousai", "virtuousai-memory.yaml", "/api/v1", "Authorization: Bearer dev-vai-virtuous-dev-0001"),
)


def _serve(fault: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [str(BIN / "memmock"), "serve", "--port", str(port)] + (["--fault", fault] if fault else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/_mock/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"mock with fault {fault} did not start")


def _failures(junit_dir: Path) -> set[tuple[str, str]]:
    found = set()
    for xml in junit_dir.glob("*.xml"):
        for case in ET.parse(xml).getroot().iter("testcase"):
            for failure in list(case.iter("failure")) + list(case.iter("error")):
                first = ((failure.get("message") or failure.text or "").strip().splitlines() or ["failure"])[0]
                # The first line lists schemathesis failure codes (e.g. "ST101, ST103"): one pair per code.
                for code in first.split(", "):
                    found.add((case.get("name", ""), code))
    return found


def plain_run(fault: str | None, max_examples: int, seed: int) -> tuple[set[tuple[str, str]], float]:
    """Run schemathesis on both specs against a mock with ``fault``; the failures it reports."""
    proc, url = _serve(fault)
    started = time.monotonic()
    failures: set[tuple[str, str]] = set()
    try:
        for api, spec, base, header in RUNS:
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [str(BIN / "schemathesis"), "run", str(SPEC_DIR / spec), "--url", url + base, "-H", header,
                       "--max-examples", str(max_examples), "--seed", str(seed), "--checks", "all",
                       "--report", "junit", "--report-dir", tmp, "--no-color"]
                subprocess.run(cmd, cwd=tmp, capture_output=True, timeout=900)  # its .hypothesis/ goes there too
                failures |= {(f"{api}:{n}", t) for n, t in _failures(Path(tmp))}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return failures, time.monotonic() - started


def main() -> int:
    """Print a Markdown table: fault -> caught by plain schemathesis? (with what)."""
    from mock_server.faults import fault_names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20240701)
    parser.add_argument("--faults", default=",".join(fault_names()))
    args = parser.parse_args()
    # Two healthy baselines: plain schemathesis is not deterministic across processes (its
    # generation feeds on responses), so anything it reports on a healthy mock is noise.
    healthy, took = plain_run(None, args.max_examples, args.seed)
    healthy |= plain_run(None, args.max_examples, args.seed)[0]
    print(f"healthy mock: plain schemathesis reports {len(healthy)} failure(s) ({took:.0f}s)", flush=True)
    for op, title in sorted(healthy):
        print(f"  - {op}: {title}")
    print("\n| fault | plain schemathesis | new failures (operation: first line) |\n|---|---|---|")
    for fault in args.faults.split(","):
        found, took = plain_run(fault, args.max_examples, args.seed)
        new = sorted(found - healthy)
        shown = "; ".join(f"{op}: {title}" for op, title in new[:3]) + (" ..." if len(new) > 3 else "")
        print(f"| {fault} | {'caught' if new else 'missed'} | {shown or '-'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
