"""ai-analytics: chat history (conversations of an org) and its filter data.

Conversations are kept per org in a dict by id plus a ``TimeIndex`` (per org, and per org and
mentor) by ``inserted_at``: read backwards it is the default list order (``-inserted_at``,
ties by id), so a default page costs O(page + log n); date ranges and the analytics buckets are
bisections, summing the message counts the index keeps beside each id.

A conversation is a ``Conversation`` (slots, times as microseconds since the epoch, topics as a
tuple of names): an org can hold 100,000 of them, and as dicts they cost four times the memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from operator import attrgetter
from typing import Any, Callable, Sequence

from mock_server.clock import UTC, parse_date, parse_datetime, to_micros
from mock_server.errors import InvalidRequest, NotFound, Problem
from mock_server.models.collection import Collection, Family, Layout, field
from mock_server.models.common import Context, DocReader, Path, TimeIndex, norm_uuid, require_uuid
from mock_server.models.pagination import Page, order_items, paginate, parse_ordering

DEFAULT_ORDERING = "-inserted_at"
MESSAGE_TYPES = ("human", "ai")
DEFAULT_SENTIMENT = "neutral"


@dataclass(slots=True, eq=False)
class Message:
    """One message of a conversation."""

    type: str = field("str")  # one of MESSAGE_TYPES
    content: str = field("str")
    timestamp_us: int = field("micros", key="timestamp")  # microseconds since the epoch


@dataclass(slots=True, eq=False)
class Topic:
    """A topic as documents and bodies spell it (a conversation keeps only the names)."""

    name: str = field("str")


def _named(names: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"name": name} for name in names]


@dataclass(slots=True, eq=False)
class Conversation:
    """One stored conversation. Identity is what matters (eq=False)."""

    id: str = field("uuid")
    org: str = field("str")
    student: str = field("str")
    email: str | None = field("str?", None)  # none in a document: the user's
    mentor: str = field("uuid", write=True)
    topics: tuple[str, ...] = field("list", (), write=True, to_doc=_named)  # names, read from Topic records
    sentiment: str = field("str", DEFAULT_SENTIMENT)
    model: str = field("str", "", write=True)
    platform: str = field("str", "", write=True)
    rating: int = field("int", 0)
    lti_email: str | None = field("str?", None)  # none in a document: the user's
    lti_username: str | None = field("str?", None)  # none in a document: the user's
    inserted_us: int = field("micros", key="inserted_at")  # microseconds since the epoch (also the index key)
    has_document: bool = field("bool", False, write=True)
    memory_tracked: bool = field("bool", False, write=True)
    enable_artifacts: bool = field("bool", False, write=True)
    is_shared: bool = field("bool", False, write=True)
    is_authenticated: bool = field("bool", True, write=True)
    llm_name: str | None = field("str?", None, write=True)
    llm_provider: str | None = field("str?", None, write=True)
    metadata: Any = field("any", None, write=True)
    title: str | None = field("str?", None, write=True)
    tools: tuple[Any, ...] = field("list[int]", (), write=True, load=tuple, to_doc=list)
    # Smaller than a list; appends are rare (admin plane) and rebuild it.
    messages: tuple[Message, ...] = field("list", (), to_doc=lambda messages: [MESSAGE.export(m) for m in messages])
    n_human: int = 0
    n_ai: int = 0


MESSAGE, TOPIC, CONVERSATION = Layout(Message), Layout(Topic), Layout(Conversation)
REQUIRED_ON_WRITE = ("topics", "mentor", "model", "platform")
_FIELDS: dict[str, Callable[[Conversation], Any]] = {
    "inserted_at": attrgetter("inserted_us"),
    "rating": attrgetter("rating"),
    "student": attrgetter("student"),
    "sentiment": attrgetter("sentiment"),
}


class ChatHistoryBackend(Family):
    """Conversations per org (the whole org is listed; a created one belongs to the path user)."""

    def __init__(self, ctx: Context) -> None:
        self._convs = Collection(CONVERSATION, "chat_history", ctx.ids, scope=("org",),
                                 duplicate=("id", "Duplicate id."))
        super().__init__(ctx, self._convs)
        self._index: dict[str, TimeIndex] = {}
        self._mentor_index: dict[tuple[str, str], TimeIndex] = {}

    # --- queries ---------------------------------------------------------------------------

    def list(
        self,
        org: str,
        *,
        page: str | int | None = None,
        page_size: str | int | None = None,
        ordering: str | None = None,
        start_date: str | date | None = None,
        end_date: str | date | None = None,
        filter_user_id: str | None = None,
        mentor: str | None = None,
        sentiment: str | None = None,
        topics: str | None = None,
    ) -> Page:
        """A page of the org's conversations, filtered; default order ``-inserted_at``, ties by id."""
        rows = self._select(org, ordering, start_date, end_date, filter_user_id, mentor, sentiment, topics)
        result = paginate(rows, page, page_size)
        result.results = [_out(c) for c in result.results]
        return result

    def retrieve(self, org: str, conversation_id: Any, filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """One conversation of the org; NotFound if absent, of another org, or excluded by the filters.

        DRF applies a viewset's filters to detail routes too, so the list's query filters may be passed.
        """
        return _out(self._get(org, conversation_id, filters))

    def create(self, org: str, username: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create a conversation of ``username`` in ``org`` (inserted now, rating 0, sentiment neutral)."""
        self._check_required(fields)
        self._ctx.items.take()
        user = self._ctx.users.get(org, username)
        conv = Conversation(**{
            **CONVERSATION.defaults, "id": self._ctx.ids.uuid4(), "org": org, "student": username, "email": user.email,
            "mentor": None, "lti_email": user.lti_email or "", "lti_username": user.lti_username or "",
            "inserted_us": to_micros(self._ctx.clock.now()),
        })  # the mentor and the other fields given: written next
        self._write(conv, fields)
        self._insert(conv)
        return _out(conv)

    def update(self, org: str, conversation_id: Any, fields: dict[str, Any], partial: bool = False,
               filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """PUT (topics, mentor, model, platform required) or PATCH of the writable fields."""
        conv = self._get(org, conversation_id, filters)
        if not partial:
            self._check_required(fields)
        old_mentor = conv.mentor
        self._write(conv, fields)
        if conv.mentor != old_mentor:
            self._mentor_index[(org, old_mentor)].remove(conv.inserted_us, conv.id)
            self._mentor_index.setdefault((org, conv.mentor), TimeIndex()).insert(
                conv.inserted_us, conv.id, _count(conv))
        return _out(conv)

    def partial_update(self, org: str, conversation_id: Any, fields: dict[str, Any],
                       filters: dict[str, Any] | None = None) -> dict[str, Any]:
        """PATCH: as ``update`` with nothing required."""
        return self.update(org, conversation_id, fields, partial=True, filters=filters)

    def destroy(self, org: str, conversation_id: Any, filters: dict[str, Any] | None = None) -> None:
        """Delete a conversation of the org; NotFound if absent."""
        conv = self._get(org, conversation_id, filters)
        self._convs.remove(conv)
        self._index[org].remove(conv.inserted_us, conv.id)
        self._mentor_index[(org, conv.mentor)].remove(conv.inserted_us, conv.id)
        self._ctx.items.give_back(1 + len(conv.messages))

    def append_messages(self, org: str, conversation_id: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """Append ``{type: human|ai, content, timestamp?}`` messages (admin plane); counts follow."""
        conv = self._get(org, conversation_id, None)
        parsed = []
        problems = []
        for i, m in enumerate(messages):
            kind = m.get("type") if isinstance(m, dict) else None
            if kind not in MESSAGE_TYPES:
                problems.append((i, "type", kind))
                continue
            content = m.get("content")
            if not isinstance(content, str):
                problems.append((i, "content", content))
                continue
            stamp = m.get("timestamp")
            try:
                when = parse_datetime(stamp) if stamp is not None else self._ctx.clock.now()
            except (ValueError, TypeError):
                problems.append((i, "timestamp", stamp))
                continue
            parsed.append(Message(kind, content, to_micros(when)))
        if problems:
            raise InvalidRequest([
                Problem("body", ("messages", i, name), "choice" if name == "type" else
                        ("string" if name == "content" else "date-time"), value,
                        {"choices": list(MESSAGE_TYPES)} if name == "type" else {})
                for i, name, value in problems
            ])
        self._ctx.items.take(len(parsed))
        conv.messages += tuple(parsed)
        added_human = sum(1 for m in parsed if m.type == "human")
        conv.n_human += added_human
        conv.n_ai += len(parsed) - added_human
        self._index[org].set_value(conv.inserted_us, conv.id, _count(conv))
        self._mentor_index[(org, conv.mentor)].set_value(conv.inserted_us, conv.id, _count(conv))
        return _out(conv)

    def filter_data(self, org: str, start_date: str | date | None = None, end_date: str | date | None = None,
                    mentor_id: str | None = None, monthly_range: bool = False) -> dict[str, Any]:
        """ChatHistoryFilterData over the org's conversations (narrowed by dates and mentor).

        ``date_ranges``: without ``monthly_range`` one range from the first to the last conversation
        date; with it, one range per calendar month, clipped to the first and last dates.
        """
        rows = list(self._select(org, None, start_date, end_date, None, mentor_id, None, None))
        topics = sorted({t for c in rows for t in c.topics}, key=lambda n: (n.casefold(), n))
        sentiments = sorted({c.sentiment for c in rows})
        users: dict[str, dict[str, Any]] = {}
        for c in rows:
            users.setdefault(c.student, {"username": c.student, "email": c.email, "lti_email": c.lti_email})
        dates = sorted({_EPOCH_DAY + timedelta(days=day) for day in {c.inserted_us // _DAY_US for c in rows}})
        ranges: list[dict[str, str]] = []
        if dates:
            first, last = dates[0], dates[-1]
            if monthly_range:
                cursor = first
                while cursor <= last:
                    month_end = _month_end(cursor)
                    ranges.append({"start_date": cursor.isoformat(), "end_date": min(month_end, last).isoformat()})
                    cursor = month_end + timedelta(days=1)
            else:
                ranges.append({"start_date": first.isoformat(), "end_date": last.isoformat()})
        return {
            "topics": [{"name": n} for n in topics],
            "sentiment": sentiments,
            "users": [users[u] for u in sorted(users)],
            "date_ranges": ranges,
        }

    def index_for(self, org: str, mentor: str | None = None) -> TimeIndex:
        """The time index of an org, or of one mentor in it (empty when unknown)."""
        if mentor is None:
            return self._index.get(org) or TimeIndex()
        key = norm_uuid(mentor)
        return (self._mentor_index.get((org, key)) if key else None) or TimeIndex()

    def item_count(self) -> int:
        """How many items this family holds: conversations and their messages (for the store's limit)."""
        return sum(1 + len(c.messages) for c in self._convs)

    def count(self, org: str | None = None) -> int:
        """How many conversations (of one org, or in all)."""
        if org is not None:
            return len(self._convs.in_scope(org))
        return len(self._convs)

    # --- internals -------------------------------------------------------------------------

    def _select(self, org: str, ordering: str | None, start_date: Any, end_date: Any, filter_user_id: str | None,
                mentor: str | None, sentiment: str | None, topics: str | None) -> Sequence[Conversation]:
        start = _query_date("start_date", start_date)
        end = _query_date("end_date", end_date)
        by_id = self._convs.in_scope(org)
        index = self._index.get(org) or TimeIndex()
        lo = to_micros(_midnight(start)) if start else None
        hi = to_micros(_midnight(end + timedelta(days=1))) if end else None
        if lo is None and hi is None:
            i, j = 0, len(index)
        else:
            i, j = index.span(lo if lo is not None else -(2**62), hi if hi is not None else 2**62)
        rows: Sequence[Conversation] = index.newest_first(by_id, i, j)
        preds: list[Callable[[Conversation], bool]] = []
        if filter_user_id is not None:
            preds.append(lambda c: c.student == filter_user_id)
        if mentor is not None:
            wanted = norm_uuid(mentor)
            preds.append(lambda c: c.mentor == wanted)
        if sentiment is not None:
            preds.append(lambda c: c.sentiment == sentiment)
        if topics is not None:
            needle = topics.casefold()
            preds.append(lambda c: any(t.casefold() == needle for t in c.topics))
        if len(preds) == 1:
            pred = preds[0]
            rows = [c for c in rows if pred(c)]
        elif preds:
            rows = [c for c in rows if all(p(c) for p in preds)]
        keys = parse_ordering(ordering, _FIELDS, DEFAULT_ORDERING)
        if keys != [("inserted_at", True)]:
            rows = order_items(list(rows), keys, _FIELDS, attrgetter("id"))
        return rows

    def _get(self, org: str, conversation_id: Any, filters: dict[str, Any] | None) -> Conversation:
        conv = self._convs.get(org, require_uuid(conversation_id))
        if filters:
            allowed = {"start_date", "end_date", "filter_user_id", "mentor", "sentiment", "topics"}
            wanted = {k: v for k, v in filters.items() if k in allowed and v is not None}
            if wanted:
                rows = self._select(org, None, wanted.get("start_date"), wanted.get("end_date"),
                                    wanted.get("filter_user_id"), wanted.get("mentor"), wanted.get("sentiment"),
                                    wanted.get("topics"))
                if not any(c is conv for c in rows):
                    raise NotFound()
        return conv

    @staticmethod
    def _check_required(fields: dict[str, Any]) -> None:
        missing = [name for name in REQUIRED_ON_WRITE if fields.get(name) is None]
        if missing:
            raise InvalidRequest([_problem(name, "required") for name in missing])

    def _write(self, conv: Conversation, fields: dict[str, Any]) -> None:
        if "mentor" in fields and fields["mentor"] is not None:
            mentor = norm_uuid(fields["mentor"])
            if mentor is None:
                raise InvalidRequest([_problem("mentor", "uuid", fields["mentor"])])
            conv.mentor = mentor
        for name in CONVERSATION.writable:
            if name == "mentor" or name not in fields:
                continue
            value = fields[name]
            if name == "topics":
                value = tuple(t["name"] if isinstance(t, dict) else str(t) for t in (value or ()))
            elif name == "tools":
                value = tuple(value or ())
            setattr(conv, name, value)

    def _insert(self, conv: Conversation) -> None:
        org = conv.org
        self._convs.add(conv)
        self._index.setdefault(org, TimeIndex()).insert(conv.inserted_us, conv.id, _count(conv))
        self._mentor_index.setdefault((org, conv.mentor), TimeIndex()).insert(
            conv.inserted_us, conv.id, _count(conv))

    # --- state -----------------------------------------------------------------------------

    def clear(self) -> None:
        """Drop everything."""
        super().clear()
        self._index.clear()
        self._mentor_index.clear()

    def load(self, reader: DocReader, sections: dict[str, list[Any]], path: Path) -> None:
        """Read this family's section of a fixtures document (messages nested in each conversation), and index it."""
        self._convs.load(reader, sections[self._convs.section], path, self._nested)
        # Bulk build: sort once instead of n insertions.
        buckets: dict[Any, list[Conversation]] = {}
        for conv in self._convs:
            buckets.setdefault(conv.org, []).append(conv)
            buckets.setdefault((conv.org, conv.mentor), []).append(conv)
        for scope, convs in buckets.items():
            index = TimeIndex.build((c.inserted_us, c.id, _count(c)) for c in convs)
            if isinstance(scope, tuple):
                self._mentor_index[scope] = index
            else:
                self._index[scope] = index

    def _nested(self, reader: DocReader, conv: Conversation, where: Path) -> bool:
        """Read a conversation's topics and messages; fill what its document left to its user."""
        # Read as the fields only (not records): a topic is kept as its name, a message with its type interned.
        topics = [reader.record(t, where + ("topics", j), TOPIC.spec) for j, t in enumerate(conv.topics)]
        messages = [reader.record(m, where + ("messages", j), MESSAGE.spec) for j, m in enumerate(conv.messages)]
        bad = False
        for j, m in enumerate(messages):
            if m is not None and m["type"] not in MESSAGE_TYPES:
                reader.fail(where + ("messages", j, "type"), "choice", m["type"], choices=list(MESSAGE_TYPES))
                bad = True
        if bad or any(t is None for t in topics) or any(m is None for m in messages):
            return False
        user = self._ctx.users.get(conv.org, conv.student)
        conv.topics = tuple(t["name"] for t in topics)  # type: ignore[index]
        conv.messages = tuple(Message("human" if m["type"] == "human" else "ai", m["content"], m["timestamp"])
                              for m in messages)  # type: ignore[index]
        conv.n_human = sum(1 for m in conv.messages if m.type == "human")
        conv.n_ai = len(conv.messages) - conv.n_human
        if conv.email is None:
            conv.email = user.email
        if conv.lti_email is None:
            conv.lti_email = user.lti_email or ""
        if conv.lti_username is None:
            conv.lti_username = user.lti_username or ""
        return True

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """This family's section, in the fixtures format (oldest first)."""
        return {self._convs.section: self._convs.export(
            c for org in sorted(self._convs.scopes())
            for c in reversed(self._index[org].newest_first(self._convs.in_scope(org))))}

    def adopt(self, other: ChatHistoryBackend) -> list[Any]:
        """Take a staged family's state as this one's, indexes included."""
        replaced = super().adopt(other) + [self._index, self._mentor_index]
        self._index, self._mentor_index, other._index, other._mentor_index = (
            other._index, other._mentor_index, {}, {})
        return replaced


def _count(conv: Conversation) -> int:
    return conv.n_human + conv.n_ai


def _problem(name: str, kind: str, value: Any = None) -> Problem:
    return Problem("body", (name,), kind, value, {})


_EPOCH_DAY = date(1970, 1, 1)
_DAY_US = 86_400_000_000


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _month_end(day: date) -> date:
    first_next = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _query_date(name: str, value: Any) -> date | None:
    """An optional ``YYYY-MM-DD`` query value; malformed -> InvalidRequest (DRF date message)."""
    if value is None or value == "":
        return None
    try:
        return parse_date(value)
    except (ValueError, TypeError):
        raise InvalidRequest.one("query", name, "date", value) from None


def transcript(messages: Sequence[Message]) -> str:
    """The ``messages`` string of a conversation: one ``<type>: <content>`` line per message."""
    return "\n".join(f"{m.type}: {m.content}" for m in messages)


_out = CONVERSATION.view(
    "id", ("messages", transcript, "messages"), "topics", "sentiment", "mentor", "student", "email", "model",
    "rating", "platform", "lti_email", "lti_username", "inserted_at", "has_document", "memory_tracked",
    "enable_artifacts", "is_shared", "is_authenticated", "llm_name", "llm_provider", "metadata", "title",
    ("is_conversation", lambda c: c.n_human > 0 and c.n_ai > 0), ("message_count_human", "n_human"),
    ("message_count_ai", "n_ai"), "tools",
)
