"""The harness honours the contract's latitude: it stays green on servers that read it the other way.

Each variant in ``tests/latitude_variants.py`` is the mock switched, on one point of
``spec/latitude.yaml``, to another reading a correct DRF or FastAPI server may make. The sweep
serves each one on 127.0.0.1 and runs the harness against it as a user runs it against a
deployment (a subprocess with ``--target`` and the credentials in the environment), two at a
time; every run must exit 0 with no failed check. The throttling variant (protocol-statuses)
may make checks skip, never fail. Each variant is also asked directly, so that one which
silently changed nothing fails here rather than proving nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from contract_tests import latitude
from contract_tests.inprocess import free_port
from mock_server.app import create_app
from mock_server.settings import Settings
from tests import latitude_variants as lv
from tests.paths import ROOT

# The README's dev tokens, as a pipeline would set them for a deployment.
CREDENTIALS = {
    "IBL_ORG": "main", "IBL_USER": "johndoe", "IBL_USER_TOKEN": "dev-ibl-user-johndoe-0001",
    "IBL_ADMIN_TOKEN": "dev-ibl-admin-main-0001", "IBL_OTHER_ORG": "acme",
    "IBL_OTHER_ORG_TOKEN": "dev-ibl-admin-acme-0001", "VAI_TOKEN": "dev-vai-virtuous-dev-0001",
    "VAI_OTHER_TOKEN": "dev-vai-other-org-0001",
}
BUDGET = ["--max-examples", "5"]
CONTROL = "the mock itself"  # the same run on the mock as it ships: a failure there is not the variant's
GREEN = [v.name for v in lv.VARIANTS if v.green]
SKIPPING = [v.name for v in lv.VARIANTS if not v.green]

USER = {"Authorization": "Api-Token dev-ibl-user-johndoe-0001"}
ADMIN = {"Authorization": "Api-Token dev-ibl-admin-main-0001"}
VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
IBL = "/api/ai-mentor/orgs/main/users/johndoe"
STATUS = "/api/ai-prompt/orgs/main/users/johndoe/chat-memory-status/"
PROFILE = f"{IBL}/ai-user-profile-memory/"
ARTIFACTS = f"{IBL}/artifacts/"
CHAT_HISTORY = "/api/ai-analytics/orgs/main/users/johndoe/chat-history/"
MEMORY = "/api/v1/memory"


# --- the sweep --------------------------------------------------------------------------------------


@contextmanager
def served(app: ASGIApp, attempts: int = 3) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on 127.0.0.1 (a free port); yields its base URL."""
    for attempt in range(attempts):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                               access_log=False, lifespan="on"))
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
        thread = threading.Thread(target=server.run, name=f"latitude-variant-{port}", daemon=True)
        thread.start()
        while not server.started and thread.is_alive():
            time.sleep(0.02)
        if server.started:
            break
        if attempt == attempts - 1:  # another process took the port each time
            raise RuntimeError("the variant did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def harness_run(name: str) -> tuple[int, str]:
    """The quick profile against the named variant (or the control): exit status and output."""
    with served(create_app(Settings.from_env()) if name == CONTROL else lv.build(name)) as url:
        cmd = [sys.executable, "-m", "pytest", str(ROOT / "contract_tests"), "-q", "-p", "no:cacheprovider",
               "-o", "addopts=", "-rs", "--target", url, *BUDGET]
        env = {k: v for k, v in os.environ.items() if k not in ("TARGET_URL", "MEMMOCK_FAULT")} | CREDENTIALS
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def sweep(request: pytest.FixtureRequest) -> dict[str, tuple[int, str]]:
    """One harness run per variant whose sweep test was selected, two at a time (2 cores)."""
    wanted = sorted({item.callspec.params["name"] for item in request.session.items
                     if item.get_closest_marker("sweep") and hasattr(item, "callspec")
                     and item.module is sys.modules[__name__]})
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(wanted, pool.map(harness_run, wanted)))


