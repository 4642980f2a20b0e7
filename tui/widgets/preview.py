"""The preview pane of the session list: the selected session's last lines, live;
for a terminal (pty) session, its screen (the rows up to the cursor or the last drawn).

It follows the state store: when the selection changes, or the selected session's
line count grows, it reads the tail again (only as many lines as fit). Colours are
kept; every other control sequence is neutralised (``storage.text.terminal_safe``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.widgets import Static

from storage.text import terminal_safe
from tui import format as fmt
from tui.state import Change
from tui.widgets.screen_render import styled_text

if TYPE_CHECKING:
    from runner.screen.replay import ScreenReplay
    from storage import Session
    from tui.state import AppState


SCREENS_KEPT = 4  # pty sessions whose replayed screen is kept, so returning is cheap


class SessionPreview(Static):
    """Last lines of the selected session, refreshed as they arrive."""

    # stderr is not painted as a failure (servers log requests there); a theme may
    # style it (tui/app.tcss, $stderr-foreground).
    COMPONENT_CLASSES: ClassVar = {"session-preview--stderr"}

    DEFAULT_CSS = """
    SessionPreview { height: 1fr; overflow: hidden; }
    SessionPreview > .session-preview--stderr { color: $foreground; }
    """

    def __init__(self, state: AppState, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.state = state
        self._shown: tuple[int | None, int, int, str] | None = None
        self._reading = 0
        self._screens: OrderedDict[int, ScreenReplay] = OrderedDict()  # pty sessions seen

    def on_mount(self) -> None:
        self.call_later(self.reload)

    def state_changed(self, change: Change) -> None:
        """Follow a change of the state store (passed on by the screen, as the table's)."""
        sid = self.state.selected
        if change.selection or change.index or (sid is not None and sid in change.rows):
            self.call_later(self.reload)

    def on_resize(self) -> None:
        self._shown = None
        self.call_later(self.reload)

    @property
    def busy(self) -> bool:
        """A read is in flight or the pane shows another session than the selected one
        (tests and screenshots wait for this to turn False)."""
        if self._reading:
            return True
        sid = self.state.selected
        session = self.state.row(sid) if sid is not None else None
        return (
            self._shown is None
            or self._shown[0] != sid
            or (session is not None and self._shown[1] != session.output_lines)
        )

    async def reload(self) -> None:
        self._reading += 1
        try:
            await self._reload()
        finally:
            self._reading -= 1

    async def _reload(self) -> None:
        sid = self.state.selected
        session = self.state.row(sid) if sid is not None else None
        height = max(1, self.size.height)
        key = (
            sid,
            session.output_lines if session else -1,
            height,
            session.status if session else "",
        )
        if key == self._shown:
            return
        self._shown = key
        if session is None:
            self.border_title = "preview"
            self.update(Text("No session selected.", style="dim"))
            return
        self.border_title = f"#{session.id} · {session.label}"
        self.border_subtitle = f"{fmt.count(session.output_lines)} lines"
        if session.mode == "pty":
            screen = await self._screen_text(session, height)
            if self.state.selected == sid:
                self.update(screen)
            return
        lines = await self.state.store.output.tail(session.id, height)
        if self.state.selected != sid:
            return  # moved on while reading
        self.update(self._lines_text(session, lines))

    async def _screen_text(self, session: Session, height: int) -> Text:
        """The bottom of the session's screen that holds anything, ``height`` rows."""
        from runner.screen.replay import ScreenReplay

        replay = self._screens.pop(session.id, None) or ScreenReplay(session.id)
        self._screens[session.id] = replay
        while len(self._screens) > SCREENS_KEPT:
            self._screens.popitem(last=False)
        await replay.catch_up(self.state.store)
        screen = replay.screen
        rows = screen.styled_lines()
        last = max([screen.cursor.y] + [y for y, runs in enumerate(rows) if runs])
        if not replay.fed:
            what = "No output yet." if session.status in ("pending", "running") else "No output."
            return Text(what, style="dim")
        out = Text(no_wrap=True, overflow="crop")
        for i, runs in enumerate(rows[max(0, last + 1 - height) : last + 1]):
            if i:
                out.append("\n")
            out.append_text(styled_text(runs))
        return out

    def _lines_text(self, session: Session, lines: list) -> Text:
        if not lines:
            what = "No output yet." if session.status in ("pending", "running") else "No output."
            return Text(what, style="dim")
        out = Text(no_wrap=True, overflow="ellipsis")
        stderr = self.get_component_rich_style("session-preview--stderr", partial=True)
        for i, line in enumerate(lines):
            if i:
                out.append("\n")
            text = Text.from_ansi(terminal_safe(line.text), no_wrap=True)
            if line.stream == "stderr":
                text.stylize_before(stderr)
            elif line.stream == "system":
                text.stylize("dim italic")
            out.append_text(text)
        return out
