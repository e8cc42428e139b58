"""The ibl spec, field by field, against the official client's models (iblai 4.202.2).

Every ibl operation in the spec is matched by operationId to the client's method of the same name
in ``iblai.api.{ai_prompt,ai_mentor,ai_analytics}_api``. From the generated code this module reads,
mechanically:

- the HTTP method and path, the path and query parameters and the body parameter (from the
  method's ``_<name>_serialize`` helper), with their types and bounds (from the signature that
  pydantic's ``validate_call`` enforces);
- the response model per status (the method's ``_response_types_map``);
- for every model field: pydantic-required, nullable, read-only, type and format, length and
  numeric bounds, pattern, enum, nested models and list items.

Two readings of the generated code need saying. *Nullable* is read from ``to_dict()``, which the
generator writes to re-add ``None`` for exactly the nullable fields: ``Optional[...] = None`` is
also how it spells every merely optional field (``enabled`` is ``Optional[StrictBool]`` and not
nullable), so ``Optional`` alone cannot tell the two apart; every field ``to_dict()`` names is an
``Optional[...]`` (checked below). *Read-only* is ``to_dict()``'s ``excluded_fields``.

Request bodies compare the fields the client sends (its read-only fields never leave it): a
client read-only field may be absent from the spec's request schema or present as ``readOnly``.
Responses compare every field. The client declares no error models and no 401/403 beyond
artifacts, while the spec declares DRF's error bodies on every operation (a house rule), so
error statuses the spec adds are not differences; a status the client declares and the spec
lacks, and any 2xx on one side only, are. Formats the generator has no Python type for (``uri``,
``int64``) are plain strings and integers to the client, so they cannot differ.

A difference is accepted only by an ``x-drift`` note in the spec that says why:

    x-drift:
      - why: <the reason, e.g. the seed says otherwise>
        accepts:
          - 'request / username: required (client yes, spec no)'      # on the operation
          - 'required (client yes, spec no)'                           # on the property or parameter

on the operation (``<where> / <field>: <what differs>``, as the failure lists it) or on the
spec property or parameter where it arises (``<what differs>`` alone). Prose-only notes (plain
strings) document differences no field comparison sees, such as the seed's examples.
"""

from __future__ import annotations

import ast
import copy
import enum
import inspect
import re
import textwrap
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib.metadata import version
from typing import Any, Iterator
from uuid import UUID

import pytest
import yaml
from pydantic import BaseModel, conint, constr

import iblai.models
from iblai.api.ai_analytics_api import AiAnalyticsApi
from iblai.api.ai_mentor_api import AiMentorApi
from iblai.api.ai_prompt_api import AiPromptApi

from tests.paths import ROOT

SPEC_FILE = ROOT / "spec" / "ibl-data-manager.yaml"
CLIENT_VERSION = "4.202.2"
CLIENT_APIS = (AiPromptApi, AiMentorApi, AiAnalyticsApi)
METHODS = ("get", "put", "post", "patch", "delete")
BODY = "(body)"
STATUS = "(status)"
ONLY_CLIENT = "only in the client"
ONLY_SPEC = "only in the spec"

# pydantic / annotated-types constraint attributes -> the JSON-Schema keyword they state.
_BOUNDS = (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusiveMinimum"), ("lt", "exclusiveMaximum"),
           ("multiple_of", "multipleOf"), ("pattern", "pattern"))
