"""Stateless: schemathesis over every operation of both specs, with all of its checks.

Path parameters ``org``/``user_id`` are pinned to the configured tenant so cases reach real handlers,
and each API gets its own credential (explicit auth, so ``ignored_auth`` probes without it).
Each schemathesis check is run separately so a failure names the check that caught it.
"""

from __future__ import annotations

import copy
import functools
import re
import json
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.meta import ParameterLocation  # type: ignore[attr-defined]

from .client import Exchange, GuardedSession, Refused, SAFE_METHODS, WriteBudgetExhausted
from . import latitude
from .latitude import allows
from .harness import Harness
from urllib.parse import urlencode

from .specs import API_BASES, lenient_parameters, load_contract

pytestmark = pytest.mark.stateless


def _all_operations() -> list[tuple[str, str, str]]:
    # Documented paths and methods only: a server may redirect a path without its slash and answer
    # HEAD/OPTIONS as its framework does (spec/latitude.yaml).
    allows("trailing-slash")
    allows("implicit-methods")
    ops = []
    for api in API_BASES:
        for path, item in load_contract(api)["paths"].items():
            for method, op in item.items():
                if method in ("get", "put", "post", "patch", "delete"):
                    ops.append((api, op["operationId"], method.upper()))
    return ops


OPERATIONS = _all_operations()


@functools.lru_cache(maxsize=None)
def _schema(api: str) -> Any:
    """The contract as schemathesis sees it: bodies as JSON where the operation takes JSON.

    Form encodings carry only text, so schemathesis' type mutations are not invalid there and
    null/nested values cannot be sent: both give false positives. Form bodies are exercised by
    the state machines instead (e.g. chat-memory-status PUT with form booleans).
    """
    spec = load_contract(api)
    shared_bodies = spec.get("components", {}).get("requestBodies", {})
    for item in spec["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and "$ref" in op.get("requestBody", {}):
                op["requestBody"] = copy.deepcopy(shared_bodies[op["requestBody"]["$ref"].rsplit("/", 1)[-1]])
            content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            if "application/json" in content:
                for media in list(content):
                    if media != "application/json":
                        del content[media]
    return schemathesis.openapi.from_dict(spec)


@functools.lru_cache(maxsize=None)
def _checks() -> dict[str, Any]:
    """schemathesis' built-in checks by name (every one the CLI runs with --checks all)."""
    load_all_checks()
    from schemathesis.specs.openapi import checks as oc
    names = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
             "response_schema_conformance", "response_headers_conformance", "negative_data_rejection",
             "positive_data_acceptance", "ignored_auth", "missing_required_header", "unsupported_method",
             "use_after_free", "ensure_resource_availability")
    from schemathesis import checks as core
    found = {}
    for name in names:
        fn = getattr(oc, name, None) or getattr(core, name, None)
        if fn is not None:
            found[name] = fn
    return found


def _cross_field_rejection(api: str, operation_id: str, exchange: Exchange) -> bool:
    """A 400 naming only the fields of a rule the spec declares in ``x-memmock-cross-field``.

    Such rules (e.g. "at most 10,000 buckets between start_date and end_date") span several
    parameters, so no schema keyword states them and a generator cannot avoid them.
    """
    rule = _operation(api, operation_id).get("x-memmock-cross-field")
    body = exchange.json()
    return (rule is not None and exchange.status == 400 and isinstance(body, dict) and bool(body)
            and set(body) <= set(rule.get("fields", ())))


def _operation(api: str, operation_id: str) -> dict[str, Any]:
    """The operation object (its path item's shared parameters under ``parameters``)."""
    for item in load_contract(api)["paths"].values():
        for op in item.values():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return {**op, "parameters": item.get("parameters", []) + op.get("parameters", [])}
    return {}


def _operation_parameters(api: str, operation_id: str) -> list[dict[str, Any]]:
    spec = load_contract(api)
    params = []
    for p in _operation(api, operation_id).get("parameters", []):
        if "$ref" in p:
            p = spec["components"]["parameters"][p["$ref"].rsplit("/", 1)[-1]]
        params.append(p)
    return params


