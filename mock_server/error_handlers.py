"""Every failure, from connexion or from the domain, answered through ``errors.render``.

The request path (``request_path.py``) answers the errors of routed requests with ``error_reply``;
connexion's exception middleware answers the rest (unknown paths, Swagger UI) through the
handlers ``install`` registers. connexion's own problems are restated as domain errors here, so
``errors.render`` stays the one place that knows each API's house style.
"""

from __future__ import annotations

import logging

from connexion import AsyncApp
from connexion.exceptions import (
    NonConformingResponse,
    OAuthProblem,
    OAuthResponseProblem,
    OAuthScopeProblem,
    ProblemException,
    UnsupportedMediaTypeProblem,
)
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException
from starlette.types import Scope

from .errors import (
    InvalidRequest,
    MethodNotAllowed,
    MockError,
    NotAuthenticated,
    PermissionDenied,
    Problem,
    UnsupportedMediaType,
    headers_for,
    not_found,
    render,
)
from .headers import first_header
from .validation import style_of
from .wire import dumps

logger = logging.getLogger("memmock")

Reply = tuple[int, object, dict[str, str]]  # status, JSON body, headers


def error_reply(exc: Exception, scope: Scope) -> Reply | None:
    """The answer to ``exc`` in the request's API style; None for an exception no handler knows (a 500)."""
    if isinstance(exc, MockError):
        status, body = render(exc, style_of(scope))
        return status, body, headers_for(exc)
    if isinstance(exc, NonConformingResponse):
        # The mock broke its own contract: say so loudly (strict mode and tests only).
        logger.error("response does not conform to the spec: %s", exc.detail)
        return 500, {"detail": "memmock response does not conform to the spec", "reason": exc.detail}, {}
    if isinstance(exc, ProblemException):
        error = _problem_as_error(exc, scope)
        return error_reply(error, scope) if error is not None else (exc.status, {"detail": str(exc.detail or exc.title)}, {})
    if isinstance(exc, HTTPException):
        # Starlette's routing answers: unknown paths (and methods it finds itself).
        if exc.status_code == 404:
            return error_reply(not_found(style_of(scope)), scope)
        if exc.status_code == 405:
            status, body, headers = error_reply(MethodNotAllowed(scope["method"]), scope)  # type: ignore[misc]
            return status, body, {**headers, **dict(exc.headers or {})}
        return exc.status_code, {"detail": exc.detail}, {}
    return None


def _problem_as_error(exc: ProblemException, scope: Scope) -> MockError | None:
    """connexion's own problems, as the domain error each one is."""
    if isinstance(exc, (OAuthProblem, OAuthResponseProblem)):
        return NotAuthenticated("missing")
    if isinstance(exc, OAuthScopeProblem):
        return PermissionDenied()
    if isinstance(exc, UnsupportedMediaTypeProblem):
        raw = first_header(scope["headers"], b"content-type", any_case=True) or b""
        return UnsupportedMediaType(raw.decode("latin-1").split(";")[0].strip())
    if exc.status == 404:
        return not_found(style_of(scope))
    if exc.status == 405:
        return MethodNotAllowed(scope["method"])
    if exc.status == 400:
        return InvalidRequest([Problem("body", (), "custom", None, {"message": str(exc.detail)})])
    return None


def _respond(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    reply = error_reply(exc, request.scope)
    if reply is None:
        raise exc
    status, body, headers = reply
    return ConnexionResponse(status_code=status, body=dumps(body), mimetype="application/json",
                             content_type="application/json", headers=headers)


def install(app: AsyncApp) -> None:
    """Register the handlers on a connexion app."""
    for kind in (MockError, ProblemException, HTTPException):
        app.add_error_handler(kind, _respond)
