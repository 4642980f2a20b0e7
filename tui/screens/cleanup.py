"""The cleanup screen (``c``): the retention policy as a form, the plan it makes as a
live table, the total to reclaim, and a confirmed purge with a progress bar.

The plan is recomputed (in a worker) a moment after every edit; nothing is deleted
until the user confirms. The purge runs in a thread worker on its own connection,
so the UI keeps drawing while SQLite works; a toast says what it did.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, DataTable, Input, Label, ProgressBar, Static

from storage.units import format_age_setting, format_size_setting
from tui import format as fmt
from tui.keys import bindings
from tui.screens.base import TetherScreen
from tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from storage.engine.cleanup import CleanupResult
    from storage.engine.purge import PurgeProgress
    from storage.retention import CleanupPlan, RetentionPolicy

REPLAN_DELAY = 0.3  # seconds after the last edit
STATUS_CHOICES = ("succeeded", "failed", "stopped", "lost")
_PHASES = {"purge": "Deleting", "index": "Re-indexing what stays", "reclaim": "Reclaiming space"}


class CleanupScreen(TetherScreen[None]):
    """Edit the policy, look at the plan, confirm."""

    HELP_TITLE = "cleanup"
    BINDINGS: ClassVar = [
        *bindings("back"),
        # priority: the form's inputs bind ctrl+d too (delete right; the delete key does that)
        Binding(
            "ctrl+d",
            "confirm",
            "Delete",
            id="cleanup_confirm",
            tooltip="Purge the sessions in the plan (asks first)",
            priority=True,
        ),
        Binding("ctrl+r", "replan", "Refresh", id="cleanup_refresh", tooltip="Plan again"),
    ]
    DEFAULT_CSS = """
    CleanupScreen { layout: vertical; }
    CleanupScreen #cleanup-title { text-style: bold; padding: 0 1; height: 1; }
    CleanupScreen #policy { height: auto; padding: 0 1; border: round $primary; overflow: hidden; }
    CleanupScreen .policy-row { height: 3; }
    CleanupScreen .policy-row Label { width: auto; padding: 1 1 0 0; color: $text-muted; }
    CleanupScreen .policy-row Input { width: 14; margin-right: 2; }
    CleanupScreen #protected { width: 24; }
    CleanupScreen .policy-row Checkbox { width: auto; border: none; padding: 1 1 0 0; }
    CleanupScreen #policy-error { color: $error; height: auto; padding: 0 1; }
    CleanupScreen #plan { height: 1fr; margin: 0 1; }
    CleanupScreen #summary { height: auto; padding: 0 1; }
    CleanupScreen #progress-row { height: 1; padding: 0 1; display: none; }
    CleanupScreen #progress-row.-busy { display: block; }
    CleanupScreen #progress-label { width: auto; margin-right: 2; }
    CleanupScreen #cleanup-buttons { height: 3; align-horizontal: right; padding: 0 2 0 1; }
    CleanupScreen #cleanup-buttons Button { margin-left: 2; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.plan: CleanupPlan | None = None
        self.busy = False
        self.ready = False  # a first plan is on screen (tests wait for this)
        self.last_message = ""  # the last result toast
        self._replan_timer = None

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        policy, error = self._configured_policy()
        self._config_error = error
        yield Label("Cleanup: purge old sessions for good", id="cleanup-title")
        with Vertical(id="policy"):
            with Horizontal(classes="policy-row"):
                yield Label("Ended over")
                yield Input(format_age_setting(policy.max_age), placeholder="off", id="older-than")
                yield Label("Keep newest")
                yield Input(
                    "" if policy.keep_newest is None else str(policy.keep_newest),
                    placeholder="off",
                    id="keep",
                )
                yield Label("Max total")
                yield Input(
                    format_size_setting(policy.max_total_bytes), placeholder="off", id="max-size"
                )
                yield Label("Trash after")
                yield Input(
                    format_age_setting(
                        None if policy.trash_days is None else policy.trash_days * 86400
                    ),
                    placeholder="never",
                    id="trash-days",
                )
            with Horizontal(classes="policy-row"):
                yield Label("Statuses")
                for status in STATUS_CHOICES:
                    yield Checkbox(status, status in policy.statuses, id=f"status-{status}")
                yield Label("Protected tags")
                yield Input(", ".join(sorted(policy.protected_tags)), id="protected")
        yield Static("", id="policy-error")
        table: DataTable = DataTable(id="plan", cursor_type="row", zebra_stripes=True)
        # Fixed widths: auto-width columns keep their header's width after clear().
        table.add_column("ID", key="id", width=6)
        table.add_column("Status", key="status", width=18)
        table.add_column("Age", key="age", width=8)
        table.add_column("Size", key="size", width=10)
        table.add_column("Reason", key="reason", width=32)
        table.add_column("Session", key="name", width=30)
        yield table
        yield Static("", id="summary")
        with Horizontal(id="progress-row"):
            yield Label("", id="progress-label")
            yield ProgressBar(total=100, show_eta=False, id="progress")
        with Horizontal(id="cleanup-buttons"):
            yield Button("Back", id="back")
            yield Button("Delete", id="confirm", variant="error", disabled=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        blink = self.tether.cursor_blink
        for widget in self.query(Input):
            widget.cursor_blink = blink
        if self._config_error:
            self.query_one("#policy-error", Static).update(self._config_error)
        self.query_one("#older-than", Input).focus()
        self.replan()

    def _configured_policy(self) -> tuple[RetentionPolicy, str]:
        from home.config import ConfigError, retention_policy
        from storage.retention import RetentionPolicy

        try:
            return retention_policy(self.tether.config), ""
        except ConfigError as e:
            return RetentionPolicy(), f"config.toml: {e} (using the defaults)"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "confirm":
            return bool(self.plan and self.plan.items and not self.busy)
        if action == "back":
            return not self.busy
        return True

    # -- the policy form ------------------------------------------------------------------
    def policy(self) -> RetentionPolicy:
        """The policy the form describes; ``PolicyError`` for a bad field."""
        from storage.retention import PolicyError, RetentionPolicy, parse_age, parse_size

        def text(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value.strip()

        keep = text("keep")
        if keep and not keep.isdigit():
            raise PolicyError(f"expected a whole number, not {keep!r}", "keep newest")
        statuses = frozenset(
            s for s in STATUS_CHOICES if self.query_one(f"#status-{s}", Checkbox).value
        )
        if not statuses:
            raise PolicyError("tick at least one status")
        tags = frozenset(t.strip() for t in text("protected").split(",") if t.strip())
        return RetentionPolicy(
            max_age=parse_age(text("older-than"), "ended over") if text("older-than") else None,
            keep_newest=int(keep) if keep else None,
            max_total_bytes=parse_size(text("max-size"), "max total") if text("max-size") else None,
            statuses=statuses,
            protected_tags=tags,
            trash_days=parse_age(text("trash-days"), "trash after") / 86400
            if text("trash-days")
            else None,
        )

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _edited(self) -> None:
        if self._replan_timer is not None:
            self._replan_timer.stop()
        self._replan_timer = self.set_timer(REPLAN_DELAY, self.replan)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.replan()

    def action_replan(self) -> None:
        self.replan()

    @work(exclusive=True, group="cleanup-plan")
    async def replan(self) -> None:
        from storage.engine.cleanup import plan
        from storage.retention import PolicyError

        if self.busy:
            return
        error = self.query_one("#policy-error", Static)
        try:
            policy = self.policy()
        except PolicyError as e:
            error.update(Text(str(e).replace("retention.", ""), style="bold"))
            self.query_one("#confirm", Button).disabled = True
            return
        error.update(self._config_error or "")
        found = await plan(self.tether.store, policy, now=self.tether.clock())
        if self.query("#plan"):  # not when the screen's widgets went while it planned
            self.show_plan(found)

    def show_plan(self, found: CleanupPlan) -> None:
        from storage.retention import format_age, format_size, session_time

        self.plan = found
        table = self.query_one("#plan", DataTable)
        table.clear()
        for item in found.items:
            s = item.session
            table.add_row(
                Text(f"#{s.id}", justify="right"),
                s.status + (" (trash)" if s.trashed else ""),
                Text(format_age(found.now - session_time(s)), justify="right"),
                Text(format_size(item.bytes), justify="right"),
                item.reason,
                fmt.shown(s).label,
                key=str(s.id),
            )
        n = len(found.items)
        summary = self.query_one("#summary", Static)
        if n:
            text = Text.assemble(
                (f"{n} session{'s' * (n != 1)}", "bold"),
                " to delete, ",
                (format_size(found.bytes), "bold"),
                f" of {format_size(found.total_bytes)} of output to reclaim",
            )
            if n > 20:
                text.append(" · a backup is made first")
        else:
            text = Text("Nothing to clean up under this policy.", style="italic")
        for w in found.warnings:
            text.append(f"\n{w}", style="yellow")
        summary.update(text)
        button = self.query_one("#confirm", Button)
        button.label = f"Delete {n} session{'s' * (n != 1)}" if n else "Delete"
        button.disabled = not n or self.busy
        self.refresh_bindings()
        self.ready = True

    # -- confirming and purging -----------------------------------------------------------
    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if not self.busy:
            self.app.pop_screen()

    @on(Button.Pressed, "#confirm")
    def action_confirm(self) -> None:
        if self.plan is not None and self.plan.items and not self.busy:
            self._confirm_and_purge(self.plan)

    @work(exclusive=True, group="cleanup-confirm")
    async def _confirm_and_purge(self, found: CleanupPlan) -> None:
        from storage.retention import format_size
        from tui.screens.modals import ConfirmModal

        n = len(found.items)
        body = Text.assemble(
            f"{n} session{'s' * (n != 1)} and {format_size(found.bytes)} of output will be ",
            ("deleted for good", "bold"),
            " (not moved to the trash).",
        )
        if n > 20:
            body.append(" A backup of the database is made first.")
        ok = await self.app.push_screen_wait(
            ConfirmModal(
                f"Delete {n} session{'s' * (n != 1)}?", body, confirm="Delete", danger=True
            )
        )
        if not ok:
            return
        self.set_busy(True)
        self.show_progress(None)
        self._purge(found)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.query_one("#progress-row").set_class(busy, "-busy")
        self.query_one("#confirm", Button).disabled = busy or not (self.plan and self.plan.items)
        self.query_one("#back", Button).disabled = busy
        for widget in self.query("#policy Input, #policy Checkbox"):
            widget.disabled = busy
        self.refresh_bindings()

    def show_progress(self, progress: PurgeProgress | None) -> None:
        bar = self.query_one("#progress", ProgressBar)
        label = self.query_one("#progress-label", Label)
        if progress is None:
            label.update("Starting…")
            bar.update(total=100, progress=0)
            return
        label.update(
            f"{_PHASES.get(progress.phase, progress.phase)}: "
            f"{progress.sessions_done}/{progress.sessions_total} sessions"
        )
        bar.update(total=100, progress=round(progress.fraction * 100, 1))

    @work(thread=True, exclusive=True, group="cleanup-apply")
    def _purge(self, found: CleanupPlan) -> None:
        """In a thread, on a connection of its own: the UI's connection and event loop
        stay free while SQLite deletes and reclaims."""
        from home.cleanup import apply_plan
        from home.store import open_store

        app = self.tether
        paths, config = app.paths, app.config

        def progress(p: PurgeProgress) -> None:
            app.call_from_thread(self.show_progress, p)

        async def run() -> CleanupResult:
            async with open_store(paths, actor="tui") as store:
                return await apply_plan(store, found, config, paths, progress=progress)

        try:
            result = asyncio.run(run())
        except Exception as e:  # noqa: BLE001 - the user gets the reason, the TUI lives on
            app.call_from_thread(self._failed, e)
            return
        app.call_from_thread(self._done, result)

    async def _done(self, result: CleanupResult) -> None:
        from storage.retention import format_size

        self.set_busy(False)
        n = len(result.purged)
        message = (
            f"Deleted {n} session{'s' * (n != 1)} ({format_size(result.bytes)} of output); "
            f"the database went from {format_size(result.size_before)} to "
            f"{format_size(result.size_after)}."
        )
        if result.skipped:
            message += f" {len(result.skipped)} skipped (changed since the plan)."
        if result.backup:
            message += f" Backup: {result.backup.name}"
        self.last_message = message
        self.notify(message, title="Cleanup", timeout=10)
        await self.tether.state.poll(force=True)
        self.replan()

    def _failed(self, error: Exception) -> None:
        self.set_busy(False)
        self.notify(f"Cleanup failed: {error}", title="Cleanup", severity="error", timeout=12)
        self.replan()
