"""Faults of the status code and the response schema: a wrong status, field, type or media type."""

from __future__ import annotations

from typing import Any

from .exchange import Exchange, Reply


def created_as_ok(ex: Exchange, reply: Reply) -> None:
    """A create's 201 becomes 200."""
    reply.status = 200


def server_error(ex: Exchange, reply: Reply) -> None:
    """The reply becomes DRF's bare 500."""
    reply.status = 500
    reply.headers = []
    reply.set_json({"detail": "Internal Server Error"})


def drop_date_updated(ex: Exchange, body: Any) -> Any:
    """The artifact loses its required ``date_updated``."""
    body.pop("date_updated", None)
    return body


def id_as_string(ex: Exchange, body: Any) -> Any:
    """The integer ``id`` is serialised as a string."""
    body["id"] = str(body["id"])
    return body


def null_email(ex: Exchange, body: Any) -> Any:
    """Every conversation of the body (one, or a page's) gets ``email: null``."""
    for item in body["results"] if "results" in body else [body]:
        item["email"] = None
    return body


def text_plain(ex: Exchange, reply: Reply) -> None:
    """The JSON reply is labelled ``text/plain``."""
    reply.set_header("content-type", "text/plain; charset=utf-8")
