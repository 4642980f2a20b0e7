"""``?``: every key of the screen underneath, generated from its live bindings.

Because it reads ``Screen.active_bindings``, a key remapped in ``[keys]`` shows its
new key here, and a key that does nothing right now is listed as unavailable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

if TYPE_CHECKING:
    from textual.screen import Screen


@dataclass(frozen=True)
class KeyHelp:
    keys: str
    description: str
    tooltip: str
    enabled: bool
    id: str


def screen_keys(screen: Screen) -> list[KeyHelp]:
    """The bindings active on ``screen`` (its focused widget's and the screen's first,
    then the app's), one entry per binding with all its keys. Only tether's own
    bindings (those with an id) are listed: they are the ones a user can remap."""
    app = screen.app
    grouped: dict[tuple[str, str], KeyHelp] = {}
    order: dict[tuple[str, str], int] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if binding.system or not binding.description or not binding.id:
            continue
        shown = app.get_key_display(binding)
        ident = (binding.id, binding.description)
        prev = grouped.get(ident)
        if prev is not None:
            grouped[ident] = KeyHelp(
                f"{prev.keys}, {shown}", prev.description, prev.tooltip, prev.enabled, prev.id
            )
            continue
        grouped[ident] = KeyHelp(
            shown, binding.description, binding.tooltip, active.enabled, binding.id
        )
        order[ident] = 1 if active.node is app else 0
    return [grouped[k] for k in sorted(grouped, key=lambda k: order[k])]


class HelpModal(ModalScreen):
    """A table of keys: key, what it does, and the binding id to remap it with."""

    BINDINGS: ClassVar = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help_close"),
    ]

    def __init__(self, title: str, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.title_text = title
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Table(box=None, expand=True, padding=(0, 1), show_header=True)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        table.add_column("config id", style="dim", no_wrap=True)
        for k in self.keys:
            what = Text(k.tooltip or k.description)
            if not k.enabled:
                what.append("  (not now)", style="dim italic")
            table.add_row(k.keys, what, k.id)
        with Vertical(classes="dialog", id="help-dialog"):
            yield Label(f"Keys: {self.title_text}", classes="dialog-title")
            with VerticalScroll():
                yield Static(table)
            yield Static(
                Text(
                    'Remap any key in config.toml, e.g.  [keys]  new_session = "ctrl+n"   '
                    "· escape closes",
                    style="dim",
                ),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()  # up/down/pgup/pgdn scroll the list

    async def action_dismiss(self, result: object = None) -> None:
        self.dismiss(None)
