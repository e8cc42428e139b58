"""``make bench``: memmock against bare Starlette (and Prism) under the same load, side by side.

Starts the mock the way users run it (``memmock serve``: default fixtures, request validation on,
one process), the bare-Starlette baseline of ``baseline.py`` and, with ``--prism``, Stoplight Prism
on the same specs; drives each row with wrk (or a bundled asyncio generator when wrk is absent) at 1
and 32 connections, the servers taking turns run by run; prints medians, and each mock/other
ratio as the median of the ratios of runs made side by side; then measures startup, scale (a page and
the analytics with 100,000 stored items) and memory. Prints a Markdown table and writes it to
``--markdown`` so it can be pasted into the README.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
IBL_USER = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
IBL_ADMIN = {"Authorization": "Api-Token dev-ibl-admin-main-0001"}
VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
VAI_ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
MENTOR = "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f"
P_IBL = "/api/ai-prompt/orgs/main/users/johndoe"
M_IBL = "/api/ai-mentor/orgs/main/users/johndoe"
A_IBL = "/api/ai-analytics/orgs/main/users/johndoe"


@dataclass(frozen=True)
class Row:
    """One benchmark row: a request shape."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    api: str = "ibl"  # which Prism instance serves it
    deletes: bool = False  # needs a fresh id per request


ROWS = [
    Row("GET chat-memory-status", "GET", f"{P_IBL}/chat-memory-status/", IBL_USER),
    Row("PUT chat-memory-status", "PUT", f"{P_IBL}/chat-memory-status/", IBL_USER, {"enabled": True}),
    Row("GET artifacts (page_size 10)", "GET", f"{M_IBL}/artifacts/?page_size=10", IBL_USER),
    Row("GET artifacts (page_size 100)", "GET", f"{M_IBL}/artifacts/?page_size=100", IBL_USER),
    Row("GET one artifact", "GET", f"{M_IBL}/artifacts/1/", IBL_USER),
    Row("POST chat-history", "POST", f"{A_IBL}/chat-history/", IBL_ADMIN,
        {"topics": [{"name": "bench"}], "mentor": MENTOR, "model": "gpt-4o", "platform": "main"}),
    Row("GET avg-messages (30 days, hourly)", "GET",
        f"{A_IBL}/average-messages-per-session/?start_date=2024-06-01&end_date=2024-06-30&aggregation=hourly", IBL_USER),
    Row("GET /api/v1/memory", "GET", "/api/v1/memory?limit=10", VAI, api="vai"),
    Row("POST /api/v1/memory", "POST", "/api/v1/memory", VAI, {"content": "benchmark memory"}, api="vai"),
    Row("DELETE /api/v1/memory/{id}", "DELETE", "/api/v1/memory/", VAI, api="vai", deletes=True),
]


