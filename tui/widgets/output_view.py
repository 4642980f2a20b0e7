"""The live output view: a virtual scroll view over a session's stored output.

Only the rows on screen are rendered. Lines come from SQLite a page at a time through
an LRU cache of pages (``output_lines.LinePages``), read by one async loader in the
app's event loop: the pages on screen first, then one page above and two below.
``render_line`` never waits for the database: a line that is not loaded yet is drawn
as a placeholder and the view repaints when its page arrives. Rows are rendered and
cached by ``output_rows.RowPainter``.

The line count comes from the session row, so a 10-million-line session opens and
jumps to its end by reading one row and one page. While the session is live its row is
read twenty times a second, and at once when its supervisor says it wrote output
(``live_push``); while it is not, only when the store's change watcher moves, and once
a second. New lines are read in the same poll when the end is on screen.
While following, the view stays at the end; when the user scrolls up it stays put and
counts "+N new lines" instead.
Hidden (a pty session's screen shown instead, tui/widgets/screen_view.py), the view
reads no lines and leaves its geometry until it is shown again; while the terminal
view hands it the session row it reads (``take_session``), it does not poll at all.

Wrap (``w``) keeps scrolling by whole lines: the top line of the screen is the scroll
position and long lines take as many rows as they need, so there is no global row
count to compute; at the end the screen is filled from the bottom up. The scrollbar
therefore measures lines, not rows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from textual import work
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from storage.models import LIVE, Line, Session
from tui.keys import bindings

from .kept_strips import KeptStrips
from .live_push import LivePush
from .output_find import Finder, find_line
from .output_lines import PAGE_LINES, FetchStats, LinePages
from .output_render import GutterLayout, LineStyles
from .output_rows import RowPainter, end_top, wrap_rows
from .scroll_thumb import QuietThumb

if TYPE_CHECKING:
    from storage import ChangeWatcher, Store

POLL_INTERVAL = 0.05  # seconds; a live session's supervisor also wakes us (live_push)
IDLE_REFRESH_TICKS = 20  # an ended session rereads its row at least once a second
# A hidden view handed the session row (``take_session``) leaves the polling to the view
# that hands it over for this long after the last one (it reads at least once a second).
FED_FOR = 2.5


# The keys that move any of the TUI's scroll views (the output and the terminal view).
SCROLL_BINDINGS = [
    Binding("up,k", "scroll_up", "Up", show=False),
    Binding("down,j", "scroll_down", "Down", show=False),
    Binding("left,h", "scroll_left", "Left", show=False),
    Binding("right,l", "scroll_right", "Right", show=False),
    Binding("pageup", "page_up", "Page up", show=False),
    Binding("pagedown,space", "page_down", "Page down", show=False),
]


class OutputView(QuietThumb, can_focus=True, inherit_bindings=False):
    """A session's output, live: virtual, cached, following the tail."""

    BINDINGS = [
        *SCROLL_BINDINGS,
        Binding("home,g", "top", "Top", show=False),
        *bindings("follow", "find_next", "find_previous", "timestamps", "line_numbers", "wrap"),
    ]

    COMPONENT_CLASSES = {
        "output-view--stderr",
        "output-view--system",
        "output-view--input",
        "output-view--gutter",
        "output-view--mark-stderr",
        "output-view--mark-system",
        "output-view--mark-input",
        "output-view--match",
        "output-view--current-match",
        "output-view--placeholder",
        "output-view--new-lines",
    }

    DEFAULT_CSS = """
    OutputView {
        background: $surface;
        color: $foreground;
        scrollbar-gutter: stable;
        & > .output-view--stderr { color: $foreground; }
        & > .output-view--system { color: $text-muted; text-style: italic; }
        & > .output-view--input { color: $text-accent; text-style: bold; }
        & > .output-view--gutter { color: $text-muted; }
        & > .output-view--mark-stderr { color: $text-secondary; }
        & > .output-view--mark-system { color: $text-muted; }
        & > .output-view--mark-input { color: $accent; }
        & > .output-view--match { background: $warning 40%; }
        & > .output-view--current-match { background: $warning; color: $background; }
        & > .output-view--placeholder { color: $text-disabled; }
        & > .output-view--new-lines { background: $accent; color: $background; text-style: bold; }
    }
    """

    follow: reactive[bool] = reactive(True, init=False)
    """Stay at the end as new lines arrive."""
    line_count: reactive[int] = reactive(0, init=False, repaint=False)
    """Lines the session has (from its row; the view never counts)."""
    pending_lines: reactive[int] = reactive(0, init=False)
    """New lines below the screen while not following ("+N new lines")."""
    status: reactive[str] = reactive("", init=False, repaint=False)
    """The session's status, "" until read, "gone" once the session no longer exists."""
    show_timestamps: reactive[bool] = reactive(False, init=False)
    show_line_numbers: reactive[bool] = reactive(False, init=False)
    show_gutter: reactive[bool] = reactive(True, init=False)
    wrap: reactive[bool] = reactive(False, init=False)
    find_status: reactive[str] = reactive("", init=False, repaint=False)
    """What the last find did: "", "searching…", "no match", "wrapped", "3 of ..."."""

    class SessionChanged(Message):
        """The session's row changed: status, name, line count..."""

        def __init__(self, view: OutputView, session: Session) -> None:
            super().__init__()
            self.view = view
            self.session = session

        def can_replace(self, message: Message) -> bool:
            # Only the newest state matters; a burst of polls queues one message.
            return isinstance(message, OutputView.SessionChanged) and message.view is self.view

    def __init__(
        self,
        session_id: int,
        *,
        follow: bool = True,
        show_gutter: bool = True,
        line: int | None = None,
        highlight: str | Sequence[str] | None = None,
        store: Store | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.session_id = session_id
        self.session: Session | None = None
        self._store = store
        self._start_line = line
        self._placed = False
        self._finder = Finder.of(highlight)
        self._current_match: int | None = line if self._finder is not None else None
        if self._current_match is not None:
            self.set_reactive(OutputView.find_status, f"line {self._current_match + 1:,}")
        self.set_reactive(OutputView.follow, follow and line is None)
        self.set_reactive(OutputView.show_gutter, show_gutter)
        self.lines = LinePages()
        self._ready = False
        self._seen = 0  # line count when following stopped
        self._painter = RowPainter()
        self._painter.finder = self._finder
        self._painter.current = self._current_match
        self._frame: Region | None = None
        self._kept = KeptStrips()
        self._styles_stale = True
        self._max_width = 0
        self._layout_epoch = 0
        self._wrap_cache: tuple[tuple, list[tuple[int, int]]] | None = None
        self._end_top = 0  # wrap: first line shown when the screen is filled from the end
        self._changes: ChangeWatcher | None = None
        self._ticks = 0
        self._poke = asyncio.Event()
        self.push = LivePush(session_id, self._poke)  # wake-ups from its supervisor
        self._fed_at = -FED_FOR  # when a session row was last handed over (take_session)
        self._asked = False  # refresh_session: read the row even while handed it
        self._behind = False  # hidden while the line count moved: catch up when shown

    # -- public API -----------------------------------------------------------------------
    @property
    def store(self) -> Store:
        store = self._store or getattr(self.app, "store", None)
        if store is None:
            raise RuntimeError("OutputView needs a store: pass store= or set app.store")
        return store

    @property
    def stats(self) -> FetchStats:
        """What the view has read from the database."""
        return self.lines.stats

    @property
    def current_match(self) -> int | None:
        """The line of the match ``n``/``N`` last moved to (0-based), if any."""
        return self._current_match

    @property
    def visible_lines(self) -> range:
        """The numbers (0-based) of the lines on screen."""
        return self._visible_lines()

    def row_text(self, y: int) -> str:
        """The plain text of screen row ``y`` as drawn (gutter included)."""
        return self.render_line(y).text

    @property
    def idle(self) -> bool:
        """Nothing is waiting to be read for the lines on screen (tests wait for this)."""
        if not self._ready or self.lines.busy:
            return False
        return all(self.lines.fresh(n // PAGE_LINES) for n in self._visible_lines())

    def refresh_session(self) -> None:
        """Reread the session row now instead of at the next poll (after an action)."""
        self._asked = True
        self._poke.set()

    def take_session(self, session: Session) -> None:
        """The session row as the view shown instead of this one (a pty session's
        terminal view) read it: the header stays current without this hidden view
        polling too. (Its repaint of the header, a frame ahead of the terminal's, held
        the terminal's next frame back by one to two frame intervals: Textual paces
        frames.) Ignored while this view is shown: it reads for itself then."""
        if self.display or not self._ready:
            return
        self._fed_at = time.monotonic()
        self._apply_session(session)

    def find(self, words: str | Sequence[str] | None, *, forward: bool = True) -> None:
        """Look for ``words`` from the top of the screen (bottom when searching back);
        highlight every match and jump to the first. ``None`` or "" clears."""
        self._finder = Finder.of(words)
        self._current_match = None
        self._invalidate_render()
        if self._finder is None:
            self.find_status = ""
            return
        top = self._visible_lines()
        start = (top.start if forward else top.stop - 1) if len(top) else 0
        self._run_find(start, forward)

    def go_to_line(self, number: int) -> None:
        """Show line ``number`` (0-based) about a third of the way down; stop following."""
        self.follow = False
        number = max(0, min(number, max(self.line_count - 1, 0)))
        height = self.scrollable_content_region.height or 1
        # Wrapped lines may take several rows each: keep just a little context above.
        above = 2 if self.wrap else height // 3
        self._jumping = True
        try:
            self.scroll_to(y=max(0, number - above), animate=False, force=True)
        finally:
            self._jumping = False
        self._update_pending()
        self._ensure_window()
        self.refresh()

    # -- actions --------------------------------------------------------------------------
    def action_follow(self) -> None:
        self.follow = True
        self._scroll_to_end()

    def action_top(self) -> None:
        self.scroll_to(y=0, animate=False, force=True)

    # Keyboard scrolling is instant: a log reader wants the page now, and an animation
    # would race with following (each frame of it would move the tail in and out).
    # Moves are relative to where the view is (its scroll target can be stale after the
    # view grew or shrank).
    def _scroll_by(self, x: int = 0, y: int = 0) -> None:
        self.scroll_to(x=self.scroll_offset.x + x, y=self.scroll_offset.y + y, animate=False)

    def action_scroll_up(self) -> None:
        self._scroll_by(y=-1)

    def action_scroll_down(self) -> None:
        self._scroll_by(y=1)

    def action_page_up(self) -> None:
        self._scroll_by(y=-max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self._scroll_by(y=max(1, self.scrollable_content_region.height - 1))

    def action_scroll_left(self) -> None:
        self._scroll_by(x=-4)

    def action_scroll_right(self) -> None:
        self._scroll_by(x=4)

    def action_find_next(self) -> None:
        self._find_step(forward=True)

    def action_find_previous(self) -> None:
        self._find_step(forward=False)

    def action_toggle_timestamps(self) -> None:
        self.show_timestamps = not self.show_timestamps

    def action_toggle_line_numbers(self) -> None:
        self.show_line_numbers = not self.show_line_numbers

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap

    # -- lifecycle ------------------------------------------------------------------------
    _jumping = False

    def on_mount(self) -> None:
        self._start()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Resolved at the next paint: CSS may not be applied yet when this is called.
        self._styles_stale = True

    @work(group="output-load", exit_on_error=False)
    async def _start(self) -> None:
        session = await self.store.sessions.get(self.session_id)
        self._apply_session(session, initial=True)
        self.push.keep_up(self, self.status)
        self._ready = True
        self._update_virtual_size()
        self._place()
        self._ensure_window()
        self._poll_loop()
        await self._load_loop()

    async def _load_loop(self) -> None:
        pages = self.lines
        while True:
            await pages.wake.wait()
            pages.wake.clear()
            while (page := pages.next_wanted(self._visible_lines())) is not None:
                lines = await pages.read(self.store, self.session_id, page)
                if not lines:
                    continue
                self._layout_epoch += 1
                visible = self._visible_lines()
                if lines[0].number < visible.stop and lines[-1].number >= visible.start:
                    self.refresh()

    @work(group="output-poll", exit_on_error=False)
    async def _poll_loop(self) -> None:
        """Reread the session row twenty times a second while it is live; while it
        is not, only when the store's change watcher says another connection wrote (and
        once a second, for writes made through this very connection)."""
        while True:
            try:
                await asyncio.wait_for(self._poke.wait(), self.push.poll_interval(POLL_INTERVAL))
            except TimeoutError:
                pass
            forced = self._poke.is_set()
            self._poke.clear()
            try:
                await self._poll(forced)
            except Exception as error:  # a poll must never take the screen down
                self.log.error(f"output poll failed: {error!r}")
                await asyncio.sleep(1.0)

    async def _poll(self, force: bool) -> None:
        asked, self._asked = self._asked, False
        if not (asked or self.display) and time.monotonic() - self._fed_at < FED_FOR:
            return  # hidden, and handed the row the terminal view reads (take_session)
        self._ticks += 1
        if not force and self.status not in LIVE and self.status != "pending":
            if self._changes is None:
                self._changes = self.store.changes()
            changed = await self._changes.changed()
            if not changed and self._ticks % IDLE_REFRESH_TICKS:
                return
        session = await self.store.sessions.get(self.session_id)
        pages = self.lines
        moved = session is not None and (session.output_lines, session.output_bytes) != (
            pages.count,
            pages.nbytes,
        )
        # The end on screen: read the new lines in the same breath as the count (no
        # round through the loader), so following stays one poll behind the writer.
        if moved and self.display and (self.follow or self._visible_lines().stop >= pages.count):
            assert session is not None
            count, nbytes = session.output_lines, session.output_bytes
            await pages.read_tail(self.store, self.session_id, count, nbytes)
            self._layout_epoch += 1
        self._apply_session(session)
        self.push.keep_up(self, self.status)

    def _apply_session(self, session: Session | None, initial: bool = False) -> None:
        if session is None:
            self.status = "gone"
            return
        before = self.session
        self.session = session
        self.status = session.status
        count, nbytes = session.output_lines, session.output_bytes
        grew = count != self.line_count or nbytes != self.lines.nbytes
        self.lines.nbytes = nbytes
        self.lines.count = count
        if initial:
            self.set_reactive(OutputView.line_count, count)
            self._seen = count
        elif count != self.line_count:
            self.line_count = count
        elif grew:
            # Same count, more bytes: the unfinished last line grew.
            self._layout_epoch += 1
            if self.display:
                self._ensure_window()
                self.refresh()
            else:
                self._behind = True
        if before is None or before != session:
            self.post_message(self.SessionChanged(self, session))

    # -- reactive watchers ----------------------------------------------------------------
    def watch_line_count(self, old: int, new: int) -> None:
        if not self.display:
            # Hidden: no geometry (its layout pass is a frame of its own) and no lines
            # read until it is shown (on_show).
            self._behind = True
            return
        with self.thumb_held():  # (the thumb's last place is drawn, not the one between)
            self._update_virtual_size()
            if self.follow:
                self._scroll_to_end()
        self._update_pending()
        self._ensure_window()
        self.refresh()

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.pending_lines = 0
            self._scroll_to_end()
        else:
            self._seen = self.line_count

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if not self._ready:
            return
        if (
            self.wrap
            and not self._jumping
            and new < old
            and new < self.max_scroll_y  # not the view growing taller (a clamp)
            and new > self._end_top - 1
            and old >= self._end_top
        ):
            # Scrolling up from the end of a wrapped view: every position from the
            # end's top line down shows the same screen, so skip straight past it.
            self.scroll_to(y=max(0, self._end_top - max(1, round(old - new))), animate=False)
            return
        if not self._jumping:
            at_end = self._at_end(new)
            if at_end != self.follow:
                self.follow = at_end
        self._update_pending()
        self._ensure_window()

    # Textual moves a scrollbar's thumb only while the bar is shown. A forced scroll to
    # the end right after the view grew happens before the bar appears, so the thumb
    # would stay at the top until the next scroll: put it where the view is.
    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        if shown:
            self._thumb_drawn = None  # drawn anew (QuietThumb)
            self.vertical_scrollbar.position = self.scroll_y

    def watch_show_horizontal_scrollbar(self, shown: bool) -> None:
        if shown:
            self.horizontal_scrollbar.position = self.scroll_x
        if self.follow:
            # The bar takes (or gives back) the bottom row: the last line stays on screen
            # (it was hidden under a bar that came with a long line, until the next one).
            self._scroll_to_end()

    def _watch_toggle(self) -> None:
        self._layout_epoch += 1
        self._update_virtual_size()
        if self.follow:
            self._scroll_to_end()
        self._ensure_window()
        self.refresh()

    def watch_show_timestamps(self) -> None:
        self._watch_toggle()

    def watch_show_line_numbers(self) -> None:
        self._watch_toggle()

    def watch_show_gutter(self) -> None:
        self._watch_toggle()

    def watch_wrap(self) -> None:
        self.scroll_to(x=0, animate=False)
        self._watch_toggle()

    def _place(self) -> None:
        """Put the start line (or the end) on screen, once the screen has a size."""
        if self._placed or not self._ready or not self.scrollable_content_region.height:
            return
        self._placed = True
        if self._start_line is not None:
            self.go_to_line(self._start_line)
        elif self.follow:
            self._scroll_to_end()

    def on_show(self) -> None:
        if self._behind:
            self._behind = False
            self.watch_line_count(self.line_count, self.line_count)

    def on_resize(self) -> None:
        self._update_virtual_size()
        self._place()
        if self.follow and self._ready:
            self._scroll_to_end()
        self._ensure_window()

    # -- geometry -------------------------------------------------------------------------
    def _gutter(self) -> GutterLayout:
        return GutterLayout(
            numbers=self.show_line_numbers,
            number_width=max(3, len(str(self.line_count))),
            timestamps=self.show_timestamps,
            marks=self.show_gutter,
        )

    def _update_virtual_size(self) -> None:
        height = self.line_count
        gutter = self._gutter().width
        if self.wrap:
            view = self.scrollable_content_region
            # Room to put the last line at the top: the end is then drawn bottom-up.
            height = self.line_count + max(view.height - 1, 0) if self.line_count else 0
            width = 0
        else:
            width = gutter + self._max_width
        size = Size(width, height)
        if size != self.virtual_size:
            # Not through the reactive: its layout pass lays out and draws the whole
            # screen again (header, footer, every widget) for each line a followed
            # session prints. This widget's region does not change; its scrollbars are
            # updated by Textual's code (which still lays out when one appears or goes;
            # the vertical one repaints only when its thumb moves: QuietThumb), and the
            # view draws itself again.
            self.set_reactive(Widget.virtual_size, size)
            self._scroll_update(size)
            self.refresh()

    def _scroll_to_end(self) -> None:
        # force: right after the virtual size grows, Textual has not yet recomputed
        # its scrollbars and would silently refuse a vertical scroll. immediate: the
        # scroll is in place before the pages on screen are asked for (a deferred one
        # waits for the next frame).
        if self._ready and self.scroll_y != self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False, force=True, immediate=True)

    def _at_end(self, y: float) -> bool:
        if self.wrap:
            self._end_top = self._compute_end_top()
            return y >= self._end_top
        return y >= self.max_scroll_y

    def _visible_lines(self) -> range:
        region = self.scrollable_content_region
        if self.wrap and self._ready:
            width = max(region.width - self._gutter().width, 0)
            rows = self._wrap_rows(region.height, width)
            return range(rows[0][0], rows[-1][0] + 1) if rows else range(0)
        top = int(self.scroll_offset.y)
        return range(min(top, self.line_count), min(top + region.height, self.line_count))

    def _update_pending(self) -> None:
        if self.follow or not self._ready:
            self.pending_lines = 0
            return
        below = self._visible_lines().stop
        self.pending_lines = max(0, self.line_count - max(self._seen, below))

    # -- pages ----------------------------------------------------------------------------
    def _line(self, number: int) -> Line | None:
        # Not placed yet (the first frame can come before the view has its size and has
        # scrolled to the end or the start line): what a frame would show there is the
        # top, and asking for its pages would read lines nobody looks at (page 0 of a
        # 200 000-line session opened at its end; issue 12's loaded runs).
        if not self._placed:
            return None
        return self.lines.line(number)

    def _ensure_window(self) -> None:
        if self._ready and self._placed:
            self.lines.keep_near(self._visible_lines())

    # -- rendering ------------------------------------------------------------------------
    def _resolve_styles(self) -> None:
        get = self.get_component_rich_style
        self._painter.styles = LineStyles(
            base=self.rich_style,
            stderr=get("output-view--stderr", partial=True),
            system=get("output-view--system", partial=True),
            input=get("output-view--input", partial=True),
            gutter=get("output-view--gutter", partial=True),
            mark_stderr=get("output-view--mark-stderr", partial=True),
            mark_system=get("output-view--mark-system", partial=True),
            mark_input=get("output-view--mark-input", partial=True),
            # Whole styles (not partial) where a background is set: they carry the
            # background already blended with the widget's.
            match=get("output-view--match"),
            current=get("output-view--current-match"),
            placeholder=get("output-view--placeholder", partial=True),
            badge=get("output-view--new-lines"),
        )
        self._styles_stale = False
        self._painter.forget()
        self._layout_epoch += 1

    def _invalidate_render(self) -> None:
        self._painter.finder = self._finder
        self._painter.current = self._current_match
        self._painter.forget()
        self._layout_epoch += 1
        self.refresh()

    def _rows_of(self, width: int) -> Callable[[int], int]:
        console = self.app.console
        return lambda number: self._painter.row_count(self._line(number), width, console)

    def _compute_end_top(self) -> int:
        """Wrap mode: the first line on screen when the screen is filled from the end."""
        region = self.scrollable_content_region
        width = region.width - self._gutter().width
        return end_top(region.height, self.line_count, self._rows_of(width))

    def _wrap_rows(self, height: int, width: int) -> list[tuple[int, int]]:
        """Wrap mode: (line, row of that line) for each screen row."""
        top = int(self.scroll_offset.y)
        key = (top, height, width, self.line_count, self.lines.nbytes, self._layout_epoch)
        if self._wrap_cache is None or self._wrap_cache[0] != key:
            rows, _ = wrap_rows(top, height, self.line_count, self._rows_of(width))
            self._wrap_cache = (key, rows)
        return self._wrap_cache[1]

    def render_lines(self, crop: Region) -> list[Strip]:
        # Measured once per paint, not once per row: it is not free.
        self._frame = self.scrollable_content_region
        try:
            # The same strip as last frame for a row that only moved (KeptStrips).
            strips = self._kept.render(self, crop, self.render_line)
            return super().render_lines(crop) if strips is None else strips
        finally:
            self._frame = None
            if self._painter.widest > self._max_width and not self.wrap:
                self._max_width = self._painter.widest
                self.call_later(self._update_virtual_size)

    def render_line(self, y: int) -> Strip:
        if self._styles_stale:
            self._resolve_styles()
        region = self._frame or self.scrollable_content_region
        width, height = region.width, region.height
        console = self.app.console
        base = self._painter.styles.base
        gutter = self._gutter()
        content_width = max(width - gutter.width, 0)
        if self.wrap:
            rows = self._wrap_rows(height, content_width)
            number, part = rows[y] if y < len(rows) else (-1, 0)
        else:
            number, part = int(self.scroll_offset.y) + y, 0
        if number < 0 or number >= self.line_count or not self._placed:
            strip = Strip.blank(width, base)
        else:
            scroll_x = None if self.wrap else int(self.scroll_offset.x)
            line = self._line(number)
            strip = self._painter.row(line, number, part, gutter, content_width, scroll_x, console)
        if self.pending_lines and y == height - 1:
            strip = self._painter.with_badge(strip, width, self.pending_lines, console)
        return strip

    # -- find -----------------------------------------------------------------------------
    def _find_step(self, forward: bool) -> None:
        if self._finder is None:
            self.find_status = "nothing to find: press / first"
            return
        if self._current_match is not None:
            start = self._current_match + (1 if forward else -1)
        else:
            visible = self._visible_lines()
            start = visible.start if forward else max(visible.stop - 1, 0)
        self._run_find(start, forward)

    def _run_find(self, start: int, forward: bool) -> None:
        finder = self._finder
        if finder is None:
            return
        self.find_status = "searching…"
        self.run_worker(self._find(finder, start, forward), group="output-find", exclusive=True)

    async def _find(self, finder: Finder, start: int, forward: bool) -> None:
        wrapped, found, last = False, None, self.line_count - 1
        if 0 <= start <= last:
            found = await find_line(self.store, self.session_id, finder, start, forward=forward)
        if found is None and last >= 0 and start != (0 if forward else last):
            # Go round: from the top when looking down, from the end when looking up.
            wrapped = True
            again = 0 if forward else last
            found = await find_line(self.store, self.session_id, finder, again, forward=forward)
        if finder != self._finder:
            return  # a newer search replaced this one
        if found is None:
            self.find_status = "no match"
            self._current_match = None
            self._invalidate_render()
            return
        self._current_match = found
        self.find_status = f"line {found + 1:,}" + (" (wrapped)" if wrapped else "")
        self._invalidate_render()
        visible = self._visible_lines()
        if not (visible.start <= found < visible.stop) or self.wrap:
            self.go_to_line(found)
        else:
            self.follow = False


__all__ = ["PAGE_LINES", "FetchStats", "OutputView"]
