"""ai-mentor: artifacts and their versions; an artifact's content is its current version's."""

from __future__ import annotations

from typing import Any

from mock_server.errors import InvalidRequest, NotFound
from mock_server.models.common import Context, DocReader, Path, norm_uuid, ts
from mock_server.models.pagination import Page, order_items, paginate, parse_ordering

DEFAULT_ORDERING = "-date_updated"
# Versions list newest first: the latest edit is what a client usually wants to see.
DEFAULT_VERSION_ORDERING = "-version_number"
DEFAULT_FILE_EXTENSION = "md"

_FIELDS = {
    "date_created": lambda a: a["date_created"],
    "date_updated": lambda a: a["date_updated"],
    "title": lambda a: a["title"],
}
_VERSION_FIELDS = {
    "version_number": lambda v: v["version_number"],
    "date_created": lambda v: v["date_created"],
}

_ART_SPEC = {
    "id": ("int", True, None),
    "org": ("str", True, None),
    "username": ("str", True, None),
    "title": ("str", True, None),
    "metadata": ("any", False, None),
    "file_extension": ("str", False, DEFAULT_FILE_EXTENSION),
    "llm_name": ("str", False, ""),
    "llm_provider": ("str", False, ""),
    "session_id": ("uuid?", False, None),
    "chat_message": ("int?", False, None),
    "mentor_id": ("uuid?", False, None),
    "date_created": ("datetime", True, None),
    "date_updated": ("datetime", True, None),
    "current_version_id": ("int?", False, None),
    "versions": ("list", True, None),
}
_VERSION_SPEC = {
    "id": ("int", True, None),
    "version_number": ("int", True, None),
    "content": ("str", True, None),
    "session_id": ("uuid?", False, None),
    "chat_message": ("int?", False, None),
    "date_created": ("datetime", True, None),
    "created_by": ("str", False, ""),
    "change_summary": ("str", False, ""),
    "interface": ("str", False, "api"),
}


