"""The admin plane's locks: ``/_mock`` reads and replaces every token and record, so guard who reaches it.

- A state change needs ``Content-Type: application/json``: no CORS-simple request (the kind a web
  page sends without a preflight) can reset or replace the state. (The CORS layer adds no headers
  to ``/_mock`` either, so a page cannot read an answer or pass a preflight.)
- On a loopback bind, only requests addressed to a loopback name (``Host: 127.0.0.1``,
  ``localhost``, ``*.localhost``, ``[::1]``) or to a configured name are answered: a page whose
  own name was made to resolve to 127.0.0.1 (DNS rebinding) is refused.
- With an admin token (required beyond loopback), every request needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.types import Scope

from .errors import NotAuthenticated, PermissionDenied, UnsupportedMediaType
from .headers import first_header
from .settings import Settings, is_loopback

ADMIN_PREFIX = "/_mock"
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
CHALLENGE = 'Bearer realm="memmock admin"'


def is_admin_path(path: str) -> bool:
    """Whether a request path is the admin plane's."""
    return path.startswith(ADMIN_PREFIX) and (len(path) == len(ADMIN_PREFIX) or path[len(ADMIN_PREFIX)] == "/")


def host_name(host: str) -> str:
    """The name of a ``Host`` header value, without its port and brackets, lowercased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_loopback_name(name: str) -> bool:
    """Whether a host name (as ``host_name`` gives it) always means this machine."""
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: resolved to loopback, never by DNS
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class AdminLocks:
    """Refuses ``/_mock`` requests that a web page could send, or that lack the admin token.

    The state layer (``state.StateMiddleware``) asks it about every ``/_mock`` request, before
    Swagger UI and routing: the docs are locked too.
    """

    def __init__(self, settings: Settings) -> None:
        self.token = settings.admin_token.encode() if settings.admin_token else None
        # Beyond loopback the token is required (Settings refuses otherwise) and names are not checked.
        self.check_host = is_loopback(settings.host)
        self.names = frozenset(host_name(name) for name in settings.admin_hosts)

    def check(self, scope: Scope) -> None:
        """Raise the domain error that refuses this admin request, if any."""
        headers = scope["headers"]
        if self.check_host:
            raw = first_header(headers, b"host")
            name = host_name(raw.decode("latin-1")) if raw is not None else None
            if name is not None and not is_loopback_name(name) and name not in self.names:
                raise PermissionDenied(
                    f"The admin plane answers only requests addressed to this machine (Host 127.0.0.1, "
                    f"localhost or [::1]); this one was addressed to Host {name!r}. Name others with --admin-host.")
        if self.token is not None:
            authorization = first_header(headers, b"authorization")
            if authorization is None:
                raise NotAuthenticated("missing", challenge=CHALLENGE)
            scheme, _, token = authorization.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self.token):
                raise NotAuthenticated("invalid", challenge=CHALLENGE)
        if scope["method"] not in _READS:
            raw = first_header(headers, b"content-type", any_case=True)
            media_type = raw.decode("latin-1").partition(";")[0].strip().lower() if raw is not None else ""
            if media_type != "application/json":
                raise UnsupportedMediaType(media_type)
