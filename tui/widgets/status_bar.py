"""One line above the footer: what the list shows on the left, saved/unsaved on the right."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from tui.state import Change

if TYPE_CHECKING:
    from tui.state import AppState


class SaveIndicator(Static):
    """``✓ saved`` or ``● unsaved`` (edits waiting for the autosave)."""

    DEFAULT_CSS = """
    SaveIndicator { width: auto; padding: 0 1; color: $text-muted; }
    SaveIndicator.-unsaved { color: $warning; }
    """

    def __init__(self, state: AppState) -> None:
        super().__init__("", markup=False)
        self.state = state
        self._dirty: bool | None = None  # what is shown (None: nothing yet)

    def on_mount(self) -> None:
        self.state.changed.subscribe(self, self._on_change)
        self._show()

    def _on_change(self, change: Change) -> None:
        if change.saved or change.rows:
            self._show()

    def _show(self) -> None:
        # Rows change twice a second while a session runs; the words rarely do, and
        # an update repaints (also the screen above, when this one is underneath).
        dirty = self.state.dirty
        if dirty == self._dirty:
            return
        self._dirty = dirty
        self.set_class(dirty, "-unsaved")
        self.update("● unsaved" if dirty else "✓ saved")


class NeedsYouCount(Static):
    """``◆ 2 need you``: how many running sessions wait for an answer (none: empty)."""

    DEFAULT_CSS = """
    NeedsYouCount { width: auto; padding: 0 1; color: $warning; text-style: bold; }
    """

    def on_mount(self) -> None:
        watch = getattr(self.app, "attention_watch", None)
        if watch is not None:
            watch.counted.subscribe(self, self._show)
            self._show(len(watch.waiting))

    def _show(self, n: int) -> None:
        self.display = n > 0  # takes no room when nobody waits
        self.update(f"◆ {n} need{'s' if n == 1 else ''} you" if n else "")


class StatusBar(Horizontal):
    """A message on the left (set by the screen) and the save indicator on the right."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    StatusBar > #status-message { width: 1fr; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, state: AppState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        yield Static("", id="status-message", markup=False)
        count = NeedsYouCount("", markup=False)
        count.display = False
        yield count
        yield SaveIndicator(self.state)

    def show(self, message: str | Text) -> None:
        self.query_one("#status-message", Static).update(message)
