"""The live output screen: one session's output, with find, input and controls.

A header (session, status, line count, following or not), the ``OutputView``, a find
bar (``/``; ``n``/``N`` step through matches across the whole session) and an input
line (``i``) that sends a line to the session's stdin. ``s`` stops, ``p`` pauses or
continues, ``r`` resumes; all through ``runner.control``, which talks to the
session's supervisor. ``escape`` closes the bar that is open, else goes back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Label

from storage.text import visible
from tui import format as fmt
from tui.keys import bindings
from tui.widgets.output_view import OutputView

if TYPE_CHECKING:
    from storage import Session, Store

DEFAULT_GRACE = 5.0
_LIVE = ("pending", "running", "paused")
# Actions that make sense only in some statuses (the footer hides them otherwise).
_WHEN: dict[str, tuple[str, ...]] = {
    "stop": _LIVE,
    "pause": ("running", "paused"),
    "resume": ("succeeded", "failed", "stopped", "lost"),
    "send_input": ("running", "paused"),
}


class OutputHeader(Widget):
    """One line about the session. Repaints without a layout pass (a ``Static`` update
    relayouts the screen, and this changes with every new line)."""

    content: reactive[Text] = reactive(Text, layout=False)

    def render(self) -> Text:
        return self.content


class OutputScreen(Screen):
    """Watch a session's output live; find in it; send it input; stop, pause, resume."""

    BINDINGS: ClassVar = bindings("back", "find", "send_input", "stop", "pause", "resume")

    DEFAULT_CSS = """
    OutputScreen {
        #output-header {
            height: 1;
            padding: 0 1;
            background: $panel;
            color: $foreground;
        }
        OutputView { height: 1fr; }
        #find-bar {
            height: 1;
            display: none;
            background: $panel;
            &.-open { display: block; }
            Label { padding: 0 1; color: $text-muted; }
            #find-label { color: $text-accent; }
            Input { border: none; height: 1; width: 1fr; padding: 0 1; }
            #find-status { width: auto; }
        }
        #input-line {
            height: 1;
            border: none;
            padding: 0 1;
            display: none;
            &.-open { display: block; }
        }
    }
    """

    def __init__(
        self,
        session_id: int,
        *,
        line: int | None = None,
        highlight: str | Sequence[str] | None = None,
        follow: bool = True,
        store: Store | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.session_id = session_id
        self._follow = follow
        self._status: str | None = None  # as last seen; decides which keys apply
        self._store = store
        self._line = line
        self._highlight = highlight

    @property
    def store(self) -> Store:
        return self._store or self.app.store  # type: ignore[attr-defined]

    @property
    def view(self) -> OutputView:
        return self.query_one(OutputView)

    def compose(self) -> ComposeResult:
        # The app may already know the session: then the footer is right from the start
        # instead of being rebuilt when the view's first read comes back.
        state = getattr(self.app, "state", None)
        known = state.row(self.session_id) if state is not None else None
        if known is not None:
            self._status = known.status
        yield OutputHeader(id="output-header")
        yield OutputView(
            self.session_id,
            line=self._line,
            highlight=self._highlight,
            follow=self._follow,
            store=self._store,
            id="output-view",
        )
        with Horizontal(id="find-bar"):
            yield Label("find", id="find-label")
            yield Input(placeholder="words (a capital makes it match case)", id="find-input")
            yield Label("", id="find-status")
        yield Input(placeholder="a line for the session's input; enter sends", id="input-line")
        yield Footer()

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for widget in self.query(Input):
            widget.cursor_blink = blink
        view = self.view
        self.watch(view, "follow", self._update_header, init=False)
        self.watch(view, "pending_lines", self._update_header, init=False)
        self.watch(view, "line_count", self._update_header, init=False)
        self.watch(view, "find_status", self._show_find_status, init=True)
        if self._highlight:
            # Opened at a search hit: show what is highlighted, so n/N make sense.
            words = self._highlight
            text = words if isinstance(words, str) else " ".join(words)
            self.query_one("#find-input", Input).value = text
            self.query_one("#find-bar").add_class("-open")
        view.focus()

    # -- header ---------------------------------------------------------------------------
    @on(OutputView.SessionChanged)
    def _session_changed(self, event: OutputView.SessionChanged) -> None:
        self._update_header()
        if event.session.status != self._status:
            # Only then: the footer rebuilds itself on every refresh of the bindings.
            self._status = event.session.status
            self.refresh_bindings()

    def on_screen_resume(self) -> None:
        state = getattr(self.app, "state", None)
        if state is not None:
            state.set_place("output", self.session_id)

    def _update_header(self, *_: object) -> None:
        view = self.view
        session: Session | None = view.session
        header = Text(no_wrap=True, overflow="ellipsis")
        header.append(f"#{self.session_id} ", "bold")
        if session is None:
            header.append("gone" if view.status == "gone" else "…", "dim")
        else:
            header.append(fmt.shown(session).label, "bold")
            header.append("  ")
            icon = fmt.STATUS_ICON.get(session.status, "?")
            header.append(
                f"{icon} {fmt.status_text(session.status, session.exit_code, session.signal)}"
            )
            header.append(f"  {view.line_count:,} line{'s' if view.line_count != 1 else ''}")
            if view.follow:
                header.append("  following", "dim")
            elif view.pending_lines:
                header.append(f"  +{view.pending_lines:,} new", "bold")
        self.query_one(OutputHeader).content = header

    # -- find -----------------------------------------------------------------------------
    def action_find(self) -> None:
        bar = self.query_one("#find-bar")
        bar.add_class("-open")
        self.query_one("#find-input", Input).focus()

    @on(Input.Submitted, "#find-input")
    def _find_submitted(self, event: Input.Submitted) -> None:
        self.view.find(event.value)
        self.view.focus()

    def _show_find_status(self, status: str) -> None:
        self.query_one("#find-status", Label).update(status)

    # -- input ----------------------------------------------------------------------------
    def action_send_input(self) -> None:
        line = self.query_one("#input-line", Input)
        line.add_class("-open")
        line.focus()

    @on(Input.Submitted, "#input-line")
    def _input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        event.input.value = ""
        self._send_input(text)

    @work(group="output-control", exit_on_error=False)
    async def _send_input(self, text: str) -> None:
        control = self._control()
        if control is None:
            return
        try:
            await control.send_input(self.store, self._paths(), self.session_id, text)
        except Exception as error:
            self.notify(str(error), title="Input not sent", severity="error")
        else:
            self.view.refresh_session()

    # -- back -----------------------------------------------------------------------------
    def action_back(self) -> None:
        """Close the input line, else the find bar (and its highlights), else go back."""
        line = self.query_one("#input-line", Input)
        if line.has_class("-open"):
            line.remove_class("-open")
            self.view.focus()
            return
        bar = self.query_one("#find-bar")
        if bar.has_class("-open"):
            bar.remove_class("-open")
            self.view.find(None)
            self.view.focus()
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    # -- controls -------------------------------------------------------------------------
    # In tether's app, stop, pause and resume are the app's own actions (the same
    # confirmations as on the list and the detail screen). Hosted elsewhere, the screen
    # calls ``runner.control`` itself.
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        statuses = _WHEN.get(action)
        if statuses is None:
            return True
        return self._status is not None and self._status in statuses

    def action_stop(self) -> None:
        self._act("stop_session", "stop")

    def action_pause(self) -> None:
        session = self.view.session
        paused = session is not None and session.status == "paused"
        self._act("toggle_pause", "continue_" if paused else "pause")

    def action_resume(self) -> None:
        self._act("resume_session", "resume_run")

    @work(group="output-control", exit_on_error=False)
    async def _act(self, app_method: str, control_name: str) -> None:
        view = self.view
        delegate = getattr(self.app, app_method, None)
        if delegate is not None:
            worker = delegate(self.session_id)
            with contextlib.suppress(Exception):  # the app reports its own failures
                await worker.wait()
        else:
            await self._control_directly(control_name)
        view.refresh_session()
        if control_name == "resume_run":
            view.action_follow()

    async def _control_directly(self, name: str) -> None:
        control = self._control()
        if control is None:
            return
        args = (self.store, self._paths(), self.session_id)
        try:
            if name == "stop":
                await control.stop(*args, grace=self._grace())
            elif name == "resume_run":
                try:
                    await control.resume_run(*args, grace=self._grace())
                except control.NeedsConfirmation as need:
                    from tui.screens.modals import ConfirmModal

                    ok = await self.app.push_screen_wait(
                        ConfirmModal(
                            "Run an imported session?",
                            visible(need.command),
                            confirm="Run",
                            danger=True,
                        )
                    )
                    if ok:
                        await control.resume_run(*args, grace=self._grace(), confirmed=True)
            else:
                await getattr(control, name)(*args)
        except Exception as error:
            self.notify(str(error), title="tether", severity="error")

    def _control(self) -> Any:
        try:
            from runner import control
        except ImportError:
            self.notify("The runner is not available", severity="error")
            return None
        return control

    def _paths(self) -> Any:
        return getattr(self.app, "paths", None)

    def _grace(self) -> float:
        config = getattr(self.app, "config", None)
        general = getattr(config, "general", None)
        return float(getattr(general, "stop_grace", DEFAULT_GRACE))
