"""What a handler sees of one request: store, principal, validated inputs, and replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..headers import base_url
from ..journal import JOURNAL_KEY, Journal
from ..models.pagination import Page
from ..namespaces import Namespaces
from ..plan import CURRENT_CALL
from ..state import NAMESPACES_KEY, MockState, VaiPrincipal
from ..store import Store
from ..validation import RequestData
from ..wire import json_response as json
from ..wire import no_content


@dataclass(slots=True)
class Call:
    """The current request, as the handlers use it."""

    scope: dict[str, Any]
    state: MockState
    data: RequestData
    principal: Any

    @property
    def namespaces(self) -> Namespaces:
        """Every namespace the mock keeps (the admin plane's business)."""
        return self.scope["extensions"][NAMESPACES_KEY]  # type: ignore[no-any-return]

    @property
    def journal(self) -> Journal | None:
        """The journal of the requests the mock answered (None: off, ``--journal-size 0``)."""
        return self.scope["extensions"][JOURNAL_KEY]  # type: ignore[no-any-return]

    @property
    def store(self) -> Store:
        """The state every handler reads and writes."""
        return self.state.store

    @property
    def body(self) -> Any:
        """The validated request body (a dict for object bodies)."""
        return self.data.body

    def path(self, name: str) -> Any:
        """A validated path parameter."""
        return self.data.path[name]

    def query(self, name: str, default: Any = None) -> Any:
        """A validated query parameter (its spec default when absent)."""
        return self.data.query.get(name, default)

    def ibl_user(self) -> tuple[str, str]:
        """The path's ``(org, user_id)``; security has already checked the principal reaches them."""
        return self.data.path["org"], self.data.path["user_id"]

    def vai_org(self) -> str:
        """The caller's VirtuousAI organization."""
        principal = self.principal
        assert isinstance(principal, VaiPrincipal)
        return principal.organization_id

    def page_body(self, page: Page) -> dict[str, Any]:
        """A DRF page body with absolute ``next``/``previous`` links that keep the query."""
        return {
            "count": page.count,
            "next": self._page_url(page.number + 1) if page.has_next else None,
            "previous": self._page_url(page.number - 1) if page.has_previous else None,
            "results": page.results,
        }

    def _page_url(self, number: int) -> str:
        query = {k: v for k, v in self.data.raw_query.items() if k != "page"}
        if number > 1:
            query["page"] = str(number)
        return self.base_url() + self.scope["path"] + (f"?{urlencode(query)}" if query else "")

    def base_url(self) -> str:
        """``scheme://host`` as the client addressed the mock."""
        return base_url(self.scope)


def current() -> Call:
    """The ``Call`` for the request being handled (the plan leaves scope, state, data and principal)."""
    return Call(*CURRENT_CALL.get())