def evidence(output: str, limit: int = 12_000) -> str:
    """The harness's failure reports (rule, request, response, replay), or the end of its output."""
    found = re.search(r"^=+ FAILURES =+$(.*?)^=+ (?:warnings summary|memmock conformance summary) =+$", output,
                      re.M | re.S)
    return found.group(1)[:limit] if found else output[-limit:]


def failed_checks(output: str) -> list[str]:
    """The lines the harness's summary lists under 'failed checks:'."""
    section = output.split("failed checks:", 1)[1] if "failed checks:" in output else ""
    return re.findall(r"^  (\S.*)$", section, re.M)


@pytest.mark.sweep
@pytest.mark.parametrize("name", [CONTROL])
def test_harness_passes_the_mock_itself(sweep: dict[str, tuple[int, str]], name: str) -> None:
    """The control: served and checked the same way, the mock as it ships passes."""
    code, output = sweep[name]
    assert code == 0 and not failed_checks(output), f"exit {code}, failed {failed_checks(output)}\n{evidence(output)}"


@pytest.mark.sweep
@pytest.mark.parametrize("name", GREEN)
def test_harness_stays_green(sweep: dict[str, tuple[int, str]], name: str) -> None:
    """The quick profile passes the variant: exit 0, no failed check."""
    code, output = sweep[name]
    failed = failed_checks(output)
    shared = sorted(set(failed) & set(failed_checks(sweep[CONTROL][1]))) if CONTROL in sweep else []
    also = f" (the control fails {shared} too)" if shared else ""
    assert code == 0 and not failed, f"{name}: exit {code}, failed {failed}{also}\n{evidence(output)}"


@pytest.mark.sweep
@pytest.mark.parametrize("name", SKIPPING)
def test_throttling_skips_checks_and_fails_none(sweep: dict[str, tuple[int, str]], name: str) -> None:
    """A 429 now and then stops the check it hits (skipped, naming the throttle); no check fails for it."""
    code, output = sweep[name]
    assert code == 0 and not failed_checks(output), f"{name}: exit {code}\n{evidence(output)}"
    assert "the target throttled the run (429" in output, output[-4000:]


# --- the catalogue ------------------------------------------------------------------------------------


def test_every_latitude_point_has_a_variant() -> None:
    """Each point of spec/latitude.yaml is read the other way by a variant; no variant names an unknown point."""
    assert {v.point for v in lv.VARIANTS} == set(latitude.points())
    assert len({v.name for v in lv.VARIANTS}) == len(lv.VARIANTS)


def test_every_variant_is_shown_to_apply() -> None:
    """Each variant has a direct test below."""
    assert set(SHOWN) == {v.name for v in lv.VARIANTS}


# --- each variant, asked directly ---------------------------------------------------------------------

SHOWN: dict[str, Callable[[TestClient, TestClient], None]] = {}


def shows(name: str) -> Callable[[Callable[[TestClient, TestClient], None]], Callable[[TestClient, TestClient], None]]:
    """Register the direct test of one variant: it gets the variant and the plain mock."""
    def register(fn: Callable[[TestClient, TestClient], None]) -> Callable[[TestClient, TestClient], None]:
        SHOWN[name] = fn
        return fn
    return register


@pytest.fixture
def plain() -> Iterator[TestClient]:
    """The mock as it ships, with the default fixtures."""
    with TestClient(create_app(Settings.from_env()), follow_redirects=False) as client:
        yield client


@pytest.mark.parametrize("name", [v.name for v in lv.VARIANTS])
def test_variant_applies_its_reading(name: str, plain: TestClient) -> None:
    """One request (or a few) where the variant answers otherwise than the mock, as its reading says."""
    with TestClient(lv.build(name), follow_redirects=False) as client:
        SHOWN[name](client, plain)


def _conversation(client: TestClient) -> dict[str, Any]:
    return client.get(CHAT_HISTORY, headers=ADMIN, params={"page_size": 1}).json()["results"][0]


