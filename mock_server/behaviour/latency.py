"""Latency specs, as ``--latency`` and ``/_mock/behaviour`` take them: a fixed delay or a distribution.

``50ms`` or ``0.05s``: that delay on every request; ``uniform:20ms-80ms``: evenly anywhere between;
``lognormal:median=50ms,sigma=0.5``: mostly near the median with a long tail, as real services are.
No spec may name more than ``MAX_DELAY_MS``, and no drawn delay exceeds it.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

MAX_DELAY_MS = 60_000.0
MAX_SIGMA = 3.0  # beyond it nearly every draw is either ~0 or the cap: no longer a latency
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s)")
_UNIFORM = re.compile(r"uniform:([^-]+)-(.+)")
_LOGNORMAL = re.compile(r"lognormal:(.+)")
FORMS = "'50ms', '0.2s', 'uniform:20ms-80ms' or 'lognormal:median=50ms,sigma=0.5'"


def duration_ms(text: str) -> float:
    """A duration with its unit (``50ms``, ``1.5s``) in milliseconds; ValueError otherwise."""
    given = text.strip()
    match = _DURATION.fullmatch(given.lower())
    if match is None:
        raise ValueError(f"{given!r} is not a duration: a number with its unit, ms or s (50ms, 1.5s)")
    value = float(match.group(1)) * (1000.0 if match.group(2) == "s" else 1.0)
    if value > MAX_DELAY_MS:
        raise ValueError(f"{given!r} is longer than the longest delay, {MAX_DELAY_MS / 1000:g} s")
    return value


@dataclass(frozen=True)
class Latency:
    """A latency: ``fixed`` (``low`` ms), ``uniform`` (``low``..``high`` ms) or ``lognormal`` (median ``low``)."""

    text: str  # the spec as given, for the behaviour's view
    kind: str
    low: float
    high: float = 0.0
    sigma: float = 0.0

    def sample(self, rng: random.Random) -> float:
        """One delay, in seconds."""
        if self.kind == "fixed":
            ms = self.low
        elif self.kind == "uniform":
            ms = rng.uniform(self.low, self.high)
        else:
            ms = rng.lognormvariate(math.log(self.low), self.sigma)
        return min(ms, MAX_DELAY_MS) / 1000.0


def parse_latency(text: str) -> Latency:
    """The ``Latency`` a spec names; ValueError saying what is wrong with it."""
    spec = text.strip()
    try:
        return _parse(spec)
    except ValueError as exc:
        raise ValueError(f"latency {spec!r}: {exc}; a latency is {FORMS}") from None


def _parse(spec: str) -> Latency:
    lowered = spec.lower()
    uniform = _UNIFORM.fullmatch(lowered)
    if uniform is not None:
        low, high = duration_ms(uniform.group(1)), duration_ms(uniform.group(2))
        if low > high:
            raise ValueError("the low end is above the high end")
        return Latency(spec, "uniform", low, high)
    lognormal = _LOGNORMAL.fullmatch(lowered)
    if lognormal is None:
        return Latency(spec, "fixed", duration_ms(spec))
    pairs = (part.partition("=") for part in lognormal.group(1).split(","))
    fields = {key.strip(): value.strip() for key, _, value in pairs}
    if set(fields) != {"median", "sigma"}:
        raise ValueError("lognormal takes median=DURATION,sigma=NUMBER")
    median = duration_ms(fields["median"])
    try:
        sigma = float(fields["sigma"])
    except ValueError:
        raise ValueError(f"sigma {fields['sigma']!r} is not a number") from None
    if median <= 0 or not 0 <= sigma <= MAX_SIGMA:
        raise ValueError(f"the median must be above 0 and sigma from 0 to {MAX_SIGMA:g}")
    return Latency(spec, "lognormal", median, sigma=sigma)
