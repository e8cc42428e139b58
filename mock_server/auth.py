"""Credentials → a principal, for each API; the security functions the specs are wired to.

connexion calls these with the credential its security scheme found. They answer with the
principal (as ``token_info``) or raise ``errors.NotAuthenticated``. Reach (which org and user
a principal may touch) is checked by the handlers through ``api._call.Call``.
"""

from __future__ import annotations

from typing import Any

from connexion.lifecycle import ConnexionRequest

from .errors import NotAuthenticated
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
    return {"sub": principal.username, "principal": principal}


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
