"""The lines of one session the output view holds in memory: pages in an LRU cache.

A page is ``PAGE_LINES`` consecutive lines read with one ``read_lines`` call. Lines
before the session's last one never change, so a page of them stays good; the page
holding the last line goes stale as soon as the session's line or byte count moves on
(an unfinished last line grows), and is read again when it is next needed.

Nothing here waits for anything: ``line`` answers from memory or notes the page as
wanted, and the view's loader (``read``) fetches wanted pages nearest the screen first.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

from textual.cache import LRUCache

from storage.models import Line

from .output_render import MAX_LINE_BYTES

if TYPE_CHECKING:
    from storage import Store

PAGE_LINES = 128
PAGES_KEPT = 48


class Page(NamedTuple):
    lines: list[Line]
    count: int  # the session's line count when the page was read
    nbytes: int  # and its byte count: a tail page is stale once either moves on


@dataclass
class FetchStats:
    """What the view has read from the database (for tests and the benchmark)."""

    pages: int = 0
    lines: int = 0
    ranges: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=256))


class LinePages:
    """Pages of a session's lines, what is wanted next, and what is being read."""

    def __init__(self, kept: int = PAGES_KEPT) -> None:
        self.count = 0  # the session's line count as last seen
        self.nbytes = 0  # and its byte count
        self.stats = FetchStats()
        self.loading: int | None = None
        self.wake = asyncio.Event()
        self._pages: LRUCache[int, Page] = LRUCache(kept)
        self._wanted: set[int] = set()

    def __len__(self) -> int:
        return len(self._pages)

    @property
    def busy(self) -> bool:
        return self.loading is not None or bool(self._wanted)

    def fresh(self, page: int) -> bool:
        cached = self._pages.get(page)
        if cached is None:
            return False
        if (page + 1) * PAGE_LINES < cached.count:
            return True  # every line of it was finished when it was read
        return cached.count == self.count and cached.nbytes == self.nbytes

    def line(self, number: int) -> Line | None:
        """The line if its page is in memory (perhaps stale: then a new read is asked
        for, and the old line shown meanwhile)."""
        page = number // PAGE_LINES
        cached = self._pages.get(page)
        if cached is None or not self.fresh(page):
            self.want(page)
        if cached is None:
            return None
        index = number - page * PAGE_LINES
        return cached.lines[index] if index < len(cached.lines) else None

    def want(self, page: int) -> None:
        if page not in self._wanted and page != self.loading:
            self._wanted.add(page)
            self.wake.set()

    def keep_near(self, visible: range) -> None:
        """Ask for the pages of ``visible`` lines, one above and two below; forget pages
        asked for that are no longer near (the user scrolled on)."""
        if not self.count:
            return
        if not len(visible):
            visible = range(max(0, self.count - 1), self.count)
        first = max(0, visible.start // PAGE_LINES - 1)
        last = min((visible.stop - 1) // PAGE_LINES + 2, (self.count - 1) // PAGE_LINES)
        window = range(first, last + 1)
        self._wanted &= set(window)
        for page in window:
            if not self.fresh(page):
                self.want(page)

    def next_wanted(self, visible: range) -> int | None:
        """The wanted page to read first: on screen, then nearest the middle of it."""
        if not self._wanted:
            return None
        middle = (visible.start + visible.stop) // 2 // PAGE_LINES
        shown = range(visible.start // PAGE_LINES, (max(visible.stop, 1) - 1) // PAGE_LINES + 1)
        page = min(self._wanted, key=lambda p: (p not in shown, abs(p - middle), -p))
        self._wanted.discard(page)
        return page

    async def read(self, store: Store, session_id: int, page: int) -> list[Line] | None:
        """Read ``page`` unless it is fresh already; its lines, or None."""
        if self.fresh(page):
            return None
        start = page * PAGE_LINES
        stop = min(start + PAGE_LINES, self.count)
        if start >= stop:
            return None
        count, nbytes = self.count, self.nbytes
        self.loading = page
        try:
            lines = await store.output.read_lines(session_id, start, stop)
        finally:
            self.loading = None
        return self.store(page, lines, count, nbytes)

    async def read_tail(self, store: Store, session_id: int, count: int, nbytes: int) -> None:
        """Read the pages from the current last line to line ``count`` (at most three),
        as they are when the count is ``count`` and the bytes ``nbytes``."""
        first = max(self.count - 1, 0) // PAGE_LINES
        last = max(count - 1, 0) // PAGE_LINES
        for page in range(max(first, last - 2), last + 1):
            start = page * PAGE_LINES
            stop = min(start + PAGE_LINES, count)
            # The lines of a cached page before its last one were finished when it was
            # read: keep them and read only from there (a tick reads one or two lines,
            # not a page of them, and makes no new objects for the old ones).
            kept = self._finished(page)
            lines = await store.output.read_lines(session_id, start + len(kept), stop)
            self.store(page, lines, count, nbytes, kept)

    def _finished(self, page: int) -> list[Line]:
        """The lines of cached ``page`` that could no longer change when it was read."""
        cached = self._pages.get(page)
        if cached is None:
            return []
        done = cached.count - 1 - page * PAGE_LINES  # the last line then might grow
        return cached.lines[: max(0, done)]

    def store(
        self, page: int, lines: list[Line], count: int, nbytes: int, kept: list[Line] | None = None
    ) -> list[Line]:
        """Cache ``page``: the ``lines`` just read, after the ``kept`` ones (already
        in memory, clipped)."""
        lines = [clip(line) for line in lines]
        self._pages.discard(page)  # LRUCache.set keeps an existing entry
        self._pages.set(page, Page((kept or []) + lines, count, nbytes))
        self.stats.pages += 1
        self.stats.lines += len(lines)
        if lines:
            self.stats.ranges.append((lines[0].number, lines[-1].number + 1))
        return lines


def clip(line: Line) -> Line:
    """A line with at most ``MAX_LINE_BYTES`` of its bytes kept in memory."""
    if len(line.raw) <= MAX_LINE_BYTES:
        return line
    return replace(line, raw=line.raw[: MAX_LINE_BYTES + 1])


def line_key(line: Line) -> tuple:
    """What decides a line's look: a line only ever grows (an unfinished last line)."""
    return (line.number, len(line.raw), line.terminated, line.stream, line.at)
