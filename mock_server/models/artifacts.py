"""ai-mentor: artifacts and their versions; an artifact's content is its current version's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from mock_server.clock import isoformat_z
from mock_server.errors import InvalidRequest, NotFound
from mock_server.models.collection import Collection, Family, Layout, field
from mock_server.models.common import Context, DocReader, Path, norm_uuid
from mock_server.models.pagination import Page, order_items, paginate, parse_ordering

DEFAULT_ORDERING = "-date_updated"
# Versions list newest first: the latest edit is what a client usually wants to see.
DEFAULT_VERSION_ORDERING = "-version_number"
DEFAULT_FILE_EXTENSION = "md"

_FIELDS = {name: attrgetter(name) for name in ("date_created", "date_updated", "title")}
_VERSION_FIELDS = {name: attrgetter(name) for name in ("version_number", "date_created")}
_DEFAULT_KEYS = parse_ordering(DEFAULT_ORDERING, _FIELDS, DEFAULT_ORDERING)
_VERSION_COUNTER = "artifact_version"
_BY_ID = attrgetter("id")
_BY_NUMBER = attrgetter("version_number")
INTERFACES = ("chat", "api")


@dataclass(slots=True, eq=False)
class Version:
    """One numbered version of an artifact's content."""

    id: int = field("int")
    version_number: int = field("int")
    content: str = field("str")
    session_id: str | None = field("uuid?", None)
    chat_message: int | None = field("int?", None)
    date_created: datetime = field("datetime")
    created_by: str = field("str", "")
    change_summary: str = field("str", "")
    interface: str = field("str", "api")  # one of INTERFACES


@dataclass(slots=True, eq=False)
class Artifact:
    """An artifact of a user: its versions by id, and the current one (whose content is the artifact's)."""

    id: int = field("int")
    org: str = field("str")
    username: str = field("str")
    title: str = field("str")
    metadata: Any = field("any", None)
    file_extension: str = field("str", DEFAULT_FILE_EXTENSION)
    llm_name: str = field("str", "")
    llm_provider: str = field("str", "")
    session_id: str | None = field("uuid?", None)
    chat_message: int | None = field("int?", None)
    mentor_id: str | None = field("uuid?", None)
    date_created: datetime = field("datetime")
    date_updated: datetime = field("datetime")
    # Read as an id (or none: the highest version) and resolved to the version once versions are read.
    current: Version = field("int?", None, key="current_version_id", to_doc=attrgetter("id"))
    versions: dict[int, Version] = field("list", to_doc=lambda versions: [VERSION.export(v) for v in versions.values()])


VERSION, ARTIFACT = Layout(Version), Layout(Artifact)
_list_out = ARTIFACT.view("id", "title", "file_extension", "llm_name", "llm_provider", "date_created", "date_updated",
                          "username", "session_id", ("content_length", len, "current.content"))
_full_out = ARTIFACT.view("id", "title", ("content", "current.content"), "file_extension", "chat_message", "llm_name",
                          "llm_provider", "date_created", "date_updated", "metadata", "username", "session_id",
                          ("current_version_number", "current.version_number"),
                          ("version_count", len, "versions"))


