"""``make bench``: memmock beside WireMock's static stubs, bare Starlette and Prism, under the same load.

Starts the mock the way users run it (``memmock serve``: default fixtures, request validation on,
one process); WireMock 3 answering each row with a static stub of the very answer the mock gave
that row's request (status, headers, body bytes; captured first); the bare-Starlette baseline of
``baseline.py``; the floor of ``floor.py`` (the captured replies sent by an ASGI app on granian
that does nothing else); the mock again with the journal off and with ``--state-file``
(``--no-variants`` skips them), for the cost of its test-suite features; with ``--prism`` Stoplight
Prism on the same specs; with ``--before-venv`` a second memmock, built from another checkout, so
two builds are measured in one run. wrk drives each row at 1 and 32 connections with the same
settings for every server; per row and connection count the servers take turns round by round,
warm-up rounds are dropped, and the table shows each server's medians of the rounds and each
mock/other ratio as the median of the ratios of rounds made side by side. Then startup, scale (a
page and the analytics with 100,000 stored items) and memory. Prints a Markdown table and writes it
to ``--markdown`` so it can be pasted into the README.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import os
import platform
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
from typing import Any, Callable, Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
IBL_USER = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
IBL_ADMIN = {"Authorization": "Api-Token dev-ibl-admin-main-0001"}
VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
VAI_ORG = "7bc05553-4b68-44e8-b7bc-37be63c6d9e9"
MENTOR = "5b1f0c3e-8d2a-4c6b-9e7f-0a1b2c3d4e5f"
P_IBL = "/api/ai-prompt/orgs/main/users/johndoe"
M_IBL = "/api/ai-mentor/orgs/main/users/johndoe"
A_IBL = "/api/ai-analytics/orgs/main/users/johndoe"

# One wrk thread for every server: wrk is event-driven, so one thread keeps 32 connections busy,
# and on two cores a second wrk thread would only take CPU from the server under test.
WRK_THREADS = 1
# WireMock's settings for load, from its documentation: no request journal (it keeps every request
# for verification, so the heap grows with the load), no logging of each stubbed request ("useful
# when performance testing"), and Jetty's container threads set explicitly (--wiremock-threads).
WIREMOCK_FLAGS = ["--no-request-journal", "--disable-request-logging", "--disable-banner"]
# Response headers the server writes itself; every other header of the mock's answer is stubbed.
OWN_HEADERS = {"date", "server"}
# With --pin: the cores the servers run on, and wrk's (empty: the scheduler's choice).
SERVER_CORES: set[int] = set()
LOAD_CORES: set[int] = set()


def _on_cores(cores: set[int]) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps the child, and every thread it starts, on ``cores`` (None: no pinning)."""
    return (lambda: os.sched_setaffinity(0, cores)) if cores else None


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

    @property
    def payload(self) -> str | None:
        """The body as wrk sends it."""
        return None if self.body is None else json.dumps(self.body)


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

    name: str  # its column
    kind: str  # memmock, baseline, wiremock or prism: what a run needs done to it first
    port: int
    process: subprocess.Popen[bytes]
    started_in: float = 0.0  # seconds from spawn to its first answer
    urls: dict[str, str] = field(default_factory=dict)  # api -> base URL
    # The mock's state every row starts from (what give_user_artifacts imports); DELETE seeding
    # builds on it rather than on the last seeded state, so seeded memories never pile up.
    document: dict[str, Any] | None = None

    def url(self, api: str) -> str:
        return self.urls.get(api, f"http://127.0.0.1:{self.port}")