@dataclass
class Result:
    """Medians of one row on one server at one concurrency."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0


@dataclass
class Server:
    """A process serving HTTP on 127.0.0.1."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    urls: dict[str, str] = field(default_factory=dict)  # api -> base URL
    # The mock's state every row starts from (what give_user_artifacts imports); DELETE seeding
    # builds on it rather than on the last seeded state, so seeded memories never pile up.
    document: dict[str, Any] | None = None

    def url(self, api: str) -> str:
        return self.urls.get(api, f"http://127.0.0.1:{self.port}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 30.0) -> float:
    """Seconds until ``url`` answers at all."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            httpx.get(url, timeout=0.5)
            return time.perf_counter() - start
        except httpx.HTTPError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


@contextmanager
def serve(name: str, argv: list[str], port: int, health: str, **popen: Any) -> Iterator[Server]:
    # The server's log goes to a file: an unread pipe would fill up and stall the server.
    log = tempfile.NamedTemporaryFile("w+b", prefix=f"bench-{name}-", suffix=".log", delete=False)
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, **popen)
    try:
        wait_until_up(f"http://127.0.0.1:{port}{health}")
        yield Server(name, port, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        os.unlink(log.name)


def memmock_argv(port: int, *extra: str) -> list[str]:
    # A large body limit only so the DELETE rows can seed ids through PUT /_mock/state.
    return [sys.executable, "-m", "mock_server", "serve", "--port", str(port), "--log-level", "error",
            "--body-limit", str(1 << 30), *extra]


# --- load generation -------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _lua(row: Row, ids_file: Path | None) -> str:
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in row.headers.items())
    body = ""
    if row.body is not None:
        body = f"wrk.body = {json.dumps(json.dumps(row.body))}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    script = f'wrk.method = "{row.method}"\n{headers}{body}'
    if ids_file is not None:
        script += (
            f'local ids = {{}}\nfor line in io.lines("{ids_file}") do ids[#ids + 1] = line end\nlocal i = 0\n'
            f'request = function()\n  i = i + 1\n  return wrk.format(nil, "{row.path}" .. ids[(i - 1) % #ids + 1])\nend\n'
        )
    return script


def run_wrk(row: Row, base: str, connections: int, seconds: float, ids_file: Path | None) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(_lua(row, ids_file))
    url = base + (row.path if not row.deletes else "/")
    try:
        # wrk does not stop on time when a server stops answering: bound it from outside.
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "-s", fh.name, url],
            capture_output=True, text=True, check=True, timeout=seconds + 30,
        ).stdout
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        return Result(float("nan"), float("nan"), float("nan"), -1)
    finally:
        os.unlink(fh.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")

    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Result(rps, pct("50"), pct("99"), int(errors.group(1)) if errors else 0)


async def _python_load(row: Row, base: str, connections: int, seconds: float, ids: list[str]) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                path = row.path + ids[next(counter) % len(ids)] if row.deletes else row.path
                start = time.perf_counter()
                response = await client.request(row.method, path, headers=row.headers, json=row.body)
                latencies.append((time.perf_counter() - start) * 1e3)
                errors += response.status_code >= 300
        await asyncio.gather(*(worker() for _ in range(connections)))
    latencies.sort()
    return Result(len(latencies) / seconds, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)], errors)


def load(row: Row, base: str, connections: int, seconds: float, ids: list[str], ids_file: Path | None) -> Result:
    if shutil.which("wrk"):
        return run_wrk(row, base, connections, seconds, ids_file)
    return asyncio.run(_python_load(row, base, connections, seconds, ids))


# --- state preparation -----------------------------------------------------------------------


def seed_deletable(server: Server, row: Row, count: int, workdir: Path) -> tuple[list[str], Path]:
    """Fresh memory ids for a DELETE row, stored on the server under test."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    base = server.url(row.api)
    if server.name == "memmock":
        assert server.document is not None, "give_user_artifacts sets the starting state"
        document = copy.deepcopy(server.document)
        document["vai"]["memories"].extend(
            {"id": i, "organizationId": VAI_ORG, "content": "seeded", "createdAt": "2024-06-01T00:00:00Z"} for i in ids
        )
        httpx.put(f"{base}/_mock/state", json=document, timeout=120).raise_for_status()
    elif server.name == "baseline":
        httpx.put(f"{base}/_bench/memories", json=ids, timeout=60).raise_for_status()
    ids_file = workdir / f"ids-{server.name}-{uuid.uuid4().hex[:6]}.txt"
    ids_file.write_text("\n".join(ids) + "\n")
    return ids, ids_file


def give_user_artifacts(server: Server, count: int = 100) -> None:
    """The baseline serves 100 artifacts; give the mock's johndoe as many more, so pages are alike.

    Imported with PUT /_mock/state, which also makes it the state each row's reset returns to.
    """
    base = server.url("ibl")
    document = httpx.get(f"{base}/_mock/state", timeout=60).json()
    artifacts = document["ibl"]["artifacts"]
    template = next(a for a in artifacts if a["username"] == "johndoe")
    next_id, next_version = 1 + max(a["id"] for a in artifacts), 1 + max(v["id"] for a in artifacts for v in a["versions"])
    for n in range(count):
        artifact = copy.deepcopy(template)
        artifact.update(id=next_id + n, title=f"Bench artifact {n}", current_version_id=next_version + n)
        artifact["versions"][0]["id"] = next_version + n
        artifact["versions"] = artifact["versions"][:1]
        artifacts.append(artifact)
    httpx.put(f"{base}/_mock/state", json=document, timeout=120).raise_for_status()
    server.document = document


def restore(server: Server) -> None:
    """The mock back to the state rows start from, after a DELETE row imported its own."""
    if server.name == "memmock" and server.document is not None:
        httpx.put(f"{server.url('ibl')}/_mock/state", json=server.document, timeout=120).raise_for_status()


def reset(server: Server) -> None:
    if server.name == "memmock":
        httpx.post(f"{server.url('ibl')}/_mock/reset", headers={"Content-Type": "application/json"},
                   timeout=120).raise_for_status()


# --- scale, memory, startup --------------------------------------------------------------------


def big_document(memories: int, conversations: int) -> dict[str, Any]:
    """The default fixtures plus ``memories`` VirtuousAI memories and ``conversations`` conversations."""
    document: dict[str, Any] = yaml.safe_load((ROOT / "fixtures" / "default.yaml").read_text())
    template = next(c for c in document["ibl"]["chat_history"] if c["org"] == "main")
    start = 1717200000  # 2024-06-01T00:00:00Z
    for n in range(conversations):
        conversation = copy.deepcopy(template)
        conversation["id"] = str(uuid.UUID(int=n + 1, version=4))
        conversation["inserted_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + (n * 26) % (30 * 86400)))
        conversation["messages"] = conversation["messages"][: 1 + n % len(conversation["messages"])]
        document["ibl"]["chat_history"].append(conversation)
    for n in range(memories):
        document["vai"]["memories"].append({
            "id": str(uuid.UUID(int=10**9 + n, version=4)), "organizationId": VAI_ORG, "content": f"memory {n}",
            "createdAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start - n)),
        })
    return document


def timed_gets(clients: list[httpx.Client], path: str, headers: dict[str, str], times: int = 200) -> list[float]:
    """Median milliseconds of ``times`` GETs per client, the clients taking turns (the same drift for all)."""
    samples: list[list[float]] = [[] for _ in clients]
    for _ in range(times):
        for client, mine in zip(clients, samples):
            start = time.perf_counter()
            client.get(path, headers=headers).raise_for_status()
            mine.append((time.perf_counter() - start) * 1e3)
    return [statistics.median(mine) for mine in samples]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def scale_checks(count: int) -> list[tuple[str, str, str]]:
    """Page cost with 100 vs ``count`` stored items, analytics over ``count`` conversations, memory.

    Both mocks run at once and take turns request by request, so both see the same machine.
    """
    sizes = (100, count)
    with ExitStack() as stack:
        servers = []
        for _ in sizes:
            port = free_port()
            servers.append(stack.enter_context(serve("memmock", memmock_argv(port, "--no-fixtures"), port,
                                                     "/_mock/health", cwd=ROOT)))
        clients = [stack.enter_context(httpx.Client(base_url=server.url("ibl"), timeout=600)) for server in servers]
        for client, stored in zip(clients, sizes):
            client.put("/_mock/state", json=big_document(stored, stored)).raise_for_status()
        # The first 100 items: a full page with 100 stored (plus the fixtures') and with 100,000.
        v1, v2 = timed_gets(clients, "/api/v1/memory?limit=100", VAI)
        h1, h2 = timed_gets(clients, f"{A_IBL}/chat-history/?page_size=100", IBL_ADMIN)
        a1, a2 = timed_gets(clients, f"{A_IBL}/average-messages-per-session/?start_date=2024-06-01"
                                     "&end_date=2024-06-30&aggregation=hourly", IBL_USER, times=50)
        rss = rss_mb(servers[-1].process.pid)
    small, big = sizes
    return [
        ("VirtuousAI page of 100 (ms)", f"{v1:.2f} with {small:,} stored", f"{v2:.2f} with {big:,} stored ({100 * (v2 / v1 - 1):+.0f}%)"),
        ("chat-history page of 100 (ms)", f"{h1:.2f} with {small:,} stored", f"{h2:.2f} with {big:,} stored ({100 * (h2 / h1 - 1):+.0f}%)"),
        ("avg-messages 30 days hourly (ms)", f"{a1:.2f} over {small:,}", f"{a2:.2f} over {big:,} conversations"),
        ("resident memory (MB)", "", f"{rss:.0f} with {big:,} memories + {big:,} conversations"),
    ]


def startup_seconds(repeats: int = 3) -> float:
    samples = []
    for _ in range(repeats):
        port = free_port()
        start = time.perf_counter()
        process = subprocess.Popen(memmock_argv(port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/_mock/health", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.005)
            samples.append(time.perf_counter() - start)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(10)
    return statistics.median(samples)


def harness_timing() -> str:
    """Wall time of the quick conformance profile against the in-process mock."""
    if not (ROOT / "contract_tests").is_dir():
        return "n/a (contract_tests/ absent)"
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pytest", "contract_tests", "-q", "-p", "no:cacheprovider"],
                         cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    # The harness's summary line: "<n> checks, <m> evaluations, <k> failed".
    checks = re.search(r"(\d+) checks, (\d+) evaluations", out.stdout)
    summary = (out.stdout.strip().splitlines() or ["?"])[-1]
    rate = (f", {int(checks.group(2)) / wall:.0f} check evaluations/s ({checks.group(2)} over {checks.group(1)} checks)"
            if checks else "")
    return f"{wall:.1f} s{rate}; pytest: {summary}"


# --- prism -----------------------------------------------------------------------------------


@contextmanager
def prism_servers(workdir: Path) -> Iterator[Server]:
    """Prism serves one document per process: one for each API, on its own port."""
    bench = Path(__file__).resolve().parent
    binary = bench / "node_modules" / ".bin" / "prism"
    if not binary.exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=bench, check=True)
    vai_spec = yaml.safe_load((ROOT / "spec" / "virtuousai-memory.yaml").read_text())
    vai_spec["paths"] = {"/api/v1" + p: v for p, v in vai_spec["paths"].items()}
    vai_spec["servers"] = [{"url": "/"}]
    (workdir / "vai.yaml").write_text(yaml.safe_dump(vai_spec))
    ports = {"ibl": free_port(), "vai": free_port()}
    specs = {"ibl": ROOT / "spec" / "ibl-data-manager.yaml", "vai": workdir / "vai.yaml"}
    processes = [subprocess.Popen([str(binary), "mock", "-h", "127.0.0.1", "-p", str(ports[api]), str(specs[api])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for api in ports]
    try:
        for api, port in ports.items():
            wait_until_up(f"http://127.0.0.1:{port}/", timeout=60)
        yield Server("prism", ports["ibl"], processes[0],
                     {api: f"http://127.0.0.1:{port}" for api, port in ports.items()})
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


# --- main ------------------------------------------------------------------------------------


def measure(servers: list[Server], row: Row, connections: int, args: argparse.Namespace,
            workdir: Path) -> tuple[dict[str, Result], dict[str, float]]:
    """One row on every server: medians per server, and mock/other as the median of paired runs.

    The servers take turns (mock, baseline, Prism, mock, ...) rather than one finishing its runs
    before the next starts: on a shared machine throughput drifts by a quarter from one second to
    the next, and runs side by side see the same drift, so their ratio is what it is meant to be.
    """
    runs: dict[str, list[Result]] = {server.name: [] for server in servers}
    for _ in range(args.repeats):
        for server in servers:
            reset(server)
            ids: list[str] = []
            ids_file = None
            if row.deletes and server.name != "prism":
                ids, ids_file = seed_deletable(server, row, args.delete_pool, workdir)
            elif row.deletes:
                ids = [str(uuid.uuid4())]
                ids_file = workdir / "prism-ids.txt"
                ids_file.write_text(ids[0] + "\n")
            runs[server.name].append(load(row, server.url(row.api), connections, args.seconds, ids, ids_file))
    if row.deletes:  # each repeat's import replaced the whole state; the rows after start from theirs
        for server in servers:
            restore(server)
    medians = {name: _median(results) for name, results in runs.items()}
    mock = runs["memmock"]
    ratios = {name: statistics.median(m.rps / o.rps for m, o in zip(mock, other) if m.errors >= 0 and o.errors >= 0 and o.rps)
              for name, other in runs.items() if name != "memmock" and any(o.errors >= 0 for o in other)}
    return medians, ratios


def _median(results: list[Result]) -> Result:
    answered = [r for r in results if r.errors >= 0] or results
    return Result(statistics.median(r.rps for r in answered), statistics.median(r.p50_ms for r in answered),
                  statistics.median(r.p99_ms for r in answered), min(r.errors for r in results))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of one load run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per row and server; medians are printed")
    parser.add_argument("--connections", default="1,32", help="comma-separated connection counts")
    parser.add_argument("--prism", action="store_true", help="also run Stoplight Prism (npm, bench/package.json)")
    parser.add_argument("--scale", type=int, default=100_000, help="items stored for the scale and memory checks (0 skips)")
    # Enough ids that even the baseline (~30,000 deletes/s at 32 connections) never runs out in one
    # run: a 404 costs a server less than a delete, so running dry would flatter whoever ran out.
    parser.add_argument("--delete-pool", type=int, default=250_000, help="memories seeded before each DELETE run")
    parser.add_argument("--rows", default="", help="only rows whose name contains this text")
    parser.add_argument("--no-harness", action="store_true", help="skip timing the quick conformance profile")
    parser.add_argument("--markdown", type=Path, default=ROOT / "bench" / "results.md", help="where the Markdown table goes")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    rows = [r for r in ROWS if args.rows.lower() in r.name.lower()]
    tool = "wrk" if shutil.which("wrk") else "python asyncio generator"
    print(f"load generator: {tool}; {args.repeats} x {args.seconds:g} s per row, servers taking turns; medians", flush=True)

    table: dict[tuple[str, int], tuple[dict[str, Result], dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port_m, port_b = free_port(), free_port()
        with serve("memmock", memmock_argv(port_m), port_m, "/_mock/health", cwd=ROOT) as mock, \
             serve("baseline", [sys.executable, str(Path(__file__).with_name("baseline.py")), str(port_b)],
                   port_b, "/_mock/health") as baseline:
            give_user_artifacts(mock)
            servers = [mock, baseline]
            prism_cm = prism_servers(workdir) if args.prism else None
            if prism_cm is not None:
                servers.append(prism_cm.__enter__())
            try:
                for row in rows:
                    for c in connections:
                        table[(row.name, c)] = measure(servers, row, c, args, workdir)
                        print(_line(row.name, c, *table[(row.name, c)]), flush=True)
            finally:
                if prism_cm is not None:
                    prism_cm.__exit__(None, None, None)

    markdown = [_header(args.prism)] + [_line(name, c, *res, markdown=True) for (name, c), res in table.items()]
    extra = [f"- startup (spawn to first 200): {startup_seconds():.2f} s"]
    if args.scale:
        extra += [f"- {name}: {a}; {b}" if a else f"- {name}: {b}" for name, a, b in scale_checks(args.scale)]
    if not args.no_harness:
        extra.append(f"- quick conformance profile against the in-process mock: {harness_timing()}")
    text = "\n".join(markdown) + "\n\n" + "\n".join(extra) + "\n"
    print("\n" + text)
    args.markdown.write_text(f"Load generator: {tool}, {args.repeats} x {args.seconds:g} s per row, servers taking turns; "
                             "medians; ratios are medians of side-by-side runs.\n\n" + text)
    print(f"written to {args.markdown}")
    return 0


def _header(prism: bool) -> str:
    cols = "| row | conns | memmock req/s | p50 ms | p99 ms | baseline req/s | mock/baseline |"
    sep = "|---|---:|---:|---:|---:|---:|---:|"
    if prism:
        cols += " Prism req/s | mock/Prism |"
        sep += "---:|---:|"
    return cols + "\n" + sep


def _line(name: str, c: int, results: dict[str, Result], ratios: dict[str, float], markdown: bool = False) -> str:
    m, b = results["memmock"], results["baseline"]
    cells = [name, str(c), f"{m.rps:,.0f}", f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}", f"{b.rps:,.0f}",
             f"{ratios.get('baseline', float('nan')):.2f}"]
    if "prism" in results:
        p = results["prism"]
        cells += [f"{p.rps:,.0f}", f"{ratios.get('prism', float('nan')):.2f}"]
    if m.errors:
        cells[2] += f" ({m.errors} non-2xx)" if m.errors > 0 else " (stopped answering)"
    if b.errors:
        cells[5] += f" ({b.errors} non-2xx)" if b.errors > 0 else " (stopped answering)"
    if "prism" in results and results["prism"].errors < 0:
        cells[-2] = "stopped answering"
    return ("| " + " | ".join(cells) + " |") if markdown else "  ".join(cells)


if __name__ == "__main__":
    sys.exit(main())
