"""Each operation's security requirements, compiled once from the spec: credentials → a principal.

The rules are OpenAPI's, as connexion applies them: the requirements are alternatives, tried in
order; the schemes of one requirement must all find a credential; a scheme that finds none
passes to the next alternative. When no alternative authenticates, the most telling failure is
raised (403, then 401, then the others, as connexion's ``verify_security`` ranks them), or
"missing" when no credential was sent at all. What a credential means is ``auth.py``'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Scope

from .errors import MockError, NotAuthenticated
from .headers import first_header

# A principal function: (credential, scope) → the principal, or raises a MockError.
PrincipalFunction = Callable[[str, Scope], Any]
_NONE = object()  # a scheme found no credential of its kind
# connexion ranks a failure by its status; a malformed Authorization header is its 401, our own
# errors carry no status and rank after it.
_MALFORMED, _DOMAIN = 401, 600


class MalformedAuthorization(NotAuthenticated):
    """An ``Authorization`` header that is not ``<type> <credentials>``: answered as a missing credential."""

    def __init__(self) -> None:
        super().__init__("missing")


@dataclass(frozen=True, slots=True)
class Scheme:
    """One security scheme: where its credential is, and the function that reads it."""

    kind: str  # "header", "query", "cookie" (API keys) or "bearer"
    name: bytes  # the header (lowercase), query parameter or cookie name
    function: PrincipalFunction

    def credential(self, scope: Scope) -> Any:
        """The credential the request carries for this scheme, or ``_NONE``."""
        headers = scope["headers"]
        if self.kind == "bearer":
            # connexion's get_auth_header_value: the first Authorization header, "<type> <value>".
            authorization = first_header(headers, b"authorization")
            if not authorization:
                return _NONE
            parts = authorization.decode("latin-1").split(maxsplit=1)
            if len(parts) != 2:
                raise MalformedAuthorization()
            return parts[1] if parts[0].lower() == "bearer" else _NONE
        if self.kind == "header":
            value = first_header(headers, self.name)
            return _NONE if value is None else value.decode("latin-1")
        if self.kind == "query":
            name = self.name.decode("latin-1")
            found = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
            return found.get(name, _NONE)
        return _cookie(first_header(headers, b"cookie"), self.name.decode("latin-1"))


def _cookie(header: bytes | None, name: str) -> Any:
    """A cookie's value from the first Cookie header, read as connexion reads it (``SimpleCookie``)."""
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load("None" if header is None else header.decode("latin-1"))
    except CookieError:
        return _NONE
    morsel = cookies.get(name)
    return _NONE if morsel is None else morsel.value


@dataclass(frozen=True, slots=True)
class Authenticator:
    """One operation's requirements: alternatives of schemes that must all authenticate."""

    requirements: tuple[tuple[Scheme, ...], ...]

    def principal(self, scope: Scope) -> Any:
        """The principal of the first requirement the request meets; raises the best reason otherwise."""
        failures: dict[int, MockError] = {}
        for schemes in self.requirements:
            try:
                found = _meet(schemes, scope)
            except MalformedAuthorization as exc:
                failures[_MALFORMED] = exc
                continue
            except MockError as exc:
                failures[_DOMAIN] = exc
                continue
            if found is not _NONE:
                return found
        if failures:
            raise failures[min(failures)]
        raise NotAuthenticated("missing")


def _meet(schemes: tuple[Scheme, ...], scope: Scope) -> Any:
    """The principal when every scheme finds its credential (the last one's principal), else ``_NONE``."""
    principal: Any = _NONE
    for scheme in schemes:
        credential = scheme.credential(scope)
        if credential is _NONE:
            return _NONE
        principal = scheme.function(credential, scope)
    return principal


def compile_security(requirements: Sequence[Mapping[str, Any]], schemes: Mapping[str, Mapping[str, Any]],
                     functions: Mapping[str, PrincipalFunction]) -> Authenticator | None:
    """The ``Authenticator`` of an operation's ``security`` list (None: the operation is open)."""
    alternatives = []
    for requirement in requirements:
        if not requirement:  # ``{}``: anonymous access is one of the alternatives
            return None
        alternatives.append(tuple(_scheme(schemes[name], functions[name]) for name in requirement))
    return Authenticator(tuple(alternatives)) if alternatives else None


def _scheme(definition: Mapping[str, Any], function: PrincipalFunction) -> Scheme:
    if definition["type"] == "http" and definition.get("scheme", "").lower() == "bearer":
        return Scheme("bearer", b"authorization", function)
    if definition["type"] == "apiKey" and definition["in"] in ("header", "query", "cookie"):
        name = definition["name"].lower() if definition["in"] == "header" else definition["name"]
        return Scheme(definition["in"], name.encode("latin-1"), function)
    raise ValueError(f"security scheme {definition!r} is not one memmock serves (API keys and bearer tokens)")
