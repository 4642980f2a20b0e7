"""Home: the session list, a quick filter, and a live preview of the selected session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.timer import Timer
from textual.widgets import Input, Static

from tui import format as fmt
from tui.attention_watch import answer
from tui.keys import bindings
from tui.list_query import SORT_LABELS, ListQuery, next_sort
from tui.screens.base import SessionScreen
from tui.state import Change
from tui.widgets.key_footer import KeyFooter
from tui.widgets.preview import SessionPreview
from tui.widgets.session_table import SessionTable
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.state import AppState

# Paragraphs are single lines: the widget wraps them to the terminal's width.
EMPTY = "\n\n".join(
    [
        "[b]No sessions yet.[/b]",
        "A session is a command tether starts, supervises and records: a build, a test "
        "watcher, a dev server, a training run, an AI agent.",
        "Press [b reverse] n [/] to start one here, or from a shell:  "
        "[b]tether run -- make test[/b]",
        "To look around first, quit and run  [b]tether demo[/b]: a separate demo home "
        "with real sessions of every kind.",
    ]
)


class SessionsScreen(SessionScreen):
    """The list of sessions (home)."""

    BINDINGS: ClassVar = [
        *bindings("open"),
        # enter on a running terminal session attaches instead (the same binding id: a
        # remapped open key remaps this too); check_action shows one of the two
        *bindings(
            "open",
            open={
                "action": "enter_attach",
                "description": "Attach",
                "tooltip": "Use the running terminal session from here; its detach key "
                "(ctrl+\\) brings you back",
            },
        ),
        *bindings(
            "output",
            "attach",
            "new_session",
            "approve",
            "deny",
            "resume",
            "stop",
            "pause",
            "delete",
            "undo_delete",
            "queue_up",
            "queue_down",
            "start_now",
            "tags",
            "pin",
            "filter",
            "status_filter",
            "sort",
            "export",
            "mark",
            "back",
            back={"description": "Clear", "tooltip": "Clear the filter (and the marks)"},
        ),
    ]

    def __init__(self, state: AppState, **kwargs: Any) -> None:
        super().__init__(state, **kwargs)
        self._filter_timer: Timer | None = None
        self._missed: Change | None = None  # what changed while the list was covered

    @property
    def current_id(self) -> int | None:
        return self.state.selected

    def compose(self) -> ComposeResult:
        yield Static("", id="topbar")
        yield Input(
            self.state.view.text,
            placeholder="filter: words in name, command, directory, tags, notes;"
            " status:failed tag:ml cwd:~/src since:2h ctx.model:opus ctx.tokens>100000",
            id="filter",
            select_on_focus=False,
            compact=True,
        )
        with Vertical(id="list-pane"):
            yield SessionTable(self.state, id="sessions")
            yield SessionPreview(self.state, id="preview")
        yield Static(EMPTY, id="empty")
        yield StatusBar(self.state)
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.state.changed.subscribe(self, self._on_change)
        self.set_interval(1.0, self._tick)
        self.query_one("#filter", Input).display = bool(self.state.view.text)
        self._show()
        self.query_one(SessionTable).focus()

    def on_screen_resume(self) -> None:
        self.state.set_place("list")
        self._catch_up()
        self.update_bindings()

    # -- keeping the view current -----------------------------------------------------
    # Textual draws the screen under the top one as if it showed through, even when the
    # top one (the output screen) hides it: each update of the list repainted the
    # output screen over it, a whole screen about every third tick of a live session
    # (issue 14). So while an opaque screen covers the list, the list and its preview
    # do nothing: the changes they miss are kept, merged, and shown when it is seen
    # again (on resume, or within a second once what covered it is gone). (``covered``:
    # TetherScreen, which also keeps a covered screen from repainting the one above.)
    def _on_change(self, change: Change) -> None:
        if self.covered:
            self._missed = change if self._missed is None else self._missed.merged(change)
            return
        self._catch_up()
        self._apply(change)

    def _catch_up(self) -> None:
        if self._missed is not None:
            missed, self._missed = self._missed, None
            self._apply(missed)

    def _tick(self) -> None:
        covered = self.covered
        if not covered:
            self._catch_up()
        self.query_one(SessionTable).tick(draw=not covered)

    def _apply(self, change: Change) -> None:
        self.query_one(SessionTable).state_changed(change)
        self.query_one(SessionPreview).state_changed(change)
        if change.index or change.view or change.selection or change.rows:
            self._show()
        if change.selection or change.rows or change.index or change.saved:
            self.update_bindings()

    def _show(self) -> None:
        ids = self.state.ids
        empty = not ids
        nothing_at_all = empty and not self.state.view.filtered
        self.query_one("#list-pane").display = not nothing_at_all
        self.query_one("#empty").display = nothing_at_all
        self.query_one("#topbar", Static).update(self._topbar())
        bar = self.query_one(StatusBar)
        if self.state.filter_error:
            bar.show(Text(f"filter: {self.state.filter_error}", style="yellow"))
        elif empty and self.state.view.filtered:
            bar.show(Text("Nothing matches. escape clears the filter.", style="yellow"))
        else:
            bar.show(self._position())

    def _topbar(self) -> Text:
        view = self.state.view
        text = Text.assemble(("tether", "bold"), "  ")
        n = len(self.state.ids)
        text.append(f"{n} session{'s' if n != 1 else ''}")
        if view.text.strip():
            text.append("  filter ", style="dim")
            text.append(view.text.strip(), style="bold")
        if view.statuses:
            text.append("  status ", style="dim")
            text.append(", ".join(sorted(view.statuses)), style="bold")
        text.append("  sort ", style="dim")
        text.append(SORT_LABELS.get(view.sort, view.sort))
        return text

    def _position(self) -> Text:
        index = self.state.position(self.state.selected)
        s = self.current
        if index is None or s is None:
            return Text("")
        text = Text(f"{index + 1}/{len(self.state.ids)}  ")
        text.append(fmt.status_text(s.status, s.exit_code, s.signal))
        place = self.state.queue_places.get(s.id)
        if place is not None:
            text.append(f", place {place} in the queue", style="yellow")
        text.append(f"  {fmt.home(s.cwd)}", style="dim")
        return text

    # -- messages from the table ------------------------------------------------------
    @on(SessionTable.Chosen)
    def _chosen(self, event: SessionTable.Chosen) -> None:
        self.state.select(event.session_id)
        self.tether.open_detail(event.session_id)

    # -- the quick filter -------------------------------------------------------------
    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()
        field.cursor_position = len(field.value)
        self.update_bindings()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        # Wait for a pause in typing before asking the database.
        self._filter_timer = self.set_timer(0.15, self._apply_filter)

    async def _apply_filter(self) -> None:
        text = self.query_one("#filter", Input).value
        view = self.state.view
        await self.state.set_view(ListQuery(text=text, statuses=view.statuses, sort=view.sort))

    @on(Input.Submitted, "#filter")
    async def _filter_submitted(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        await self._apply_filter()
        field = self.query_one("#filter", Input)
        field.display = bool(field.value)
        self.query_one(SessionTable).focus()
        self.update_bindings()

    async def action_back(self) -> None:
        """escape: leave the filter field, then clear the filter."""
        field = self.query_one("#filter", Input)
        table = self.query_one(SessionTable)
        if field.has_focus and field.value:
            table.focus()
            return
        if self.state.marked:
            self.state.clear_marks()
            self.update_bindings()
            return
        if field.value or self.state.view.filtered:
            field.value = ""
            field.display = False
            if self._filter_timer is not None:
                self._filter_timer.stop()
            await self.state.set_view(ListQuery(sort=self.state.view.sort))
        field.display = False
        table.focus()
        self.update_bindings()

    def bindings_key(self) -> tuple[object, ...]:
        shown = self.query_one("#filter", Input).display
        return (
            *super().bindings_key(),
            self.state.view.filtered,
            shown,
            bool(self.state.ids),
            bool(self.state.marked),
            self.current_id in self.state.queue_places,
            self._needs_you(),
            self._attaches_on_enter(),
        )

    def _attaches_on_enter(self) -> bool:
        """enter attaches to a running pty session (it opens the details of others)."""
        s = self.current
        return s is not None and s.status == "running" and s.mode == "pty"

    def _needs_you(self) -> bool:
        """The highlighted session waits for an answer: y / n answer it."""
        s = self.current
        return s is not None and s.status == "running" and s.attention == "needs_you"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return (
                self.state.view.filtered
                or bool(self.state.marked)
                or self.query_one("#filter", Input).display
            )
        if action in ("filter", "status_filter", "sort"):
            return bool(self.state.ids) or self.state.view.filtered
        if action == "new_session":  # n answers no to a session that needs you
            return not self._needs_you()
        if action in ("approve", "deny"):  # y / n in the footer only then (issue 16)
            return self._needs_you()
        if action in ("queue_up", "queue_down", "start_now"):
            return self.current_id in self.state.queue_places
        if action in ("open", "enter_attach") and (
            self._attaches_on_enter() != (action == "enter_attach")
        ):
            return False
        return super().check_action(action, parameters)

    # -- the other keys ---------------------------------------------------------------
    def action_mark(self) -> None:
        sid = self.current_id
        if sid is None:
            return
        self.state.toggle_mark(sid)
        self.query_one(SessionTable).action_cursor_down()
        self.update_bindings()

    def _marked_in_list(self) -> list[int]:
        """Marked sessions still in the list, in list order."""
        return [sid for sid in self.state.ids if sid in self.state.marked]

    def action_delete(self) -> None:
        marked = self._marked_in_list()
        if marked:
            self.tether.actions.delete_many(marked)
        else:
            super().action_delete()

    def action_export(self) -> None:
        marked = self._marked_in_list()
        if marked:
            self.tether.open_export(marked)
        else:
            super().action_export()

    def action_open(self) -> None:
        if self.current_id is not None:
            self.tether.open_detail(self.current_id)

    async def action_enter_attach(self) -> None:
        await self.action_attach()

    async def action_new_session(self) -> None:
        self.tether.actions.new_session()

    async def action_approve(self) -> None:
        await self._answer(yes=True)

    async def action_deny(self) -> None:
        await self._answer(yes=False)

    async def _answer(self, *, yes: bool) -> None:
        s = self.current
        if s is None or not self._needs_you():
            self.app.notify("The selected session is not waiting for an answer", timeout=3)
            return
        await answer(self.tether.actions, s, yes=yes)

    async def action_queue_up(self) -> None:
        if self.current_id is not None:
            await self.tether.actions.move_in_queue(self.current_id, 1)

    async def action_queue_down(self) -> None:
        if self.current_id is not None:
            await self.tether.actions.move_in_queue(self.current_id, -1)

    def action_start_now(self) -> None:
        if self.current_id is not None:
            self.tether.actions.start_now(self.current_id)

    def action_status_filter(self) -> None:
        from tui.screens.modals import StatusFilterModal

        async def picked(statuses: frozenset[str] | None) -> None:
            if statuses is not None:
                view = self.state.view
                await self.state.set_view(
                    ListQuery(text=view.text, statuses=statuses, sort=view.sort)
                )

        self.app.push_screen(StatusFilterModal(self.state.view.statuses), picked)

    async def action_sort(self) -> None:
        view = self.state.view
        sort = next_sort(view.sort)
        await self.state.set_view(ListQuery(text=view.text, statuses=view.statuses, sort=sort))
        self.notify(f"Sorted: {SORT_LABELS[sort]}", timeout=2)
