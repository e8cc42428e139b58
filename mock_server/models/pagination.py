"""DRF-style ordering and page-number pagination, shared by every paginated ibl list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from mock_server.errors import InvalidPage

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


@dataclass(slots=True)
class Page:
    """One page of a list: the handler turns it into ``{count, next, previous, results}``."""

    count: int
    results: list[Any]
    number: int
    has_next: bool
    has_previous: bool


def parse_page_size(raw: str | int | None) -> int:
    """The page size: default 10, clamped to 100; zero, negative or non-numeric -> default."""
    if raw is None or isinstance(raw, bool):
        return DEFAULT_PAGE_SIZE
    try:
        size = int(str(raw).strip())
    except ValueError:
        return DEFAULT_PAGE_SIZE
    if size <= 0:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def paginate(items: Sequence[Any], page: str | int | None, page_size: str | int | None) -> Page:
    """Cut one page out of ``items``; a page past the end or not a number raises InvalidPage.

    As Django's paginator: page 1 of an empty list is valid, and ``page=last`` is the last page.
    """
    size = parse_page_size(page_size)
    count = len(items)
    pages = max(1, -(-count // size))
    if page is None or page == "":
        number = 1
    elif isinstance(page, int) and not isinstance(page, bool):
        number = page
    elif isinstance(page, str) and page.strip() == "last":
        number = pages
    else:
        try:
            number = int(str(page).strip())
        except ValueError:
            raise InvalidPage() from None
    if number < 1 or number > pages:
        raise InvalidPage()
    start = (number - 1) * size
    return Page(count, list(items[start:start + size]), number, number < pages, number > 1)


def parse_ordering(ordering: str | None, allowed: Mapping[str, Any], default: str) -> list[tuple[str, bool]]:
    """``"a,-b"`` -> ``[("a", False), ("b", True)]`` keeping only allowed names; none left -> default."""
    keys = _parse(ordering, allowed)
    return keys or _parse(default, allowed)


def _parse(ordering: str | None, allowed: Mapping[str, Any]) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for part in (ordering or "").split(","):
        part = part.strip()
        desc = part.startswith("-")
        name = part[1:] if desc else part
        if name in allowed and name not in seen:
            seen.add(name)
            keys.append((name, desc))
    return keys


def order_items(
    items: Sequence[Any],
    keys: list[tuple[str, bool]],
    fields: Mapping[str, Callable[[Any], Any]],
    id_of: Callable[[Any], Any],
) -> list[Any]:
    """Sort by the keys in order, then by id ascending (so pages never repeat or skip an item)."""
    result = sorted(items, key=id_of)
    # Stable sorts from the least to the most significant key give a mixed-direction multi-key sort.
    for name, desc in reversed(keys):
        result.sort(key=fields[name], reverse=desc)
    return result

