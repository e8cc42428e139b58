"""The OpenAPI documents in spec/ are valid, complete and self-consistent.

The operation table below is the contract the team agreed on (one operationId per handler);
it is hard-coded on purpose, so a spec that gains, loses or moves an operation fails here.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Iterator

import pytest
import yaml
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30Validator,
    OAS30WriteValidator,
    oas30_format_checker,
)
from openapi_spec_validator import validate

from tests.paths import ROOT

SPEC_DIR = ROOT / "spec"
IBL = "ibl-data-manager.yaml"
VAI = "virtuousai-memory.yaml"
ADMIN = "admin.yaml"
SPEC_FILES = (IBL, VAI, ADMIN)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

_PROMPT = "/api/ai-prompt/orgs/{org}/users/{user_id}/"
_MENTOR = "/api/ai-mentor/orgs/{org}/users/{user_id}/"
_ANALYTICS = "/api/ai-analytics/orgs/{org}/users/{user_id}/"
_CHAT_MEMORY = "mock_server.api.chat_memory"
_PROFILE = "mock_server.api.profile_memory"
_ARTIFACTS = "mock_server.api.artifacts"
_CUSTOM = "mock_server.api.custom_instruction"
_DOWNLOADS = "mock_server.api.downloads"
_EDX = "mock_server.api.edx_memory"
_ANALYTICS_MOD = "mock_server.api.analytics"
_CHAT_HISTORY = "mock_server.api.chat_history"
_VAI_MOD = "mock_server.api.vai_memory"
_ADMIN_MOD = "mock_server.api.admin"
_NAMESPACES_MOD = "mock_server.api.namespaces"
_BEHAVIOUR_MOD = "mock_server.api.behaviour"
_JOURNAL_MOD = "mock_server.api.journal"

# operationId -> (method, path, x-openapi-router-controller), per spec file.
EXPECTED: dict[str, dict[str, tuple[str, str, str]]] = {
    IBL: {
        "ai_prompt_orgs_users_all_chats_memory_retrieve": ("get", _PROMPT + "all-chats-memory/", _CHAT_MEMORY),
        "ai_prompt_orgs_users_all_chats_memory_create": ("post", _PROMPT + "all-chats-memory/", _CHAT_MEMORY),
        "ai_prompt_orgs_users_all_chats_memory_update": ("put", _PROMPT + "all-chats-memory/", _CHAT_MEMORY),
        "ai_prompt_orgs_users_all_chats_memory_destroy": ("delete", _PROMPT + "all-chats-memory/", _CHAT_MEMORY),
        "ai_prompt_orgs_users_all_chats_memory_update2": (
            "put", _PROMPT + "all-chats-memory/{memory_id}/", _CHAT_MEMORY),
        "ai_prompt_orgs_users_all_chats_memory_destroy2": (
            "delete", _PROMPT + "all-chats-memory/{memory_id}/", _CHAT_MEMORY),
        "ai_prompt_orgs_users_chat_memory_status_retrieve": ("get", _PROMPT + "chat-memory-status/", _CHAT_MEMORY),
        "ai_prompt_orgs_users_chat_memory_status_update": ("put", _PROMPT + "chat-memory-status/", _CHAT_MEMORY),
        "ai_mentor_orgs_users_ai_user_profile_memory_list": ("get", _MENTOR + "ai-user-profile-memory/", _PROFILE),
        "ai_mentor_orgs_users_ai_user_profile_memory_create": ("post", _MENTOR + "ai-user-profile-memory/", _PROFILE),
        "ai_mentor_orgs_users_ai_user_profile_memory_destroy": (
            "delete", _MENTOR + "ai-user-profile-memory/{tag}/", _PROFILE),
        "ai_mentor_orgs_users_artifacts_list": ("get", _MENTOR + "artifacts/", _ARTIFACTS),
        "ai_mentor_orgs_users_artifacts_create": ("post", _MENTOR + "artifacts/", _ARTIFACTS),
        "ai_mentor_orgs_users_artifacts_retrieve": ("get", _MENTOR + "artifacts/{id}/", _ARTIFACTS),
        "ai_mentor_orgs_users_artifacts_update": ("put", _MENTOR + "artifacts/{id}/", _ARTIFACTS),
        "ai_mentor_orgs_users_artifacts_partial_update": ("patch", _MENTOR + "artifacts/{id}/", _ARTIFACTS),
        "ai_mentor_orgs_users_artifacts_destroy": ("delete", _MENTOR + "artifacts/{id}/", _ARTIFACTS),
        "ai_mentor_orgs_users_artifacts_versions_list": ("get", _MENTOR + "artifacts/{id}/versions/", _ARTIFACTS),
        "ai_mentor_orgs_users_artifacts_versions_retrieve": (
            "get", _MENTOR + "artifacts/{id}/versions/{version_id}/", _ARTIFACTS),
        "ai_mentor_orgs_users_artifacts_versions_set_current_create": (
            "post", _MENTOR + "artifacts/{id}/versions/set-current/", _ARTIFACTS),
        "ai_mentor_orgs_users_custom_instruction_retrieve": ("get", _MENTOR + "custom-instruction/", _CUSTOM),
        "ai_mentor_orgs_users_custom_instruction_create": ("post", _MENTOR + "custom-instruction/", _CUSTOM),
        "ai_mentor_orgs_users_custom_instruction_update": ("put", _MENTOR + "custom-instruction/", _CUSTOM),
        "ai_mentor_orgs_users_downloads_tasks_retrieve": (
            "get", _MENTOR + "downloads/tasks/{task_id}/", _DOWNLOADS),
        "ai_mentor_orgs_users_edx_memory_list": ("get", _MENTOR + "edx-memory/", _EDX),
        "ai_mentor_orgs_users_edx_memory_retrieve": ("get", _MENTOR + "edx-memory/{id}/", _EDX),
        "ai_mentor_orgs_users_edx_memory_destroy": ("delete", _MENTOR + "edx-memory/{id}/", _EDX),
        "ai_analytics_orgs_users_average_messages_per_session_list": (
            "get", _ANALYTICS + "average-messages-per-session/", _ANALYTICS_MOD),
        "ai_analytics_orgs_users_chat_history_list": ("get", _ANALYTICS + "chat-history/", _CHAT_HISTORY),
        "ai_analytics_orgs_users_chat_history_create": ("post", _ANALYTICS + "chat-history/", _CHAT_HISTORY),
        "ai_analytics_orgs_users_chat_history_retrieve": ("get", _ANALYTICS + "chat-history/{id}/", _CHAT_HISTORY),
        "ai_analytics_orgs_users_chat_history_update": ("put", _ANALYTICS + "chat-history/{id}/", _CHAT_HISTORY),
        "ai_analytics_orgs_users_chat_history_partial_update": (
            "patch", _ANALYTICS + "chat-history/{id}/", _CHAT_HISTORY),
        "ai_analytics_orgs_users_chat_history_destroy": (
            "delete", _ANALYTICS + "chat-history/{id}/", _CHAT_HISTORY),
        "ai_analytics_orgs_users_chat_history_filter_retrieve": (
            "get", _ANALYTICS + "chat-history-filter/", _CHAT_HISTORY),
    },
    VAI: {
        "list_memories": ("get", "/api/v1/memory", _VAI_MOD),
        "create_memory": ("post", "/api/v1/memory", _VAI_MOD),
        "backfill_entities": ("post", "/api/v1/memory/backfill-entities", _VAI_MOD),
        "get_memory": ("get", "/api/v1/memory/{memory_id}", _VAI_MOD),
        "delete_memory": ("delete", "/api/v1/memory/{memory_id}", _VAI_MOD),
    },
    ADMIN: {
        "health": ("get", "/_mock/health", _ADMIN_MOD),
        "reset_state": ("post", "/_mock/reset", _ADMIN_MOD),
        "export_state": ("get", "/_mock/state", _ADMIN_MOD),
        "import_state": ("put", "/_mock/state", _ADMIN_MOD),
        "append_messages": ("post", "/_mock/ibl/orgs/{org}/chat-history/{conversation_id}/messages", _ADMIN_MOD),
        "list_namespaces": ("get", "/_mock/namespaces", _NAMESPACES_MOD),
        "delete_namespace": ("delete", "/_mock/namespaces/{name}", _NAMESPACES_MOD),
        "get_behaviour": ("get", "/_mock/behaviour", _BEHAVIOUR_MOD),
        "put_behaviour": ("put", "/_mock/behaviour", _BEHAVIOUR_MOD),
        "delete_behaviour": ("delete", "/_mock/behaviour", _BEHAVIOUR_MOD),
        "list_requests": ("get", "/_mock/requests", _JOURNAL_MOD),
        "clear_requests": ("delete", "/_mock/requests", _JOURNAL_MOD),
        "count_requests": ("get", "/_mock/requests/count", _JOURNAL_MOD),
    },
}

# The operations the seed documents (ibl.ai data manager, VirtuousAI Memory API) show: (spec, method, path).
SEED_OPERATIONS = [
    (IBL, "delete", _PROMPT + "all-chats-memory/{memory_id}/"),
    (IBL, "get", _PROMPT + "chat-memory-status/"),
    (IBL, "put", _PROMPT + "chat-memory-status/"),
    (IBL, "delete", _MENTOR + "ai-user-profile-memory/{tag}/"),
    (IBL, "get", _MENTOR + "artifacts/"),
    (IBL, "get", _MENTOR + "artifacts/{id}/"),
    (IBL, "put", _MENTOR + "custom-instruction/"),
    (IBL, "get", _MENTOR + "downloads/tasks/{task_id}/"),
    (IBL, "get", _MENTOR + "edx-memory/"),
    (IBL, "get", _MENTOR + "edx-memory/{id}/"),
    (IBL, "delete", _MENTOR + "edx-memory/{id}/"),
    (IBL, "get", _ANALYTICS + "average-messages-per-session/"),
    (IBL, "get", _ANALYTICS + "chat-history/"),
    (IBL, "post", _ANALYTICS + "chat-history/"),
    (VAI, "get", "/api/v1/memory"),
    (VAI, "post", "/api/v1/memory"),
    (VAI, "post", "/api/v1/memory/backfill-entities"),
    (VAI, "get", "/api/v1/memory/{memory_id}"),
    (VAI, "delete", "/api/v1/memory/{memory_id}"),
]

IBL_FORM_TYPES = {"application/json", "application/x-www-form-urlencoded", "multipart/form-data"}


# --- helpers -------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _load_cached(name: str) -> dict[str, Any]:
    with open(SPEC_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load(name: str) -> dict[str, Any]:
    """A fresh copy of a spec (the cache stays untouched by callers)."""
    return copy.deepcopy(_load_cached(name))


def resolve(node: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """``node`` with every local ``$ref`` replaced by its target, recursively."""
    if depth > 50:
        raise RecursionError("$ref chain too deep (a cycle?)")
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), f"only local $refs are expected, got {ref}"
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve(target, root, depth + 1)
        return {key: resolve(value, root, depth) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, root, depth) for item in node]
    return node


def base_path(spec: dict[str, Any]) -> str:
    """The URL path the first server puts in front of every path ("" for "/")."""
    servers = spec.get("servers") or [{"url": "/"}]
    url = servers[0]["url"]
    assert url.startswith("/"), f"servers[0].url should be a relative path, got {url}"
    return url.rstrip("/")


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(full path, method, operation, path item) for every operation, refs resolved.

    The full path is the server's base path plus the path key, i.e. the URL path a client uses.
    """
    base = base_path(spec)
    for path, item in spec.get("paths", {}).items():
        item = resolve(item, spec)
        for method in METHODS:
            if method in item:
                yield base + path, method, item[method], item


