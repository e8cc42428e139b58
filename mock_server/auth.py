"""Credentials → a principal, for each API; the security functions the specs are wired to.

``security.py`` calls these with the credential an operation's security scheme found. They
answer with the principal or raise ``errors.NotAuthenticated``. An ibl principal's reach
(which org and user it may touch) is checked here too, before any body is read, as DRF does.
"""

from __future__ import annotations

import functools
from typing import Any

from starlette.types import Scope

from .errors import NotAuthenticated, PermissionDenied
from .security import PrincipalFunction
from .state import OPERATION_KEY, IblPrincipal, MockState, VaiPrincipal, state_of

IBL_PREFIX = "api-token"
OPEN_USERNAME = "open-mode"
OPEN_VAI_ORGANIZATION = "00000000-0000-4000-8000-000000000001"


def ibl_api_key(api_key: str, scope: Scope) -> IblPrincipal:
    """``Authorization: Api-Token <key>`` → the ibl principal (DRF's TokenAuthentication rules)."""
    scheme, _, key = api_key.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != IBL_PREFIX or not key:
        raise NotAuthenticated("missing")
    state = state_of(scope)
    if state.settings.auth == "open":
        return IblPrincipal(org=str(scope.get("path_params", {}).get("org", "")), username=OPEN_USERNAME, is_admin=True)
    principal = state.store.credentials.ibl(key)
    if principal is None:
        raise NotAuthenticated("invalid")
    _check_reach(principal, scope, state.store.credentials)
    return principal


# The seed: chat-history is "restricted to platform administrators only" (list, CRUD and filter data).
ADMIN_ONLY_OPERATIONS = "ai_analytics_orgs_users_chat_history"


def _check_reach(principal: IblPrincipal, scope: Scope, credentials: Any) -> None:
    """403 before the body is validated: DRF checks permissions before it parses a body."""
    params = scope.get("path_params", {})
    org, username = params.get("org"), params.get("user_id")
    if org is None or username is None:
        return
    operation = scope.get("extensions", {}).get(OPERATION_KEY) or ""
    if not credentials.ibl_can_reach(principal, str(org), str(username)) or (_admin_only(operation) and not principal.is_admin):
        raise PermissionDenied()


@functools.lru_cache(maxsize=None)
def _admin_only(operation_id: str) -> bool:
    return operation_id.rpartition(".")[2].startswith(ADMIN_ONLY_OPERATIONS)


def vai_token(token: str, scope: Scope) -> VaiPrincipal:
    """A VirtuousAI token (``Authorization: Bearer``, ``X-API-Key`` or cookie ``vai_token``) → the principal."""
    token = token.strip()
    if not token:
        raise NotAuthenticated("missing")
    state: MockState = state_of(scope)
    if state.settings.auth == "open":
        return VaiPrincipal(organization_id=OPEN_VAI_ORGANIZATION, name="open mode")
    found = state.store.credentials.vai(token)
    if found is None:
        raise NotAuthenticated("invalid")
    return found


# What each security scheme of the specs means, by the scheme's name.
PRINCIPAL_FUNCTIONS: dict[str, PrincipalFunction] = {
    "PlatformApiKeyAuthentication": ibl_api_key,
    "HTTPBearer": vai_token,
    "APIKeyHeader": vai_token,
    "APIKeyCookie": vai_token,
}