class ArtifactsBackend(Family):
    """Artifacts per (org, username), each with numbered versions and one current version."""

    def __init__(self, ctx: Context) -> None:
        self._items = Collection(ARTIFACT, "artifacts", ctx.ids, scope=("org", "username"), counter="artifact",
                                 duplicate=("id", "Duplicate id."))
        super().__init__(ctx, self._items)

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
        rows = self._items.ordered((org, username), keys, _FIELDS, _DEFAULT_KEYS)
        if file_extension is not None:
            rows = [a for a in rows if a.file_extension == file_extension]
        if llm_name is not None:
            rows = [a for a in rows if a.llm_name == llm_name]
        if llm_provider is not None:
            rows = [a for a in rows if a.llm_provider == llm_provider]
        if session_id is not None:
            wanted = norm_uuid(session_id) or session_id
            rows = [a for a in rows if a.session_id == wanted]
        if chat_message_id is not None:
            # chat_message is an integer id while the query is documented as a UUID: compare as text.
            rows = [a for a in rows if a.chat_message is not None and str(a.chat_message) == str(chat_message_id)]
        if mentor_id is not None:
            wanted = norm_uuid(mentor_id) or mentor_id
            rows = [a for a in rows if a.mentor_id == wanted]
        if username_filter is not None:
            rows = [a for a in rows if a.username == username_filter]
        if search:
            needle = search.casefold()
            rows = [a for a in rows if needle in a.title.casefold() or needle in a.current.content.casefold()]
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
        # In the declaration's order (fifteen keywords would cost a third of the whole create); no
        # current version yet: version 1 follows.
        art = Artifact(self._items.next_id(), org, username, title, fields.get("metadata"),
                       fields.get("file_extension") or DEFAULT_FILE_EXTENSION, fields.get("llm_name") or "",
                       fields.get("llm_provider") or "", session_id, fields.get("chat_message"),
                       norm_uuid(fields.get("mentor_id")), now, now, None, {})  # type: ignore[arg-type]
        self._add_version(art, fields.get("content") or "", created_by=f"user:{username}",
                          change_summary=fields.get("change_summary") or "", interface="api", when=now)
        self._items.add(art)
        return _full_out(art)

    def retrieve(self, org: str, username: str, artifact_id: int) -> dict[str, Any]:
        """The full Artifact; NotFound if absent or another user's."""
        return _full_out(self._items.get((org, username), artifact_id))

    def update(self, org: str, username: str, artifact_id: int, fields: dict[str, Any],
               partial: bool = False) -> dict[str, Any]:
        """PUT (``title`` required) or PATCH: write ``title`` and ``metadata``; ``date_updated`` moves."""
        art = self._items.get((org, username), artifact_id)
        if not partial and fields.get("title") is None:
            raise InvalidRequest.one("body", "title", "required")
        if fields.get("title") is not None:
            art.title = fields["title"]
        if "metadata" in fields:
            art.metadata = fields["metadata"]
        art.date_updated = self._ctx.clock.now()
        self._items.touch((org, username))
        return _full_out(art)

    def partial_update(self, org: str, username: str, artifact_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """PATCH: as ``update`` with nothing required."""
        return self.update(org, username, artifact_id, fields, partial=True)

    def destroy(self, org: str, username: str, artifact_id: int) -> None:
        """Delete an artifact and its versions; NotFound if absent or another user's."""
        art = self._items.get((org, username), artifact_id)
        self._items.remove(art)
        self._ctx.items.give_back(1 + len(art.versions))

    # --- versions --------------------------------------------------------------------------

    def list_versions(self, org: str, username: str, artifact_id: int, *, page: str | int | None = None,
                      page_size: str | int | None = None, ordering: str | None = None) -> Page:
        """A page of the artifact's versions, newest (highest version_number) first by default."""
        art = self._items.get((org, username), artifact_id)
        keys = parse_ordering(ordering, _VERSION_FIELDS, DEFAULT_VERSION_ORDERING)
        rows = order_items(list(art.versions.values()), keys, _VERSION_FIELDS, _BY_ID)
        result = paginate(rows, page, page_size)
        full = _full_out(art)
        result.results = [_version_out(art, v, full) for v in result.results]
        return result

    def retrieve_version(self, org: str, username: str, artifact_id: int, version_id: int) -> dict[str, Any]:
        """One version; NotFound if the artifact or the version (of this artifact) is absent."""
        art = self._items.get((org, username), artifact_id)
        version = art.versions.get(version_id) if isinstance(version_id, int) else None
        if version is None:
            raise NotFound()
        return _version_out(art, version)

    def set_current(self, org: str, username: str, artifact_id: int, version_id: Any) -> dict[str, Any]:
        """Make a version current (the artifact's content follows it); returns that version.

        A version id that is not one of this artifact's -> InvalidRequest on ``version_id``.
        """
        art = self._items.get((org, username), artifact_id)
        is_id = isinstance(version_id, int) and not isinstance(version_id, bool)
        version = art.versions.get(version_id) if is_id else None
        if version is None:
            raise InvalidRequest.one("body", "version_id", "custom", version_id,
                                     message=f'Invalid pk "{version_id}" - object does not exist.')
        art.current = version
        art.date_updated = self._ctx.clock.now()
        self._items.touch((org, username))
        return _version_out(art, version)

    def add_version(self, org: str, username: str, artifact_id: int, content: str, *, created_by: str | None = None,
                    change_summary: str = "", interface: str = "chat", make_current: bool = True) -> dict[str, Any]:
        """Append a version (as a chat edit would; for tests: no route adds one)."""
        art = self._items.get((org, username), artifact_id)
        self._ctx.items.take()
        now = self._ctx.clock.now()
        version = self._add_version(art, content, created_by=created_by or "llm", change_summary=change_summary,
                                    interface=interface, when=now, make_current=make_current)
        art.date_updated = now
        self._items.touch((org, username))
        return _version_out(art, version)

    def _add_version(self, art: Artifact, content: str, *, created_by: str, change_summary: str, interface: str,
                     when: datetime, make_current: bool = True) -> Version:
        number = max((v.version_number for v in art.versions.values()), default=0) + 1
        version = Version(self._ctx.ids.next_int(_VERSION_COUNTER), number, content, art.session_id, art.chat_message,
                          when, created_by, change_summary, interface)
        art.versions[version.id] = version
        if make_current or art.current is None:
            art.current = version
        return version

    # --- state -----------------------------------------------------------------------------

    def item_count(self) -> int:
        """How many items this family holds: artifacts and their versions (for the store's limit)."""
        return sum(1 + len(art.versions) for art in self._items)

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document (versions nested in each artifact)."""
        ids = self._ctx.ids
        seen_versions: set[int] = set()

        def versions_of(reader: DocReader, art: Artifact, where: Path) -> bool:
            versions: dict[int, Version] = {}
            numbers: set[int] = set()
            for j, raw in enumerate(art.versions):
                v = VERSION.read(reader, raw, where + ("versions", j))
                if v is None:
                    continue
                if v.id in seen_versions or v.version_number in numbers:
                    reader.fail(where + ("versions", j, "id"), "custom", v.id, message="Duplicate version.")
                    continue
                if v.interface not in INTERFACES:
                    reader.fail(where + ("versions", j, "interface"), "choice", v.interface, choices=list(INTERFACES))
                    continue
                seen_versions.add(v.id)
                numbers.add(v.version_number)
                if v.session_id is None:
                    v.session_id = art.session_id
                ids.seen_int(_VERSION_COUNTER, v.id)
                versions[v.id] = v
            if not versions:
                reader.fail(where + ("versions",), "custom", art.versions, message="An artifact needs a version.")
                return False
            current: Any = art.current  # the document's id, or None
            if current is None:
                current = max(versions.values(), key=_BY_NUMBER).id
            elif current not in versions:
                reader.fail(where + ("current_version_id",), "custom", current,
                            message="Not one of this artifact's versions.")
                return False
            art.versions = dict(sorted(versions.items(), key=lambda kv: kv[1].version_number))
            art.current = versions[current]
            return True

        self._items.load(reader, sections[self._items.section], path, versions_of)


def _version_out(art: Artifact, version: Version, full: dict[str, Any] | None = None) -> dict[str, Any]:
    # Written out: the reply mixes the version's fields with its artifact's, which no view of one record has.
    return {
        "id": version.id,
        "artifact": full if full is not None else _full_out(art),
        "title": art.title,
        "content": version.content,
        "session_id": version.session_id,
        "content_length": len(version.content),
        "is_current": version is art.current,
        "chat_message": version.chat_message,
        "version_number": version.version_number,
        "date_created": isoformat_z(version.date_created),
        "created_by": version.created_by,
        "change_summary": version.change_summary,
        "interface": version.interface,
    }