def negative_query_within_latitude(api: str, case: Any) -> bool:
    """A negative case whose only invalid parts are query values a conformant server may take.

    ``x-memmock-lenient`` parameters document a fallback instead of a 4xx (DRF: junk page_size ->
    default size; junk page -> 404 "Invalid page."); parameters the spec frees with ``x-latitude``
    and empty optional ibl filters may be ignored (spec/latitude.yaml). Accepting such a case is
    conformant, not a missed rejection.
    """
    meta = case.meta
    if meta is None:
        return False
    negative = {loc for loc, comp in meta.components.items() if comp.mode.is_negative}
    if not negative or negative - {ParameterLocation.QUERY}:
        return False
    params = _operation_parameters(api, case.operation.definition.raw.get("operationId", ""))
    lenient = lenient_parameters({"p": params})
    query = dict(case.query or {})
    for p in params:
        if p.get("in") != "query" or p["name"] in lenient:
            continue
        if p["name"] in query and latitude.query_param_free(api, p, query[p["name"]]):
            continue
        if p["name"] not in query:
            if p.get("required"):
                return False
            continue
        if not _valid(query[p["name"]], p.get("schema", {})):
            return False
    return True


def negative_only_within_latitude(api: str, operation_id: str, case: Any) -> bool:
    """A negative case whose only negative component is a JSON body that is valid within the latitude.

    A server may ignore readOnly fields and coerce scalars as its framework does (spec/latitude.yaml),
    so accepting such a body is conformant, not a missed rejection.
    """
    meta = case.meta
    if meta is None or case.media_type != "application/json":
        return False
    negative = {loc for loc, comp in meta.components.items() if comp.mode.is_negative}
    if negative != {ParameterLocation.BODY}:
        return False
    return latitude.body_valid_within_latitude(api, operation_id, case.body)


_MISSING_REFERENCE = re.compile(r'^Invalid pk "[^"]*" - object does not exist\.$')


def _state_dependent_rejection(exchange: Exchange) -> bool:
    """A 400 that depends on stored state, which a schema cannot express: DRF's object-level
    ``non_field_errors`` (e.g. "Custom instruction already exists"), or only its reference errors
    (``Invalid pk "7" - object does not exist.``, e.g. another artifact's version id)."""
    body = exchange.json()
    if exchange.status != 400 or not isinstance(body, dict) or not body:
        return False
    if set(body) == {"non_field_errors"}:
        return True
    return all(isinstance(v, list) and v and all(isinstance(m, str) and _MISSING_REFERENCE.match(m) for m in v)
               for v in body.values())


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    validator = Draft4Validator(schema)
    if validator.is_valid(value):
        return True
    if isinstance(value, str):  # query values travel as text: "5" is a valid integer
        try:
            return validator.is_valid(json.loads(value))
        except ValueError:
            return False
    return False


