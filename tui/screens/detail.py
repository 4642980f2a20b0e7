"""Session detail: every field, the runs, editable name, tags and notes (autosaved), and
the session's newest audit entries (who did what, when)."""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, ClassVar

from rich.json import JSON
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static, TextArea

from storage.models import total_duration
from storage.text import visible
from tui import format as fmt
from tui.keys import bindings
from tui.screens.base import SessionScreen
from tui.screens.modals import parse_tags
from tui.state import Change
from tui.widgets.key_footer import KeyFooter
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from storage import Run, Session
    from tui.state import AppState


AUDIT_SHOWN = 8  # audit entries shown; `tether audit ID` has them all


class DetailScreen(SessionScreen):
    """One session in full."""

    BINDINGS: ClassVar = [
        *bindings(
            "back",
            "output",
            "attach",
            "resume",
            "stop",
            "pause",
            "delete",
            "undo_delete",
            "pin",
            "edit_name",
            "edit_notes",
            "tags",
            "export",
        ),
    ]

    def __init__(self, state: AppState, session_id: int) -> None:
        super().__init__(state)
        self.session_id = session_id
        self._runs: list[Run] = []
        self.ready = False  # filled in from the database (tests wait for it)

    @property
    def current_id(self) -> int | None:
        return self.session_id

    @property
    def shown_session(self) -> int | None:
        return self.session_id

    def compose(self) -> ComposeResult:
        yield Static("", id="topbar")
        with VerticalScroll(id="detail"):
            yield Static("", id="facts")
            with Horizontal(classes="edit-row"):
                yield Label("Name", classes="edit-label")
                yield Input(
                    placeholder="a name for this session",
                    id="name",
                    compact=True,
                    select_on_focus=False,
                )
            with Horizontal(classes="edit-row"):
                yield Label("Tags", classes="edit-label")
                yield Input(
                    placeholder="words separated by spaces",
                    id="tags",
                    compact=True,
                    select_on_focus=False,
                )
            yield Label("Notes", classes="section-title")
            yield TextArea(
                id="notes",
                soft_wrap=True,
                show_line_numbers=False,
                compact=True,
                placeholder="Anything worth remembering about this session (E to edit)",
                highlight_cursor_line=False,
            )
            yield Label("Runs", classes="section-title")
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=False)
            yield Label("Context", classes="section-title")
            yield Static("", id="context")
            yield Label("Activity", classes="section-title")
            yield Static("", id="audit")
        yield StatusBar(self.state)
        yield KeyFooter(compact=True)

    async def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#notes", TextArea).cursor_blink = self.tether.cursor_blink
        runs = self.query_one("#runs", DataTable)
        runs.add_columns("run", "started", "ended", "took", "exit", "status", "command")
        self.state.changed.subscribe(self, self._on_change)
        session = await self.state.session(self.session_id)
        self._fill_fields(session)
        await self._refresh(session)
        self.query_one("#detail").focus()
        self.set_interval(1.0, self._tick)
        self.ready = True
        if session is not None and session.agent_kind:
            self.run_worker(self._read_transcript(), exclusive=True, group="detail-transcript")

    async def _read_transcript(self) -> None:
        """An agent session's context (model, tokens) up to now: what its transcript
        gained since the last look (agents/transcripts)."""
        import os

        from agents.kinds import kinds_from_config
        from agents.transcripts.index import sync
        from storage.errors import StoreError

        try:
            kinds = kinds_from_config(self.tether.config.section("agents"))
            report = await sync(self.tether.store, kinds, os.environ, session_ids=[self.session_id])
        except (StoreError, ValueError):
            return  # read-only or busy: the context as it was
        if report.entries and self.is_attached:
            await self._refresh(await self.state.session(self.session_id))

    def _tick(self) -> None:
        """The duration of a running session ticks even when it prints nothing."""
        session = self.state.row(self.session_id)
        if session is not None and session.live:
            self.query_one("#facts", Static).update(self._facts(session))

    def on_screen_resume(self) -> None:
        self.state.set_place("detail", self.session_id)
        self.update_bindings()

    def _on_change(self, change: Change) -> None:
        if self.session_id in change.rows:
            self.run_worker(self._refresh(), exclusive=True, group="detail-refresh")

    async def _refresh(self, session: Session | None = None) -> None:
        session = session or self.state.row(self.session_id)
        if session is None:
            session = await self.state.session(self.session_id)
        if session is None:
            self.query_one("#facts", Static).update(
                Text(f"Session #{self.session_id} no longer exists.", style="bold red")
            )
            return
        if session.run_count != len(self._runs) or session.live:
            self._runs = await self.state.store.runs.list(self.session_id)
            self._fill_runs(self._runs)
        self.query_one("#topbar", Static).update(self._topbar(session))
        self.query_one("#facts", Static).update(self._facts(session))
        self.query_one("#context", Static).update(self._context_view(session))
        await self._fill_audit()
        self.query_one(StatusBar).show(Text(f"#{session.id} · {session.uid}", style="dim"))
        # Fields being edited keep what the user typed; others follow the database.
        for field_id, value in (("name", session.name), ("tags", " ".join(session.tags))):
            field = self.query_one(f"#{field_id}", Input)
            if not field.has_focus and field.value != value:
                with field.prevent(Input.Changed):
                    field.value = value
        self.update_bindings()

    def _fill_fields(self, session: Session | None) -> None:
        if session is None:
            return
        with self.prevent(Input.Changed, TextArea.Changed):
            self.query_one("#name", Input).value = session.name
            self.query_one("#tags", Input).value = " ".join(session.tags)
            self.query_one("#notes", TextArea).text = session.notes

    # -- what is shown ------------------------------------------------------------------
    def _topbar(self, s: Session) -> Text:
        text = Text.assemble(("tether", "bold"), "  ")
        text.append(f"{fmt.STATUS_ICON.get(s.status, '?')} ", style=_status_style(s.status))
        text.append(f"#{s.id}  ", style="bold")
        text.append(s.label)
        if s.pinned:
            text.append("  ★ pinned", style="yellow")
        return text

    def _facts(self, s: Session) -> Table:
        now = self.state.clock()
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        status = Text(fmt.status_text(s.status, s.exit_code, s.signal), _status_style(s.status))
        rows = [
            ("status", status, "mode", s.mode),
            ("command", Text(s.command, style="bold"), "pid", str(s.pid or "—")),
            ("directory", fmt.home(s.cwd), "origin", s.origin),
            ("created", fmt.timestamp(s.created_at), "runs", self._runs_text(s, now)),
            ("started", fmt.timestamp(s.started_at), "exit", _exit(s)),
            ("ended", fmt.timestamp(s.ended_at), "took", fmt.duration(s.duration(now))),
            (
                "output",
                f"{s.output_lines:,} lines · {fmt.size(s.output_bytes)} on disk",
                "last output",
                fmt.relative(s.last_output_at, now),
            ),
        ]
        if s.resume_argv:
            rows.append(("resume with", shlex.join(s.resume_argv), "", ""))
        if s.env:
            from storage.masking import MASK, shown_env

            shown = shown_env(s.env) or {}  # secrets masked: `tether show --reveal` has them
            env = " ".join(
                f"{k}={v if v == MASK else shlex.quote(v)}" for k, v in sorted(shown.items())
            )
            rows.append(("environment", env, "", ""))
        if s.trashed:
            rows.append(("in trash since", fmt.timestamp(s.deleted_at), "", ""))
        for row in rows:
            grid.add_row(*row)
        return grid

    def _runs_text(self, s: Session, now: float) -> str:
        """``3 · 12m05s in all``: "took" is the latest run's, this is every run's."""
        if len(self._runs) < 2:
            return str(s.run_count)
        return f"{s.run_count} · {fmt.duration(total_duration(self._runs, now))} in all"

    def _fill_runs(self, runs: list[Run]) -> None:
        table = self.query_one("#runs", DataTable)
        table.clear()
        now = self.state.clock()
        for r in runs:
            code = f"signal {r.signal}" if r.signal is not None else _or_dash(r.exit_code)
            table.add_row(
                str(r.number),
                fmt.timestamp(r.started_at),
                fmt.timestamp(r.ended_at),
                fmt.duration(r.duration(now)),
                code,
                Text(r.status or "running", _status_style(r.status or "running")),
                visible(shlex.join(r.argv)),
            )

    def _context_view(self, s: Session) -> JSON | Text:
        if s.context is None:
            return Text("No context. Programs embedding tether can store JSON here.", "dim")
        return JSON(json.dumps(s.context, ensure_ascii=False, sort_keys=True), indent=2)

    async def _fill_audit(self) -> None:
        """The newest ``AUDIT_SHOWN`` entries, newest first; the rest are counted."""
        from storage.engine.audit import describe

        audit = self.state.store.audit
        entries = await audit.list(self.session_id, limit=AUDIT_SHOWN)
        if not entries:
            self.query_one("#audit", Static).update(Text("Nothing recorded yet.", "dim"))
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="ellipsis", no_wrap=True)
        for e in entries:
            grid.add_row(
                fmt.timestamp(e.at), visible(e.actor), visible(e.action), visible(describe(e))
            )
        more = await audit.count(self.session_id) - len(entries)
        if more > 0:
            grid.add_row(
                "", "", Text(f"+{more} more", "dim"), Text(f"tether audit {self.session_id}", "dim")
            )
        self.query_one("#audit", Static).update(grid)

    # -- editing in place ---------------------------------------------------------------
    @on(Input.Changed, "#name")
    def _name_changed(self, event: Input.Changed) -> None:
        self.state.edit(self.session_id, name=event.value.strip())

    @on(Input.Changed, "#tags")
    def _tags_changed(self, event: Input.Changed) -> None:
        self.state.edit(self.session_id, tags=parse_tags(event.value))

    @on(TextArea.Changed, "#notes")
    def _notes_changed(self, event: TextArea.Changed) -> None:
        self.state.edit(self.session_id, notes=event.text_area.text)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.query_one("#detail").focus()

    def _edit(self, field_id: str) -> None:
        field = self.query_one(f"#{field_id}", Input)
        field.focus()
        field.cursor_position = len(field.value)

    def action_edit_name(self) -> None:
        self._edit("name")

    def action_edit_notes(self) -> None:
        self.query_one("#notes", TextArea).focus()

    def action_tags(self) -> None:
        self._edit("tags")

    def action_back(self) -> None:
        """escape leaves a field first, then the screen."""
        focused = self.focused
        if isinstance(focused, Input | TextArea):
            self.query_one("#detail").focus()
            return
        self.app.pop_screen()


def _status_style(status: str) -> str:
    return {
        "running": "green",
        "paused": "yellow",
        "succeeded": "green",
        "failed": "red",
        "stopped": "magenta",
        "lost": "dark_orange",
        "pending": "dim",
    }.get(status, "")


def _exit(s: Session) -> str:
    if s.signal is not None:
        return f"signal {s.signal}"
    return _or_dash(s.exit_code)


def _or_dash(value: object) -> str:
    return "—" if value is None else str(value)
