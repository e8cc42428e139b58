"""What the run may touch, decided from the spec, and the ledger of what it created and changed.

Every unsafe request passes ``Safety.gate`` before it is sent and ``Safety.track`` with its answer
(both through ``client.WriteGuard``), whichever check sent it: state machines, scenarios or
schemathesis with bodies hypothesis chose.

- A *creator* is a POST whose success response links to a DELETE operation (OpenAPI ``links``):
  whatever it answers is recorded, and the DELETE the link describes removes it at the end.
  An upsert creator (its key comes from the request body, e.g. profile memory's ``tag``) is not
  sent with a key that existed before the run.
- An operation on one object (a path parameter beyond org and user) may only address an object the
  run created; the creator that owns such objects is found through the links.
- Per-user settings and collection-wide operations are listed in ``SINGLETONS`` with what makes
  them safe: a snapshot put back at the end, a window that covers only the run's own records,
  or nothing (they need ``--allow-destructive``, and the reason says why).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import httpx

from .client import Exchange, Refused
from .specs import API_BASES, load_contract, resolved_operation

TENANT_PARAMETERS = frozenset({"org", "user_id"})
AUTH_HEADERS = ("authorization", "x-api-key", "cookie")
DELETED = frozenset({200, 202, 204, 404})


@dataclass(frozen=True)
class Singleton:
    """How an unsafe operation that addresses no single object is made safe (or why it cannot be)."""

    kind: str  # "restore": snapshot + put back; "exists": only when one exists; "window": confined; "never"
    reason: str
    fields: tuple[str, ...] = ()  # restore: the fields of the snapshot to PUT back; window: the offset parameter


# The unsafe operations that are neither creators nor on one object: the spec cannot say how to undo them.
SINGLETONS: dict[str, Singleton] = {
    "ai_prompt_orgs_users_chat_memory_status_update": Singleton(
        "restore", "a user without a chat-memory-status would get one, which no operation deletes", ("enabled",)),
    "ai_mentor_orgs_users_custom_instruction_create": Singleton(
        "exists", "the user has no custom instruction: a POST would create one, and no operation deletes it"),
    "ai_mentor_orgs_users_custom_instruction_update": Singleton(
        "never", "custom-instruction PUT moves updated_at, which no request can put back"),
    "ai_prompt_orgs_users_all_chats_memory_update": Singleton(
        "never", "all-chats-memory PUT schedules a rewrite of the user's whole chat memory"),
    "ai_prompt_orgs_users_all_chats_memory_destroy": Singleton(
        "never", "all-chats-memory DELETE removes every entry of the user, not only the run's"),
    "backfill_entities": Singleton(
        "window", "backfill-entities marks memories as backfilled, oldest first; only an offset past the memories "
        "that existed before the run leaves them as they were", ("offset",)),
}


@dataclass(frozen=True)
class Op:
    """One operation, with a named-group pattern for its full path."""

    api: str
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    raw: dict[str, Any]  # the operation, every $ref resolved

    @property
    def object_parameters(self) -> tuple[str, ...]:
        """Path parameters beyond the tenant's (the object the operation addresses)."""
        return tuple(p for p in re.findall(r"\{([^}]+)\}", self.template) if p not in TENANT_PARAMETERS)

    def fill(self, values: dict[str, Any]) -> str:
        """The concrete path for ``values`` (each percent-encoded)."""
        return re.sub(r"\{([^}]+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), self.template)


@dataclass(frozen=True)
class Creator:
    """A POST whose success links to the DELETE that removes what it made."""

    op: Op
    statuses: frozenset[int]
    delete: Op
    parameters: dict[str, str]  # DELETE path parameter -> runtime expression
    links: tuple[tuple[Op, dict[str, str]], ...]  # every linked operation and its parameters
    key: str | None  # upsert: the request-body field that names the object

    def delete_path(self, request_path: dict[str, str], body: Any) -> str | None:
        """The DELETE path for one answer, or None when the answer lacks a value the link needs."""
        values = {}
        for name, expression in self.parameters.items():
            value = evaluate(expression, request_path, body)
            if value is None or value == "":
                return None
            values[name] = value
        return self.delete.fill(values)


def evaluate(expression: str, request_path: dict[str, str], body: Any) -> Any:
    """An OpenAPI runtime expression of the two forms the specs use: $request.path.X and $response.body#/ptr."""
    if expression.startswith("$request.path."):
        return request_path.get(expression.removeprefix("$request.path."))
    if expression.startswith("$response.body#"):
        node = body
        for part in expression.removeprefix("$response.body#").lstrip("/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict):
                node = node.get(part)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return None
        return node
    return None


class Contract:
    """The operations of the APIs under test, and what the spec says about undoing them."""

    def __init__(self, apis: tuple[str, ...] = tuple(API_BASES)) -> None:
        self.ops: list[Op] = []
        for api in apis:
            spec = load_contract(api)
            for path, item in spec["paths"].items():
                full = API_BASES[api] + path
                regex = "^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(full)) + "/?$"
                for method, raw in item.items():
                    if method in ("get", "put", "post", "patch", "delete"):
                        self.ops.append(Op(api, raw["operationId"], method.upper(), full, re.compile(regex),
                                           resolved_operation(api, raw["operationId"])))
        # Literal paths before templated ones (set-current before {version_id}).
        self.ops.sort(key=lambda o: o.template.count("{"))
        self.by_id = {op.operation_id: op for op in self.ops}
        self.creators = {c.op.operation_id: c for c in (self._creator(op) for op in self.ops) if c is not None}

    def match(self, method: str, path: str) -> tuple[Op, dict[str, str]] | None:
        """The operation ``method path`` addresses and its path parameters (decoded), if any."""
        for op in self.ops:
            if op.method == method.upper() and (m := op.pattern.match(path)):
                return op, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def _creator(self, op: Op) -> Creator | None:
        if op.method != "POST":
            return None
        for status, response in op.raw.get("responses", {}).items():
            if not (isinstance(response, dict) and str(status).startswith("2")):
                continue
            links = []
            for link in (response.get("links") or {}).values():
                target = self.by_id.get(link.get("operationId", ""))
                if target is not None:
                    links.append((target, dict(link.get("parameters") or {})))
            for target, parameters in links:
                if target.method == "DELETE":
                    statuses = frozenset(int(s) for s in op.raw["responses"] if str(s).startswith("2"))
                    return Creator(op, statuses, target, parameters, tuple(links), self._key(op, parameters))
        return None

    @staticmethod
    def _key(op: Op, parameters: dict[str, str]) -> str | None:
        """The request-body field that names the created object, when the client chooses it (an upsert)."""
        body = op.raw.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        properties = body.get("properties", {}) if isinstance(body, dict) else {}
        for expression in parameters.values():
            name = expression.removeprefix("$response.body#/")
            if expression.startswith("$response.body#/") and name in properties \
                    and not properties[name].get("readOnly"):
                return name
        return None

    def owner(self, op: Op) -> tuple[Creator, dict[str, str]] | None:
        """The creator whose objects ``op`` addresses, and the link parameters that name one of them."""
        if not op.object_parameters:
            return None
        best: tuple[int, Creator, dict[str, str]] | None = None
        for creator in self.creators.values():
            if creator.op.api != op.api:
                continue
            for target, parameters in creator.links:
                prefix = target.template
                inside = op.template == prefix or op.template.startswith(prefix.rstrip("/") + "/")
                if inside and all(p in parameters for p in op.object_parameters) \
                        and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), creator, parameters)
        return (best[1], best[2]) if best else None


