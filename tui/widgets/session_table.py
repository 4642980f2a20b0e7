"""The session list: a line-API view that draws only the rows on screen.

It holds no data of its own: ids and rows come from the state store (``AppState``),
which fetches details for the rows the table asks for. With 10 000 sessions a
repaint touches about 35 rows. A cursor move selects in the state store at once (so
keys that arrive together each count) and is reported upward with
``SessionTable.Highlighted``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from storage.models import LIVE
from tui import format as fmt
from tui.keys import bindings
from tui.state import Change
from tui.widgets.output_rate import OutputRates

if TYPE_CHECKING:
    from storage import Session
    from tui.state import AppState


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    align: str = "left"


# Flexible columns: their share of the width when nothing is known of their content,
# and the least they get (their title fits).
_SHARES = {"name": 0.26, "command": 0.36, "cwd": 0.22, "tags": 0.16}
_NARROW_SHARES = {"name": 0.4, "command": 0.6}
_LEAST = {"label": 8, "name": 5, "command": 8, "cwd": 5, "tags": 5}
# Where room left over goes once every column shows all of its content: the last
# column (tags), else the command, so the fixed columns stay next to the text.
_SPARE_TO = ("tags", "command", "label")


def layout(width: int, id_width: int = 4, wants: Mapping[str, int] | None = None) -> list[Column]:
    """Columns for a table ``width`` cells wide; narrow tables drop cwd and tags first.
    ``id_width`` fits the longest ``#id``. ``wants`` is the longest text (in cells) of
    each flexible column among the rows at hand: columns share the width by what
    they hold (a short name leaves its room to a long command); without it, by fixed
    proportions."""
    cols = [Column("icon", "", 2), Column("id", "#", id_width + 1), Column("pin", "", 2)]
    tail = [
        Column("started", "started", 9, "right"),
        Column("duration", "took", 9, "right"),
        Column("exit", "exit", 6, "right"),
        Column("lines", "lines", 8, "right"),
    ]
    free = width - sum(c.width for c in cols + tail) - 1
    if free >= 70:
        shares = _SHARES
    elif free >= 40:
        shares = _NARROW_SHARES
    else:
        # No room for both: the name, or the command when there is no name.
        shares = {"label": 1.0}
    widths = _by_share(shares, free) if wants is None else _by_content(list(shares), free, wants)
    flexible = []
    for key, w in widths.items():
        # A directory is told apart by its end: cut it on the left.
        title = "session" if key == "label" else key
        flexible.append(Column(key, title, max(4, w), "tail" if key == "cwd" else "left"))
    by_key = {c.key: c for c in flexible}
    middle = [by_key[k] for k in ("label", "name", "command", "cwd") if k in by_key]
    end = [by_key["tags"]] if "tags" in by_key else []
    return cols + middle + tail + end


def _by_share(shares: Mapping[str, float], free: int) -> dict[str, int]:
    widths: dict[str, int] = {}
    used = 0
    for i, (key, share) in enumerate(shares.items()):
        w = free - used if i == len(shares) - 1 else int(free * share)
        widths[key] = w
        used += w
    return widths


def _by_content(keys: list[str], free: int, wants: Mapping[str, int]) -> dict[str, int]:
    """Each column wants its longest text plus the space after it. When all fit, each
    gets that and the rest goes to ``_SPARE_TO``; otherwise the columns that want
    less than an even share get it, and the others split what is left evenly."""
    need = {k: max(_LEAST[k], wants.get(k, 0) + 1) for k in keys}
    if sum(need.values()) <= free:
        widths = dict(need)
        spare = next(k for k in (*_SPARE_TO, keys[-1]) if k in widths)
        widths[spare] += free - sum(need.values())
        return widths
    widths = {}
    left, pending = free, sorted(keys, key=lambda k: need[k])
    while pending:
        share = left // len(pending)
        key = pending.pop(0)
        w = left if not pending else max(_LEAST[key], min(need[key], share))
        widths[key] = w
        left -= w
    return {k: widths[k] for k in keys}


class SessionTable(ScrollView, can_focus=True):
    """Rows of sessions; the first line is a header that stays put."""

    BINDINGS: ClassVar = bindings(
        "cursor_down", "cursor_up", "page_down", "page_up", "first", "last"
    )

    COMPONENT_CLASSES: ClassVar = {
        "session-table--header",
        "session-table--cursor",
        "session-table--dim",
        "session-table--id",
        "session-table--pin",
        "session-table--marked",
        "session-table--tags",
        "session-table--failed-exit",
        *(f"session-table--{s}" for s in (*fmt.STATUS_ICON, *fmt.ATTENTION_ICON)),
    }

    DEFAULT_CSS = """
    SessionTable { height: 1fr; overflow-x: hidden; }
    """

    @dataclass
    class Highlighted(Message):
        """The cursor is on another session (None: the list is empty). The table has
        selected it in the app's state already: a handler must not select it again,
        since under load the message comes after the next key has moved on (a held key
        then lost rows)."""

        table: SessionTable
        session_id: int | None

        @property
        def control(self) -> SessionTable:
            return self.table

    @dataclass
    class Chosen(Message):
        """A row was double-clicked."""

        table: SessionTable
        session_id: int

    def __init__(self, state: AppState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self._columns: list[Column] = []
        self._layout: tuple[int, int, tuple[tuple[str, int], ...]] = (-1, -1, ())
        # The longest text of each flexible column among the rows at hand: it only
        # grows while the list stays the same, so scrolling does not move the columns.
        self._wants: dict[str, int] = {}
        self._id_width = 3
        self._request_scheduled = False
        self.rates = OutputRates()  # a running session's output rate, in its exit cell

    # -- life cycle -----------------------------------------------------------------
    def on_mount(self) -> None:
        self._sync_size()

    def state_changed(self, change: Change) -> None:
        """Follow a change of the state store (the screen passes them on: none while
        it is covered, all it missed when it shows again)."""
        if change.index:
            self._wants = {}
            self._sync_size()
        if change.index or change.rows:
            self._measure()
        if change.index or change.selection:
            self.scroll_to_cursor()
        if change.index or change.selection or change.rows & set(self._visible_ids()):
            self.refresh()

    def _measure(self) -> None:
        """How wide each flexible column's text is in the rows fetched around the
        screen (a page above, two below): columns share the width by content."""
        top, page = int(self.scroll_y), self.page_height
        wants = dict(self._wants)
        for sid in self.state.ids[max(0, top - page) : top + 3 * page]:
            row = self.state.row(sid)
            if row is None:
                continue
            for key, text in (
                ("name", row.name or "—"),
                ("command", row.command),
                ("label", row.name or row.command),
                ("cwd", fmt.home(row.cwd)),
                ("tags", " ".join(row.tags)),
            ):
                wants[key] = max(wants.get(key, 0), cell_len(text))
        if wants != self._wants:
            self._wants = wants
            self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._sync_size()
        self.scroll_to_cursor()
        self._measure()

    def _sync_size(self) -> None:
        self._id_width = max(3, len(str(max(self.state.ids, default=0))) + 1)
        self.virtual_size = Size(self.size.width, len(self.state.ids) + 1)
        self.refresh()

    def tick(self, *, draw: bool = True) -> None:
        """Each second (the screen's timer): running sessions' output rates are sampled
        and, if ``draw``, their durations tick."""
        live = False
        for sid in self._visible_ids():
            row = self.state.row(sid)
            if row is not None and row.status in LIVE:
                self.rates.sample(sid, row.output_bytes)
                live = True
        if live and draw:
            self.refresh()

    # -- geometry -------------------------------------------------------------------
    @property
    def cursor_index(self) -> int | None:
        return self.state.position(self.state.selected)

    @property
    def page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _visible_ids(self) -> list[int]:
        top = int(self.scroll_y)
        return self.state.ids[top : top + self.page_height]

    def scroll_to_cursor(self) -> None:
        index = self.cursor_index
        if index is None:
            return
        top, page = int(self.scroll_y), self.page_height
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + page:
            self.scroll_to(y=index - page + 1, animate=False)

    # -- moving ---------------------------------------------------------------------
    def move_to(self, index: int) -> None:
        ids = self.state.ids
        if not ids:
            return
        index = max(0, min(index, len(ids) - 1))
        if ids[index] != self.state.selected:
            # Select now, not when the message is handled: keys that arrive together
            # (a held key, a burst from the terminal) each move from where the last
            # one left the cursor.
            self.state.select(ids[index])
            self.post_message(self.Highlighted(self, ids[index]))

    def _step(self, delta: int) -> None:
        current = self.cursor_index
        self.move_to(0 if current is None else current + delta)

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)

    def action_page_down(self) -> None:
        self._step(self.page_height)

    def action_page_up(self) -> None:
        self._step(-self.page_height)

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(len(self.state.ids) - 1)

    def on_click(self, event: events.Click) -> None:
        if event.y < 1:
            return
        index = int(self.scroll_y) + event.y - 1
        if 0 <= index < len(self.state.ids):
            sid = self.state.ids[index]
            if event.chain >= 2:
                self.post_message(self.Chosen(self, sid))
            else:
                self.move_to(index)

    # -- drawing --------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        # Textual caches component styles and clears the cache on a theme change.
        return self.get_component_rich_style(f"session-table--{name}", partial=True)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        id_width = self._id_width
        key = (width, id_width, tuple(sorted(self._wants.items())))
        if self._layout != key:
            wants = self._wants or None
            self._columns, self._layout = layout(width, id_width, wants), key
        base = self.rich_style
        if y == 0:
            return self._header(width, base)
        index = int(self.scroll_y) + y - 1
        ids = self.state.ids
        if index >= len(ids):
            return Strip.blank(width, base)
        sid = ids[index]
        row = self.state.row(sid)
        if sid in self.state.marked:
            base = base + self._style("marked")
        if index == self.cursor_index:
            base = base + self._style("cursor")
        if row is None:
            self._ask_later()
            text = set_cell_size(f"  #{sid}  …", width)
            return Strip([Segment(text, base + self._style("dim"))], width)
        return Strip(self._cells(row, base), width).adjust_cell_length(width, base)

    def _header(self, width: int, base: Style) -> Strip:
        style = base + self._style("header")
        segments = []
        for col in self._columns:
            title = col.title.upper() if col.key not in ("icon", "pin") else ""
            segments.append(Segment(_fit(title, col.width - 1, col.align) + " ", style))
        return Strip(segments).adjust_cell_length(width, style)

    def _cells(self, s: Session, base: Style) -> list[Segment]:
        now = self.state.clock()
        out = []
        for col in self._columns:
            text, style = self._cell(col.key, s, now)
            out.append(Segment(_fit(text, col.width - 1, col.align) + " ", base + style))
        return out

    def _cell(self, key: str, s: Session, now: float) -> tuple[str, Style]:
        plain = Style()
        if key == "icon":
            shown, style = fmt.icon(s)  # a running session's attention, else its status
            return shown, self._style(style)
        if key == "id":
            return f"#{s.id}", self._style("id")
        if key == "pin":
            if s.id in self.state.marked:
                return "●", self._style("marked")
            return ("★" if s.pinned else ""), self._style("pin")
        if key == "label":
            return (s.name, plain) if s.name else (s.command, self._style("dim"))
        if key == "name":
            return (s.name, plain) if s.name else ("—", self._style("dim"))
        if key == "command":
            return s.command, plain
        if key == "cwd":
            return fmt.home(s.cwd), self._style("dim")
        if key == "started":
            place = self.state.queue_places.get(s.id)
            if place is not None:  # waiting in the queue (runner/queue.py)
                return f"queued {place}", self._style(s.status)
            return fmt.relative(s.started_at or s.created_at, now), self._style("dim")
        if key == "duration":
            return fmt.duration(s.duration(now)), plain
        if key == "exit":
            if s.status in LIVE:  # no exit code yet: its output rate, as a sparkline
                return self.rates.spark(s.id), self._style(s.status)
            bad = self._style("failed-exit") if s.status == "failed" else plain
            if s.signal is not None:
                return f"sig{s.signal}", bad
            if s.exit_code is None:
                return "", plain
            return str(s.exit_code), bad
        if key == "lines":
            return fmt.count(s.output_lines), self._style("dim")
        if key == "tags":
            return " ".join(s.tags), self._style("tags")
        return "", plain

    def _ask_later(self) -> None:
        if not self._request_scheduled:
            self._request_scheduled = True
            self.call_later(self._request_visible)

    def _request_visible(self) -> None:
        self._request_scheduled = False
        top = int(self.scroll_y)
        page = self.page_height
        # A page above and two below, so scrolling rarely shows a placeholder.
        self.state.want(self.state.ids[max(0, top - page) : top + 3 * page])


def _fit(text: str, width: int, align: str) -> str:
    if width <= 0:
        return ""
    text = text.replace("\n", " ").replace("\t", " ")
    if len(text) > width:
        text = "…" + text[-(width - 1) :] if align == "tail" else text[: width - 1] + "…"
    cut = set_cell_size(text, width)
    if align == "right":
        stripped = cut.rstrip(" ")
        return set_cell_size(" " * (width - len(stripped)) + stripped, width)
    return cut
