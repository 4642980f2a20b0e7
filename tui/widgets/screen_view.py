"""A pty session as a person sees it: its emulated screen, or its rendered transcript.

``TerminalView`` keeps a ``ScreenReplay`` (runner/screen/replay.py) of the session and
feeds it what was stored since the last poll: the database is the source, so a finished
session works the same as a running one. While the session is live its row is read
twenty times a second, and at once when its supervisor says it wrote output
(``live_push``, as the output view); when the output grew, the new bytes are fed and
the screen's styled rows compared with the last ones drawn: only rows that changed are
redrawn (``render_line`` draws one row from a cache of strips keyed by its runs).
Each poll's session row goes to the screen (``SessionRead``): while this view is shown
the output screen's header takes it from here instead of the hidden stream view
polling too, so a new line costs one frame, drawn at once.

Two modes: ``screen`` draws the terminal at its own size (scrollbars when the view is
smaller), with its colours and cursor; ``transcript`` lists what scrolled off the main
screen, then the screen's rows, and follows its end.

Opened at a search hit (``place``), the view is pinned to that moment instead of live:
``screen`` is the screen the hit was seen on (the one its run ended on, or the screen
as it was at the hit's line), ``transcript`` the stored transcript read a page at a time
around the hit's row (``screen_place``); the hit's words are highlighted, its own row
more strongly. Nothing is polled then; ``go_live`` (interactive mode) lets go of it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from runner.screen.base import Cursor, StyledRun
from runner.screen.state import shown_lines
from storage.models import LIVE
from storage.query.find import Finder
from tui.widgets.live_push import LivePush
from tui.widgets.output_view import SCROLL_BINDINGS
from tui.widgets.screen_place import SCREEN, TRANSCRIPT, HitPlace, locate, row_of, screen_at
from tui.widgets.screen_render import Mark, marked, row_segments

if TYPE_CHECKING:
    from runner.screen.replay import ScreenReplay
    from storage import ChangeWatcher, Session, Store

POLL_INTERVAL = 0.05  # seconds, as the output view
IDLE_REFRESH_TICKS = 20
MODES = ("screen", "transcript")
PAGE_ROWS = 500  # transcript rows read at a time when pinned to a hit
KEEP_PAGES = 40  # pages of them kept in memory


def load_emulator() -> None:
    """Load the emulator (a few hundred milliseconds the first time: in a thread)."""
    from runner.screen import screen_class

    screen_class()


class TerminalView(ScrollView, can_focus=True, inherit_bindings=False):
    """A pty session's emulated screen or rendered transcript, live (or at a hit)."""

    BINDINGS = [
        *SCROLL_BINDINGS,
        Binding("home,g", "scroll_home", "Top", show=False),
        Binding("end,G", "scroll_end", "End", show=False),
    ]

    COMPONENT_CLASSES = {"terminal-view--match", "terminal-view--current-match"}

    DEFAULT_CSS = """
    TerminalView {
        background: $surface;
        color: $foreground;
        & > .terminal-view--match { background: $warning 40%; }
        & > .terminal-view--current-match { background: $warning; color: $background; }
    }
    """

    class SessionRead(Message):
        """The session row a live view read at its poll, after drawing what it says
        (the output screen's header takes it from here while the view is shown)."""

        def __init__(self, view: TerminalView, session: Session) -> None:
            super().__init__()
            self.view = view
            self.session = session

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TerminalView.SessionRead) and message.view is self.view

    class Located(Message):
        """A view opened at a search hit shows it in ``where`` (first: the mode that
        shows the hit as it was seen; then after each change of mode)."""

        def __init__(self, view: TerminalView, where: str) -> None:
            super().__init__()
            self.view = view
            self.where = where

    mode: reactive[str] = reactive("screen", init=False)
    """``screen`` or ``transcript``."""
    status: reactive[str] = reactive("", init=False, repaint=False)

    def __init__(
        self,
        session_id: int,
        *,
        mode: str = "screen",
        place: HitPlace | None = None,
        highlight: str | Sequence[str] | None = None,
        store: Store | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.session_id = session_id
        self._store = store
        self.place = place  # pinned to a search hit: that moment, not the live screen
        self._finder = Finder.of(highlight)
        self._marks: tuple[Style, Style] | None = None  # match, current (from the CSS)
        self._hit_y: int | None = None  # the hit's row on the pinned screen
        self._screen_until: int | None = None  # lines fed for the pinned screen
        self._end_of_run = False  # the pinned screen is the one its run ended on
        self._pages: dict[int, list[str]] = {}  # stored transcript rows, a page each
        self._asked: set[int] = set()  # pages being read
        self._total: int | None = None  # stored transcript rows
        self.set_reactive(TerminalView.mode, mode)
        self.replay: ScreenReplay | None = None
        self._rows: list[list[StyledRun]] = []
        self._cursor: Cursor | None = None
        self._strips: dict[int, tuple[tuple, Strip]] = {}
        self._base: Style | None = None  # the widget's own style, under every row
        self._transcript: list[str] = []
        self._seen: tuple[int, int] | None = None  # (lines, bytes) fed so far
        self._ready = False
        self._ticks = 0
        self._changes: ChangeWatcher | None = None
        self._poke = asyncio.Event()
        self.push = LivePush(session_id, self._poke)  # wake-ups from its supervisor
        self.redrawn_rows = 0  # rows redrawn because they changed (tests look)

    @property
    def store(self) -> Store:
        store = self._store or getattr(self.app, "store", None)
        if store is None:
            raise RuntimeError("TerminalView needs a store: pass store= or set app.store")
        return store

    @property
    def idle(self) -> bool:
        """Everything stored when last polled is on screen (tests wait for this); at a
        hit, the rows on screen are read."""
        return self._ready and not self._asked

    @property
    def hit_row(self) -> int | None:
        """At a hit: the hit's row in what the mode shows (the screen's row, or the
        transcript's), if it is known."""
        if self.place is None:
            return None
        return self.place.row if self.mode == TRANSCRIPT else self._hit_y

    @property
    def place_label(self) -> str:
        """Where a view pinned to a hit stands, for the header ("" when live)."""
        if self.place is None:
            return ""
        if self.mode == TRANSCRIPT:
            return f"transcript at row {self.place.row + 1:,}"
        if self._screen_until is None:
            return "screen …"
        where = "the end of its run" if self._end_of_run else f"line {self._screen_until:,}"
        return f"screen as it was at {where}"

    def row_text(self, y: int) -> str:
        """The plain text of view row ``y`` as drawn."""
        return self.render_line(y).text

    def go_live(self) -> None:
        """Leave the hit's moment: the live screen from now on."""
        if self.place is None:
            return
        self.workers.cancel_group(self, "terminal-place")
        self.place, self._finder = None, None  # (the live screen: no hit's words)
        self.replay, self._rows, self._cursor, self._seen = None, [], None, None
        self._pages.clear()
        self._asked.clear()
        self._strips.clear()
        self._ready = False
        self._feed_loop()

    def lines_shown(self) -> list[str]:
        """The text of the screen's rows (screen mode) or of the transcript (at a hit:
        the pages of it read, in order)."""
        if self.mode == "transcript" and self.place is not None:
            return [row for n in sorted(self._pages) for row in self._pages[n]]
        if self.mode == "transcript":
            return list(self._transcript)
        return ["".join(run.text for run in row) for row in self._rows]

    # -- feeding --------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._feed_loop()

    @work(group="terminal-feed", exit_on_error=False)
    async def _feed_loop(self) -> None:
        if self.place is not None:
            await self._open_place(self.place)
            return
        while True:
            try:
                if not await self._poll():
                    return
            except Exception as error:  # a poll must never take the screen down
                self.log.error(f"terminal poll failed: {error!r}")
                await asyncio.sleep(1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self.push.poll_interval(POLL_INTERVAL))
            self._poke.clear()

    async def _poll(self) -> bool:
        """Feed what is new; False once there is nothing to follow (a pipe session,
        or one that is gone)."""
        self._ticks += 1
        if self._ready and self.status not in LIVE and self.status != "pending":
            if self._changes is None:
                self._changes = self.store.changes()
            if not await self._changes.changed() and self._ticks % IDLE_REFRESH_TICKS:
                return True
        session: Session | None = await self.store.sessions.get(self.session_id)
        if session is None:
            self.status = "gone"
            return False
        if session.mode != "pty":
            self._ready = True
            return False  # no terminal: the output screen shows the stream
        self.status = session.status
        self.push.keep_up(self, self.status)
        if self.replay is None:
            # Only a terminal session needs the emulator. Loading it takes a few hundred
            # milliseconds the first time: in a thread, not on the app's event loop.
            from runner.screen.replay import ScreenReplay

            self.replay = await asyncio.to_thread(ScreenReplay, self.session_id, transcript=True)
        seen = (session.output_lines, session.output_bytes)
        if seen != self._seen and self.replay is not None:
            await self.replay.catch_up(self.store)
            self._seen = seen
            self._update()
        self._ready = True
        self.post_message(self.SessionRead(self, session))
        return True

    def _update(self) -> None:
        """Take the replay's screen; redraw only the rows that changed."""
        replay = self.replay
        if replay is None:
            return
        screen = replay.screen
        rows = screen.styled_lines()
        cursor = screen.cursor
        old_rows, old_cursor = self._rows, self._cursor
        self._rows, self._cursor = rows, cursor
        cols, height = screen.size
        if self.mode == "transcript":
            # (Only here: the transcript grows all along, and a copy of it at every
            # poll cost a long session's screen more and more.)
            self._transcript = [*(replay.transcript or []), *shown_lines(screen.lines())]
            count = len(self._transcript)
            self.virtual_size = Size(cols, count)
            # Follow the end (force: Textual has not recomputed the scroll range yet).
            end = max(0, count - self.scrollable_content_region.height)
            self.scroll_to(y=end, animate=False, force=True)
            self.refresh()
            return
        if self.virtual_size != Size(cols, height):
            self.virtual_size = Size(cols, height)
        for y, runs in enumerate(rows):
            moved = old_cursor is not None and y in (old_cursor.y, cursor.y)
            if y >= len(old_rows) or old_rows[y] != runs or (moved and old_cursor != cursor):
                self.redrawn_rows += 1
                self.refresh_line(y)

    def watch_mode(self) -> None:
        self._strips.clear()
        if self.place is not None:
            self._ready = False
            self._prepare(self.mode)
            return
        self.scroll_to(0, 0, animate=False, force=True)
        self._update()
        self.refresh()

    # -- at a search hit ------------------------------------------------------------------
    async def _open_place(self, place: HitPlace) -> None:
        """Find which view shows the hit, show it there, say so (``Located``)."""
        try:
            session = await self.store.sessions.get(self.session_id)
            if session is None:
                self.status = "gone"
                self._ready = True
                return
            self.status = session.status
            await asyncio.to_thread(load_emulator)
            found = await locate(self.store, self.session_id, place)
            if self.place is not place:
                return  # gone live meanwhile
            if found.replay is not None:
                self._end_of_run = True
                self._pin_screen(found.replay, found.until, found.screen_row)
            self.set_reactive(TerminalView.mode, found.where)
            await self._prepare_now(found.where)
        except Exception as error:  # the screen stays up; say why in the log
            self.log.error(f"opening the hit's place failed: {error!r}")
            self._ready = True

    @work(group="terminal-place", exclusive=True, exit_on_error=False)
    async def _prepare(self, mode: str) -> None:
        await self._prepare_now(mode)

    async def _prepare_now(self, mode: str) -> None:
        """What ``mode`` shows of the hit's moment, read if it is not yet; the hit in view."""
        place = self.place
        if place is None:
            return
        if mode == SCREEN:
            if self._screen_until is None:
                replay = await screen_at(self.store, self.session_id, place.line + 1)
                if self.place is not place:
                    return
                self._pin_screen(replay, place.line + 1, None)
            cols, rows = self.replay.screen.size if self.replay is not None else (0, 0)
            self.virtual_size = Size(cols, rows)
            target = self._hit_y or 0
        else:
            if self._total is None:
                from storage.engine import screens

                self._total = await screens.rendered_count(self.store, self.session_id)
            page = place.row // PAGE_ROWS
            # The hit's page and those around it, in one read.
            await self._read_pages(max(0, page - 1), min(page + 2, -(-self._total // PAGE_ROWS)))
            width = max((len(r) for p in self._pages.values() for r in p), default=0)
            self.virtual_size = Size(width, self._total)
            target = place.row
        self._strips.clear()
        height = self.scrollable_content_region.height or self.size.height or 1
        self.scroll_to(x=0, y=max(0, target - height // 3), animate=False, force=True)
        self._ready = True
        self.refresh()
        if self.mode == mode:  # (not toggled away meanwhile)
            self.post_message(self.Located(self, mode))

    def _pin_screen(self, replay: ScreenReplay, until: int, hit_y: int | None) -> None:
        from runner.screen.state import shown_lines

        assert self.place is not None
        self.replay = replay
        self._rows = replay.screen.styled_lines()
        self._cursor = None  # a moment of the past: no cursor blinking in it
        self._screen_until = until
        if hit_y is None:
            hit_y = row_of(shown_lines(replay.screen.lines()), self.place.text)
        self._hit_y = hit_y

    async def _read_pages(self, first: int, stop: int) -> None:
        """Read transcript pages ``first`` to ``stop - 1`` (those not read yet)."""
        from storage.engine import screens

        while first < stop and first in self._pages:
            first += 1
        while stop > first and stop - 1 in self._pages:
            stop -= 1
        if first >= stop:
            return
        wanted = set(range(first, stop))
        self._asked |= wanted
        try:
            rows = await screens.rendered_rows(
                self.store, self.session_id, first * PAGE_ROWS, stop * PAGE_ROWS
            )
        finally:
            self._asked -= wanted
        for n in range(first, stop):
            self._pages[n] = rows[(n - first) * PAGE_ROWS : (n - first + 1) * PAGE_ROWS]
        while len(self._pages) > KEEP_PAGES:  # the page read longest ago goes
            del self._pages[next(iter(self._pages))]

    def _stored_row(self, number: int) -> str | None:
        """Transcript row ``number`` when its page is read; else it is asked for."""
        page = self._pages.get(number // PAGE_ROWS)
        if page is None:
            n = number // PAGE_ROWS
            if n not in self._asked:
                self._asked.add(n)
                self.run_worker(self._read_and_show(n), group="terminal-pages")
            return None
        i = number % PAGE_ROWS
        return page[i] if i < len(page) else ""

    async def _read_and_show(self, n: int) -> None:
        self._asked.discard(n)
        await self._read_pages(n, n + 1)
        self.refresh()

    def _row_marks(self, number: int, text: str) -> tuple[Mark, ...]:
        """Where the hit's words are in ``text`` (row ``number``): on the hit's own row
        the spans the search found (more strongly), elsewhere every match."""
        if self._finder is None and self.place is None:
            return ()
        if self._marks is None:
            get = self.get_component_rich_style
            self._marks = (get("terminal-view--match"), get("terminal-view--current-match"))
        match, current = self._marks
        place = self.place
        if place is not None and number == self.hit_row:
            spans = (
                place.spans
                if text.rstrip(" ") == place.text.rstrip(" ")
                else tuple(self._finder.spans(text) if self._finder else ())
            )
            return tuple((a, b, current) for a, b in spans)
        if self._finder is None:
            return ()
        return tuple((a, b, match) for a, b in self._finder.spans(text))

    # -- drawing --------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._base
        if base is None:
            # Textual recomputes it after every refresh (from the ancestors' styles):
            # once per style change is enough, as for the strips, which hold it too.
            base = self._base = self.rich_style
        scroll_x, scroll_y = int(self.scroll_offset.x), int(self.scroll_offset.y)
        number = scroll_y + y
        if self.mode == "transcript":
            if self.place is not None:
                # (Not before the view stands at the hit: drawn while still at the top,
                # it would ask for the transcript's first pages for nothing.)
                shown = self._ready and number < (self._total or 0)
                text = self._stored_row(number) if shown else None
            else:
                text = self._transcript[number] if number < len(self._transcript) else None
            if text is None:
                return Strip.blank(width, base)
            segments = marked([Segment(text, base)], self._row_marks(number, text))
            return Strip(segments).crop_extend(scroll_x, scroll_x + width, base)
        if number >= len(self._rows):
            return Strip.blank(width, base)
        runs = self._rows[number]
        cursor = self._cursor
        cursor_x = (
            cursor.x
            if cursor is not None and cursor.visible and cursor.y == number and self._ready
            else None
        )
        key = (tuple(runs), cursor_x)
        cached = self._strips.get(number)
        if cached is None or cached[0] != key:
            segments = row_segments(runs, base, cursor_x)
            if self._finder is not None or self.place is not None:
                text = "".join(run.text for run in runs)
                segments = marked(segments, self._row_marks(number, text))
            cached = (key, Strip(segments))
            self._strips[number] = cached
        return cached[1].crop_extend(scroll_x, scroll_x + width, base)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # the base style is in every strip
        self._base = self._marks = None