def auth_headers(headers: Any) -> dict[str, str]:
    """The credential headers of a request (what a cleanup needs to act as the same caller)."""
    return {k: v for k, v in dict(headers).items() if k.lower() in AUTH_HEADERS}


def _request_body(body: bytes | None, headers: Any) -> Any:
    if not body:
        return None
    content_type = {k.lower(): v for k, v in dict(headers).items()}.get("content-type", "")
    try:
        if "json" in content_type or not content_type:
            return json.loads(body)
        if "x-www-form-urlencoded" in content_type:
            return {k: v[-1] for k, v in parse_qs(body.decode()).items()}
    except (ValueError, UnicodeDecodeError):
        return None
    return None


def minimal_body(schema: dict[str, Any], label: str, org: str, user: str) -> Any:
    """A small valid body for a create: required fields (and any title/content/detail/tag), tagged with ``label``."""
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        wanted = [n for n in props if n in schema.get("required", []) or n in ("title", "content", "detail", "tag")]
        return {n: _field(n, props[n], label, org, user) for n in wanted if not props[n].get("readOnly")}
    return _field("", schema, label, org, user)


def _field(name: str, schema: dict[str, Any], label: str, org: str, user: str) -> Any:
    kind, fmt = schema.get("type"), schema.get("format")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "string":
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt == "date-time":
            return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        if fmt == "date":
            return datetime.now(timezone.utc).date().isoformat()
        # The tenant fields of the ibl bodies name the path's org and user (the seeds' platform key).
        text = user if name == "username" else org if name in ("platform", "platform_key") else label
        return text[: schema.get("maxLength", len(text))].ljust(schema.get("minLength", 0), "x")
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    if kind == "array":
        return [_field("", schema.get("items", {}), label, org, user)] * int(schema.get("minItems", 0))
    if kind == "object" or "properties" in schema:
        return minimal_body(schema, label, org, user)
    return label


