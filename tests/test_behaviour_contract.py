"""Forced answers keep the contract: every operation, every declared code, every named example, static and dynamic.

Each answer is checked with jsonschema (openapi-schema-validator's OAS 3.0 read validator, the
spec's resolved schema) and served by a ``--strict`` mock too, whose own response check must let it
through (a nonconforming reply would come back 500).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from starlette.testclient import TestClient

from mock_server.app import create_app
from mock_server.behaviour.generate import generate
from mock_server.plan import OperationPlan
from mock_server.settings import Settings

IBL_ADMIN = {"Authorization": "Api-Token dev-ibl-admin-main-0001"}
VAI = {"Authorization": "Bearer dev-vai-virtuous-dev-0001"}
FIXED_PATH = {"org": "main", "user_id": "johndoe"}
DYNAMIC_SEEDS = range(3)


def _plans() -> list[OperationPlan]:
    return [plan for plan in create_app(Settings()).plans if plan.api != "admin"]


PLANS = _plans()


def _short(plan: OperationPlan) -> str:
    return plan.operation_id.rpartition(".")[2]


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def valid_request(plan: OperationPlan) -> dict[str, Any]:
    """A request the operation's security and validators let through (its handler may still refuse it)."""
    rng = random.Random(_short(plan))
    path = plan.path
    query = {}
    for parameter in plan.operation.parameters:
        where, name, schema = parameter["in"], parameter["name"], parameter.get("schema", {})
        if where == "path":
            value = FIXED_PATH.get(name) or _text(generate(schema, rng))
            path = path.replace("{" + name + "}", quote(value, safe=""))
        elif where == "query" and parameter.get("required"):
            query[name] = _text(generate(schema, rng))
    request: dict[str, Any] = {
        "method": plan.method,
        "url": plan.base_path + path + ("?" + urlencode(query) if query else ""),
        "headers": dict(VAI if plan.api == "virtuousai" else IBL_ADMIN),
    }
    body = plan.operation.request_body.get("content", {}).get("application/json")
    if body is not None:
        request["json"] = _writable(generate(body["schema"], rng, examples=True), body["schema"])
    return request


def _writable(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` without the readOnly properties a client does not send."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return {key: _writable(item, properties.get(key, {})) for key, item in value.items()
                if not properties.get(key, {}).get("readOnly")}
    return value


def forced_cases() -> Iterator[Any]:
    for plan in PLANS:
        for code, response in plan.operation.responses.items():
            preferences = [f"code={code}"] + [f"code={code}, dynamic=true, seed={seed}" for seed in DYNAMIC_SEEDS]
            for definition in (response.get("content") or {}).values():
                preferences += [f"code={code}, example={name}" for name in definition.get("examples") or {}]
            yield pytest.param(plan, code, preferences, id=f"{_short(plan)}-{code}")


@pytest.fixture(scope="module", params=[False, True], ids=["lenient", "strict"])
def client(request: pytest.FixtureRequest) -> TestClient:
    return TestClient(create_app(Settings(strict=request.param)), base_url="http://127.0.0.1")


def test_every_operation_is_covered() -> None:
    assert {plan.api for plan in PLANS} == {"ibl", "virtuousai"}
    assert sum(len(plan.operation.responses) for plan in PLANS) > 150


@pytest.mark.parametrize("plan, code, preferences", list(forced_cases()))
def test_a_forced_answer_is_the_declared_one_and_conforms(client: TestClient, plan: OperationPlan, code: str,
                                                          preferences: list[str]) -> None:
    request = valid_request(plan)
    content = plan.operation.responses[code].get("content") or {}
    for preference in preferences:
        reply = client.request(**{**request, "headers": {**request["headers"], "Prefer": preference}})
        assert reply.status_code == int(code), (preference, reply.text)
        assert reply.headers["preference-applied"] == preference
        if not content or code == "204":
            assert reply.content == b""
            continue
        media_type, definition = next(iter(content.items()))
        assert reply.headers["content-type"].split(";")[0] == media_type
        validator = OAS30ReadValidator(definition["schema"], format_checker=oas30_format_checker)
        errors = [error.message for error in validator.iter_errors(reply.json())]
        assert not errors, (preference, reply.text, errors)


def test_the_requests_built_here_reach_the_handlers(client: TestClient) -> None:
    """The cases above test forced answers, not the validators: their requests pass security and validation."""
    for plan in PLANS:
        request = valid_request(plan)
        reply = client.request(**request)
        assert reply.status_code not in (401, 403, 415, 422) and reply.status_code < 500, (_short(plan), reply.text)
        if reply.status_code == 400:  # a model rule the schema does not state (the handler ran)
            assert plan.api == "ibl"