def all_parameters(operation: dict[str, Any], item: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """The operation's effective parameters keyed by (in, name): path-level, then its own."""
    params = {(p["in"], p["name"]): p for p in item.get("parameters", [])}
    params.update({(p["in"], p["name"]): p for p in operation.get("parameters", [])})
    return params


def _schema_validator(schema: dict[str, Any], direction: str) -> Any:
    cls = {"read": OAS30ReadValidator, "write": OAS30WriteValidator}.get(direction, OAS30Validator)
    return cls(schema, format_checker=oas30_format_checker)


def _examples_of(holder: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    if "example" in holder:
        yield "example", holder["example"]
    for key, example in (holder.get("examples") or {}).items():
        if "value" in example:
            yield f"examples/{key}", example["value"]


def collect_examples(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any, str]]:
    """Every (where, schema, example, direction) in the spec, schemas resolved."""
    found: list[tuple[str, dict[str, Any], Any, str]] = []
    for path, method, operation, item in operations(spec):
        where = f"{method.upper()} {path}"
        for (location, name), param in all_parameters(operation, item).items():
            for label, value in _examples_of(param):
                found.append((f"{where} {location} param {name} {label}", param["schema"], value, "write"))
        body = operation.get("requestBody") or {}
        for media, content in (body.get("content") or {}).items():
            for label, value in _examples_of(content):
                found.append((f"{where} request {media} {label}", content["schema"], value, "write"))
        for status, response in operation.get("responses", {}).items():
            for media, content in (response.get("content") or {}).items():
                for label, value in _examples_of(content):
                    found.append((f"{where} {status} {media} {label}", content["schema"], value, "read"))

    def walk_schema(schema: Any, where: str) -> None:
        if isinstance(schema, dict):
            if "example" in schema and "$ref" not in schema:
                found.append((f"{where} example", resolve(schema, spec), schema["example"], "any"))
            for key, value in schema.items():
                if key != "example":
                    walk_schema(value, f"{where}/{key}")
        elif isinstance(schema, list):
            for index, value in enumerate(schema):
                walk_schema(value, f"{where}/{index}")

    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        walk_schema(schema, f"components/schemas/{name}")
    return found


# --- (1) every spec is valid OpenAPI -------------------------------------------------------


@pytest.mark.parametrize("name", SPEC_FILES)
def test_spec_is_valid_openapi_3_0(name: str) -> None:
    spec = load(name)
    assert str(spec.get("openapi", "")).startswith("3.0."), "the mock targets OpenAPI 3.0.x"
    validate(spec)


# --- (2) the seeds' operations are all there -----------------------------------------------


@pytest.mark.parametrize(("name", "method", "path"), SEED_OPERATIONS, ids=lambda v: str(v))
def test_seed_operation_is_present(name: str, method: str, path: str) -> None:
    present = {(m, p) for p, m, _, _ in operations(load(name))}
    assert (method, path) in present, f"{method.upper()} {path} missing from {name}"


# --- (3) the operation table is exactly the agreed one -------------------------------------


@pytest.mark.parametrize("name", SPEC_FILES)
def test_operations_match_the_agreed_table(name: str) -> None:
    spec = load(name)
    actual = {
        op.get("operationId"): (method, path, op.get("x-openapi-router-controller"))
        for path, method, op, _ in operations(spec)
    }
    expected = EXPECTED[name]
    assert set(actual) == set(expected), (
        f"missing: {sorted(set(expected) - set(actual))}; unexpected: {sorted(set(actual) - set(expected))}"
    )
    assert actual == expected


def test_the_agreed_table_has_35_ibl_and_5_virtuousai_operations() -> None:
    assert len(EXPECTED[IBL]) == 35
    assert len(EXPECTED[VAI]) == 5


# --- (4) every operation is complete ---------------------------------------------------------


@pytest.mark.parametrize("name", SPEC_FILES)
def test_every_operation_is_complete(name: str) -> None:
    spec = load(name)
    schemes = spec.get("components", {}).get("securitySchemes", {})
    problems: list[str] = []
    for path, method, op, _ in operations(spec):
        where = f"{name}: {method.upper()} {path}"
        if not op.get("operationId"):
            problems.append(f"{where}: no operationId")
        if not op.get("x-openapi-router-controller"):
            problems.append(f"{where}: no x-openapi-router-controller")
        statuses = [str(status) for status in op.get("responses", {})]
        if not any(status.startswith("2") for status in statuses):
            problems.append(f"{where}: no 2xx response")
        if name == ADMIN:
            # The admin plane is unauthenticated, and health/reset/export take no input to reject.
            continue
        with_schema_4xx = [
            status
            for status, response in op.get("responses", {}).items()
            if str(status).startswith("4")
            and any("schema" in media for media in (response.get("content") or {}).values())
        ]
        if not with_schema_4xx:
            problems.append(f"{where}: no 4xx response with a schema")
        security = op.get("security", spec.get("security"))
        if not security:
            problems.append(f"{where}: no security")
        else:
            for requirement in security:
                for scheme in requirement:
                    if scheme not in schemes:
                        problems.append(f"{where}: security scheme {scheme} is not defined")
    assert not problems, "\n".join(problems)


def test_ibl_operations_follow_the_house_rules() -> None:
    """401/403/404 everywhere; 400 with input; 413/415 and three content types with a body."""
    spec = load(IBL)
    problems: list[str] = []
    for path, method, op, item in operations(spec):
        where = f"{method.upper()} {path}"
        statuses = {str(status) for status in op["responses"]}
        for needed in ("401", "403", "404"):
            if needed not in statuses:
                problems.append(f"{where}: no {needed}")
        params = all_parameters(op, item)
        if ("path", "org") not in params or ("path", "user_id") not in params:
            problems.append(f"{where}: org/user_id path parameters missing")
        for key in (("path", "org"), ("path", "user_id")):
            if key in params and not (params[key].get("required") and params[key]["schema"]["type"] == "string"):
                problems.append(f"{where}: {key[1]} must be a required string")
        has_query = any(location == "query" for location, _ in params)
        body = op.get("requestBody")
        if (has_query or body) and "400" not in statuses:
            problems.append(f"{where}: has input but no 400")
        if body:
            for needed in ("413", "415"):
                if needed not in statuses:
                    problems.append(f"{where}: has a body but no {needed}")
            media = set(body.get("content", {}))
            if media != IBL_FORM_TYPES:
                problems.append(f"{where}: body content types {sorted(media)}")
            raw_body = spec["paths"][path[len(base_path(spec)):]][method]["requestBody"]
            raw_body = resolve_one_level(raw_body, spec)
            refs = {content["schema"].get("$ref") for content in raw_body["content"].values()}
            if len(refs) != 1 or None in refs:
                problems.append(f"{where}: the three content types must $ref one schema, got {refs}")
        family = path.split("/")[2]  # ai-prompt, ai-mentor or ai-analytics
        if op.get("tags") != [family]:
            problems.append(f"{where}: tags {op.get('tags')} should be [{family!r}]")
        if not op.get("summary") or not op.get("description"):
            problems.append(f"{where}: summary and description required")
        if not path.endswith("/"):
            problems.append(f"{where}: ibl paths end in '/'")
        for status in statuses:
            if status.startswith("4"):
                response = op["responses"][status]
                if "application/json" not in (response.get("content") or {}):
                    problems.append(f"{where}: {status} has no application/json schema")
        if "204" in statuses and op["responses"]["204"].get("content"):
            problems.append(f"{where}: 204 must have no content")
    assert not problems, "\n".join(problems)


def resolve_one_level(node: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """Follow a top-level ``$ref`` once (a requestBody component), leaving inner refs alone."""
    if "$ref" in node:
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        return target
    return node


def test_ibl_lenient_and_self_validated_parameters() -> None:
    """page/page_size and the analytics dates must reach the handlers' DRF-style checks."""
    spec = load(IBL)
    seen_pagination = 0
    for path, method, op, item in operations(spec):
        params = all_parameters(op, item)
        for name in ("page", "page_size"):
            param = params.get(("query", name))
            if param is None:
                continue
            seen_pagination += 1
            assert param.get("x-memmock-lenient") is True, f"{method} {path} {name}"
            schema = param["schema"]
            assert schema["type"] == "integer"
            assert "minimum" not in schema and "maximum" not in schema, f"{method} {path} {name}"
            assert schema["default"] == (1 if name == "page" else 10)
    # artifacts list, versions list, edx-memory list, chat-history list: two each.
    assert seen_pagination == 8

    avg = spec["paths"][_ANALYTICS + "average-messages-per-session/"]["get"]
    params = {p["name"]: resolve(p, spec) for p in avg["parameters"]}
    for name in ("start_date", "end_date"):
        assert params[name]["required"] is True
        # format: date, so a fuzzer knows what is valid; memmock's validator answers DRF-style 400s.
        assert params[name]["schema"] == {"type": "string", "format": "date"}
    assert params["aggregation"]["schema"]["enum"] == ["hourly", "daily", "weekly"]
    assert params["aggregation"]["schema"]["default"] == "daily"


def test_ibl_security_scheme() -> None:
    spec = load(IBL)
    assert spec["security"] == [{"PlatformApiKeyAuthentication": []}]
    scheme = spec["components"]["securitySchemes"]["PlatformApiKeyAuthentication"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "Api-Token" in scheme["description"]
    assert spec["servers"] == [{"url": "/"}]


# --- (5) every example in the ibl spec validates ---------------------------------------------


def test_every_ibl_example_validates_against_its_schema() -> None:
    spec = load(IBL)
    examples = collect_examples(spec)
    # Guard against a walker that silently finds nothing.
    assert len(examples) >= 30, f"only {len(examples)} examples found"
    problems = []
    for where, schema, value, direction in examples:
        for error in _schema_validator(schema, direction).iter_errors(value):
            problems.append(f"{where}: {error.message} at {list(error.absolute_path)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ("Artifact", {"id": 1}),  # required fields missing
        ("DownloadTaskNotReady", {"state": "done"}),  # not in the enum
        ("Detail", {"detail": ["a list"]}),
        ("FieldErrors", {"enabled": "not a list"}),
        ("Conversations", {"id": "x", "messages": None}),
        ("UserEdxMemory", {"id": 1, "username": "u", "student": 1, "course_id": "c",
                           "date_created": "2024-06-25T15:30:26.257140", "last_modified": "2024-06-25T15:30:26Z"}),
    ],
)
def test_the_example_check_can_fail(schema: str, value: Any) -> None:
    """The validator used above rejects bad documents (so the example test is not vacuous)."""
    spec = load(IBL)
    resolved = resolve(spec["components"]["schemas"][schema], spec)
    assert list(_schema_validator(resolved, "read").iter_errors(value))


def test_bad_request_schema_accepts_both_drf_shapes() -> None:
    spec = load(IBL)
    schema = resolve(spec["components"]["responses"]["BadRequest"]["content"]["application/json"]["schema"], spec)
    validator = _schema_validator(schema, "read")
    for body in (
        {"enabled": ["This field is required."]},
        {"detail": "JSON parse error - Expecting value"},
        {"non_field_errors": ["Custom instruction already exists for this user."]},
        {"topics": {"0": {"name": ["This field is required."]}}},
    ):
        assert not list(validator.iter_errors(body)), body
    assert list(validator.iter_errors({"enabled": 3}))


# --- (6) links point at operations that exist --------------------------------------------------


@pytest.mark.parametrize("name", SPEC_FILES)
def test_links_target_existing_operations_and_parameters(name: str) -> None:
    spec = load(name)
    by_id = {op.get("operationId"): (op, item) for _, _, op, item in operations(spec)}
    problems: list[str] = []
    for path, method, op, _ in operations(spec):
        for status, response in op.get("responses", {}).items():
            for link_name, link in (response.get("links") or {}).items():
                where = f"{method.upper()} {path} {status} link {link_name}"
                if "operationRef" in link:
                    problems.append(f"{where}: use operationId, not operationRef")
                    continue
                target = by_id.get(link.get("operationId"))
                if target is None:
                    problems.append(f"{where}: unknown operationId {link.get('operationId')}")
                    continue
                names = {param_name for _, param_name in all_parameters(*target)}
                for param_name in link.get("parameters", {}):
                    if param_name.split(".")[-1] not in names:
                        problems.append(f"{where}: {param_name} is not a parameter of the target")
    assert not problems, "\n".join(problems)


def test_ibl_spec_declares_the_expected_links() -> None:
    spec = load(IBL)
    links = {
        (op["operationId"], link["operationId"])
        for _, _, op, _ in operations(spec)
        for response in op["responses"].values()
        for link in (response.get("links") or {}).values()
    }
    a = "ai_mentor_orgs_users_artifacts_"
    ch = "ai_analytics_orgs_users_chat_history_"
    cm = "ai_prompt_orgs_users_all_chats_memory_"
    edx = "ai_mentor_orgs_users_edx_memory_"
    profile = "ai_mentor_orgs_users_ai_user_profile_memory_"
    expected = {
        *((a + "create", a + target) for target in
          ("retrieve", "update", "partial_update", "destroy", "versions_list")),
        (cm + "create", cm + "update2"),
        (cm + "create", cm + "destroy2"),
        *((ch + "create", ch + target) for target in ("retrieve", "update", "partial_update", "destroy")),
        (profile + "create", profile + "destroy"),
        (edx + "list", edx + "retrieve"),
        (edx + "list", edx + "destroy"),
        (a + "list", a + "retrieve"),
    }
    assert expected <= links, sorted(expected - links)


@pytest.mark.parametrize("name", SPEC_FILES)
def test_no_parameter_list_is_a_shared_yaml_alias(name: str) -> None:
    """connexion appends path-level parameters to an operation's list in place; a list shared
    through a YAML alias would leak one path's parameters into another operation."""
    spec = _load_cached(name)
    seen: dict[int, str] = {}
    problems = []
    for path, item in spec.get("paths", {}).items():
        holders = [("path item", item)] + [(m, item[m]) for m in METHODS if m in item]
        for label, holder in holders:
            params = holder.get("parameters")
            if params is None:
                continue
            where = f"{path} {label}"
            if id(params) in seen:
                problems.append(f"{where} shares its parameter list with {seen[id(params)]}")
            seen[id(params)] = where
    assert not problems, "\n".join(problems)
