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
from importlib.resources import as_file
from pathlib import Path

import httpx

from contract_tests.config import read_dotenv
from contract_tests.inprocess import dev_credentials_file, fault_names, free_port
from contract_tests.specs import API_BASES, SPEC_DIR, SPEC_FILES

BIN = Path(sys.executable).parent
# Each API's dev credential, as the header schemathesis sends.
HEADERS = {"ibl": "Authorization: Api-Token {IBL_ADMIN_TOKEN}", "virtuousai": "Authorization: Bearer {VAI_TOKEN}"}


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
    credentials = read_dotenv(dev_credentials_file())
    try:
        for api, spec_file in SPEC_FILES.items():
            with tempfile.TemporaryDirectory() as tmp, as_file(SPEC_DIR / spec_file) as spec:
                cmd = [str(BIN / "schemathesis"), "run", str(spec), "--url", url + API_BASES[api],
                       "-H", HEADERS[api].format(**credentials),
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