@dataclass(frozen=True)
class Build:
    """A memmock to bench: its column, the venv it is installed in and the checkout it comes from."""

    column: str
    label: str
    venv: Path
    root: Path

    @classmethod
    def of(cls, column: str, label: str, venv: Path) -> Build:
        """The build installed in ``venv``; its checkout is where that venv imports mock_server from."""
        # From a neutral folder: `python -c` puts its working directory first on sys.path, and this
        # checkout's mock_server must not stand in for the build's own.
        out = subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import mock_server, pathlib; print(pathlib.Path(mock_server.__file__).resolve().parent.parent)"],
            cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
        return cls(column, label, venv, Path(out.stdout.strip()))

    def argv(self, port: int, *extra: str) -> list[str]:
        """``memmock serve`` of this build on ``port``."""
        # The console script, whose sys.path starts at the venv rather than the working directory.
        # A large body limit only so the DELETE rows can seed ids through PUT /_mock/state.
        return [str(self.venv / "bin" / "memmock"), "serve", "--port", str(port), "--log-level", "error",
                "--body-limit", str(1 << 30), *extra]

    def commit(self) -> str:
        """The commit the build's checkout is at, and whether the mock's files differ from it."""
        try:
            head = subprocess.run(["git", "-C", str(self.root), "rev-parse", "--short", "HEAD"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            changed = subprocess.run(["git", "-C", str(self.root), "status", "--porcelain", "--",
                                      "mock_server", "spec", "fixtures", "pyproject.toml"],
                                     capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "not a git checkout"
        return head + (" with uncommitted changes to the mock" if changed else "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> float:
    """Seconds until ``url`` answers at all (an error as soon as ``process``, its server, has exited)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server of {url} exited with status {process.returncode}")
        try:
            httpx.get(url, timeout=0.5)
            return time.perf_counter() - start
        except httpx.HTTPError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


@contextmanager
def serve(name: str, kind: str, argv: list[str], port: int, health: str, **popen: Any) -> Iterator[Server]:
    # The server's log goes to a file: an unread pipe would fill up and stall the server.
    log = tempfile.NamedTemporaryFile("w+b", prefix=f"bench-{name}-", suffix=".log", delete=False)
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=tempfile.gettempdir(),
                               preexec_fn=_on_cores(SERVER_CORES), **popen)
    try:
        try:
            started_in = wait_until_up(f"http://127.0.0.1:{port}{health}", timeout=60, process=process)
        except RuntimeError:
            log.seek(0)
            sys.stderr.write(f"{name}: {' '.join(argv)}\n" + log.read()[-3000:].decode(errors="replace"))
            raise
        yield Server(name, kind, port, process, started_in)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        os.unlink(log.name)


def serve_memmock(build: Build, *extra: str, column: str = "") -> Any:
    """``memmock serve`` of ``build`` (with ``extra`` flags, in its own ``column``) on a free port,
    as a context manager of its Server."""
    port = free_port()
    return serve(column or build.column, "memmock", build.argv(port, *extra), port, "/_mock/health")


# The mock's own variants, measured beside it for the targets of the test-suite features: the journal
# off (the one per-request feature with a switch; namespaces and behaviour hooks have none, and a
# request naming neither pays a header lookup for each), and the state kept in a file.
JOURNAL_OFF = "journal off"
STATE_FILE = "state file"


def variants(workdir: Path) -> dict[str, list[str]]:
    """Each variant's column and the flags ``memmock serve`` gets for it."""
    return {JOURNAL_OFF: ["--journal-size", "0"], STATE_FILE: ["--state-file", str(workdir / "state.memmock")]}


# --- load generation -------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _lua(row: Row, ids_file: Path | None) -> str:
    headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in row.headers.items())
    body = ""
    if row.payload is not None:
        body = f"wrk.body = {json.dumps(row.payload)}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
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
            ["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
             "-s", fh.name, url],
            capture_output=True, text=True, check=True, timeout=seconds + 30, preexec_fn=_on_cores(LOAD_CORES),
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


def _request_headers(row: Row) -> dict[str, str]:
    return {**row.headers, "Content-Type": "application/json"} if row.payload is not None else dict(row.headers)


async def _python_load(row: Row, base: str, connections: int, seconds: float, ids: list[str]) -> Result:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = _request_headers(row)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                path = row.path + ids[next(counter) % len(ids)] if row.deletes else row.path
                start = time.perf_counter()
                response = await client.request(row.method, path, headers=headers, content=row.payload)
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


def deletable(server: Server, row: Row, count: int) -> list[str]:
    """Memory ids for a DELETE row: ``count`` fresh ones stored on the server under test."""
    if server.kind not in ("memmock", "baseline"):
        return [str(uuid.uuid4())]  # Prism and WireMock keep no state: every id gets the same answer
    ids = [str(uuid.uuid4()) for _ in range(count)]
    base = server.url(row.api)
    if server.kind == "memmock":
        assert server.document is not None, "give_user_artifacts sets the starting state"
        document = copy.deepcopy(server.document)
        document["vai"]["memories"].extend(
            {"id": i, "organizationId": VAI_ORG, "content": "seeded", "createdAt": "2024-06-01T00:00:00Z"} for i in ids
        )
        httpx.put(f"{base}/_mock/state", json=document, timeout=120).raise_for_status()
    else:
        httpx.put(f"{base}/_bench/memories", json=ids, timeout=60).raise_for_status()
    return ids


def ids_file(workdir: Path, ids: list[str]) -> Path:
    """The ids a wrk run sends, one a line, for its Lua script."""
    path = workdir / f"ids-{uuid.uuid4().hex[:8]}.txt"
    path.write_text("\n".join(ids) + "\n")
    return path


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
    if server.kind == "memmock" and server.document is not None:
        httpx.put(f"{server.url('ibl')}/_mock/state", json=server.document, timeout=120).raise_for_status()


def reset(server: Server) -> None:
    if server.kind == "memmock":
        httpx.post(f"{server.url('ibl')}/_mock/reset", headers={"Content-Type": "application/json"},
                   timeout=120).raise_for_status()


# --- WireMock ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One answer as a client reads it: status, headers (less the server's own), body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


def send(client: httpx.Client, row: Row, path: str) -> httpx.Response:
    """The row's request as wrk sends it, to ``path``."""
    return client.request(row.method, path, headers=_request_headers(row), content=row.payload)


def capture(server: Server, row: Row) -> Reply:
    """The mock's own answer to the row's request (for the DELETE row, deleting a memory it just stored)."""
    reset(server)  # what an earlier capture stored must not show in this one
    with httpx.Client(base_url=server.url(row.api), timeout=60) as client:
        path = row.path
        if row.deletes:
            created = client.post(row.path.rstrip("/"), headers=row.headers, json={"content": "captured"})
            created.raise_for_status()
            path += created.json()["id"]
        response = send(client, row, path)
    if response.status_code >= 300:
        raise RuntimeError(f"{row.name}: the mock answered {response.status_code}: {response.text[:200]}")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in OWN_HEADERS}
    return Reply(response.status_code, headers, response.content)


def stub(row: Row, reply: Reply) -> dict[str, Any]:
    """A WireMock mapping answering the row's request with ``reply``.

    It matches what the mock reads to pick that answer: the method, the path (any id for the DELETE
    row), the query parameters and the credential, since the mock checks one on every row.
    """
    parts = urlsplit(row.path)
    request: dict[str, Any] = {"method": row.method, "headers": {k: {"equalTo": v} for k, v in row.headers.items()}}
    if row.deletes:
        request["urlPathPattern"] = re.escape(parts.path) + "[^/]+"
    else:
        request["urlPath"] = parts.path
    if parts.query:
        request["queryParameters"] = {k: {"equalTo": v} for k, v in parse_qsl(parts.query)}
    response: dict[str, Any] = {"status": reply.status, "headers": reply.headers}
    if reply.body:
        response["base64Body"] = base64.b64encode(reply.body).decode()
    return {"name": row.name, "request": request, "response": response}


@contextmanager
def floor_server(workdir: Path, rows: list[Row], replies: dict[str, Reply]) -> Iterator[Server]:
    """``floor.py``: each row's captured reply sent by an ASGI app on granian that does nothing else."""
    stubs = []
    for row in rows:
        parts, reply = urlsplit(row.path), replies[row.name]
        stubs.append({"method": row.method, "path": parts.path, "query": parts.query, "any_id": row.deletes,
                      "status": reply.status, "headers": list(reply.headers.items()),
                      "body": base64.b64encode(reply.body).decode()})
    path = workdir / "floor-stubs.json"
    path.write_text(json.dumps(stubs))
    port = free_port()
    with serve("floor", "floor", [sys.executable, str(BENCH / "floor.py"), str(port), str(path)], port,
               "/_floor/health") as server:
        check_stubs(server, rows, replies)
        yield server


def check_stubs(server: Server, rows: list[Row], replies: dict[str, Reply]) -> None:
    """Each row's stub answers as the mock did (status, content type, body bytes), or the bench stops."""
    with httpx.Client(base_url=server.url("ibl"), timeout=60) as client:
        for row in rows:
            response = send(client, row, row.path + (str(uuid.uuid4()) if row.deletes else ""))
            want = replies[row.name]
            if (response.status_code, response.headers.get("content-type"), response.content) != (
                    want.status, want.headers.get("content-type"), want.body):
                raise RuntimeError(f"{TITLES[server.kind]}'s stub for {row.name} answered {response.status_code} "
                                   f"{response.content[:200]!r}, not the mock's {want.status} {want.body[:200]!r}")


def node_package(relative: str) -> Path:
    """A path inside the npm packages pinned in bench/package-lock.json (installed with npm ci if missing)."""
    path = BENCH / "node_modules" / relative
    if not path.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=BENCH, check=True)
    return path


def wiremock_jar() -> Path:
    return next(node_package("wiremock/build").glob("wiremock-standalone-*.jar"))


def wiremock_argv(jar: Path, port: int, root: Path, threads: int) -> list[str]:
    return ["java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1", "--root-dir", str(root),
            "--container-threads", str(threads), *WIREMOCK_FLAGS]


@contextmanager
def wiremock_server(workdir: Path, rows: list[Row], replies: dict[str, Reply], threads: int) -> Iterator[Server]:
    """WireMock standalone with one static stub per row, read from mappings written for this run."""
    root = workdir / "wiremock"
    (root / "mappings").mkdir(parents=True)
    for n, row in enumerate(rows):
        (root / "mappings" / f"row-{n:02d}.json").write_text(json.dumps(stub(row, replies[row.name])))
    port = free_port()
    with serve("wiremock", "wiremock", wiremock_argv(wiremock_jar(), port, root, threads), port,
               "/__admin/health") as server:
        check_stubs(server, rows, replies)
        yield server


def warm_jvm(server: Server, rows: list[Row], seconds: float, workdir: Path) -> None:
    """Every stub under load before the first measured row, so the JIT has compiled WireMock's hot paths."""
    for row in rows:
        ids = deletable(server, row, 1) if row.deletes else []
        load(row, server.url(row.api), 32, seconds, ids, ids_file(workdir, ids) if ids else None)


def versions() -> dict[str, str]:
    """wrk's, Java's and WireMock's versions, for the table's header."""
    def first_line(argv: list[str]) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except OSError:
            return "absent"
        return ((done.stdout + done.stderr).strip().splitlines() or ["?"])[0]
    wrk = first_line(["wrk", "-v"]).split(" [")[0]
    java = first_line(["java", "-version"])
    return {"wrk": wrk, "java": java, "wiremock": wiremock_jar().stem.removeprefix("wiremock-standalone-")}


# --- scale, memory, startup --------------------------------------------------------------------


def big_document(build: Build, memories: int, conversations: int) -> dict[str, Any]:
    """The default fixtures plus ``memories`` VirtuousAI memories and ``conversations`` conversations."""
    document: dict[str, Any] = yaml.safe_load((build.root / "fixtures" / "default.yaml").read_text())
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


def scale_checks(build: Build, count: int) -> list[tuple[str, str, str]]:
    """Page cost with 100 vs ``count`` stored items, analytics over ``count`` conversations, memory.

    Both mocks run at once and take turns request by request, so both see the same machine.
    """
    sizes = (100, count)
    with ExitStack() as stack:
        servers = [stack.enter_context(serve_memmock(build, "--no-fixtures")) for _ in sizes]
        clients = [stack.enter_context(httpx.Client(base_url=server.url("ibl"), timeout=600)) for server in servers]
        for client, stored in zip(clients, sizes):
            client.put("/_mock/state", json=big_document(build, stored, stored)).raise_for_status()
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


def startup_seconds(build: Build, repeats: int = 3) -> float:
    samples = []
    for _ in range(repeats):
        port = free_port()
        start = time.perf_counter()
        process = subprocess.Popen(build.argv(port), cwd=tempfile.gettempdir(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def harness_timing(build: Build) -> str:
    """Wall time of the build's quick conformance profile against its in-process mock."""
    if not (build.root / "contract_tests").is_dir():
        return "n/a (contract_tests/ absent)"
    start = time.perf_counter()
    out = subprocess.run([str(build.venv / "bin" / "python"), "-m", "pytest", "contract_tests", "-q",
                          "-p", "no:cacheprovider"], cwd=build.root, capture_output=True, text=True)
    wall = time.perf_counter() - start
    # The harness's summary line: "<n> checks, <m> evaluations, <k> failed".
    checks = re.search(r"(\d+) checks, (\d+) evaluations", out.stdout)
    summary = (out.stdout.strip().splitlines() or ["?"])[-1]
    rate = (f", {int(checks.group(2)) / wall:.0f} check evaluations/s ({checks.group(2)} over {checks.group(1)} checks)"
            if checks else "")
    return f"{wall:.1f} s{rate}; pytest: {summary}"


def build_lines(build: Build, args: argparse.Namespace) -> list[str]:
    """The startup, scale, memory and harness lines of one build."""
    lines = [f"startup (spawn to first 200): {startup_seconds(build):.2f} s"]
    if args.scale:
        lines += [f"{name}: {a}; {b}" if a else f"{name}: {b}" for name, a, b in scale_checks(build, args.scale)]
    if not args.no_harness:
        lines.append(f"quick conformance profile against the in-process mock: {harness_timing(build)}")
    return lines


# --- prism -----------------------------------------------------------------------------------


@contextmanager
def prism_servers(workdir: Path, spec: Path) -> Iterator[Server]:
    """Prism serves one document per process: one for each API, on its own port."""
    binary = node_package(".bin/prism")
    vai_spec = yaml.safe_load((spec / "virtuousai-memory.yaml").read_text())
    vai_spec["paths"] = {"/api/v1" + p: v for p, v in vai_spec["paths"].items()}
    vai_spec["servers"] = [{"url": "/"}]
    (workdir / "vai.yaml").write_text(yaml.safe_dump(vai_spec))
    ports = {"ibl": free_port(), "vai": free_port()}
    specs = {"ibl": spec / "ibl-data-manager.yaml", "vai": workdir / "vai.yaml"}
    start = time.perf_counter()
    processes = [subprocess.Popen([str(binary), "mock", "-h", "127.0.0.1", "-p", str(ports[api]), str(specs[api])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for api in ports]
    try:
        for api, port in ports.items():
            wait_until_up(f"http://127.0.0.1:{port}/", timeout=60)
        yield Server("prism", "prism", ports["ibl"], processes[0], time.perf_counter() - start,
                     {api: f"http://127.0.0.1:{port}" for api, port in ports.items()})
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


# --- main ------------------------------------------------------------------------------------


def delete_pool(args: argparse.Namespace, seconds: float) -> int:
    """Memories a DELETE run of ``seconds`` may delete."""
    # Enough that even the baseline (~36,000 deletes/s at 32 connections) never runs out in one
    # run: a 404 costs a server less than a delete, so running dry would flatter whoever ran out.
    return args.delete_pool or max(50_000, round(50_000 * seconds))


def cpu_busy(seconds: float = 0.5) -> float:
    """The share of all cores' time spent busy over ``seconds``: between runs, the load of others."""
    def sample() -> tuple[int, int]:
        # cpu user nice system idle iowait irq softirq steal ...
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return sum(ticks), ticks[3] + ticks[4]
    total, idle = sample()
    time.sleep(seconds)
    total2, idle2 = sample()
    return 1 - (idle2 - idle) / max(1, total2 - total)


def wait_for_quiet(args: argparse.Namespace) -> float:
    """The machine's load from others before a row, after waiting up to ``--wait-quiet`` s for it to drop."""
    deadline = time.monotonic() + args.wait_quiet
    busy = cpu_busy()
    while busy > QUIET and time.monotonic() < deadline:
        busy = cpu_busy(1.0)
    return busy


# Others' load under which a row starts at once with --wait-quiet: a tenth of the machine.
QUIET = 0.10
# Others' load over which a run's figures come with a warning: a quarter of the machine.
BUSY = 0.25


def measure(servers: list[Server], row: Row, connections: int, args: argparse.Namespace,
            workdir: Path) -> tuple[dict[str, Result], dict[str, float]]:
    """One row on every server: medians per server, and mock/other as the median of paired rounds.

    The servers take turns (mock, WireMock, baseline, ..., mock, ...) rather than one finishing its
    runs before the next starts: on a shared machine throughput drifts by a quarter from one second
    to the next, and runs side by side see the same drift, so their ratio is what it is meant to be.
    The first ``--warmup`` rounds are dropped for every server alike.
    """
    durations = [args.warmup_seconds] * args.warmup + [args.seconds] * args.repeats
    # A DELETE row seeds each server once with ids for all its runs, and each run deletes ids that no
    # run before it did: an import (or a reset, which reloads one) per run would cost more than the run.
    pools = {server.name: deletable(server, row, sum(delete_pool(args, s) for s in durations))
             for server in servers} if row.deletes else {}
    used = dict.fromkeys(pools, 0)
    runs: dict[str, list[Result]] = {server.name: [] for server in servers}
    for round_, seconds in enumerate(durations):
        for server in servers:
            ids: list[str] = []
            if row.deletes:
                pool = pools[server.name]
                ids = pool[used[server.name]:used[server.name] + delete_pool(args, seconds)] if len(pool) > 1 else pool
                used[server.name] += len(ids)
            else:
                reset(server)
            result = load(row, server.url(row.api), connections, seconds, ids, ids_file(workdir, ids) if ids else None)
            if round_ >= args.warmup:
                runs[server.name].append(result)
    if row.deletes:  # the seeding replaced the whole state; the rows after start from theirs
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


Table = dict[tuple[str, int], tuple[dict[str, Result], dict[str, float]]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of one measured run (whole seconds)")
    parser.add_argument("--repeats", type=int, default=3, help="measured rounds per row; medians are printed")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up rounds per row, dropped for every server")
    parser.add_argument("--warmup-seconds", type=float, default=1.0, help="duration of one warm-up run")
    parser.add_argument("--connections", default="1,32", help="comma-separated connection counts")
    parser.add_argument("--quick", action="store_true",
                        help="a quick look: 2 rounds of 1 s, JVM warm-up 1 s per row, scale 10,000, no harness timing")
    parser.add_argument("--memmock-venv", type=Path, default=Path(sys.prefix),
                        help="venv of the memmock to bench (default: the one running this script)")
    parser.add_argument("--memmock-label", default="", help="what that memmock is, for the table's header")
    parser.add_argument("--before-venv", type=Path, help="venv of a second memmock, benched beside the first")
    parser.add_argument("--before-label", default="before", help="its column")
    parser.add_argument("--wiremock-threads", type=int, default=0,
                        help="WireMock's container threads (default: its own 25, or one a connection plus "
                             "Jetty's acceptors and selectors where that is more)")
    parser.add_argument("--jvm-warmup", type=float, default=2.0, help="seconds of load on each stub before the first row")
    parser.add_argument("--wait-quiet", type=float, default=0.0,
                        help=f"seconds to wait, before each row, for others' load to drop under {QUIET * 100:.0f}%% of the machine")
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness of the bench, its servers and wrk (as root, below 0 puts them ahead of "
                             "other work on a shared machine)")
    parser.add_argument("--prism", action="store_true", help="also run Stoplight Prism (npm, bench/package.json)")
    parser.add_argument("--scale", type=int, default=100_000, help="items stored for the scale and memory checks (0 skips)")
    parser.add_argument("--delete-pool", type=int, default=0,
                        help="memories one DELETE run may delete (default: 50,000 per second of the run)")
    parser.add_argument("--no-variants", action="store_true",
                        help=f"skip the mock's variant columns ({JOURNAL_OFF}: --journal-size 0; {STATE_FILE}: --state-file)")
    parser.add_argument("--variants-only", action="store_true",
                        help="only memmock and its variant columns: the cost of its test-suite features, without "
                             "WireMock, the floor and the baseline (make bench-features)")
    parser.add_argument("--pin", action="store_true",
                        help="the servers on the first core, wrk on the last, so that wrk and the server under "
                             "test never take turns on one core")
    parser.add_argument("--rows", default="", help="only rows whose name contains this text")
    parser.add_argument("--no-harness", action="store_true", help="skip timing the quick conformance profile")
    parser.add_argument("--markdown", type=Path, default=BENCH / "results.md", help="where the Markdown table goes")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.seconds, args.warmup_seconds, args.jvm_warmup = 2, 1.0, 1.0, 1.0
        args.scale, args.no_harness = 10_000, True
    if args.variants_only and args.no_variants:
        parser.error("--variants-only measures the variants that --no-variants skips")
    if args.pin:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            parser.error("--pin needs two cores: one for the servers, one for wrk")
        SERVER_CORES.add(cores[0])
        LOAD_CORES.add(cores[-1])
    if args.nice:
        # Every process the bench starts inherits it: wrk and all the servers alike.
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    connections = [int(c) for c in args.connections.split(",")]
    rows = [r for r in ROWS if args.rows.lower() in r.name.lower()]
    builds = [Build.of("memmock", args.memmock_label or "memmock", args.memmock_venv)]
    if args.before_venv:
        builds.append(Build.of(args.before_label, args.before_label, args.before_venv))
    tool = "wrk" if shutil.which("wrk") else "python asyncio generator"
    print(f"load generator: {tool}; per row {args.warmup} warm-up + {args.repeats} x {args.seconds:g} s, "
          "servers taking turns; medians", flush=True)

    started = time.gmtime()
    table: Table = {}
    busy: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        mocks = [stack.enter_context(serve_memmock(build)) for build in builds]
        if not args.no_variants:
            mocks += [stack.enter_context(serve_memmock(builds[0], *flags, column=column))
                      for column, flags in variants(workdir).items()]
        for mock in mocks:
            give_user_artifacts(mock)
        servers = list(mocks)
        threads = args.wiremock_threads or wiremock_default_threads(max(connections))
        if not args.variants_only:
            replies = {row.name: capture(mocks[0], row) for row in rows}
            servers += comparisons(stack, workdir, rows, replies, threads, args, builds[0])
        for row in rows:
            for c in connections:
                busy.append(wait_for_quiet(args))
                table[(row.name, c)] = measure(servers, row, c, args, workdir)
                print(_line(row.name, c, servers, *table[(row.name, c)]), f"(others' load before: {busy[-1]:.0%})",
                      flush=True)
        resident = {server.name: rss_mb(server.process.pid) for server in servers if server.kind != "prism"}
        wiremock_up = next((server.started_in for server in servers if server.kind == "wiremock"), None)

    found = versions()
    markdown = [_header(servers)] + [_line(name, c, servers, *res, markdown=True) for (name, c), res in table.items()]
    extra = [f"- {line}" for line in targets(table, connections, rows)]
    if busy:
        extra.append(f"- others' load on the machine before each row and connection count (share of all cores busy "
                     f"over 0.5 s): median {statistics.median(busy):.0%}, max {max(busy):.0%}")
        if statistics.median(busy) > BUSY:
            extra.append("- the machine was busy with other work before most rows: every figure here, p99 most of "
                         "all, is worse than on an idle machine, and ratios swing from run to run; compare builds "
                         "in one run (--before-venv), on a quieter machine")
    for build in builds:
        prefix = "" if len(builds) == 1 else f"{build.column}: "
        extra += [f"- {prefix}{line}" for line in build_lines(build, args)]
    if wiremock_up is not None:
        extra.append(f"- WireMock {found['wiremock']}: {wiremock_up:.2f} s from spawn to its first answer (JVM start)")
    extra.append("- resident memory after the rows (MB): "
                 + ", ".join(f"{TITLES.get(name, name)} {mb:.0f}" for name, mb in resident.items()))
    text = "\n".join(markdown) + "\n\n" + "\n".join(extra) + "\n"
    print("\n" + text)
    args.markdown.write_text(_intro(builds, args, connections, tool, found, threads, started) + "\n\n" + text)
    print(f"written to {args.markdown}")
    return 0


def comparisons(stack: ExitStack, workdir: Path, rows: list[Row], replies: dict[str, Reply], threads: int,
                args: argparse.Namespace, build: Build) -> list[Server]:
    """The servers memmock is measured beside: WireMock (warmed up), the floor, the baseline, Prism if asked."""
    wiremock = stack.enter_context(wiremock_server(workdir, rows, replies, threads))
    warm_jvm(wiremock, rows, args.jvm_warmup, workdir)
    port = free_port()
    baseline = stack.enter_context(serve("baseline", "baseline", [sys.executable, str(BENCH / "baseline.py"),
                                                                  str(port)], port, "/_mock/health"))
    floor = stack.enter_context(floor_server(workdir, rows, replies))
    servers = [wiremock, floor, baseline]
    if args.prism:
        servers.append(stack.enter_context(prism_servers(workdir, build.root / "spec")))
    return servers


def wiremock_default_threads(connections: int) -> int:
    """WireMock's default pool (25), or one thread per connection plus Jetty's acceptors and selectors."""
    # Jetty takes its acceptor and selector threads (one to two of each per core) from the same pool,
    # and refuses to start when they leave none for requests.
    return max(25, connections + 2 * (os.cpu_count() or 2))


def _intro(builds: list[Build], args: argparse.Namespace, connections: list[int], tool: str,
           found: dict[str, str], threads: int, started: time.struct_time) -> str:
    cores = os.cpu_count()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?")
    memory = next((int(line.split()[1]) / 2**20 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), float("nan"))
    what = "; ".join(f"{b.column}: {b.label} (commit {b.commit()}, {b.venv})" for b in builds)
    return "\n".join([
        *([f"## {builds[0].label}", ""] if builds[0].label != "memmock" else []),
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', started)} on {cores} cores ({cpu}, {memory:.0f} GiB), "
        "shared by wrk and the servers" + (f", which ran at niceness {args.nice}" if args.nice else "")
        + (f"; the servers pinned to core {min(SERVER_CORES)}, wrk to core {min(LOAD_CORES)}." if args.pin else "."),
        f"{what}.",
        f"Load: {found['wrk'] if tool == 'wrk' else tool}, {WRK_THREADS} thread, {' and '.join(map(str, connections))} "
        f"connection(s), the same for every server. Per row and connection count {args.warmup} warm-up round(s) of "
        f"{args.warmup_seconds:g} s (dropped), then {args.repeats} round(s) of {args.seconds:g} s; the servers take turns "
        "round by round; medians of the rounds; each ratio is the median of the ratios of rounds run side by side.",
        *([] if args.no_variants else [
            f"{JOURNAL_OFF}, {STATE_FILE}: the same memmock with --journal-size 0, and with --state-file in the "
            "bench's temporary folder (--fsync always, the default)."]),
        *([] if args.variants_only else [
            f"WireMock {found['wiremock']} ({found['java']}): one static stub per row, answering the mock's own "
            "captured reply (status, headers, body bytes) to a request matching method, path, query and credential; "
            f"{' '.join(WIREMOCK_FLAGS)} --container-threads {threads}; {args.jvm_warmup:g} s of load on each stub "
            "before the first row (JVM warm-up).",
            "floor: bench/floor.py, an ASGI app on granian (embedded, one worker, uvloop, as memmock serve runs) "
            "that reads each request's body and sends the same captured reply from a dict, nothing else: the most "
            "a Python app served so can answer."]),
    ])


TITLES = {"wiremock": "WireMock", "floor": "floor", "baseline": "baseline", "prism": "Prism"}
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Columns with their p99 beside their throughput: the ones the targets compare with.
WITH_P99 = {"wiremock"}


def _others(servers: list[Server]) -> list[Server]:
    """The columns after memmock's: another build first, then WireMock, the floor, the baseline and Prism."""
    return [s for s in servers if s.name != "memmock"]


def _header(servers: list[Server]) -> str:
    cols = ["row", "conns", "memmock req/s", "p50 ms", "p99 ms"]
    for server in _others(servers):
        title = TITLES.get(server.name, server.name)
        cols.append(f"{title} req/s")
        if server.name in WITH_P99 or server.kind == "memmock":
            cols.append(f"{title} p99 ms")
        cols.append(f"mock/{title}")
    return "| " + " | ".join(cols) + " |\n|---|" + "---:|" * (len(cols) - 1)


def _rps(result: Result) -> str:
    if result.errors < 0:
        return "stopped answering"
    return f"{result.rps:,.0f}" + (f" ({result.errors} non-2xx)" if result.errors else "")


def _line(name: str, c: int, servers: list[Server], results: dict[str, Result], ratios: dict[str, float],
          markdown: bool = False) -> str:
    m = results["memmock"]
    cells = [name, str(c), _rps(m), f"{m.p50_ms:.2f}", f"{m.p99_ms:.2f}"]
    for server in _others(servers):
        other = results[server.name]
        cells.append(_rps(other))
        if server.name in WITH_P99 or server.kind == "memmock":
            cells.append(f"{other.p99_ms:.2f}")
        cells.append(f"{ratios.get(server.name, float('nan')):.2f}")
    return ("| " + " | ".join(cells) + " |") if markdown else "  ".join(cells)


def targets(table: Table, connections: list[int], rows: list[Row]) -> list[str]:
    """The code's targets (memmock beside WireMock; its test-suite features' cost), and whether this run meets them."""
    ratios = {f"{name} at {c}": r["wiremock"] for (name, c), (_, r) in table.items() if "wiremock" in r}
    lines = [_target("≥ 1.0× WireMock on every row", {k: f"{r:.2f}" for k, r in ratios.items() if not r >= 1.0},
                     len(ratios))] if ratios else []
    floor = {f"{name} at {c}": res["floor"].rps / res["wiremock"].rps for (name, c), (res, _) in table.items()
             if "floor" in res and "wiremock" in res and res["wiremock"].rps}
    if floor:
        # What no Python app on this server can beat: where the floor is under WireMock, so is any mock.
        lines.append(_target("the floor (an app that only sends the captured reply) ≥ 1.0× WireMock (medians)",
                             {k: f"{r:.2f}" for k, r in floor.items() if not r >= 1.0}, len(floor)))
    if 32 in connections:
        p99 = {name: res["memmock"].p99_ms for (name, c), (res, _) in table.items() if c == 32}
        lines.append(_target("memmock p99 < 5 ms at 32 connections",
                             {k: f"{ms:.2f} ms" for k, ms in p99.items() if not ms < 5.0}, len(p99)))
    writes = {row.name for row in rows if row.method in WRITES}
    journal = {f"{name} at {c}": r[JOURNAL_OFF] for (name, c), (_, r) in table.items() if JOURNAL_OFF in r}
    if journal:
        lines.append(_target(f"namespaces, journal and behaviour hooks cost ≤ 5%: memmock ≥ 0.95× {JOURNAL_OFF} "
                             "(--journal-size 0) on every row",
                             {k: f"{r:.3f}" for k, r in journal.items() if not r >= 0.95}, len(journal)))
    # A read waits for no sync, so on the read rows the state-file mock serves memmock's own code: its
    # ratio there is how far this run's rounds swing by themselves, the yardstick for a 5% target.
    same = [r[STATE_FILE] for (name, _), (_, r) in table.items() if name not in writes and r.get(STATE_FILE)]
    if same:
        lines.append(f"this run's own swing: memmock/{STATE_FILE} on the read rows (the same code there; "
                     f"{len(same)} measured) {min(same):.2f}–{max(same):.2f}")
    # mock/other is in-memory over the file; the target is the file's share of the in-memory rate.
    kept = {name: 1 / r[STATE_FILE] for (name, c), (_, r) in table.items()
            if c == 32 and name in writes and r.get(STATE_FILE)}
    if kept:
        lines.append(_target(f"with --state-file, writes ≥ 0.5× the in-memory rate at 32 connections ({STATE_FILE})",
                             {k: f"{r:.2f}" for k, r in kept.items() if not r >= 0.5}, len(kept)))
    return lines


def _target(what: str, misses: dict[str, str], out_of: int) -> str:
    verdict = "met" if not misses else f"not met: met on {out_of - len(misses)} of {out_of}"
    return f"target {what}: {verdict}" + (f" (missed: {'; '.join(f'{k} {v}' for k, v in misses.items())})" if misses else "")


if __name__ == "__main__":
    sys.exit(main())
