"""Placeholder app: the real TUI replaces this module (issue 4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.cli.context import Ctx


def run_app(ctx: Ctx) -> int:
    from textual.app import App
    from textual.widgets import Footer, Static

    class TetherApp(App):
        BINDINGS = [("q", "quit", "Quit")]

        def compose(self):  # type: ignore[no-untyped-def]
            yield Static(f"tether: database {ctx.paths.db}")
            yield Footer()

    TetherApp().run()
    return 0
