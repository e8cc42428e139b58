"""Forced answers: one of the operation's declared responses, from the spec, instead of the stateful mock's.

Which response: the preferred ``code``; else the one holding the preferred ``example`` (the 2xx
first, then the others in the spec's order); else the first 2xx. Its body: the named example;
with ``dynamic=true``, one drawn from the schema, seeded by the mock's seed (or the preferred
``seed``) and the request's method and path, so the same request gets the same body; otherwise
the spec's own example (the first named one, then ``example``, then the schema's), or, where the
spec has none, a body built from the schema and its property examples, the same every time. The
Content-Type is the response's first media type; headers the response declares are filled too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from connexion.operations import OpenAPIOperation
from starlette.responses import Response
from starlette.types import Scope

from ..wire import dumps
from .generate import generate
from .prefer import BadPreference, Preferences


def body_seed(scope: Scope, seed: int) -> str:
    """What seeds a dynamic body: a seed, and the request's method and path."""
    return f"{seed}:{scope['method']}:{scope['path']}"


@dataclass(frozen=True)
class Choice:
    """The declared response a request will get, and how its body is made."""

    status: int
    key: str  # its key among the operation's responses ('404', '4XX', 'default')
    example: str | None
    dynamic: bool
    seed: int | None
    asked: tuple[str, ...]  # the preferences it honours, as Preference-Applied names them


class Answers:
    """One operation's declared responses, as forced answers draw on them."""

    def __init__(self, operation: OpenAPIOperation) -> None:
        self.operation_id = str(operation.operation_id)
        self.responses: dict[str, Any] = operation.responses
        keys = list(self.responses)
        self.success = next((key for key in sorted(keys) if key.startswith("2")), keys[0] if keys else "200")
        # Where a named example is looked for when no code is preferred: the 2xx first.
        self.search_order = sorted(keys, key=lambda key: not key.startswith("2"))

    def declared(self) -> str:
        """The codes the operation declares, for a message."""
        return ", ".join(self.responses)

    def key_for(self, code: str) -> str | None:
        """The responses key that covers status ``code``: its own, its range (``4XX``), or ``default``."""
        for key in (code, f"{code[0]}XX", f"{code[0]}xx", "default"):
            if key in self.responses:
                return key
        return None

    def choose(self, wanted: Preferences) -> Choice:
        """The response ``wanted`` asks for; BadPreference when the operation has none such."""
        asked = []
        if wanted.example is not None and wanted.dynamic:
            raise BadPreference(f"example={wanted.example} names a fixed body and dynamic=true asks for a generated "
                                "one: prefer one of them")
        if wanted.code is not None:
            key = self.key_for(wanted.code)
            if key is None:
                raise BadPreference(f"code={wanted.code}: this operation does not declare it; it declares "
                                    f"{self.declared()}")
            status = int(wanted.code)
            asked.append(f"code={wanted.code}")
        else:
            key = self.success
            if wanted.example is not None:
                key = next((k for k in self.search_order if self._example(k, wanted.example) is not None), key)
            status = int(key) if key.isdigit() else 200
        if wanted.example is not None:
            if self._example(key, wanted.example) is None:
                names = ", ".join(self._example_names(key)) or "none"
                raise BadPreference(f"example={wanted.example}: the {key} response has no example of that name "
                                    f"(its examples: {names})")
            asked.append(f"example={wanted.example}")
        if wanted.dynamic is not None:
            asked.append(f"dynamic={'true' if wanted.dynamic else 'false'}")
        if wanted.dynamic and wanted.seed is not None:
            asked.append(f"seed={wanted.seed}")
        return Choice(status, key, wanted.example, bool(wanted.dynamic), wanted.seed, tuple(asked))

    def body(self, choice: Choice, seed: str) -> tuple[str | None, Any]:
        """The media type and body of ``choice`` (None, None: a reply without one); ``seed`` drives dynamic bodies."""
        content = self.responses[choice.key].get("content") or {}
        if not content or choice.status in (204, 304):
            return None, None
        if choice.example is not None:
            media_type, value = self._example(choice.key, choice.example)  # type: ignore[misc]
            return media_type, value
        media_type, definition = next(iter(content.items()))
        schema = definition.get("schema", {})
        if choice.dynamic:
            return media_type, generate(schema, random.Random(seed))
        examples = self._spec_examples(definition)
        if examples:
            return media_type, examples[0]
        return media_type, generate(schema, random.Random(f"{self.operation_id}:{choice.key}"), examples=True)

    def reply(self, choice: Choice, seed: str, headers: dict[str, str] | None = None) -> Response:
        """The whole forced reply: status, the response's declared headers (and ``headers``), body."""
        media_type, value = self.body(choice, seed)
        declared = {name: str(generate(spec.get("schema", {}), random.Random(f"{seed}:{name}"), examples=True))
                    for name, spec in self.responses[choice.key].get("headers", {}).items()
                    if name.lower() != "content-type"}
        content = b"" if media_type is None else (value.encode() if isinstance(value, str) and "json" not in media_type
                                                  else dumps(value))
        return Response(content if media_type is not None else None, choice.status,
                        {**declared, **(headers or {})}, media_type)

    def _spec_examples(self, definition: dict[str, Any]) -> list[Any]:
        """The spec's own examples of one media type, in connexion's order of preference."""
        found = [example["value"] for example in (definition.get("examples") or {}).values() if "value" in example]
        for holder in (definition, definition.get("schema", {})):
            if "example" in holder:
                found.append(holder["example"])
        return found

    def _example(self, key: str, name: str) -> tuple[str, Any] | None:
        """(media type, value) of the named example of response ``key``, or None."""
        for media_type, definition in (self.responses[key].get("content") or {}).items():
            example = (definition.get("examples") or {}).get(name)
            if isinstance(example, dict) and "value" in example:
                return media_type, example["value"]
        return None

    def _example_names(self, key: str) -> list[str]:
        return [name for definition in (self.responses[key].get("content") or {}).values()
                for name in (definition.get("examples") or {})]