@shows("unknown-request-fields")
def _unknown(client: TestClient, plain: TestClient) -> None:
    body = {"tag": "colour", "detail": "blue", "shade": "navy"}
    assert plain.post(PROFILE, headers=USER, json=body).status_code == 200
    refused = client.post(PROFILE, headers=USER, json=body)
    assert (refused.status_code, refused.json()) == (400, {"shade": ["Unknown field."]})
    item = client.post(MEMORY, headers=VAI, json={"content": "x", "pinned": True}).json()["detail"][0]
    assert (item["type"], item["loc"]) == ("extra_forbidden", ["body", "pinned"])
    both = client.post(MEMORY, headers=VAI, json={"pinned": True}).json()["detail"]  # with the mock's own finding
    assert {(i["type"], tuple(i["loc"])) for i in both} == {("missing", ("body", "content")),
                                                           ("extra_forbidden", ("body", "pinned"))}
    assert client.post(PROFILE, json=body).status_code == 401  # credentials are checked before the body


@shows("read-only-request-fields")
def _read_only(client: TestClient, plain: TestClient) -> None:
    path = f"{CHAT_HISTORY}{_conversation(plain)['id']}/"
    assert plain.patch(path, headers=ADMIN, json={"message_count_human": 99}).status_code == 200
    refused = client.patch(path, headers=ADMIN, json={"message_count_human": 99})
    assert (refused.status_code, refused.json()) == (400, {"message_count_human": ["This field is read-only."]})
    assert client.patch(path, headers=USER, json={"message_count_human": 99}).status_code == 403


@shows("read-only-request-fields-dropped")
def _read_only_dropped(client: TestClient, plain: TestClient) -> None:
    body = {"title": "seeded", "content": "what the mock seeds version 1 with"}
    assert plain.post(ARTIFACTS, headers=USER, json=body).json()["content"] == body["content"]
    created = client.post(ARTIFACTS, headers=USER, json=body)
    assert created.status_code == 201 and created.json()["content"] != body["content"]


@shows("scalar-coercion")
def _coercion(client: TestClient, plain: TestClient) -> None:
    assert plain.put(STATUS, headers=USER, json={"enabled": "off"}).status_code == 400
    status = client.put(STATUS, headers=USER, json={"enabled": "off"})
    assert (status.status_code, status.json()["enabled"]) == (200, False)
    created = client.post(PROFILE, headers=USER, json={"tag": 42, "detail": "the answer"})
    assert (created.status_code, created.json()["tag"]) == (200, "42")
    assert plain.get(MEMORY, headers=VAI, params={"limit": " 2"}).status_code == 422
    listed = client.get(MEMORY, headers=VAI, params={"limit": " 2"})
    assert listed.status_code == 200 and len(listed.json()["memories"]) == 2


@shows("string-normalisation")
def _normalisation(client: TestClient, plain: TestClient) -> None:
    assert plain.post(PROFILE, headers=USER, json={"tag": "  padded  ", "detail": "x"}).json()["tag"] == "  padded  "
    assert client.post(PROFILE, headers=USER, json={"tag": "  padded  ", "detail": "x"}).json()["tag"] == "padded"
    blank = client.post(PROFILE, headers=USER, json={"tag": "   ", "detail": "x"})
    assert (blank.status_code, blank.json()) == (400, {"tag": ["This field may not be blank."]})
    nul = client.post(PROFILE, headers=USER, data={"tag": "a", "detail": "x\x00y"})
    assert (nul.status_code, nul.json()) == (400, {"detail": ["Null characters are not allowed."]})
    both = client.post(PROFILE, headers=USER, json={"tag": " "})  # every bad field at once, as DRF names them
    assert (both.status_code, both.json()) == (400, {"tag": ["This field may not be blank."],
                                                     "detail": ["This field is required."]})