@dataclass
class Owned:
    """One object the run created: where to DELETE it, as whom, and whether it is gone."""

    path: str
    headers: dict[str, str]
    gone: bool = False


@dataclass
class Safety:
    """The gate, the tracker and the ledger of one run against one target."""

    target: str
    contract: Contract
    destructive: bool
    default_headers: dict[str, dict[str, str]]  # api -> credential for creates that carried none
    admin_headers: dict[str, dict[str, str]] = field(default_factory=dict)  # ibl org -> its admin's credential
    run_tag: str = ""  # an object key holding it names the run's own object: nothing before the run had it
    owned: dict[str, Owned] = field(default_factory=dict)
    # path -> (method, headers, body) to send at the end
    restores: dict[str, tuple[str, dict[str, str], Any]] = field(default_factory=dict)
    untrackable: list[str] = field(default_factory=list)
    _existing_keys: dict[str, set[str]] = field(default_factory=dict)
    _totals: dict[str, int] = field(default_factory=dict)
    _window_apis: frozenset[str] = frozenset()
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _probe: httpx.Client | None = None

    def __post_init__(self) -> None:
        self._window_apis = frozenset(self.contract.by_id[op].api for op, rule in SINGLETONS.items()
                                      if rule.kind == "window" and op in self.contract.by_id)

    # -- decisions -----------------------------------------------------------------------------
    def refusal(self, method: str, url: str, headers: Any, body: bytes | None) -> str | None:
        """Why ``method url`` must not be sent (None: it may)."""
        path = urlsplit(url).path
        found = self.contract.match(method, path)
        if found is None:
            return None  # not an operation of the contract (admin plane, or an undeclared method: a 405 probe)
        op, params = found
        if op.api in self._window_apis:
            self.total_before(headers)  # before the run's first write there, the window starts past it
        creator = self.contract.creators.get(op.operation_id)
        if creator is not None:
            sent = _request_body(body, headers)
            key = sent.get(creator.key) if creator.key is not None and isinstance(sent, dict) else None
            if not isinstance(key, str):
                return None  # not a key at all: a conformant server rejects the body
            if not self._addressable(creator, params, key):
                return f"{creator.key} {key!r}: {creator.delete.operation_id} could not remove what this would create"
            before = self._keys_before(path, creator.key, headers)
            # A server may trim the key (latitude string-normalisation): either form may name an old object.
            ours = self._is_owned(creator.delete_path(params, {creator.key: key}) or "")
            if {key, key.strip()} & before and not ours:
                return f"{creator.key} {key!r} existed before the run: {op.operation_id} would overwrite it"
            return None
        if op.object_parameters:
            if self._is_owned(path) or self.destructive or (self.run_tag and self.run_tag in unquote(path)):
                return None
            if self.contract.owner(op) is None:
                return f"no operation creates what {op.operation_id} addresses, so the run owns none of them"
            return f"{op.method} {path} addresses an object this run did not create"
        rule = SINGLETONS.get(op.operation_id)
        if rule is None:
            return None if self.destructive else f"{op.operation_id} cannot be undone through the API"
        if rule.kind == "restore":
            before = self._snapshot(path, headers)
            if before is not None:
                self.restores.setdefault(path, ("PUT", before[0], {f: before[1].get(f) for f in rule.fields}))
                return None
            return None if self.destructive else rule.reason
        if self.destructive:
            return None
        if rule.kind == "exists":
            return None if self._snapshot(path, headers) is not None else rule.reason
        if rule.kind == "window":
            offset = _int((parse_qs(urlsplit(url).query).get(rule.fields[0]) or ["0"])[-1])
            before = self.total_before(headers)
            return None if offset is not None and offset >= before else \
                f"{rule.reason} (offset {offset} < {before}, the memories the run found)"
        return rule.reason

    def gate(self, method: str, url: str, headers: Any, body: bytes | None) -> None:
        """Raise Refused for a request that could change what existed before the run."""
        with self._lock:
            reason = self.refusal(method, url, headers, body)
        if reason is not None:
            raise Refused(f"{reason}: needs --allow-destructive" if not self.destructive else reason)

    def window(self, operation_id: str, headers: Any) -> dict[str, int] | None:
        """The query that confines a "window" operation to the run's own records (None for other operations)."""
        rule = SINGLETONS.get(operation_id)
        if rule is None or rule.kind != "window":
            return None
        with self._lock:
            return {rule.fields[0]: self.total_before(headers)}

    def permits(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> str | None:
        """Why a check's request would be refused (None: it would be sent), without sending anything."""
        raw = json.dumps(body).encode() if body is not None else None
        with self._lock:
            return self.refusal(method, self.target + path, {**headers, "content-type": "application/json"}, raw)

    # -- the ledger ----------------------------------------------------------------------------
    def track(self, exchange: Exchange) -> None:
        """Record what an unsafe request created (from the spec's links) or removed."""
        path = urlsplit(exchange.url).path
        found = self.contract.match(exchange.method, path)
        if found is None:
            return
        op, params = found
        with self._lock:
            # Only a 2xx proves the object gone: a DELETE can answer 404 for an object that stays
            # (e.g. chat-history's list filters also narrow its DELETE).
            if op.method == "DELETE" and 200 <= exchange.status < 300:
                self.forget(path)
                return
            creator = self.contract.creators.get(op.operation_id)
            if creator is None or exchange.status not in creator.statuses:
                return
            target = creator.delete_path(params, exchange.json())
            if target is None:
                self.untrackable.append(f"{exchange.method} {path} answered {exchange.status} without what "
                                        f"{creator.delete.operation_id} needs")
                return
            answer = exchange.json()
            if creator.key is not None and isinstance(answer, dict) \
                    and answer.get(creator.key) in self._existing_keys.get(unquote(path), set()):
                return  # an upsert of a key that existed before (allowed with --allow-destructive): not ours
            headers = auth_headers(exchange.request_headers) or self.default_headers.get(op.api, {})
            self.record(target, headers)

    def record(self, path: str, headers: dict[str, str]) -> None:
        """The run created ``path``: DELETE it at the end as ``headers``."""
        key = unquote(path)
        with self._lock:
            if key not in self.owned or self.owned[key].gone:
                self.owned[key] = Owned(path, dict(headers))

    def forget(self, path: str) -> None:
        """``path`` is gone (the run deleted it)."""
        with self._lock:
            entry = self.owned.get(unquote(path))
            if entry is not None:
                entry.gone = True

    def _addressable(self, creator: Creator, params: dict[str, str], key: str) -> bool:
        """Whether the DELETE path for ``key`` reaches that key (not blank, no dot segment, no slash)."""
        if key.strip() in ("", ".", ".."):
            return False
        path = creator.delete_path(params, {creator.key: key})
        found = self.contract.match("DELETE", unquote(path)) if path else None
        return found is not None and found[0] is creator.delete and key in found[1].values()

    def _is_owned(self, path: str) -> bool:
        wanted = unquote(path).rstrip("/") + "/"
        return any(wanted.startswith(key.rstrip("/") + "/") for key in self.owned)

    def owns_live(self, path: str) -> bool:
        """Whether the run created ``path`` and it has not been deleted."""
        with self._lock:
            entry = self.owned.get(unquote(path))
            return entry is not None and not entry.gone

    # -- snapshots -----------------------------------------------------------------------------
    @property
    def probe(self) -> httpx.Client:
        """A plain client for snapshots: not guarded, not counted in coverage (GET only)."""
        if self._probe is None:
            self._probe = httpx.Client(base_url=self.target, timeout=30)
        return self._probe

    def _get(self, path: str, headers: Any, params: dict[str, Any] | None = None) -> tuple[dict[str, str], Any] | None:
        """GET ``path`` as the caller, else as its org's admin: (the credential that worked, the body) on a 200."""
        tried = [auth_headers(headers)]
        found = self.contract.match("GET", path)
        org = found[1].get("org") if found else None
        if org and org in self.admin_headers:
            tried.append(self.admin_headers[org])
        for creds in tried:
            if not creds:
                continue
            response = self.probe.get(path, headers=creds, params=params)
            if response.status_code == 200:
                try:
                    return creds, response.json()
                except ValueError:
                    return None
        return None

    def _snapshot(self, path: str, headers: Any) -> tuple[dict[str, str], Any] | None:
        got = self._get(path, headers)
        return got if got is not None and isinstance(got[1], dict) else None

    def _keys_before(self, path: str, key: str, headers: Any) -> set[str]:
        """The keys of an upsert collection before the run's first write to it."""
        collection = unquote(path)
        if collection not in self._existing_keys:
            got = self._get(path, headers)
            items = got[1] if got else []
            items = items.get("results", []) if isinstance(items, dict) else items
            self._existing_keys[collection] = {i[key] for i in items
                                               if isinstance(i, dict) and isinstance(i.get(key), str)}
        return self._existing_keys[collection]

    def total_before(self, headers: Any) -> int:
        """How many VirtuousAI memories the caller's organization had before the run created any."""
        creds = auth_headers(headers)
        key = json.dumps(creds, sort_keys=True)
        if key not in self._totals:
            got = self._get("/api/v1/memory", creds, params={"limit": 1})
            self._totals[key] = int(got[1].get("total", 0)) if got and isinstance(got[1], dict) else 0
        return self._totals[key]

    # -- the end -------------------------------------------------------------------------------
    def cleanup(self, send: Any) -> list[str]:
        """DELETE what the run created (newest first), put settings back; returns what is left behind.

        ``send(method, path, headers, body)`` sends one request and answers its status.
        """
        leftovers = list(self.untrackable)
        for entry in reversed(list(self.owned.values())):
            if entry.gone:
                continue
            try:
                status = send("DELETE", entry.path, entry.headers, None)
            except Exception as exc:  # a cleanup must try every item
                leftovers.append(f"{entry.path} ({exc})")
                continue
            if status not in DELETED:
                leftovers.append(f"{entry.path} (DELETE answered {status})")
                continue
            entry.gone = True
            if self.contract.match("GET", urlsplit(entry.path).path) is not None:
                still = self.probe.get(entry.path, headers=entry.headers)
                if still.status_code == 200:
                    leftovers.append(f"{entry.path} (still there after DELETE answered {status})")
        for path, (method, headers, body) in self.restores.items():
            try:
                status = send(method, path, headers, body)
            except Exception as exc:
                leftovers.append(f"{path} not restored ({exc})")
                continue
            if not 200 <= status < 300:
                leftovers.append(f"{path} not restored ({method} answered {status})")
        self.restores.clear()
        return leftovers

    def close(self) -> None:
        """Close the snapshot client."""
        if self._probe is not None:
            self._probe.close()


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
