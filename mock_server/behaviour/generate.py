"""Values from the spec's schemas (OpenAPI 3.0), the same for the same random source.

``generate(schema, rng)`` draws a response body: types, ``properties``/``required``, ``items``
with ``minItems``/``maxItems``, ``additionalProperties``, ``enum``/``const``, the formats
``date-time``, ``date``, ``uuid``, ``uri``, ``email`` and ``byte``, ``minLength``/``maxLength``,
``minimum``/``maximum`` (exclusive too), ``nullable``, ``allOf``, ``oneOf`` (a value that matches
exactly one branch) and ``anyOf``. With ``examples=True`` (the static answer) a schema's own
``example`` or ``default`` is taken where it has one, every optional property is filled and
nothing is null; otherwise (``dynamic=true``) optional properties and nulls come and go.
"""

from __future__ import annotations

import base64
import copy
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker

WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
         "kestrel", "lumen", "meadow", "nectar", "orbit", "pebble", "quartz", "river", "sierra", "tundra")
MAX_DEPTH = 8  # past it arrays and objects get only what their schema requires
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
_SPAN = 3 * 365 * 24 * 3600  # seconds of dates drawn from, from _EPOCH
_ONE_OF_TRIES = 8


def generate(schema: dict[str, Any], rng: random.Random, *, examples: bool = False) -> Any:
    """A value valid against ``schema`` (resolved, no ``$ref``), drawn from ``rng``."""
    return _Generator(rng, examples).value(schema, 0)


class _Generator:
    def __init__(self, rng: random.Random, examples: bool) -> None:
        self.rng = rng
        self.examples = examples

    def value(self, schema: dict[str, Any], depth: int) -> Any:
        if self.examples:
            for key in ("example", "default"):
                if key in schema:
                    return copy.deepcopy(schema[key])
        if "const" in schema:
            return copy.deepcopy(schema["const"])
        if schema.get("nullable") and not self.examples and self.rng.random() < 0.1:
            return None
        if "enum" in schema:
            choices = [choice for choice in schema["enum"] if choice is not None] or [None]
            return copy.deepcopy(choices[0] if self.examples else self.rng.choice(choices))
        if "allOf" in schema:
            return self.value(_merged(schema), depth)
        if "oneOf" in schema:
            return self._one_of(schema["oneOf"], depth)
        if "anyOf" in schema:
            branches = schema["anyOf"]
            return self.value(branches[0] if self.examples else self.rng.choice(branches), depth)
        kind = schema.get("type") or ("object" if "properties" in schema or "additionalProperties" in schema
                                      else "array" if "items" in schema else "string")
        draw = {"object": self._object, "array": self._array, "integer": self._integer, "number": self._number,
                "boolean": self._boolean}.get(kind, self._string)
        return draw(schema, depth)

    def _one_of(self, branches: list[dict[str, Any]], depth: int) -> Any:
        """A value of one branch that no other branch takes (else oneOf refuses it)."""
        validators = [OAS30ReadValidator(branch, format_checker=oas30_format_checker) for branch in branches]
        order = list(range(len(branches)))
        if not self.examples:
            self.rng.shuffle(order)
        candidate: Any = None
        for attempt in range(_ONE_OF_TRIES):
            index = order[attempt % len(order)]
            candidate = self.value(branches[index], depth)
            if sum(validator.is_valid(candidate) for validator in validators) == 1:
                return candidate
        return candidate

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        required = set(schema.get("required", ()))
        body: dict[str, Any] = {}
        for name, prop in schema.get("properties", {}).items():
            if prop.get("writeOnly") and name not in required:
                continue  # a reply never carries it
            wanted = name in required or (depth < MAX_DEPTH and (self.examples or self.rng.random() < 0.5))
            if wanted:
                body[name] = self.value(prop, depth + 1)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not schema.get("properties") and depth < MAX_DEPTH:
            for index in range(1 if self.examples else self.rng.randint(1, 2)):
                body[WORDS[index] if self.examples else self.rng.choice(WORDS)] = self.value(extra, depth + 1)
        return body

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", low + 3))
        if depth >= MAX_DEPTH:
            count = low
        elif self.examples:
            count = min(max(low, 1), high)
        else:
            count = self.rng.randint(low, max(low, min(high, low + 3)))
        items = schema.get("items", {})
        return [self.value(items, depth + 1) for _ in range(count)]

    def _string(self, schema: dict[str, Any], depth: int) -> str:  # also what a schema without a type gets
        rng = self.rng
        fmt = schema.get("format")
        if fmt == "date-time":
            return (_EPOCH + timedelta(seconds=rng.randrange(_SPAN))).strftime("%Y-%m-%dT%H:%M:%SZ")
        if fmt == "date":
            return (_EPOCH + timedelta(days=rng.randrange(_SPAN // 86400))).strftime("%Y-%m-%d")
        if fmt == "uuid":
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if fmt in ("uri", "url"):
            return f"https://example.com/{rng.choice(WORDS)}/{rng.randrange(1000)}"
        if fmt == "email":
            return f"{rng.choice(WORDS)}.{rng.choice(WORDS)}@example.com"
        if fmt == "byte":
            return base64.b64encode(rng.randbytes(rng.randint(1, 12))).decode("ascii")
        low = int(schema.get("minLength", 0))
        high = int(schema.get("maxLength", max(low, 40)))
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        if len(text) < low:
            text += "x" * (low - len(text))
        return text[:high]

    def _integer(self, schema: dict[str, Any], depth: int) -> int:
        low, high = _bounds(schema, 1)
        return self.rng.randint(int(low), int(high))

    def _number(self, schema: dict[str, Any], depth: int) -> float:
        low, high = _bounds(schema, 0.01)
        value = round(self.rng.uniform(low, high), 2)
        return min(max(value, low), high)

    def _boolean(self, schema: dict[str, Any], depth: int) -> bool:
        return self.examples or self.rng.random() < 0.5


def _bounds(schema: dict[str, Any], step: float) -> tuple[float, float]:
    """The inclusive range a number may take (exclusive bounds moved in by ``step``)."""
    low = schema.get("minimum")
    high = schema.get("maximum")
    if low is not None and schema.get("exclusiveMinimum"):
        low += step
    if high is not None and schema.get("exclusiveMaximum"):
        high -= step
    if low is None:
        low = 0 if high is None or high >= 0 else high - 1000
    if high is None:
        high = low + 1000
    return low, high


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    """An ``allOf`` as one schema: the branches' keywords together, properties and required joined."""
    merged: dict[str, Any] = {key: value for key, value in schema.items() if key != "allOf"}
    for branch in schema["allOf"]:
        branch = _merged(branch) if "allOf" in branch else branch
        for key, value in branch.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **value}
            elif key == "required":
                merged["required"] = [*merged.get("required", []), *value]
            else:
                merged.setdefault(key, value)
    return merged
