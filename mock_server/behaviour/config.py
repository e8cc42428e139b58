"""One namespace's behaviour, as ``/_mock/behaviour`` sets it: latency and network faults, per operation.

The document::

    {"seed": 7,                                  # of every draw below; default: the mock's --seed
     "latency": "uniform:20ms-80ms",             # every operation of the namespace
     "fault": "503", "probability": 0.05,        # every operation (retry_after: s, duration: ms)
     "operations": {"list_memories": {"latency": "200ms", "fault": "reset", "probability": 0.2}}}

An operation's ``latency`` replaces the namespace's, which replaces ``--latency``; an
operation's fault replaces the namespace's. Each operation draws its faults and its delays from
random sources of its own, seeded by the seed and its name, so its sequence does not depend on
the other operations' traffic; the draws start afresh at each PUT.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequest, Problem
from .latency import Latency, parse_latency
from .network import STATUS_FAULTS, FaultSpec, fault_spec

KEY = "behaviour"  # where each MockState keeps its namespace's Behaviour
RULE_FIELDS = ("latency", "fault", "probability", "retry_after", "duration")


@dataclass(frozen=True)
class Rule:
    """Latency and a fault, for one operation or for all of a namespace."""

    latency: Latency | None = None
    fault: FaultSpec | None = None
    probability: float = 1.0

    def view(self) -> dict[str, Any]:
        """As the document writes it."""
        view: dict[str, Any] = {} if self.latency is None else {"latency": self.latency.text}
        if self.fault is not None:
            view.update(self.fault.view(), probability=self.probability)
        return view


class Activity:
    """Whether anything but a request's own Prefer header can hold or break requests: the request path's shortcut.

    ``idle`` while there is no ``--latency`` and no namespace has a behaviour of its own (a
    namespace dropped is cleared first: ``BehaviourPlugin.detach``).
    """

    def __init__(self, serve_latency: Latency | None) -> None:
        self.serve_latency = serve_latency
        self.busy = 0
        self.idle = serve_latency is None

    def changed(self, by: int) -> None:
        """A namespace's behaviour came (+1) or went (-1)."""
        self.busy += by
        self.idle = self.serve_latency is None and self.busy == 0


class Behaviour:
    """One namespace's latency and faults; ``idle`` when nothing applies to its requests."""

    def __init__(self, operations: frozenset[str], activity: Activity, mock_seed: Callable[[], int]) -> None:
        self.operations = operations
        self.activity = activity
        self.serve_latency = activity.serve_latency
        self.mock_seed = mock_seed
        self.has_own = False
        self.clear()

    def clear(self) -> None:
        """Back to no behaviour of its own (``--latency`` still applies)."""
        self.seed: int | None = None
        self.top = Rule()
        self.rules: dict[str, Rule] = {}
        self._draws: dict[tuple[str, str], random.Random] = {}
        self._own(False)

    def _own(self, has: bool) -> None:
        """Note whether the namespace has a behaviour of its own now."""
        if has != self.has_own:
            self.has_own = has
            self.activity.changed(1 if has else -1)
        self.idle = not has and self.serve_latency is None

    def replace(self, document: dict[str, Any]) -> None:
        """Take ``document`` as the namespace's behaviour; InvalidRequest (nothing changed) if it is not one."""
        problems: list[Problem] = []
        seed = document.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            problems.append(_problem(("seed",), seed, "The seed is a whole number from 0."))
        top = _rule(document, (), problems)
        rules = {}
        for name, rule in (document.get("operations") or {}).items():
            if name not in self.operations:
                near = difflib.get_close_matches(name, self.operations, 3)
                hint = (f"Did you mean {' or '.join(near)}?" if near
                        else f"The operations: {', '.join(sorted(self.operations))}.")
                problems.append(_problem(("operations", name), name, f"No operation {name!r} in either API. {hint}"))
            elif not isinstance(rule, dict):
                problems.append(_problem(("operations", name), rule, "An operation's behaviour is an object."))
            else:
                rules[name] = _rule(rule, ("operations", name), problems)
        if problems:
            raise InvalidRequest(problems)
        self.clear()
        self.seed, self.top = seed, top
        self.rules = {name: rule for name, rule in rules.items() if rule != Rule()}
        self._own(top != Rule() or bool(self.rules))

    def view(self) -> dict[str, Any]:
        """The behaviour as GET shows it: the document, the seed in use, and ``--latency``."""
        return {
            "seed": self._seed(),
            **self.top.view(),
            "operations": {name: rule.view() for name, rule in sorted(self.rules.items())},
            "serve_latency": None if self.serve_latency is None else self.serve_latency.text,
        }

    def delay(self, operation: str) -> float:
        """Seconds to hold a request to ``operation`` before serving it (0: none)."""
        rule = self.rules.get(operation)
        latency = (rule.latency if rule is not None else None) or self.top.latency or self.serve_latency
        return 0.0 if latency is None else latency.sample(self._draw(operation, "latency"))

    def fault(self, operation: str) -> FaultSpec | None:
        """The fault a request to ``operation`` meets this time, if any."""
        rule = self.rules.get(operation)
        if rule is None or rule.fault is None:
            rule = self.top
        if rule.fault is None:
            return None
        if rule.probability < 1.0 and self._draw(operation, "fault").random() >= rule.probability:
            return None
        return rule.fault

    def _draw(self, operation: str, what: str) -> random.Random:
        found = self._draws.get((operation, what))
        if found is None:
            found = self._draws[(operation, what)] = random.Random(f"{self._seed()}:{what}:{operation}")
        return found

    def _seed(self) -> int:
        return self.mock_seed() if self.seed is None else self.seed


def _problem(where: tuple[str, ...], value: Any, message: str) -> Problem:
    return Problem("body", where, "custom", value, {"message": message})


def _rule(fields: dict[str, Any], where: tuple[str, ...], problems: list[Problem]) -> Rule:
    """The rule ``fields`` give, its problems added to ``problems``."""
    latency = fault = None
    raw = fields.get("latency")
    if raw is not None:
        try:
            latency = parse_latency(str(raw))
        except ValueError as exc:
            problems.append(_problem((*where, "latency"), raw, str(exc)))
    name, probability = fields.get("fault"), fields.get("probability", 1.0)
    retry_after, duration = fields.get("retry_after"), fields.get("duration")
    if name is None:
        for extra in ("probability", "retry_after", "duration"):
            if fields.get(extra) is not None:
                problems.append(_problem((*where, extra), fields[extra], f"{extra} goes with a fault."))
        return Rule(latency)
    if retry_after is not None and name not in STATUS_FAULTS:
        problems.append(_problem((*where, "retry_after"), retry_after, "retry_after goes with the faults 500, 503 "
                                                                        "and 429."))
    if duration is not None and name != "dribble":
        problems.append(_problem((*where, "duration"), duration, "duration goes with the fault dribble."))
    if not isinstance(probability, (int, float)) or isinstance(probability, bool) or not 0 <= probability <= 1:
        problems.append(_problem((*where, "probability"), probability, "The probability is a number from 0 to 1."))
        probability = 1.0
    try:
        fault = fault_spec(str(name), retry_after, None if duration is None else float(duration))
    except (TypeError, ValueError) as exc:
        problems.append(_problem((*where, "fault"), name, str(exc)))
    return Rule(latency, fault, float(probability))
