"""Route every failure, from connexion or from the domain, through ``errors.render``.

connexion reports routing, security and media-type failures as its own problem exceptions;
this module restates them as domain errors so that ``errors.render`` stays the one place that
knows each API's house style.
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

from .errors import (
    InvalidRequest,
    MethodNotAllowed,
    MockError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Problem,
    Style,
    UnsupportedMediaType,
    headers_for,
    render,
)
from .validation import style_of
from .wire import dumps

logger = logging.getLogger("memmock")


def _respond(status: int, body: object, headers: dict[str, str] | None = None) -> ConnexionResponse:
    return ConnexionResponse(status_code=status, body=dumps(body), mimetype="application/json",
                             content_type="application/json", headers=headers or {})


def _send(request: ConnexionRequest, error: MockError, headers: dict[str, str] | None = None) -> ConnexionResponse:
    status, body = render(error, style_of(request.scope))
    return _respond(status, body, {**headers_for(error), **(headers or {})})


def on_mock_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """A domain error, raised by a model, a validator or the auth layer."""
    assert isinstance(exc, MockError)
    return _send(request, exc)


def _not_found(request: ConnexionRequest) -> NotFound:
    return NotFound("Not Found") if style_of(request.scope) is Style.FASTAPI else NotFound()


def on_problem(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """connexion's own problems, restated in the API's style."""
    assert isinstance(exc, ProblemException)
    if isinstance(exc, NonConformingResponse):
        # The mock broke its own contract: say so loudly (strict mode and tests only).
        logger.error("response does not conform to the spec: %s", exc.detail)
        return _respond(500, {"detail": "memmock response does not conform to the spec", "reason": exc.detail})
    if isinstance(exc, (OAuthProblem, OAuthResponseProblem)):
        return _send(request, NotAuthenticated("missing"))
    if isinstance(exc, OAuthScopeProblem):
        return _send(request, PermissionDenied())
    if isinstance(exc, UnsupportedMediaTypeProblem):
        media_type = (request.headers.get("content-type") or "").split(";")[0].strip()
        return _send(request, UnsupportedMediaType(media_type))
    if exc.status == 404:
        return _send(request, _not_found(request))
    if exc.status == 405:
        return _send(request, MethodNotAllowed(request.method))
    if exc.status == 400:
        return _send(request, InvalidRequest([Problem("body", (), "custom", None, {"message": str(exc.detail)})]))
    return _respond(exc.status, {"detail": str(exc.detail or exc.title)})


def on_http_exception(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Starlette's routing answers: unknown paths and methods."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _send(request, _not_found(request))
    if exc.status_code == 405:
        return _send(request, MethodNotAllowed(request.method), headers=dict(exc.headers or {}))
    return _respond(exc.status_code, {"detail": exc.detail})


def install(app: AsyncApp) -> None:
    """Register the handlers on a connexion app."""
    app.add_error_handler(MockError, on_mock_error)
    app.add_error_handler(ProblemException, on_problem)
    app.add_error_handler(HTTPException, on_http_exception)
