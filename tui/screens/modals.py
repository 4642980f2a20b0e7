"""Modal dialogs: new session, confirm, tags, status filter.

Each returns its answer through ``dismiss`` (None means cancelled), so callers use
``push_screen(modal, callback)`` or ``await push_screen_wait(modal)`` in a worker.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, SelectionList, Static

from runner.shell import shell_argv
from storage.models import STATUSES
from tui import format as fmt
from tui.screens.base import ResultType, TetherModal

_TAG_SPLIT = re.compile(r"[\s,]+")


def parse_tags(text: str) -> tuple[str, ...]:
    """``"ml, nightly gpu"`` -> ``("ml", "nightly", "gpu")`` (order kept, no repeats)."""
    out: list[str] = []
    for tag in _TAG_SPLIT.split(text.strip()):
        if tag and tag not in out:
            out.append(tag)
    return tuple(out)


class Modal(TetherModal[ResultType]):
    """A modal that closes with escape and keeps input cursors still when asked."""

    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", id="modal_cancel")]

    def on_mount(self) -> None:
        blink = self.tether.cursor_blink
        for widget in self.query(Input):
            widget.cursor_blink = blink

    def action_cancel(self) -> None:
        self.dismiss(None)


# -- confirm -----------------------------------------------------------------------------


class ConfirmModal(Modal[bool | None]):
    """Yes or no. ``body`` may show the exact command about to run."""

    BINDINGS: ClassVar = [
        Binding("y", "confirm", "Yes", id="modal_yes"),
        Binding("n", "cancel", "No", id="modal_no"),
        Binding("escape", "cancel", "Cancel", id="modal_cancel"),
    ]

    def __init__(
        self, title: str, body: str | Text, *, confirm: str = "OK", danger: bool = False
    ) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.body, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(
                    self.confirm_label, id="confirm", variant="error" if self.danger else "primary"
                )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#confirm", Button).focus()

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")


# -- new session -------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    """What the user asked to start."""

    argv: tuple[str, ...]
    cwd: str
    name: str
    tags: tuple[str, ...]
    mode: str  # pipe | pty


class DirectorySuggester(Suggester):
    """Completes a directory path as it is typed (``~`` understood; → accepts)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_directory(value)


def complete_directory(value: str) -> str | None:
    """The first directory whose path starts with ``value``, written as typed."""
    if not value:
        return None
    expanded = os.path.expanduser(value)
    parent, partial = os.path.split(expanded)
    try:
        names = sorted(
            e.name
            for e in os.scandir(parent or ".")
            if e.name.startswith(partial)
            and (partial.startswith(".") or not e.name.startswith("."))
            and e.is_dir()
        )
    except OSError:
        return None
    for name in names:
        if name != partial:
            return value + name[len(partial) :] + "/"
    return None