class ArtifactsBackend:
    """Artifacts per (org, username), each with numbered versions and one current version."""

    SECTIONS = ("artifacts",)

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._items: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._default_view: dict[tuple[str, str], list[dict[str, Any]]] = {}

    # --- artifacts -------------------------------------------------------------------------

    def list(
        self,
        org: str,
        username: str,
        *,
        page: str | int | None = None,
        page_size: str | int | None = None,
        ordering: str | None = None,
        search: str | None = None,
        file_extension: str | None = None,
        llm_name: str | None = None,
        llm_provider: str | None = None,
        session_id: str | None = None,
        chat_message_id: str | None = None,
        mentor_id: str | None = None,
        username_filter: str | None = None,
    ) -> Page:
        """A page of ArtifactList items (``username_filter`` is the ``username`` query)."""
        keys = parse_ordering(ordering, _FIELDS, DEFAULT_ORDERING)
        rows = self._view(org, username, keys)
        if file_extension is not None:
            rows = [a for a in rows if a["file_extension"] == file_extension]
        if llm_name is not None:
            rows = [a for a in rows if a["llm_name"] == llm_name]
        if llm_provider is not None:
            rows = [a for a in rows if a["llm_provider"] == llm_provider]
        if session_id is not None:
            wanted = norm_uuid(session_id) or session_id
            rows = [a for a in rows if a["session_id"] == wanted]
        if chat_message_id is not None:
            # chat_message is an integer id while the query is documented as a UUID: compare as text.
            rows = [a for a in rows if a["chat_message"] is not None and str(a["chat_message"]) == str(chat_message_id)]
        if mentor_id is not None:
            wanted = norm_uuid(mentor_id) or mentor_id
            rows = [a for a in rows if a["mentor_id"] == wanted]
        if username_filter is not None:
            rows = [a for a in rows if a["username"] == username_filter]
        if search:
            needle = search.casefold()
            rows = [a for a in rows if needle in a["title"].casefold() or needle in _content(a).casefold()]
        result = paginate(rows, page, page_size)
        result.results = [_list_out(a) for a in result.results]
        return result

    def create(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create an artifact and its version 1 (interface ``api``, created by ``user:<username>``).

        ``title`` is required; ``metadata``, ``content``, ``file_extension``, ``llm_name``,
        ``llm_provider``, ``session_id`` (a new UUID when absent), ``chat_message``, ``mentor_id``
        and ``change_summary`` are optional.
        """
        title = fields.get("title")
        if title is None:
            raise InvalidRequest.one("body", "title", "required")
        self._ctx.items.take(2)  # the artifact and its version 1
        now = self._ctx.clock.now()
        session_id = norm_uuid(fields.get("session_id")) or self._ctx.ids.uuid4()
        art: dict[str, Any] = {
            "id": self._ctx.ids.next_int("artifact"),
            "org": org,
            "username": username,
            "title": title,
            "metadata": fields.get("metadata"),
            "file_extension": fields.get("file_extension") or DEFAULT_FILE_EXTENSION,
            "llm_name": fields.get("llm_name") or "",
            "llm_provider": fields.get("llm_provider") or "",
            "session_id": session_id,
            "chat_message": fields.get("chat_message"),
            "mentor_id": norm_uuid(fields.get("mentor_id")),
            "date_created": now,
            "date_updated": now,
            "current_version_id": None,
            "versions": {},
        }
        self._add_version(art, fields.get("content") or "", created_by=f"user:{username}",
                          change_summary=fields.get("change_summary") or "", interface="api",
                          session_id=session_id, chat_message=art["chat_message"], when=now)
        self._items.setdefault((org, username), {})[art["id"]] = art
        self._touch(org, username)
        return _full_out(art)

    def retrieve(self, org: str, username: str, artifact_id: int) -> dict[str, Any]:
        """The full Artifact; NotFound if absent or another user's."""
        return _full_out(self._own(org, username, artifact_id))

    def update(self, org: str, username: str, artifact_id: int, fields: dict[str, Any],
               partial: bool = False) -> dict[str, Any]:
        """PUT (``title`` required) or PATCH: write ``title`` and ``metadata``; ``date_updated`` moves."""
        art = self._own(org, username, artifact_id)
        if not partial and fields.get("title") is None:
            raise InvalidRequest.one("body", "title", "required")
        if "title" in fields and fields["title"] is not None:
            art["title"] = fields["title"]
        if "metadata" in fields:
            art["metadata"] = fields["metadata"]
        art["date_updated"] = self._ctx.clock.now()
        self._touch(org, username)
        return _full_out(art)

    def partial_update(self, org: str, username: str, artifact_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """PATCH: as ``update`` with nothing required."""
        return self.update(org, username, artifact_id, fields, partial=True)

    def destroy(self, org: str, username: str, artifact_id: int) -> None:
        """Delete an artifact and its versions; NotFound if absent or another user's."""
        art = self._own(org, username, artifact_id)
        del self._items[(org, username)][artifact_id]
        self._touch(org, username)
        self._ctx.items.give_back(1 + len(art["versions"]))

    # --- versions --------------------------------------------------------------------------

    def list_versions(self, org: str, username: str, artifact_id: int, *, page: str | int | None = None,
                      page_size: str | int | None = None, ordering: str | None = None) -> Page:
        """A page of the artifact's versions, newest (highest version_number) first by default."""
        art = self._own(org, username, artifact_id)
        keys = parse_ordering(ordering, _VERSION_FIELDS, DEFAULT_VERSION_ORDERING)
        rows = order_items(list(art["versions"].values()), keys, _VERSION_FIELDS, lambda v: v["id"])
        result = paginate(rows, page, page_size)
        full = _full_out(art)
        result.results = [_version_out(art, v, full) for v in result.results]
        return result

    def retrieve_version(self, org: str, username: str, artifact_id: int, version_id: int) -> dict[str, Any]:
        """One version; NotFound if the artifact or the version (of this artifact) is absent."""
        art = self._own(org, username, artifact_id)
        version = art["versions"].get(version_id) if isinstance(version_id, int) else None
        if version is None:
            raise NotFound()
        return _version_out(art, version)

    def set_current(self, org: str, username: str, artifact_id: int, version_id: Any) -> dict[str, Any]:
        """Make a version current (the artifact's content follows it); returns that version.

        A version id that is not one of this artifact's -> InvalidRequest on ``version_id``.
        """
        art = self._own(org, username, artifact_id)
        version = art["versions"].get(version_id) if isinstance(version_id, int) and not isinstance(version_id, bool) else None
        if version is None:
            raise InvalidRequest.one("body", "version_id", "custom", version_id,
                                     message=f'Invalid pk "{version_id}" - object does not exist.')
        art["current_version_id"] = version["id"]
        art["date_updated"] = self._ctx.clock.now()
        self._touch(org, username)
        return _version_out(art, version)

    def add_version(self, org: str, username: str, artifact_id: int, content: str, *, created_by: str | None = None,
                    change_summary: str = "", interface: str = "chat", make_current: bool = True) -> dict[str, Any]:
        """Append a version (as a chat edit would; for the admin plane and tests)."""
        art = self._own(org, username, artifact_id)
        self._ctx.items.take()
        now = self._ctx.clock.now()
        version = self._add_version(art, content, created_by=created_by or "llm", change_summary=change_summary,
                                    interface=interface, session_id=art["session_id"],
                                    chat_message=art["chat_message"], when=now, make_current=make_current)
        art["date_updated"] = now
        self._touch(org, username)
        return _version_out(art, version)

    def _add_version(self, art: dict[str, Any], content: str, *, created_by: str, change_summary: str,
                     interface: str, session_id: str | None, chat_message: int | None, when: Any,
                     make_current: bool = True) -> dict[str, Any]:
        number = max((v["version_number"] for v in art["versions"].values()), default=0) + 1
        version = {"id": self._ctx.ids.next_int("artifact_version"), "version_number": number, "content": content,
                   "session_id": session_id, "chat_message": chat_message, "date_created": when,
                   "created_by": created_by, "change_summary": change_summary, "interface": interface}
        art["versions"][version["id"]] = version
        if make_current or art["current_version_id"] is None:
            art["current_version_id"] = version["id"]
        return version

    # --- helpers ---------------------------------------------------------------------------

    def _own(self, org: str, username: str, artifact_id: int) -> dict[str, Any]:
        art = self._items.get((org, username), {}).get(artifact_id) if isinstance(artifact_id, int) else None
        if art is None:
            raise NotFound()
        return art

    def _touch(self, org: str, username: str) -> None:
        self._default_view.pop((org, username), None)

    def _view(self, org: str, username: str, keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
        items = self._items.get((org, username), {})
        if keys == [("date_updated", True)]:
            cached = self._default_view.get((org, username))
            if cached is None:
                cached = order_items(list(items.values()), keys, _FIELDS, lambda a: a["id"])
                self._default_view[(org, username)] = cached
            return cached
        return order_items(list(items.values()), keys, _FIELDS, lambda a: a["id"])

    # --- state -----------------------------------------------------------------------------

    def item_count(self) -> int:
        """How many items this family holds: artifacts and their versions (for the store's limit)."""
        return sum(1 + len(art["versions"]) for items in self._items.values() for art in items.values())

    def clear(self) -> None:
        """Drop everything."""
        self._items.clear()
        self._default_view.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document (versions nested in each artifact)."""
        ids = self._ctx.ids
        seen: set[int] = set()
        seen_versions: set[int] = set()
        for i, raw in enumerate(sections["artifacts"]):
            where = path + ("artifacts", i)
            rec = reader.record(raw, where, _ART_SPEC)
            if rec is None:
                continue
            if rec["id"] in seen:
                reader.fail(where + ("id",), "custom", rec["id"], message="Duplicate id.")
                continue
            versions: dict[int, dict[str, Any]] = {}
            numbers: set[int] = set()
            for j, raw_v in enumerate(rec["versions"]):
                v = reader.record(raw_v, where + ("versions", j), _VERSION_SPEC)
                if v is None:
                    continue
                if v["id"] in seen_versions or v["version_number"] in numbers:
                    reader.fail(where + ("versions", j, "id"), "custom", v["id"], message="Duplicate version.")
                    continue
                if v["interface"] not in ("chat", "api"):
                    reader.fail(where + ("versions", j, "interface"), "choice", v["interface"], choices=["chat", "api"])
                    continue
                seen_versions.add(v["id"])
                numbers.add(v["version_number"])
                if v["session_id"] is None:
                    v["session_id"] = rec["session_id"]
                ids.seen_int("artifact_version", v["id"])
                versions[v["id"]] = v
            if not versions:
                reader.fail(where + ("versions",), "custom", rec["versions"], message="An artifact needs a version.")
                continue
            current = rec["current_version_id"]
            if current is None:
                current = max(versions.values(), key=lambda v: v["version_number"])["id"]
            elif current not in versions:
                reader.fail(where + ("current_version_id",), "custom", current,
                            message="Not one of this artifact's versions.")
                continue
            seen.add(rec["id"])
            ids.seen_int("artifact", rec["id"])
            rec["versions"] = dict(sorted(versions.items(), key=lambda kv: kv[1]["version_number"]))
            rec["current_version_id"] = current
            self._items.setdefault((rec["org"], rec["username"]), {})[rec["id"]] = rec

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's section, in the fixtures format."""
        out = []
        for art in sorted((a for d in self._items.values() for a in d.values()), key=lambda a: a["id"]):
            out.append({
                **{k: art[k] for k in ("id", "org", "username", "title", "metadata", "file_extension", "llm_name",
                                       "llm_provider", "session_id", "chat_message", "mentor_id")},
                "date_created": ts(art["date_created"]),
                "date_updated": ts(art["date_updated"]),
                "current_version_id": art["current_version_id"],
                "versions": [{**v, "date_created": ts(v["date_created"])} for v in art["versions"].values()],
            })
        return {"artifacts": out}


def _current(art: dict[str, Any]) -> dict[str, Any]:
    return art["versions"][art["current_version_id"]]


def _content(art: dict[str, Any]) -> str:
    return _current(art)["content"]


def _list_out(art: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": art["id"],
        "title": art["title"],
        "file_extension": art["file_extension"],
        "llm_name": art["llm_name"],
        "llm_provider": art["llm_provider"],
        "date_created": ts(art["date_created"]),
        "date_updated": ts(art["date_updated"]),
        "username": art["username"],
        "session_id": art["session_id"],
        "content_length": len(_content(art)),
    }


def _full_out(art: dict[str, Any]) -> dict[str, Any]:
    current = _current(art)
    return {
        "id": art["id"],
        "title": art["title"],
        "content": current["content"],
        "file_extension": art["file_extension"],
        "chat_message": art["chat_message"],
        "llm_name": art["llm_name"],
        "llm_provider": art["llm_provider"],
        "date_created": ts(art["date_created"]),
        "date_updated": ts(art["date_updated"]),
        "metadata": art["metadata"],
        "username": art["username"],
        "session_id": art["session_id"],
        "current_version_number": current["version_number"],
        "version_count": len(art["versions"]),
    }


def _version_out(art: dict[str, Any], version: dict[str, Any], full: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": version["id"],
        "artifact": full if full is not None else _full_out(art),
        "title": art["title"],
        "content": version["content"],
        "session_id": version["session_id"],
        "content_length": len(version["content"]),
        "is_current": version["id"] == art["current_version_id"],
        "chat_message": version["chat_message"],
        "version_number": version["version_number"],
        "date_created": ts(version["date_created"]),
        "created_by": version["created_by"],
        "change_summary": version["change_summary"],
        "interface": version["interface"],
    }
