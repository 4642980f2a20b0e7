"""The export dialog (``e``): format, file, redaction, then progress and a result toast.

The export runs as a worker on the app's store, so the screen stays responsive; a
progress bar shows on exports of more than ``PROGRESS_ABOVE`` bytes of output. The file
is written by ``storage.export.export_to_file``: 0600, complete or not at all. Dismissed
with the ``ExportResult``, or None when cancelled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    ProgressBar,
    RadioButton,
    RadioSet,
    Static,
)

from storage.transfer.export import EXTENSIONS, FORMATS, format_for_path
from tui import format as fmt
from tui.screens.modals import Modal

if TYPE_CHECKING:
    from storage.redact import Redactor
    from storage.transfer.export import ExportResult

PROGRESS_ABOVE = 4 * 1024 * 1024
FORMAT_LABELS = {
    "json": "json (complete, re-importable)",
    "md": "md (readable transcript)",
    "txt": "txt (plain output)",
    "jsonl": "jsonl (one object per line)",
}


def default_file_name(session_ids: list[int], fmt_name: str = "json") -> str:
    if len(session_ids) == 1:
        return f"tether-{session_ids[0]}.{fmt_name}"
    return f"tether-{len(session_ids)}-sessions.{fmt_name}"


class ExportModal(Modal["ExportResult | None"]):
    """Export ``session_ids`` to a file."""

    # The app's stylesheet wins over DEFAULT_CSS, so the format row (four lines high)
    # is not a ``form-row`` (one line high there).
    DEFAULT_CSS = """
    #export-dialog #format-row { height: auto; margin-bottom: 1; }
    #export-dialog #format-row .form-label { width: 11; color: $text-muted; }
    #export-dialog #format { width: 1fr; }
    #export-dialog #path { width: 1fr; }
    #export-dialog #export-progress { margin-top: 1; display: none; }
    #export-dialog #export-progress.running { display: block; }
    """

    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel", id="modal_cancel"),
        Binding("ctrl+s", "submit", "Export", id="modal_submit"),
    ]

    def __init__(self, session_ids: list[int]) -> None:
        super().__init__()
        self.session_ids = list(dict.fromkeys(session_ids))
        self.running = False
        self._total = 0
        self._path_format: str | None = "json"  # the format the path's extension names

    def compose(self) -> ComposeResult:
        ids = self.session_ids
        title = f"Export session #{ids[0]}" if len(ids) == 1 else f"Export {len(ids)} sessions"
        path = os.path.join(fmt.home(self.tether.start_cwd), default_file_name(ids))
        with Vertical(classes="dialog", id="export-dialog"):
            yield Label(title, classes="dialog-title", id="export-title")
            with Horizontal(id="format-row"):
                yield Label("Format", classes="form-label")
                with RadioSet(id="format", compact=True):
                    for i, name in enumerate(FORMATS):
                        yield RadioButton(FORMAT_LABELS[name], value=i == 0, id=f"fmt-{name}")
            with Horizontal(classes="form-row"):
                yield Label("File", classes="form-label")
                # Not selected on focus: a space typed there must not wipe the path.
                yield Input(path, id="path", compact=True, select_on_focus=False)
            with Horizontal(classes="form-row"):
                yield Label("Secrets", classes="form-label")
                yield Checkbox(
                    Text("redact (built-in patterns + [redaction] patterns in config)"),
                    True,
                    id="redact",
                    compact=True,
                )
            yield ProgressBar(id="export-progress", show_eta=False)
            yield Static("", id="export-error", classes="dialog-error")
            yield Static(
                Text("ctrl+s exports · tab next field · space toggles a choice · escape", "dim"),
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel", compact=True)
                yield Button("Export", id="export", variant="primary", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        field = self.query_one("#path", Input)
        field.focus()
        field.cursor_position = len(field.value)
        self.run_worker(self._measure(), group="export-size")

    async def _measure(self) -> None:
        store = self.tether.store
        sessions = await store.sessions.list(ids=self.session_ids, include_deleted=True)
        self._total = sum(s.output_bytes for s in sessions)

    # -- the form ---------------------------------------------------------------------
    @property
    def chosen_format(self) -> str:
        for name in FORMATS:
            if self.query_one(f"#fmt-{name}", RadioButton).value:
                return name
        return "json"

    @on(RadioSet.Changed, "#format")
    def _format_changed(self) -> None:
        """Keep the file's extension in step with the format."""
        field = self.query_one("#path", Input)
        root, ext = os.path.splitext(field.value)
        if (ext.lower() in EXTENSIONS or not ext) and format_for_path(field.value) != (
            self.chosen_format
        ):
            field.value = f"{root}.{self.chosen_format}"

    @on(Input.Changed, "#path")
    def _path_changed(self, event: Input.Changed) -> None:
        """And the format in step with the extension typed (``out.md`` is Markdown), as
        ``tether export -o`` decides it (``format_for_path``)."""
        wanted = format_for_path(event.value.strip())
        if wanted == self._path_format:
            return  # the extension did not change (the choice may have, to change it)
        self._path_format = wanted
        if wanted is not None and wanted != self.chosen_format:
            self.query_one(f"#fmt-{wanted}", RadioButton).value = True

    @on(Input.Submitted, "#path")
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#export")
    def _export_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "export")
        self.dismiss(None)

    def _error(self, message: str) -> None:
        """Say what went wrong in the dialog, and with a bell: nothing fails silently."""
        self.query_one("#export-error", Static).update(message)
        if message:
            self.app.bell()

    def action_submit(self) -> None:
        if self.running:
            return
        text = self.query_one("#path", Input).value.strip()
        if not text:
            self._error("Type the file to write.")
            return
        # A relative path is in the directory the dialog started in (shown in the field).
        path = Path(self.tether.start_cwd, os.path.expanduser(text))
        if not path.parent.is_dir():
            self._error(f"{fmt.home(str(path.parent))} is not a directory.")
            return
        if path.is_dir():
            self._error(f"{text} is a directory; add a file name.")
            return
        redactor = None
        if self.query_one("#redact", Checkbox).value:
            from home.config import export_redactor

            try:
                redactor = export_redactor(self.tether.config.section("redaction"))
            except ValueError as e:  # a bad pattern in config.toml
                self._error(f"Redaction patterns in config.toml: {e}")
                return
        self._error("")
        self._set_running(True)
        # The extension decides, as on the command line; the choice is for other names.
        fmt_name = format_for_path(path.name) or self.chosen_format
        self.run_worker(self._export(path, fmt_name, redactor), group="export", exclusive=True)

    def _set_running(self, running: bool) -> None:
        self.running = running
        for widget in self.query("Input, RadioSet, Checkbox, #export"):
            widget.disabled = running
        bar = self.query_one("#export-progress", ProgressBar)
        bar.set_class(running and self._total > PROGRESS_ABOVE, "running")

    def _progress(self, done: int, total: int) -> None:
        self.query_one("#export-progress", ProgressBar).update(total=total, progress=done)

    async def _export(self, path: Path, fmt_name: str, redactor: Redactor | None) -> None:
        from storage.transfer.export import export_to_file

        try:
            result: ExportResult = await export_to_file(
                self.tether.store,
                self.session_ids,
                path,
                fmt=fmt_name,
                redactor=redactor,
                progress=self._progress,
            )
        except Exception as e:  # noqa: BLE001 - shown in the dialog, which stays open
            self._set_running(False)
            self._error(f"Could not export: {e}")
            return
        n = result.sessions
        self.app.notify(
            f"Exported {n} session{'s' * (n != 1)} to {fmt.home(str(path))} · "
            f"{result.redaction_text()}",
            title="Export",
            timeout=8,
        )
        self.dismiss(result)