class NewSessionModal(Modal["NewSession | None"]):
    """Command (a line of shell, run by ``$SHELL -c``), directory (with completion),
    name, tags, pipe or pty."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="modal_cancel"),
        Binding("ctrl+s", "submit", "Start", id="modal_submit"),
    ]

    def __init__(self, cwd: str | None = None) -> None:
        super().__init__()
        self.default_cwd = cwd or os.getcwd()

    def compose(self) -> ComposeResult:
        cwd = fmt.home(self.default_cwd)
        with Vertical(classes="dialog", id="new-session-dialog"):
            yield Label("New session", classes="dialog-title")
            with Horizontal(classes="form-row"):
                yield Label("Command", classes="form-label")
                yield Input(
                    placeholder="a shell line, e.g. make test  ·  echo $HOME | tr a-z A-Z",
                    id="command",
                    compact=True,
                )
            with Horizontal(classes="form-row"):
                yield Label("Directory", classes="form-label")
                yield Input(
                    cwd if cwd.endswith("/") else cwd + "/",
                    id="cwd",
                    suggester=DirectorySuggester(),
                    compact=True,
                )
            with Horizontal(classes="form-row"):
                yield Label("Name", classes="form-label")
                yield Input(placeholder="optional: what it is", id="name", compact=True)
            with Horizontal(classes="form-row"):
                yield Label("Tags", classes="form-label")
                yield Input(placeholder="optional: e.g. ml nightly", id="tags", compact=True)
            with Horizontal(classes="form-row", id="mode-row"):
                yield Label("Mode", classes="form-label")
                with RadioSet(id="mode", compact=True):
                    yield RadioButton("pipe (stdout, stderr apart)", value=True, id="mode-pipe")
                    yield RadioButton("pty (a terminal: colours)", id="mode-pty")
            yield Static("", id="new-session-error", classes="dialog-error")
            yield Static(
                Text("enter starts · tab next field · → completes a directory · escape", "dim"),
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Start", id="start", variant="primary", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#command", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def _error(self, message: str, field: str) -> None:
        self.query_one("#new-session-error", Static).update(message)
        self.query_one(f"#{field}", Input).focus()

    def action_submit(self) -> None:
        command = self.query_one("#command", Input).value.strip()
        if not command:
            self._error("Type the command to run.", "command")
            return
        # A line of shell, as typed: loops, pipes and $VARS work (runner.shell).
        argv = tuple(shell_argv(command))
        cwd_text = self.query_one("#cwd", Input).value.strip() or self.default_cwd
        cwd = Path(os.path.expanduser(cwd_text))
        if not cwd.is_dir():
            self._error(f"{cwd_text} is not a directory.", "cwd")
            return
        mode = "pty" if self.query_one("#mode-pty", RadioButton).value else "pipe"
        self.dismiss(
            NewSession(
                argv=argv,
                cwd=str(cwd.resolve()),
                name=self.query_one("#name", Input).value.strip(),
                tags=parse_tags(self.query_one("#tags", Input).value),
                mode=mode,
            )
        )


# -- tags --------------------------------------------------------------------------------


class TagSuggester(Suggester):
    """Completes the last word from tags already in use."""

    def __init__(self, known: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.known = known

    async def get_suggestion(self, value: str) -> str | None:
        last = _TAG_SPLIT.split(value)[-1]
        if not last:
            return None
        for tag in self.known:
            if tag.startswith(last) and tag != last:
                return value + tag[len(last) :]
        return None


class TagsModal(Modal[tuple[str, ...] | None]):
    """Edit a session's tags: words separated by spaces."""

    def __init__(self, label: str, tags: tuple[str, ...], known: list[tuple[str, int]]) -> None:
        super().__init__()
        self.label = label
        self.tags = tags
        self.known = known

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tags-dialog"):
            yield Label(f"Tags of {self.label}", classes="dialog-title")
            yield Input(
                " ".join(self.tags),
                placeholder="words separated by spaces",
                id="tags",
                suggester=TagSuggester([t for t, _ in self.known]),
            )
            if self.known:
                used = "  ".join(f"{t} ({n})" for t, n in self.known[:12])
                yield Static(Text(f"In use: {used}", style="dim"), classes="dialog-hint")
            yield Static(
                Text("enter saves · escape cancels · → completes", style="dim"),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        super().on_mount()
        field = self.query_one("#tags", Input)
        field.focus()
        field.cursor_position = len(field.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(parse_tags(event.value))


# -- status filter -----------------------------------------------------------------------


class StatusFilterModal(Modal[frozenset[str] | None]):
    """Pick the statuses the list shows (none picked: all)."""

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="modal_cancel"),
        Binding("enter", "apply", "Apply", id="modal_apply", priority=True),
        Binding("a", "all", "All", id="modal_all"),
    ]

    def __init__(self, current: frozenset[str]) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="status-dialog"):
            yield Label("Show sessions that are…", classes="dialog-title")
            yield SelectionList[str](
                *[(f"{fmt.STATUS_ICON[s]} {s}", s, s in self.current) for s in STATUSES],
                id="statuses",
            )
            yield Static(
                Text("space toggles · enter applies · a shows all · escape cancels", style="dim"),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#statuses", SelectionList).focus()

    def action_apply(self) -> None:
        picked = self.query_one("#statuses", SelectionList).selected
        self.dismiss(frozenset(picked))

    def action_all(self) -> None:
        self.dismiss(frozenset())