@shows("string-collation")
def _collation(client: TestClient, plain: TestClient) -> None:
    for mock in (client, plain):
        for title in ("Zq banana", "zq apple"):
            assert mock.post(ARTIFACTS, headers=USER, json={"title": title}).status_code == 201
    query = {"search": "zq", "ordering": "title"}
    assert [a["title"] for a in plain.get(ARTIFACTS, headers=USER, params=query).json()["results"]] == [
        "Zq banana", "zq apple"]  # code points: "Z" before "z"
    assert [a["title"] for a in client.get(ARTIFACTS, headers=USER, params=query).json()["results"]] == [
        "zq apple", "Zq banana"]
    second = client.get(ARTIFACTS, headers=USER, params={**query, "page_size": 1, "page": 2}).json()
    assert [a["title"] for a in second["results"]] == ["Zq banana"] and second["count"] == 2


@shows("timestamp-milliseconds")
def _milliseconds(client: TestClient, plain: TestClient) -> None:
    plain_stamp = plain.get(ARTIFACTS, headers=USER).json()["results"][0]["date_created"]
    stamp = client.get(ARTIFACTS, headers=USER).json()["results"][0]["date_created"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", plain_stamp)  # the fixtures' whole seconds
    assert stamp == plain_stamp[:-1] + ".000Z"
    created = client.post(MEMORY, headers=VAI, json={"content": "when"}).json()["createdAt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", created)


@shows("timestamp-seconds")
def _seconds(client: TestClient, plain: TestClient) -> None:
    created = client.post(MEMORY, headers=VAI, json={"content": "when"}).json()["createdAt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)


@shows("extra-response-fields")
def _extra(client: TestClient, plain: TestClient) -> None:
    page = client.get(ARTIFACTS, headers=USER).json()
    assert lv.EXTRA_FIELD in page and all(lv.EXTRA_FIELD in a for a in page["results"])
    assert all(lv.EXTRA_FIELD in m for m in client.get(MEMORY, headers=VAI).json()["memories"])
    assert lv.EXTRA_FIELD not in plain.get(ARTIFACTS, headers=USER).json()


@shows("error-wording")
def _wording(client: TestClient, plain: TestClient) -> None:
    assert plain.put(STATUS, headers=USER, json={}).json() == {"enabled": ["This field is required."]}
    assert client.put(STATUS, headers=USER, json={}).json() == {"enabled": ["Enter a valid value."]}
    broken = dict(content=b'{"enabled": ', headers={**USER, "Content-Type": "application/json"})
    detail = client.put(STATUS, **broken).json()["detail"]
    assert detail.startswith("JSON parse error - ") and detail != plain.put(STATUS, **broken).json()["detail"]
    item = client.get(MEMORY, headers=VAI, params={"limit": 0}).json()["detail"][0]
    assert item["loc"] == ["query", "limit"] and {"ctx", "url"} <= set(item)
    assert item["msg"] != plain.get(MEMORY, headers=VAI, params={"limit": 0}).json()["detail"][0]["msg"]
    # a text the conventions fix stays
    assert client.get(f"{ARTIFACTS}999999/", headers=USER).json() == {"detail": "Not found."}


@shows("check-order")
def _order(client: TestClient, plain: TestClient) -> None:
    assert plain.patch(STATUS, json={}).status_code == 405
    assert client.patch(STATUS, json={}).json() == {"detail": "Authentication credentials were not provided."}
    other = "/api/ai-prompt/orgs/main/users/janedoe/chat-memory-status/"
    assert client.patch(other, headers=USER, json={}).status_code == 403
    assert client.patch(STATUS, headers=USER, json={}).status_code == 405  # allowed in: the method still counts
    unauthenticated = client.patch(MEMORY, json={})
    assert (unauthenticated.status_code, unauthenticated.json()) == (401, {"detail": "Not authenticated"})


@shows("trailing-slash-301")
def _slash_301(client: TestClient, plain: TestClient) -> None:
    assert plain.get(ARTIFACTS.rstrip("/"), headers=USER, params={"page_size": 2}).status_code == 307
    moved = client.get(ARTIFACTS.rstrip("/"), headers=USER, params={"page_size": 2})
    assert (moved.status_code, moved.headers["location"]) == (301, f"{ARTIFACTS}?page_size=2")


@shows("trailing-slash-404")
def _slash_404(client: TestClient, plain: TestClient) -> None:
    missing = client.get(ARTIFACTS.rstrip("/"), headers=USER)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "location" not in missing.headers


@shows("implicit-methods")
def _implicit(client: TestClient, plain: TestClient) -> None:
    assert plain.options(ARTIFACTS, headers=USER).status_code == 405
    options = client.options(ARTIFACTS, headers=USER)
    assert options.status_code == 200 and options.json()["renders"] == lv.DRF_RENDERS
    assert {m.strip() for m in options.headers["allow"].split(",")} == {"GET", "POST", "HEAD", "OPTIONS"}
    assert client.options(ARTIFACTS).status_code == 401
    assert plain.head(MEMORY, headers=VAI).status_code == 200
    head = client.head(MEMORY, headers=VAI)
    assert head.status_code == 405 and head.content == b"" and "GET" in head.headers["allow"]


@shows("protocol-statuses")
def _throttle(client: TestClient, plain: TestClient) -> None:
    replies = [client.get(STATUS if n % 2 else MEMORY, headers=USER if n % 2 else VAI)
               for n in range(1, 2 * lv.THROTTLE_EVERY + 1)]
    throttled = [n for n, r in enumerate(replies, 1) if r.status_code == 429]
    assert throttled == [lv.THROTTLE_EVERY, 2 * lv.THROTTLE_EVERY]
    assert {r.status_code for r in replies} == {200, 429} and replies[-1].headers["retry-after"] == "1"
    assert replies[lv.THROTTLE_EVERY - 1].json()["detail"].startswith("Request was throttled.")


@shows("body-limit")
def _limit(client: TestClient, plain: TestClient) -> None:
    body = {"tag": "big", "detail": "x" * 1_500_000}
    assert plain.post(PROFILE, headers=USER, json=body).status_code == 413
    assert client.post(PROFILE, headers=USER, json=body).status_code == 200


@shows("link-origin")
def _links(client: TestClient, plain: TestClient) -> None:
    query = {"search": "a", "page_size": 2}
    assert plain.get(ARTIFACTS, headers=USER, params=query).json()["next"].startswith("http://testserver/")
    page = client.get(ARTIFACTS, headers=USER, params={**query, "page": 2}).json()
    assert page["next"] == f"https://api.example.invalid{ARTIFACTS}?page=3&page_size=2&search=a"
    assert page["previous"] == f"https://api.example.invalid{ARTIFACTS}?page_size=2&search=a"


@shows("unordered-lists")
def _unordered(client: TestClient, plain: TestClient) -> None:
    tags = [m["tag"] for m in plain.get(PROFILE, headers=USER).json()]
    assert len(tags) > 1 and [m["tag"] for m in client.get(PROFILE, headers=USER).json()] == tags[::-1]
    path = "/api/ai-analytics/orgs/main/users/johndoe/chat-history-filter/"
    plain_filter, variant_filter = plain.get(path, headers=ADMIN).json(), client.get(path, headers=ADMIN).json()
    assert variant_filter["topics"] == plain_filter["topics"][::-1] and len(plain_filter["topics"]) > 1


@shows("id-values")
def _ids(client: TestClient, plain: TestClient) -> None:
    mock_ids = [a["id"] for a in plain.get(ARTIFACTS, headers=USER).json()["results"]]
    shown = [a["id"] for a in client.get(ARTIFACTS, headers=USER).json()["results"]]
    assert shown == [lv.id_out(n) for n in mock_ids] and shown != mock_ids
    assert client.get(f"{ARTIFACTS}{shown[0]}/", headers=USER).json()["id"] == shown[0]
    assert client.get(f"{ARTIFACTS}{min(mock_ids)}/", headers=USER).status_code == 404  # never handed out here
    versions = client.get(f"{ARTIFACTS}{shown[0]}/versions/", headers=USER).json()["results"]
    chosen = client.post(f"{ARTIFACTS}{shown[0]}/versions/set-current/", headers=USER,
                         json={"version_id": versions[-1]["id"]})
    assert chosen.status_code == 200, chosen.text


@shows("async-task-ids")
def _task(client: TestClient, plain: TestClient) -> None:
    path = "/api/ai-prompt/orgs/main/users/johndoe/all-chats-memory/"
    body = {"username": "johndoe", "platform_key": "main"}
    ours, theirs = client.put(path, headers=USER, json=body), plain.put(path, headers=USER, json=body)
    assert ours.status_code == theirs.status_code == 200
    assert ours.json()["message"] != theirs.json()["message"]


@shows("path-bound-fields")
def _path_bound(client: TestClient, plain: TestClient) -> None:
    path = "/api/ai-prompt/orgs/main/users/johndoe/all-chats-memory/"
    assert plain.post(path, headers=USER, json={"content": "no owner fields"}).status_code == 400
    created = client.post(path, headers=USER, json={"content": "no owner fields", "username": 7})
    assert created.status_code == 201 and created.json()["username"] == "johndoe"


@shows("ignored-parameters")
def _ignored(client: TestClient, plain: TestClient) -> None:
    path = "/api/ai-analytics/orgs/main/users/johndoe/average-messages-per-session/"
    query = {"start_date": "2024-06-01", "end_date": "2024-06-02", "group_by": ""}
    assert plain.get(path, headers=USER, params=query).status_code == 400
    assert client.get(path, headers=USER, params=query).json() == plain.get(
        path, headers=USER, params={**query, "group_by": "mentor"}).json()


@shows("blank-filters")
def _blank(client: TestClient, plain: TestClient) -> None:
    assert plain.get(CHAT_HISTORY, headers=ADMIN, params={"sentiment": ""}).status_code == 400
    listed = client.get(CHAT_HISTORY, headers=ADMIN, params={"sentiment": ""})
    everything = plain.get(CHAT_HISTORY, headers=ADMIN).json()["count"]
    assert listed.status_code == 200 and listed.json()["count"] == everything


@shows("undecodable-body")
def _undecodable(client: TestClient, plain: TestClient) -> None:
    latin1, typed = '{"content": "café"}'.encode("latin-1"), {"Content-Type": "application/json"}
    assert plain.post(MEMORY, content=latin1, headers={**VAI, **typed}).status_code == 422
    for headers in ({**VAI, **typed}, typed):  # read before the credential
        refused = client.post(MEMORY, content=latin1, headers=headers)
        assert (refused.status_code, refused.json()) == (400, {"detail": "There was an error parsing the body"})


@shows("references")
def _references(client: TestClient, plain: TestClient) -> None:
    path = f"{CHAT_HISTORY}{_conversation(plain)['id']}/"
    assert plain.patch(path, headers=ADMIN, json={"tools": [5]}).status_code == 200
    refused = client.patch(path, headers=ADMIN, json={"tools": [5]})
    assert (refused.status_code, refused.json()) == (400, {"tools": ['Invalid pk "5" - object does not exist.']})
    artifact = client.get(ARTIFACTS, headers=USER).json()["results"][0]["id"]
    low = client.post(f"{ARTIFACTS}{artifact}/versions/set-current/", headers=USER, json={"version_id": 0})
    assert low.json() == {"version_id": ["Ensure this value is greater than or equal to 1."]}


@shows("superset-fields")
def _superset(client: TestClient, plain: TestClient) -> None:
    path = f"{IBL}/custom-instruction/"
    assert plain.put(path, headers=USER, json={"content": None}).status_code == 200
    refused = client.put(path, headers=USER, json={"content": None})
    assert (refused.status_code, refused.json()) == (400, {"content": ["This field may not be null."]})


@shows("alternative-formats")
def _formats(client: TestClient, plain: TestClient) -> None:
    path = f"{IBL}/downloads/tasks/"
    assert plain.get(f"{path}not-a-uuid/", headers=USER).json() == {"state": "task_not_ready"}
    assert client.get(f"{path}not-a-uuid/", headers=USER).json() == {"detail": "Not found."}
    assert client.get(f"{path}not-a-uuid/").status_code == 401  # the permission checks come first
    task = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert client.get(f"{path}{task}/", headers=USER).json() == plain.get(f"{path}{task}/", headers=USER).json()
