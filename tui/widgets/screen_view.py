"""A pty session as a person sees it: its emulated screen, or its rendered transcript.

``TerminalView`` keeps a ``ScreenReplay`` (runner/screen/replay.py) of the session and
feeds it what was stored since the last poll: the database is the source, so a finished
session works the same as a running one. While the session is live its row is read
twenty times a second, and at once when its supervisor says it wrote output
(``live_push``, as the output view); when the output grew, the new bytes are fed and
the screen's styled rows compared with the last ones drawn: only rows that changed are
redrawn (``render_line`` draws one row from a cache of strips keyed by its runs).

Two modes: ``screen`` draws the terminal at its own size (scrollbars when the view is
smaller), with its colours and cursor; ``transcript`` lists what scrolled off the main
screen, then the screen's rows, and follows its end.
"""

from __future__ import annotations

import asyncio
import contextlib
from functools import lru_cache
from typing import TYPE_CHECKING

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from runner.screen.base import DEFAULT_STYLE, CellStyle, Cursor, StyledRun
from runner.screen.state import shown_lines
from storage.models import LIVE
from tui.widgets.live_push import LivePush
from tui.widgets.output_view import SCROLL_BINDINGS

if TYPE_CHECKING:
    from runner.screen.replay import ScreenReplay
    from storage import ChangeWatcher, Session, Store

POLL_INTERVAL = 0.05  # seconds, as the output view
IDLE_REFRESH_TICKS = 20
MODES = ("screen", "transcript")


def _colour(value: int | str | None) -> Color | None:
    if value is None:
        return None
    if isinstance(value, int):
        return Color.from_ansi(value)
    return Color.parse(value)


@lru_cache(maxsize=1024)
def cell_style(style: CellStyle) -> Style:
    """The Rich style of a terminal cell style (default colours: the widget's own)."""
    if style == DEFAULT_STYLE:
        return Style()
    return Style(
        color=_colour(style.fg),
        bgcolor=_colour(style.bg),
        bold=style.bold or None,
        dim=style.faint or None,
        italic=style.italic or None,
        underline=style.underline or None,
        blink=style.blink or None,
        reverse=style.inverse or None,
        conceal=style.invisible or None,
        strike=style.strike or None,
    )


def styled_text(runs: list[StyledRun]) -> Text:
    """One row as Rich ``Text`` (for the preview)."""
    text = Text(no_wrap=True, overflow="crop")
    for run in runs:
        text.append(run.text, cell_style(run.style))
    return text


def row_segments(runs: list[StyledRun], base: Style, cursor_x: int | None) -> list[Segment]:
    """Segments of one row; ``cursor_x`` draws the cursor (reversed) on that cell."""
    segments = []
    x = 0
    for run in runs:
        style = base + cell_style(run.style)
        width = Segment(run.text).cell_length
        if cursor_x is not None and x <= cursor_x < x + width:
            for ch in run.text:
                w = Segment(ch).cell_length
                on = x <= cursor_x < x + w
                segments.append(Segment(ch, style + Style(reverse=True) if on else style))
                x += w
            cursor_x = None
            continue
        segments.append(Segment(run.text, style))
        x += width
    if cursor_x is not None:
        if cursor_x > x:
            segments.append(Segment(" " * (cursor_x - x), base))
        segments.append(Segment(" ", base + Style(reverse=True)))
    return segments


class TerminalView(ScrollView, can_focus=True, inherit_bindings=False):
    """A pty session's emulated screen or rendered transcript, live."""

    BINDINGS = [
        *SCROLL_BINDINGS,
        Binding("home,g", "scroll_home", "Top", show=False),
        Binding("end,G", "scroll_end", "End", show=False),
    ]

    DEFAULT_CSS = """
    TerminalView {
        background: $surface;
        color: $foreground;
    }
    """

    mode: reactive[str] = reactive("screen", init=False)
    """``screen`` or ``transcript``."""
    status: reactive[str] = reactive("", init=False, repaint=False)

    def __init__(
        self,
        session_id: int,
        *,
        mode: str = "screen",
        store: Store | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.session_id = session_id
        self._store = store
        self.set_reactive(TerminalView.mode, mode)
        self.replay: ScreenReplay | None = None
        self._rows: list[list[StyledRun]] = []
        self._cursor: Cursor | None = None
        self._strips: dict[int, tuple[tuple, Strip]] = {}
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
        """Everything stored when last polled is on screen (tests wait for this)."""
        return self._ready

    def lines_shown(self) -> list[str]:
        """The text of the screen's rows (screen mode) or of the transcript."""
        if self.mode == "transcript":
            return list(self._transcript)
        return ["".join(run.text for run in row) for row in self._rows]

    # -- feeding --------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._feed_loop()

    @work(group="terminal-feed", exit_on_error=False)
    async def _feed_loop(self) -> None:
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
        self._transcript = [*(replay.transcript or []), *shown_lines(screen.lines())]
        cols, height = screen.size
        if self.mode == "transcript":
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
        self.scroll_to(0, 0, animate=False, force=True)
        self._update()
        self.refresh()

    # -- drawing --------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        scroll_x, scroll_y = int(self.scroll_offset.x), int(self.scroll_offset.y)
        number = scroll_y + y
        if self.mode == "transcript":
            if number >= len(self._transcript):
                return Strip.blank(width, base)
            strip = Strip([Segment(self._transcript[number], base)])
            return strip.crop_extend(scroll_x, scroll_x + width, base)
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
            cached = (key, Strip(row_segments(runs, base, cursor_x)))
            self._strips[number] = cached
        return cached[1].crop_extend(scroll_x, scroll_x + width, base)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # the base style is in every strip
