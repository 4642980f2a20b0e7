"""The live output screen: one session's output, with find, input and controls.

A header (session, status, line count, following or not), the ``OutputView``, a find
bar (``/``; ``n``/``N`` step through matches across the whole session) and an input
line (``i``) that sends a line to the session's stdin. ``s`` stops, ``p`` pauses or
continues, ``r`` resumes: the app's session actions (``tui.actions``), which talk to
the session's supervisor. ``escape`` closes the bar that is open, else goes back.

Opened at a search hit on a pty session's transcript (``place``), it shows the hit
where it was seen: on the screen its run ended on, or in the rendered transcript at its
row (``tui.widgets.screen_place`` finds which); ``v`` goes on to the other and to the raw
stream at the hit's line, all of that moment. ``I`` leaves the moment for the live screen.

A running pty session also has an interactive mode (``I``): the screen attaches to
the session (``tui.widgets.interactive``) at the view's size and every key and paste
goes to the program, encoded as a terminal would (``tui.widgets.interactive_keys``),
until the detach key (``attach.detach_key``, ctrl+\\), which the header and the
footer name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Label

from tui import format as fmt
from tui.action_statuses import applies
from tui.keys import bindings
from tui.screens.base import TetherScreen
from tui.widgets.interactive import InteractiveLink, detach_key, textual_key
from tui.widgets.interactive_keys import key_bytes, paste_bytes
from tui.widgets.key_footer import KeyFooter
from tui.widgets.output_view import OutputView
from tui.widgets.screen_view import TerminalView

if TYPE_CHECKING:
    from textual.worker import Worker

    from storage import Session
    from tui.widgets.screen_place import HitPlace


class OutputHeader(Widget):
    """One line about the session. Repaints without a layout pass (a ``Static`` update
    relayouts the screen, and this changes with every new line)."""

    content: reactive[Text] = reactive(Text, layout=False)

    def render(self) -> Text:
        return self.content


class OutputScreen(TetherScreen[None]):
    """Watch a session's output live; find in it; send it input; stop, pause, resume."""

    BINDINGS: ClassVar = bindings(
        "back",
        "find",
        "send_input",
        "interactive",
        "attach",
        "stop",
        "pause",
        "resume",
        "view_mode",
    )

    DEFAULT_CSS = """
    OutputScreen {
        #output-header {
            height: 1;
            padding: 0 1;
            background: $panel;
            color: $foreground;
        }
        OutputView { height: 1fr; }
        TerminalView { height: 1fr; display: none; }
        &.-terminal {
            OutputView { display: none; }
            TerminalView { display: block; }
        }
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
        place: HitPlace | None = None,
        follow: bool = True,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.session_id = session_id
        self._follow = follow
        self._status: str | None = None  # as last seen; decides which keys apply
        self._line = place.line if place is not None and line is None else line
        self._highlight = highlight
        self._place = place  # a search hit on its transcript: shown where it was seen
        # What a pty session shows: screen, transcript, stream. At a hit, the screen
        # until the terminal view has found where the hit was seen (Located).
        self._mode: str | None = "screen" if place is not None else None
        self._pty = False
        self._link: InteractiveLink | None = None  # attached: every key goes to the session

    @property
    def shown_session(self) -> int | None:
        return self.session_id

    @property
    def view(self) -> OutputView:
        return self.query_one(OutputView)

    def compose(self) -> ComposeResult:
        # The app may already know the session: then the footer is right from the start
        # instead of being rebuilt when the view's first read comes back.
        known = self.tether.state.row(self.session_id)
        if known is not None:
            self._status = known.status
            self._pick_mode(known.mode)
        terminal = self._mode in ("screen", "transcript")
        if terminal:
            self.add_class("-terminal")
        yield OutputHeader(id="output-header")
        yield OutputView(
            self.session_id,
            line=self._line,
            highlight=self._highlight,
            follow=self._follow,
            id="output-view",
        )
        yield TerminalView(
            self.session_id,
            mode="transcript" if self._mode == "transcript" else "screen",
            place=self._place,
            highlight=self._highlight if self._place is not None else None,
            id="terminal-view",
        )
        with Horizontal(id="find-bar"):
            yield Label("find", id="find-label")
            yield Input(placeholder="words (a capital makes it match case)", id="find-input")
            yield Label("", id="find-status")
        yield Input(placeholder="a line for the session's input; enter sends", id="input-line")
        yield KeyFooter()

    def on_mount(self) -> None:
        # The detach key leaves interactive mode: shown in the footer (only then), with
        # the key `tether attach` uses; the key itself is caught in on_key.
        self._leave_key = detach_key(self.tether.config)
        self._bindings.bind(
            textual_key(self._leave_key),
            "leave_interactive",
            "leave interactive: every other key goes to the session",
            key_display=self._leave_key.shown,
        )
        blink = self.tether.cursor_blink
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
        self._shown_view().focus()

    # -- header ---------------------------------------------------------------------------
    @on(OutputView.SessionChanged)
    def _session_changed(self, event: OutputView.SessionChanged) -> None:
        if self._mode is None and self._pick_mode(event.session.mode) != "stream":
            self._show_mode(self._mode or "stream")
        self._update_header()
        if event.session.status != self._status:
            # Only then: the footer rebuilds itself on every refresh of the bindings.
            self._status = event.session.status
            self.refresh_bindings()

    @on(TerminalView.SessionRead)
    def _terminal_read(self, event: TerminalView.SessionRead) -> None:
        # While the terminal is shown, the hidden stream view takes the row it read.
        self.view.take_session(event.session)

    @on(TerminalView.Located)
    def _located(self, event: TerminalView.Located) -> None:
        if self._link is not None or self._mode not in ("screen", "transcript"):
            return
        if event.where != self._mode:
            self._show_mode(event.where)
        else:  # (a change of focus or class would rebuild the footer, for nothing)
            self._update_header()

    def on_screen_resume(self) -> None:
        self.tether.state.set_place("output", self.session_id)

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
            if self._link is not None and self._link.size is not None:
                cols, rows = self._link.size
                header.append(f"  interactive — {self._leave_key.shown} to leave", "bold reverse")
                header.append(f"  {cols}x{rows}", "dim")
            elif self._mode in ("screen", "transcript"):
                pinned = self.query_one(TerminalView).place_label
                header.append(f"  {pinned or self._mode}", "dim")
            elif view.follow:
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
        if self._mode in ("screen", "transcript"):
            self._show_mode("stream")  # find looks through the stream: show its matches
        self.view.find(event.value)
        self.view.focus()

    def _show_find_status(self, status: str) -> None:
        # The stream's (the line of its match): on a screen or transcript the header
        # says where the view stands instead.
        terminal = self._mode in ("screen", "transcript")
        self.query_one("#find-status", Label).update("" if terminal else status)

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
        if await self.tether.actions.send_input(self.session_id, text):
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
            self._shown_view().focus()
            return
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    # -- screen, transcript or stream ------------------------------------------------------
    def _pick_mode(self, session_mode: str) -> str:
        """A pty session opens on its screen (unless opened at a line); others on the stream."""
        self._pty = session_mode == "pty"
        if self._mode is None:
            self._mode = "screen" if self._pty and self._line is None else "stream"
        return self._mode

    def _shown_view(self) -> OutputView | TerminalView:
        if self._mode in ("screen", "transcript"):
            return self.query_one(TerminalView)
        return self.view

    def _show_mode(self, mode: str) -> None:
        self._mode = mode
        terminal = mode in ("screen", "transcript")
        self.set_class(terminal, "-terminal")
        if terminal:
            self.query_one(TerminalView).mode = mode
        self._shown_view().focus()
        self._update_header()
        self._show_find_status(self.view.find_status)

    def action_cycle_view(self) -> None:
        """Screen, then rendered transcript, then raw stream (terminal sessions only)."""
        session = self.view.session
        if session is None or session.mode != "pty":
            self.notify("Only a terminal (pty) session has a screen; this one has its stream.")
            return
        order = ("screen", "transcript", "stream")
        current = self._mode if self._mode in order else "stream"
        self._show_mode(order[(order.index(current) + 1) % len(order)])

    # -- controls -------------------------------------------------------------------------
    # Stop, pause and resume are the app's session actions: the same confirmations as on
    # the list and the detail screen.
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self._link is not None:  # interactive: the only key of ours is the detach key
            return action == "leave_interactive"
        if action == "leave_interactive":
            return False
        if action == "interactive":
            return self._pty and self._status == "running"
        return applies(action, self._status)

    @property
    def takes_all_keys(self) -> bool:
        """Interactive: the app's own keys (quit, palette) go to the session too."""
        return self._link is not None

    # -- interactive ----------------------------------------------------------------------
    def action_interactive(self) -> None:
        if self._link is None:
            self._interact()

    @work(group="interactive", exclusive=True, exit_on_error=False)
    async def _interact(self) -> None:
        """Attach at the view's size, then hold the link until it is left or the run
        ends."""
        from runner.attach import attach_settings

        terminal = self.query_one(TerminalView)
        for bar in (self.query_one("#input-line"), self.query_one("#find-bar")):
            bar.remove_class("-open")
        terminal.go_live()  # at a hit: keys go to the session as it is now
        if self._mode != "screen":
            self._show_mode("screen")
        link = InteractiveLink(self.session_id)
        try:
            self._leave_key, record = attach_settings(self.tether.config)
            cols, rows = terminal.outer_size
            hello = await link.connect(self.tether.store, self.tether.paths, record, cols, rows)
        except Exception as error:  # noqa: BLE001 - say why; the screen stays as it was
            await link.close()
            self.notify(str(error), title="Not interactive", severity="error")
            return
        if not hello.get("terminal"):
            await link.close()
            self.notify("Only a terminal (pty) session takes keys; i sends a line.")
            return
        self._link = link
        self._interactive_changed()
        try:
            ended = await link.run()
        finally:
            if self._link is link:
                self._link = None
                self._interactive_changed()
        if ended:
            self.notify(f"#{self.session_id} ended ({ended}); interactive mode is off")

    def action_leave_interactive(self) -> None:
        self._leave_interactive()

    def _leave_interactive(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            self.run_worker(link.close(), exit_on_error=False)
            self._interactive_changed()

    def _interactive_changed(self) -> None:
        self.set_class(self._link is not None, "-interactive")
        self.query_one(TerminalView).focus()
        self._update_header()
        self.refresh_bindings()
        self.app.refresh_bindings()

    def _terminal_modes(self) -> dict[str, bool]:
        replay = self.query_one(TerminalView).replay
        return dict(replay.screen.modes) if replay is not None else {}

    def on_key(self, event: events.Key) -> None:
        link = self._link
        if link is None:
            return
        event.stop()
        event.prevent_default()
        app_cursor = self._terminal_modes().get("app_cursor_keys", False)
        data = key_bytes(event.key, event.character, app_cursor=app_cursor)
        if data == bytes([self._leave_key.byte]):
            self._leave_interactive()
        else:
            link.send(data)

    def on_paste(self, event: events.Paste) -> None:
        if self._link is not None:
            event.stop()
            event.prevent_default()
            bracketed = self._terminal_modes().get("bracketed_paste", False)
            self._link.send(paste_bytes(event.text, bracketed=bracketed))

    def on_resize(self) -> None:
        if self._link is not None:
            self.call_after_refresh(self._follow_size)

    def _follow_size(self) -> None:
        """The session's terminal takes the view's size while interactive."""
        if self._link is not None:
            self._link.resize(*self.query_one(TerminalView).outer_size)
            self._update_header()

    def on_unmount(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.abort()

    async def action_attach(self) -> None:
        await self.tether.actions.attach(self.session_id)

    def action_stop(self) -> None:
        self._act(self.tether.actions.stop)

    def action_pause(self) -> None:
        self._act(self.tether.actions.toggle_pause)

    def action_resume(self) -> None:
        self._act(self.tether.actions.resume, follow=True)

    @work(group="output-control", exit_on_error=False)
    async def _act(self, action: Callable[[int], Worker[Any]], *, follow: bool = False) -> None:
        view = self.view
        with contextlib.suppress(Exception):  # the app reports its own failures
            await action(self.session_id).wait()
        view.refresh_session()
        if follow:
            view.action_follow()