@pytest.mark.parametrize(("api", "operation_id", "method"), OPERATIONS, ids=[f"{a}:{o}" for a, o, _ in OPERATIONS])
def test_operation_conforms(harness: Harness, api: str, operation_id: str, method: str) -> None:
    """Every case schemathesis draws for this operation passes every schemathesis check."""
    config = harness.config
    if api not in config.apis:
        pytest.skip(f"--api {','.join(config.apis)}")
    kind = "ibl_admin" if api == "ibl" else "vai"
    harness.require(kind)
    if method not in SAFE_METHODS:
        harness.guard.require_writes(3)
    schema = _schema(api)
    allows("async-task-ids")  # the all-chats-memory task's id and message are checked by schema only
    operation = next(r.ok() for r in schema.get_all_operations()
                     if r.ok().definition.raw.get("operationId") == operation_id)
    pinned = {}
    names = {p["name"] for p in _operation_parameters(api, operation_id) if p.get("in") == "path"}
    if "org" in names:
        pinned["org"] = harness.org
    if "user_id" in names:
        pinned["user_id"] = harness.user
    auth = harness.headers(kind)
    # Cases address an object the run created (never one that existed before), and confined
    # operations a window of the run's own records; what cannot be confined needs --allow-destructive.
    own = harness.pin(kind, operation_id, pinned)
    query = harness.confined_query(kind, operation_id)
    if method not in SAFE_METHODS:
        op = harness.safety.contract.by_id[operation_id]
        probe = op.fill({**{name: "0" for name in op.object_parameters}, **pinned})
        harness.require_safe(kind, method, probe + (f"?{urlencode(query)}" if query else ""))
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=pinned or None, headers=auth, query=query),
        operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=pinned or None, headers=auth, query=query),
    )
    numbers = config.settings
    base_url = harness.target + API_BASES[api]
    session = GuardedSession(harness.guard, observer=harness.recorder.observe)
    checks = _checks()
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if numbers["shrink"] else [])

    @hypothesis.seed(config.seed)
    @settings(max_examples=numbers["max_examples"], deadline=None, phases=phases, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=True, report_multiple_bugs=False)
    @given(case=strategy)
    def run(case: Any) -> None:
        if own is not None:
            own.refresh(case)
        try:
            response = case.call(base_url=base_url, session=session, headers=auth)
        except WriteBudgetExhausted as exc:
            pytest.skip(str(exc))
        except Refused:
            return  # e.g. an upsert of a key that existed before the run: not sent (the guard counts it)
        exchange = Exchange.from_requests(response)
        failed: list[tuple[str, str]] = []
        for name, check in checks.items():
            try:
                case.validate_response(response, checks=[check], headers=auth,
                                       transport_kwargs={"base_url": base_url, "session": session, "headers": auth})
                harness.recorder.count(f"schemathesis.{name}", True)
            except FailureGroup as group:
                if name == "negative_data_rejection" and negative_query_within_latitude(api, case):
                    harness.recorder.count(f"schemathesis.{name}", True)  # documented fallback or latitude
                    continue
                if name == "negative_data_rejection" and negative_only_within_latitude(api, operation_id, case):
                    harness.recorder.count(f"schemathesis.{name}", True)
                    harness.recorder.count(f"latitude: {name} on a body valid after relaxation", True)
                    continue
                if name == "positive_data_acceptance" and latitude.rejection_within_latitude(
                        api, operation_id, exchange.status, case.body, exchange.json()):
                    harness.recorder.count(f"schemathesis.{name}", True)
                    harness.recorder.count(f"latitude: {name} on normalisable strings or freed fields", True)
                    continue
                if name == "ignored_auth" and all(latitude.throttled_probe(f.message) for f in group.exceptions):
                    harness.recorder.count(f"latitude: {name} probe throttled (inconclusive)", True)
                    continue
                if name == "status_code_conformance" and (
                        exchange.status in latitude.PROTOCOL_STATUSES
                        or latitude.undecodable_body_rejection(api, exchange.status, exchange.request_body)):
                    latitude.allows("protocol-statuses")
                    harness.recorder.count(f"schemathesis.{name}", True)
                    continue
                if name == "positive_data_acceptance" and _cross_field_rejection(api, operation_id, exchange):
                    harness.recorder.count(f"schemathesis.{name}", True)
                    harness.recorder.count(f"declared cross-field rule: {operation_id}", True)
                    continue
                if name == "positive_data_acceptance" and _state_dependent_rejection(exchange):
                    harness.recorder.count(f"schemathesis.{name}", True)  # e.g. "already exists"
                    continue
                harness.recorder.count(f"schemathesis.{name}", False)
                failed.append((name, "; ".join(f"{f.title}: {f.message}" for f in group.exceptions)))
        if failed:
            harness.fail_checks(operation_id, failed, exchange)  # raises, unless the baseline knows them all

    # One example-database key per operation, target and seed: the inner function is shared by
    # every parametrization, and replaying another operation's failures would mislead.
    run.hypothesis.inner_test._hypothesis_internal_add_digest = (  # type: ignore[attr-defined]
        f"{api}:{operation_id}:{harness.target}:{config.seed}".encode())
    if config.hypothesis_case:  # a replay line: exactly the one failing case
        run = hypothesis.reproduce_failure(hypothesis.__version__, config.hypothesis_case)(run)
    run()
