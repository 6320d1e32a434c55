"""Pages and lazy auto-paginating iterators.

`SyncPager` / `AsyncPager` are returned by list methods. Nothing is fetched until you iterate (or
call `first_page()`); iterating follows `next_cursor` page after page and holds one page in memory.
Lists that come back whole (`{data: [...]}` or a bare array) behave the same, as one page.

Iteration ends on the last page (no next cursor), on an empty page (unless the list says itself
when it ends: an export's `end_of_stream`), on a next cursor already followed, or after `max_pages` pages (a warning is logged), so a server that keeps handing out
fresh cursors cannot keep the caller looping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ._base import DEFAULT_MAX_PAGES, jsonable, logger

__all__ = ["AsyncPager", "Page", "SyncPager"]

T = TypeVar("T")


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of a list: its items, the cursors of the neighbouring pages and, for lists that
    side-load related objects (`include=`), those objects by name (`included["users"]`)."""

    items: list[T]
    next_cursor: str | None = None
    prev_cursor: str | None = None
    status_code: int = field(default=200, repr=False)
    included: dict[str, list[Any]] = field(default_factory=dict)
    total: int | None = None
    """How many items the whole list has, when the API says so (the paginator's `total_path`)."""

    @property
    def has_next_page(self) -> bool:
        return self.next_cursor is not None

    def to_dict(self) -> dict[str, Any]:
        """Normalized envelope: `{"result": [...], "next_cursor": ..., "prev_cursor": ...}` (JSON-ready)."""
        out: dict[str, Any] = {
            "result": [jsonable(item) for item in self.items],
            "next_cursor": self.next_cursor,
            "prev_cursor": self.prev_cursor,
        }
        if self.total is not None:
            out["total"] = self.total
        if self.included:
            out["included"] = {
                name: [jsonable(item) for item in items] for name, items in self.included.items()
            }
        return out

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class CursorWalk:
    """The cursor of the next page to fetch while auto-paginating, and when to stop.

    Shared by these pagers and the unified ones (the package's `unified` module).
    """

    __slots__ = ("cursor", "max_pages", "pages", "paginated", "seen", "stop_on_empty")

    def __init__(
        self, start: str | None, paginated: bool, max_pages: int, stop_on_empty: bool = True
    ) -> None:
        self.cursor = start
        self.paginated = paginated
        self.max_pages = max_pages
        self.stop_on_empty = stop_on_empty
        self.pages = 0
        self.seen: set[str] = {start} if start is not None else set()

    def advance(self, page: Page[Any]) -> bool:
        """Move to the page after `page`; False when there is none to fetch."""
        return self.follow(
            page.next_cursor if self.paginated else None,
            empty=self.stop_on_empty and not page.items,
        )

    def follow(self, cursor: str | None, *, empty: bool) -> bool:
        """Move to `cursor`, the next cursor of the page just fetched; False to stop there."""
        self.pages += 1
        if not cursor or empty or cursor in self.seen:
            return False
        if self.pages >= self.max_pages:
            logger.warning(
                "stopped paginating after max_pages=%d pages; raise max_pages to read further",
                self.max_pages,
            )
            return False
        self.seen.add(cursor)
        self.cursor = cursor
        return True


class SyncPager(Generic[T]):
    """Iterates every item of a list lazily, fetching one page at a time."""

    def __init__(
        self,
        fetch: Callable[[str | None], Page[T]],
        *,
        start_cursor: str | None = None,
        paginated: bool = True,
        fetch_raw: Callable[[str | None], Page[Any]] | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        stop_on_empty: bool = True,
    ) -> None:
        self._fetch = fetch
        self._fetch_raw = fetch_raw
        self._start = start_cursor
        self._paginated = paginated
        self._max_pages = max_pages
        self._stop_on_empty = stop_on_empty

    def __repr__(self) -> str:
        return f"SyncPager(start_cursor={self._start!r})"

    def _walk(self) -> CursorWalk:
        return CursorWalk(self._start, self._paginated, self._max_pages, self._stop_on_empty)

    def first_page(self) -> Page[T]:
        """Fetch only the first page (or the page of the `cursor` you passed)."""
        return self._fetch(self._start)

    def pages(self) -> Iterator[Page[T]]:
        """Iterate page by page."""
        walk = self._walk()
        while True:
            page = self._fetch(walk.cursor)
            more = walk.advance(page)
            yield page
            del page
            if not more:
                return

    def __iter__(self) -> Iterator[T]:
        walk = self._walk()
        while True:
            page = self._fetch(walk.cursor)
            more = walk.advance(page)
            items = page.items
            del page
            yield from items
            del items
            if not more:
                return

    def dicts(self) -> Iterator[Any]:
        """Iterate every item as plain JSON data (no model validation; fastest for bulk exports)."""
        fetch = self._fetch_raw or self._fetch
        walk = self._walk()
        while True:
            page = fetch(walk.cursor)
            more = walk.advance(page)
            items = page.items if self._fetch_raw else [jsonable(i) for i in page.items]
            del page
            yield from items
            del items
            if not more:
                return

    def to_list(self, limit: int | None = None) -> list[T]:
        """Collect items into a list (all of them, or the first `limit`)."""
        out: list[T] = []
        for item in self:
            if limit is not None and len(out) >= limit:
                break
            out.append(item)
        return out


class AsyncPager(Generic[T]):
    """Async twin of `SyncPager`: `async for item in pager`, `await pager.first_page()`."""

    def __init__(
        self,
        fetch: Callable[[str | None], Awaitable[Page[T]]],
        *,
        start_cursor: str | None = None,
        paginated: bool = True,
        fetch_raw: Callable[[str | None], Awaitable[Page[Any]]] | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        stop_on_empty: bool = True,
    ) -> None:
        self._fetch = fetch
        self._fetch_raw = fetch_raw
        self._start = start_cursor
        self._paginated = paginated
        self._max_pages = max_pages
        self._stop_on_empty = stop_on_empty

    def __repr__(self) -> str:
        return f"AsyncPager(start_cursor={self._start!r})"

    def _walk(self) -> CursorWalk:
        return CursorWalk(self._start, self._paginated, self._max_pages, self._stop_on_empty)

    async def first_page(self) -> Page[T]:
        """Fetch only the first page (or the page of the `cursor` you passed)."""
        return await self._fetch(self._start)

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Iterate page by page."""
        walk = self._walk()
        while True:
            page = await self._fetch(walk.cursor)
            more = walk.advance(page)
            yield page
            del page
            if not more:
                return

    async def __aiter__(self) -> AsyncIterator[T]:
        walk = self._walk()
        while True:
            page = await self._fetch(walk.cursor)
            more = walk.advance(page)
            items = page.items
            del page
            for item in items:
                yield item
            del items
            if not more:
                return

    async def dicts(self) -> AsyncIterator[Any]:
        """Iterate every item as plain JSON data (no model validation; fastest for bulk exports)."""
        fetch = self._fetch_raw or self._fetch
        walk = self._walk()
        while True:
            page = await fetch(walk.cursor)
            more = walk.advance(page)
            items = page.items if self._fetch_raw else [jsonable(i) for i in page.items]
            del page
            for item in items:
                yield item
            del items
            if not more:
                return

    async def to_list(self, limit: int | None = None) -> list[T]:
        """Collect items into a list (all of them, or the first `limit`)."""
        out: list[T] = []
        async for item in self:
            if limit is not None and len(out) >= limit:
                break
            out.append(item)
        return out