_LENGTHS = (("min_length", "minLength", "minItems"), ("max_length", "maxLength", "maxItems"))
_SPEC_CONSTRAINTS = ("minLength", "maxLength", "minItems", "maxItems", "minimum", "maximum",
                     "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "pattern")
# Spec formats that are also a client type; any other format is a plain string to the client.
_TYPED_FORMATS = {"date-time", "date", "uuid"}


# --- one shape, read from either side ------------------------------------------------------------


@dataclass
class Shape:
    """A value's type as both sides can state it: a type name, constraints, items or fields."""

    type: str  # string, integer, number, boolean, date, date-time, uuid, object, array, any, oneOf
    constraints: dict[str, Any] = field(default_factory=dict)
    enum: tuple[Any, ...] | None = None
    items: Shape | None = None
    fields: dict[str, Slot] | None = None  # an object with declared fields
    branches: list[Shape] = field(default_factory=list)  # oneOf / anyOf in the spec
    nullable: bool = False


@dataclass
class Slot:
    """A field of an object, or a parameter: its shape and how it may be sent."""

    shape: Shape
    required: bool = False
    nullable: bool = False
    read_only: bool = False
    accepts: frozenset[str] = frozenset()  # the spec node's own x-drift acceptances
    origin: int | None = None  # id() of that spec node, to tell which note accepted what


@dataclass(frozen=True)
class Difference:
    """One way the spec and the client disagree, located well enough to accept it by name."""

    operation: str
    where: str  # request, response <status>, query, path, operation
    field: str
    what: str  # e.g. "required (client yes, spec no)", "only in the client"

    @property
    def key(self) -> str:
        """How an operation-level x-drift note accepts it."""
        return f"{self.where} / {self.field}: {self.what}"

    def __str__(self) -> str:
        return f"{self.operation} / {self.key}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


# --- the client -----------------------------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, list[Any], bool]:
    """The bare type inside ``Annotated``/``Optional`` layers, their metadata, and whether None is allowed."""
    metadata: list[Any] = []
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation, *extra = typing.get_args(annotation)
            for item in extra:
                # A pydantic FieldInfo carries its constraints in .metadata; annotated-types objects are bare.
                metadata.extend(getattr(item, "metadata", None) or [item])
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation, metadata, optional


def _constraints(metadata: list[Any], is_array: bool) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        for attribute, keyword in _BOUNDS:
            if getattr(item, attribute, None) is not None:
                found[keyword] = getattr(item, attribute)
        for attribute, text_keyword, array_keyword in _LENGTHS:
            if getattr(item, attribute, None) is not None:
                found[array_keyword if is_array else text_keyword] = getattr(item, attribute)
    return found


def client_shape(annotation: Any, metadata: list[Any] | None = None) -> Shape:
    """The shape of a client annotation (a field's or a parameter's)."""
    bare, inner, _ = _unwrap(annotation)
    metadata = list(metadata or []) + inner
    if typing.get_origin(bare) is list:
        (item,) = typing.get_args(bare)
        return Shape("array", _constraints(metadata, True), items=client_shape(item))
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        return model_shape(bare)
    if isinstance(bare, type) and issubclass(bare, enum.Enum):
        return Shape("string", enum=tuple(member.value for member in bare))
    simple = {str: "string", bool: "boolean", int: "integer", float: "number", datetime: "date-time",
              date: "date", UUID: "uuid", typing.Any: "any"}
    if bare not in simple:
        raise AssertionError(f"the client uses a type this reader does not know: {bare}")
    return Shape(simple[bare], _constraints(metadata, False))


def _literal_list(source: str, pattern: str) -> list[Any]:
    match = re.search(pattern, source, re.S)
    return list(ast.literal_eval("[" + match.group(1) + "]")) if match else []


@lru_cache(maxsize=None)
def model_shape(model: type[BaseModel]) -> Shape:
    """A generated model as an object shape (read-only and nullable from its ``to_dict``)."""
    to_dict = inspect.getsource(model.to_dict)
    excluded = set(_literal_list(to_dict, r"excluded_fields: Set\[str\] = set\(\[(.*?)\]\)"))
    nullable = set(re.findall(r'if self\.(\w+) is None and "\w+" in self\.model_fields_set', to_dict))
    enums: dict[str, tuple[Any, ...]] = {}
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if decorator.cls_var_name.endswith("_validate_enum"):
            values = tuple(_literal_list(inspect.getsource(decorator.func), r"set\(\[(.*?)\]\)"))
            for name in decorator.info.fields:
                enums[name] = values
    fields: dict[str, Slot] = {}
    for name, info in model.model_fields.items():
        shape = client_shape(info.annotation, list(info.metadata))
        if name in enums:
            shape.enum = enums[name]
        if name in nullable:
            assert _unwrap(info.annotation)[2], f"{model.__name__}.{name}: to_dict calls it nullable, not Optional"
        wire = info.alias or name
        fields[wire] = Slot(shape, required=info.is_required(), nullable=name in nullable,
                            read_only=name in excluded or wire in excluded)
    return Shape("object", fields=fields)


def _response_type(name: str) -> Shape:
    listed = re.fullmatch(r"List\[(\w+)\]", name)
    if listed:
        return Shape("array", items=model_shape(getattr(iblai.models, listed.group(1))))
    return model_shape(getattr(iblai.models, name))


@dataclass
class Operation:
    """One operation as either side states it: what it takes and what it answers."""

    operation_id: str
    method: str
    path: str
    path_params: dict[str, Slot]
    query: dict[str, Slot]
    body: Slot | None
    responses: dict[str, Shape | None]
    accepts: frozenset[str] = frozenset()  # the spec operation's x-drift acceptances


def _response_map(function: Any) -> dict[str, str | None]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "_response_types_map":
            return ast.literal_eval(node.value)  # type: ignore[arg-type, no-any-return]
    raise AssertionError(f"{function.__name__}: no _response_types_map")


@lru_cache(maxsize=None)
def client_operation(operation_id: str) -> Operation | None:
    """The client's reading of one operation, or None when no client API has the method."""
    for api in CLIENT_APIS:
        method = getattr(api, operation_id, None)
        if method is None:
            continue
        serialize = inspect.getsource(getattr(api, f"_{operation_id}_serialize"))
        signature = inspect.signature(method)

        def slot(name: str) -> Slot:
            param = signature.parameters[name]
            return Slot(client_shape(param.annotation), required=param.default is inspect.Parameter.empty)

        body_name = re.search(r"_body_params = (\w+)", serialize)
        return Operation(
            operation_id=operation_id,
            method=re.search(r"method='(\w+)'", serialize).group(1).lower(),  # type: ignore[union-attr]
            path=re.search(r"resource_path='([^']+)'", serialize).group(1),  # type: ignore[union-attr]
            path_params={n: slot(n) for n in re.findall(r"_path_params\['(\w+)'\]", serialize)},
            query={n: slot(n) for n in re.findall(r"_query_params\.append\(\('(\w+)'", serialize)},
            body=slot(body_name.group(1)) if body_name else None,
            responses={status: None if name is None else _response_type(name)
                       for status, name in _response_map(method.raw_function).items()},
        )
    return None


# --- the spec -------------------------------------------------------------------------------------


def load_spec() -> dict[str, Any]:
    """The ibl spec as plain data (YAML anchors resolved)."""
    return yaml.safe_load(SPEC_FILE.read_text())  # type: ignore[no-any-return]


def _resolve(node: Any, spec: dict[str, Any]) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def acceptances(notes: Any) -> frozenset[str]:
    """The differences an ``x-drift`` value accepts (prose-only notes accept none)."""
    if notes is None or isinstance(notes, str):
        return frozenset()
    found: set[str] = set()
    for note in notes if isinstance(notes, list) else [notes]:
        if isinstance(note, dict):
            assert isinstance(note.get("why"), str) and note["why"].strip(), f"an x-drift note without a why: {note}"
            found.update(note.get("accepts", []))
    return frozenset(found)


def spec_shape(schema: Any, spec: dict[str, Any]) -> Shape:
    """The shape of a spec schema, ``$ref``s and one-branch ``allOf``s followed."""
    schema = _resolve(schema, spec)
    merged = dict(schema)
    for part in merged.pop("allOf", []):  # allOf: [$ref Enum] next to readOnly/description
        merged = {**_resolve(part, spec), **merged}
    for keyword in ("oneOf", "anyOf"):
        if keyword in merged:
            return Shape("oneOf", branches=[spec_shape(branch, spec) for branch in merged[keyword]],
                         nullable=bool(merged.get("nullable")))
    kind = merged.get("type")
    if kind is None:
        kind = "object" if "properties" in merged else "array" if "items" in merged else "any"
    if kind == "string" and merged.get("format") in _TYPED_FORMATS:
        kind = merged["format"]
    constraints = {k: merged[k] for k in _SPEC_CONSTRAINTS if k in merged and not isinstance(merged[k], bool)}
    for bound in ("Minimum", "Maximum"):  # OpenAPI 3.0: exclusiveMinimum: true next to minimum
        if merged.get(f"exclusive{bound}") is True:
            constraints[f"exclusive{bound}"] = constraints.pop(bound.lower())
    enum_values = tuple(v for v in merged["enum"] if v is not None) if "enum" in merged else None
    shape = Shape(kind, constraints, enum_values, nullable=bool(merged.get("nullable")))
    if kind == "array":
        shape.items = spec_shape(merged.get("items", {}), spec)
    if kind == "object" and "properties" in merged:
        required = set(merged.get("required", []))
        shape.fields = {}
        for name, prop in merged["properties"].items():
            resolved = _resolve(prop, spec)
            inner = spec_shape(prop, spec)
            shape.fields[name] = Slot(inner, required=name in required, nullable=inner.nullable,
                                      read_only=bool(prop.get("readOnly") or resolved.get("readOnly")),
                                      accepts=acceptances(prop.get("x-drift")), origin=id(prop))
    return shape


def spec_operations(spec: dict[str, Any]) -> Iterator[Operation]:
    """Every operation of the spec with its parameters, body and response shapes resolved."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params: dict[tuple[str, str], Slot] = {}
            for raw in item.get("parameters", []) + op.get("parameters", []):
                param = _resolve(raw, spec)
                params[(param["in"], param["name"])] = Slot(
                    spec_shape(param.get("schema", {}), spec), required=bool(param.get("required")),
                    accepts=acceptances(param.get("x-drift")), origin=id(param))
            body = None
            if "requestBody" in op:
                request = _resolve(op["requestBody"], spec)
                body = Slot(spec_shape(request["content"]["application/json"]["schema"], spec),
                            required=bool(request.get("required")))
            responses: dict[str, Shape | None] = {}
            for status, raw_response in op.get("responses", {}).items():
                content = (_resolve(raw_response, spec).get("content") or {}).get("application/json")
                responses[str(status)] = spec_shape(content["schema"], spec) if content else None
            yield Operation(
                op["operationId"], method, path,
                {name: s for (where, name), s in params.items() if where == "path"},
                {name: s for (where, name), s in params.items() if where == "query"},
                body, responses, acceptances(op.get("x-drift")))


# --- the comparison -------------------------------------------------------------------------------


@dataclass
class Found:
    """A difference, and the spec node (property or parameter) where it arose, if any."""

    difference: Difference
    node: Slot | None = None

    def accepted(self, operation_accepts: frozenset[str]) -> bool:
        """Whether the operation's or the node's x-drift notes accept it."""
        return (self.difference.key in operation_accepts
                or (self.node is not None and self.difference.what in self.node.accepts))


class Comparison:
    """Collects every difference between one spec operation and the client's method."""

    def __init__(self, operation_id: str) -> None:
        self.operation_id = operation_id
        self.found: list[Found] = []

    def add(self, where: str, name: str, what: str, node: Slot | None = None) -> None:
        self.found.append(Found(Difference(self.operation_id, where, name or BODY, what), node))

    def slots(self, where: str, prefix: str, client: dict[str, Slot], spec: dict[str, Slot],
              request: bool) -> None:
        for name in sorted(set(client) | set(spec)):
            path = f"{prefix}{name}"
            mine, theirs = client.get(name), spec.get(name)
            if mine is not None and theirs is not None:
                self.slot(where, path, mine, theirs, request)
            elif mine is not None:
                if not (request and mine.read_only):  # a read-only field never leaves the client
                    self.add(where, path, ONLY_CLIENT)
            elif theirs is not None and not (request and theirs.read_only):
                self.add(where, path, ONLY_SPEC, theirs)

    def slot(self, where: str, path: str, client: Slot, spec: Slot, request: bool) -> None:
        if client.read_only != spec.read_only:
            self.add(where, path, f"readOnly (client {_yes(client.read_only)}, spec {_yes(spec.read_only)})", spec)
            if request:  # one side sends it and the other does not: nothing more to compare
                return
        if request and client.read_only:
            return
        for aspect in ("required", "nullable"):
            mine, theirs = getattr(client, aspect), getattr(spec, aspect)
            if mine != theirs:
                self.add(where, path, f"{aspect} (client {_yes(mine)}, spec {_yes(theirs)})", spec)
        self.shape(where, path, client.shape, spec.shape, spec, request)

    def shape(self, where: str, path: str, client: Shape, spec: Shape, node: Slot | None, request: bool) -> None:
        if spec.type == "oneOf":
            self.add(where, path, f"alternatives (client 1, spec {len(spec.branches)})", node)
            best = min(spec.branches, key=lambda branch: self._count(where, path, client, branch, request))
            self.shape(where, path, client, best, node, request)
            return
        if client.type != spec.type:
            self.add(where, path, f"type (client {client.type}, spec {spec.type})", node)
            return
        for keyword in sorted(set(client.constraints) | set(spec.constraints)):
            mine, theirs = client.constraints.get(keyword), spec.constraints.get(keyword)
            if mine != theirs:
                self.add(where, path, f"{keyword} (client {_show(mine)}, spec {_show(theirs)})", node)
        if client.enum != spec.enum:
            self.add(where, path, f"enum (client {_show(client.enum)}, spec {_show(spec.enum)})", node)
        if client.items is not None and spec.items is not None:
            self.shape(where, f"{path}[]", client.items, spec.items, node, request)
        if client.fields is not None or spec.fields is not None:
            self.slots(where, f"{path}." if path else "", client.fields or {}, spec.fields or {}, request)

    def _count(self, where: str, path: str, client: Shape, spec: Shape, request: bool) -> int:
        trial = Comparison(self.operation_id)
        trial.shape(where, path, client, spec, None, request)
        return len(trial.found)


def compare(spec: dict[str, Any]) -> list[Found]:
    """Every difference between the spec's ibl operations and the client, in spec order."""
    found: list[Found] = []
    for op in spec_operations(spec):
        check = Comparison(op.operation_id)
        client = client_operation(op.operation_id)
        if client is None:
            check.add("operation", "(method)", ONLY_SPEC)
            found.extend(check.found)
            continue
        if (client.method, client.path) != (op.method, op.path):
            check.add("operation", "(method)", f"path (client {client.method.upper()} {client.path}, "
                                               f"spec {op.method.upper()} {op.path})")
        check.slots("path", "", client.path_params, op.path_params, request=True)
        check.slots("query", "", client.query, op.query, request=True)
        if (client.body is None) != (op.body is None):
            check.add("request", BODY, ONLY_CLIENT if op.body is None else ONLY_SPEC)
        elif client.body is not None and op.body is not None:
            if client.body.required != op.body.required:
                check.add("request", BODY, f"required (client {_yes(client.body.required)}, "
                                           f"spec {_yes(op.body.required)})")
            check.shape("request", "", client.body.shape, op.body.shape, None, request=True)
        for status in sorted(set(client.responses) | set(op.responses)):
            where = f"response {status}"
            if status not in op.responses:
                check.add(where, STATUS, ONLY_CLIENT)
            elif status not in client.responses:
                if status.startswith("2"):  # error statuses the spec adds are house rules, see above
                    check.add(where, STATUS, ONLY_SPEC)
            else:
                mine, theirs = client.responses[status], op.responses[status]
                if mine is not None and theirs is not None:
                    check.shape(where, "", mine, theirs, None, request=False)
                elif mine is not None or (theirs is not None and status.startswith("2")):
                    check.add(where, BODY, ONLY_SPEC if mine is None else ONLY_CLIENT)
        found.extend(check.found)
    return found


def unaccepted(spec: dict[str, Any]) -> list[Difference]:
    """The differences no x-drift note accepts."""
    accepts = {op.operation_id: op.accepts for op in spec_operations(spec)}
    return [item.difference for item in compare(spec) if not item.accepted(accepts[item.difference.operation])]


def _noted_nodes(node: Any, trail: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every spec property and parameter that carries x-drift acceptances, with where it is."""
    if isinstance(node, dict):
        is_property = len(trail) >= 2 and trail[-2] == "properties"
        is_parameter = "in" in node and "name" in node
        if (is_property or is_parameter) and acceptances(node.get("x-drift")):
            yield "/".join(trail), node
        for key, value in node.items():
            yield from _noted_nodes(value, trail + (str(key),))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _noted_nodes(value, trail + (str(index),))


def stale_acceptances(spec: dict[str, Any]) -> list[str]:
    """x-drift acceptances that match no difference any more (the note is no longer true)."""
    found = compare(spec)
    stale: list[str] = []
    for op in spec_operations(spec):
        keys = {item.difference.key for item in found if item.difference.operation == op.operation_id}
        stale.extend(f"{op.operation_id}: {key}" for key in sorted(op.accepts - keys))
    used = {(item.node.origin, item.difference.what) for item in found if item.node is not None}
    seen: set[int] = set()
    for where, node in _noted_nodes(spec):
        if id(node) not in seen:  # a YAML alias shares one node between places
            seen.add(id(node))
            stale.extend(f"{where}: {key}" for key in sorted(acceptances(node["x-drift"]))
                         if (id(node), key) not in used)
    return stale


def _report(differences: list[Difference]) -> str:
    lines = [f"{len(differences)} difference(s) between spec/ibl-data-manager.yaml and the iblai "
             f"{CLIENT_VERSION} client that no x-drift note accepts:"]
    lines += [f"  {d}" for d in differences]
    lines += ["Fix the spec (and the mock), or accept one with an x-drift note that says why, on the operation:",
              "  x-drift: [{why: <reason>, accepts: ['<where> / <field>: <what differs>']}]",
              "or on the spec property / parameter where it arises: accepts: ['<what differs>']."]
    return "\n".join(lines)


# --- the tests ------------------------------------------------------------------------------------


def test_the_installed_client_is_the_one_compared() -> None:
    assert version("iblai") == CLIENT_VERSION


def test_the_reader_sees_the_clients_models() -> None:
    """The client reader finds what the generated code states (so an empty comparison means something)."""
    memory = model_shape(iblai.models.UserAllChatMemoryView).fields
    assert memory is not None
    assert (memory["id"].required, memory["id"].read_only) == (True, True)
    assert (memory["username"].required, memory["username"].shape.constraints) == (True, {"maxLength": 500})
    assert (memory["session_id"].nullable, memory["session_id"].shape.type) == (True, "uuid")
    status = model_shape(iblai.models.UserChatMemoryStatusView).fields
    assert status is not None and (status["enabled"].required, status["enabled"].nullable) == (False, False)
    version_fields = model_shape(iblai.models.ArtifactVersion).fields
    assert version_fields is not None
    assert version_fields["interface"].shape.enum == ("chat", "api")
    assert version_fields["artifact"].shape.fields is not None
    history = client_operation("ai_analytics_orgs_users_chat_history_list")
    assert history is not None
    assert history.query["topics"].shape.constraints == {"minLength": 1}
    assert history.query["mentor"].shape.type == "uuid" and not history.query["mentor"].required
    # Enums and conint/constr bounds do not occur in these operations' models; read them where they do.
    notification = model_shape(iblai.models.Notification).fields
    assert notification is not None and notification["status"].shape.enum == ("READ", "UNREAD", "CANCELLED", "")
    assert client_shape(conint(ge=0, le=10)).constraints == {"minimum": 0, "maximum": 10}
    assert client_shape(constr(min_length=1, pattern="^a")).constraints == {"minLength": 1, "pattern": "^a"}
    analytics = client_operation("ai_analytics_orgs_users_average_messages_per_session_list")
    assert analytics is not None and analytics.query["start_date"].required
    assert analytics.responses["200"] is not None and analytics.responses["200"].type == "array"
    fields = sum(len(model_shape(getattr(iblai.models, n)).fields or {})
                 for n in ("Artifact", "Conversations", "CustomInstructionResponse"))
    assert fields == 13 + 26 + 5


def test_every_ibl_operation_has_a_client_method() -> None:
    ops = list(spec_operations(load_spec()))
    assert len(ops) == 35
    assert [op.operation_id for op in ops if client_operation(op.operation_id) is None] == []


def test_spec_matches_the_client_models() -> None:
    """Every request and response field, query and path parameter agrees, or an x-drift note says why."""
    differences = unaccepted(load_spec())
    assert not differences, _report(differences)


def test_every_drift_acceptance_still_applies() -> None:
    """An x-drift acceptance that matches nothing is a note that is no longer true."""
    stale = stale_acceptances(load_spec())
    assert not stale, "x-drift acceptances that match no difference (remove or correct them):\n  " + "\n  ".join(stale)


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return spec["components"]["schemas"][name]  # type: ignore[no-any-return]


def _drop_required(spec: dict[str, Any]) -> None:
    _schema(spec, "AIUserProfileRequest")["required"].remove("detail")


def _blank_allowed(spec: dict[str, Any]) -> None:
    del spec["components"]["parameters"]["ch_topics"]["schema"]["minLength"]


def _not_nullable(spec: dict[str, Any]) -> None:
    del _schema(spec, "AIUserProfileMemoryRelation")["properties"]["detail"]["nullable"]


def _longer(spec: dict[str, Any]) -> None:
    _schema(spec, "TopicModel")["properties"]["name"]["maxLength"] = 300


def _writable_id(spec: dict[str, Any]) -> None:
    del _schema(spec, "UserEdxMemory")["properties"]["id"]["readOnly"]


def _wrong_type(spec: dict[str, Any]) -> None:
    _schema(spec, "MessageStatistics")["properties"]["avg_messages"]["type"] = "number"


def _lost_field(spec: dict[str, Any]) -> None:
    del _schema(spec, "ChatHistoryItem")["properties"]["timestamp"]


def _extra_field(spec: dict[str, Any]) -> None:
    _schema(spec, "UserChatMemoryStatusRequestView")["properties"]["note"] = {"type": "string"}


def _enum(spec: dict[str, Any]) -> None:
    _schema(spec, "TopicModel")["properties"]["name"]["enum"] = ["a", "b"]


def _query_type(spec: dict[str, Any]) -> None:
    spec["components"]["parameters"]["artifact_mentor_id"]["schema"] = {"type": "string"}


def _lost_query(spec: dict[str, Any]) -> None:
    params = spec["paths"]["/api/ai-mentor/orgs/{org}/users/{user_id}/edx-memory/"]["get"]["parameters"]
    params[:] = [p for p in params if p.get("name") != "student"]


def _path_type(spec: dict[str, Any]) -> None:
    spec["components"]["parameters"]["memory_id"]["schema"] = {"type": "string"}


def _bound(spec: dict[str, Any]) -> None:
    spec["components"]["parameters"]["page"]["schema"]["minimum"] = 1


def _body_optional(spec: dict[str, Any]) -> None:
    path = spec["paths"]["/api/ai-mentor/orgs/{org}/users/{user_id}/artifacts/{id}/versions/set-current/"]
    path["post"]["requestBody"]["required"] = False


def _status(spec: dict[str, Any]) -> None:
    ops = spec["paths"]["/api/ai-mentor/orgs/{org}/users/{user_id}/ai-user-profile-memory/"]
    ops["post"]["responses"]["201"] = ops["post"]["responses"].pop("200")


_P = "ai_mentor_orgs_users_ai_user_profile_memory_"
_CH = "ai_analytics_orgs_users_chat_history_"


@pytest.mark.parametrize(("breakage", "expected"), [
    (_drop_required, f"{_P}create / request / detail: required (client yes, spec no)"),
    (_blank_allowed, f"{_CH}list / query / topics: minLength (client 1, spec none)"),
    (_not_nullable, f"{_P}list / response 200 / [].detail: nullable (client yes, spec no)"),
    (_longer, f"{_CH}create / request / topics[].name: maxLength (client 255, spec 300)"),
    (_writable_id, "ai_mentor_orgs_users_edx_memory_retrieve / response 200 / id: readOnly (client yes, spec no)"),
    (_wrong_type, "ai_analytics_orgs_users_average_messages_per_session_list / response 200 / [].avg_messages: "
                  "type (client integer, spec number)"),
    (_lost_field, "ai_mentor_orgs_users_downloads_tasks_retrieve / response 200 / timestamp: only in the client"),
    (_extra_field, "ai_prompt_orgs_users_chat_memory_status_update / request / note: only in the spec"),
    (_enum, f"{_CH}create / request / topics[].name: enum (client none, spec [a, b])"),
    (_query_type, "ai_mentor_orgs_users_artifacts_list / query / mentor_id: type (client uuid, spec string)"),
    (_lost_query, "ai_mentor_orgs_users_edx_memory_list / query / student: only in the client"),
    (_path_type, "ai_prompt_orgs_users_all_chats_memory_destroy2 / path / memory_id: type (client integer, spec string)"),
    (_bound, "ai_mentor_orgs_users_edx_memory_list / query / page: minimum (client none, spec 1)"),
    (_body_optional, "ai_mentor_orgs_users_artifacts_versions_set_current_create / request / (body): "
                     "required (client yes, spec no)"),
    (_status, f"{_P}create / response 201 / (status): only in the spec"),
], ids=lambda value: getattr(value, "__name__", ""))
def test_the_comparison_catches_a_new_difference(breakage: Any, expected: str) -> None:
    """Each kind of difference, introduced into a copy of the spec, is reported by name."""
    spec = copy.deepcopy(load_spec())
    breakage(spec)
    assert expected in {str(d) for d in unaccepted(spec)}


def test_a_note_that_no_longer_applies_is_reported() -> None:
    """Fixing a difference in a copy of the spec leaves its note stale, and the stale check names it."""
    spec = copy.deepcopy(load_spec())
    _schema(spec, "Artifact")["required"].append("version_count")
    stale = stale_acceptances(spec)
    assert stale == ["components/schemas/Artifact/properties/version_count: required (client yes, spec no)"]
