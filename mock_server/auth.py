"""Credentials → a principal, for each API; the security functions the specs are wired to.

connexion calls these with the credential its security scheme found. They answer with the
principal (as ``token_info``) or raise ``errors.NotAuthenticated``. An ibl principal's reach
(which org and user it may touch) is checked here too, before any body is read, as DRF does.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from connexion.exceptions import OAuthProblem
from connexion.lifecycle import ConnexionRequest
from connexion.security import NO_VALUE, AbstractSecurityHandler, ApiKeySecurityHandler, BearerSecurityHandler

from .errors import NotAuthenticated, PermissionDenied
from .headers import first_header
from .state import IblPrincipal, MockState, VaiPrincipal, state_of

IBL_PREFIX = "api-token"
OPEN_USERNAME = "open-mode"
OPEN_VAI_ORGANIZATION = "00000000-0000-4000-8000-000000000001"


def ibl_api_key(api_key: str, request: ConnexionRequest) -> dict[str, Any]:
    """``Authorization: Api-Token <key>`` → the ibl principal (DRF's TokenAuthentication rules)."""
    scheme, _, key = api_key.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != IBL_PREFIX or not key:
        raise NotAuthenticated("missing")
    state = state_of(request.scope)
    if state.settings.auth == "open":
        org = str(request.scope.get("path_params", {}).get("org", ""))
        return {"sub": OPEN_USERNAME, "principal": IblPrincipal(org=org, username=OPEN_USERNAME, is_admin=True)}
    principal = state.store.credentials.ibl(key)
    if principal is None:
        raise NotAuthenticated("invalid")
    _check_reach(principal, request.scope, state.store.credentials)
    return {"sub": principal.username, "principal": principal}


# The seed: chat-history is "restricted to platform administrators only" (list, CRUD and filter data).
ADMIN_ONLY_OPERATIONS = "ai_analytics_orgs_users_chat_history"


def _check_reach(principal: IblPrincipal, scope: Any, credentials: Any) -> None:
    """403 before the body is validated: DRF checks permissions before it parses a body."""
    params = scope.get("path_params", {})
    org, username = params.get("org"), params.get("user_id")
    if org is None or username is None:
        return
    operation = scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id") or ""
    if not credentials.ibl_can_reach(principal, str(org), str(username)) or (_admin_only(operation) and not principal.is_admin):
        raise PermissionDenied()


@functools.lru_cache(maxsize=None)
def _admin_only(operation_id: str) -> bool:
    return operation_id.rpartition(".")[2].startswith(ADMIN_ONLY_OPERATIONS)


def _vai(token: str, request: ConnexionRequest) -> dict[str, Any]:
    token = token.strip()
    if not token:
        raise NotAuthenticated("missing")
    state: MockState = state_of(request.scope)
    if state.settings.auth == "open":
        principal = VaiPrincipal(organization_id=OPEN_VAI_ORGANIZATION, name="open mode")
    else:
        found = state.store.credentials.vai(token)
        if found is None:
            raise NotAuthenticated("invalid")
        principal = found
    return {"sub": principal.organization_id, "principal": principal}


def vai_bearer(token: str, request: ConnexionRequest) -> dict[str, Any]:
    """``Authorization: Bearer <token>`` → the VirtuousAI principal."""
    return _vai(token, request)


def vai_api_key(api_key: str, request: ConnexionRequest) -> dict[str, Any]:
    """``X-API-Key: <token>`` or cookie ``vai_token`` → the VirtuousAI principal."""
    return _vai(api_key, request)


SECURITY_FUNCTIONS = {
    "PlatformApiKeyAuthentication": ("x-apikeyInfoFunc", "mock_server.auth.ibl_api_key"),
    "HTTPBearer": ("x-bearerInfoFunc", "mock_server.auth.vai_bearer"),
    "APIKeyHeader": ("x-apikeyInfoFunc", "mock_server.auth.vai_api_key"),
    "APIKeyCookie": ("x-apikeyInfoFunc", "mock_server.auth.vai_api_key"),
}


@functools.lru_cache(maxsize=None)
def _accepts_kwarg(func: Callable[..., Any], keyword: str) -> bool:
    return AbstractSecurityHandler._accepts_kwarg(func, keyword)


class _ApiKeyHandler(ApiKeySecurityHandler):
    """connexion's API-key handler, calling our functions directly for keys in a header.

    connexion wraps each function in a generic check (keyword inspection, a None test, a
    coroutine) built for any user function; ours take ``request``, never return None and are
    plain functions, so a header key goes straight to them: same answers, a third of the cost.
    """

    _accepts_kwarg = staticmethod(_accepts_kwarg)

    def _get_verify_func(self, api_key_info_func: Callable[..., Any], loc: str, name: str,
                         required_scopes: Any) -> Callable[[Any], Any]:
        if loc != "header":
            return super()._get_verify_func(api_key_info_func, loc, name, required_scopes)  # type: ignore[no-any-return]
        header = name.lower().encode("latin-1")

        def verify(request: Any) -> Any:
            value = first_header(request.scope["headers"], header)
            return NO_VALUE if value is None else api_key_info_func(value.decode("latin-1"), request=request)

        return verify


class _BearerHandler(BearerSecurityHandler):
    """connexion's bearer handler, calling our function directly (see ``_ApiKeyHandler``)."""

    _accepts_kwarg = staticmethod(_accepts_kwarg)

    def _get_verify_func(self, token_info_func: Callable[..., Any]) -> Callable[[Any], Any]:
        def verify(request: Any) -> Any:
            # connexion's get_auth_header_value on the raw headers: the first Authorization
            # header; "<type> <value>" or OAuthProblem; anything but Bearer is not ours.
            authorization = first_header(request.scope["headers"], b"authorization")
            if not authorization:
                return NO_VALUE
            parts = authorization.decode("latin-1").split(maxsplit=1)
            if len(parts) != 2:
                raise OAuthProblem(detail="Invalid authorization header")
            if parts[0].lower() != "bearer":
                return NO_VALUE
            return token_info_func(parts[1], request=request)

        return verify


SECURITY_MAP = {"apiKey": _ApiKeyHandler, "bearer": _BearerHandler}
