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

    def on_mount(self) -> None:
        self.state.changed.subscribe(self, self._on_change)
        self._show()

    def _on_change(self, change: Change) -> None:
        if change.saved or change.rows:
            self._show()

    def _show(self) -> None:
        dirty = self.state.dirty
        self.set_class(dirty, "-unsaved")
        self.update("● unsaved" if dirty else "✓ saved")


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
        yield SaveIndicator(self.state)

    def show(self, message: str | Text) -> None:
        self.query_one("#status-message", Static).update(message)
