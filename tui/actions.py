"""What the keys do to a session (which of them apply when: ``tui.action_statuses``).

``SessionActions`` does them, for every screen (list, detail, output): the app owns
one (``app.actions``) and a screen calls ``self.tether.actions.stop(session_id)``.
An action that needs an answer from the user runs as a worker so it can wait for its
modal; each one refreshes the state store afterwards so every screen shows the result
at once. Sessions are started and controlled through ``runner.control``, imported
when first used (it is not needed to draw the list).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import SuspendNotSupported

from storage.text import visible
from tui.action_statuses import applies
from tui.screens.modals import ConfirmModal, NewSession, NewSessionModal, TagsModal

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

    from textual.worker import Worker

    from home.config import Config
    from home.paths import Paths
    from storage import Session, Store
    from tui.app import TetherApp
    from tui.state import AppState


class SessionActions:
    """The session actions of ``TetherApp``: start, stop, pause, resume, delete, tag, pin.

    Methods that ask the user first return the ``Worker`` doing it (await
    ``worker.wait()`` to know it is done)."""

    GROUP = "session-actions"

    def __init__(self, app: TetherApp) -> None:
        self.app = app

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def state(self) -> AppState:
        return self.app.state

    @property
    def paths(self) -> Paths:
        return self.app.paths

    @property
    def config(self) -> Config:
        return self.app.config

    # -- helpers --------------------------------------------------------------------
    def _worker(self, name: str, work: Coroutine[Any, Any, Any]) -> Worker[Any]:
        return self.app.run_worker(work, name=name, group=self.GROUP)

    def capture_patterns(self) -> list[str] | None:
        """``[redaction] on_capture``: the patterns the supervisor redacts while it
        records, so secrets never reach the disk (None when off)."""
        from home.config import capture_patterns

        return capture_patterns(self.config.section("redaction"))

    def _fail(self, what: str, error: Exception) -> None:
        self.app.notify(f"{what}: {error}", severity="error", timeout=8)

    # -- running ------------------------------------------------------------------------
    def new_session(self) -> Worker[Any]:
        """Ask for a command, start it, select it."""
        return self._worker("new_session", self._new_session())

    async def _new_session(self) -> Session | None:
        modal = NewSessionModal(self.app.start_cwd)
        request = await self.app.push_screen_wait(modal)
        if request is None:
            return None
        return await self.start_session(request)

    async def start_session(self, request: NewSession) -> Session | None:
        """Start ``request`` as a new session and select it (the filter is cleared
        when it would hide it)."""
        from runner import control

        try:
            session = await control.start_session(
                self.store,
                self.paths,
                argv=list(request.argv),
                cwd=request.cwd,
                name=request.name or None,
                tags=request.tags,
                mode=request.mode,
                grace=self.config.general.stop_grace,
                redact=self.capture_patterns(),
                limits=self.queue_limits(),
            )
        except Exception as e:  # noqa: BLE001 - the user gets the reason, the TUI lives on
            self._fail("Could not start the session", e)
            return None
        await self.state.poll(force=True)
        if self.state.position(session.id) is None and self.state.view.filtered:
            from tui.list_query import ListQuery

            await self.state.set_view(ListQuery(sort=self.state.view.sort))
        self.state.select(session.id)
        place = self.state.queue_places.get(session.id)
        if place is not None:
            self.app.notify(f"Queued #{session.id} ({place} in line): {session.label}")
        elif session.status != "failed":  # a failed start has its own toast, saying why
            self.app.notify(f"Started #{session.id}: {session.label}")
        return session

    def queue_limits(self) -> Any:
        """``run.max_parallel`` and ``groups.NAME.max_parallel`` (runner/queue.py)."""
        from home.queue import queue_limits

        return queue_limits(self.config)

    async def move_in_queue(self, session_id: int, steps: int) -> None:
        """Move a queued session ``steps`` places towards the head (negative: back)."""
        from runner import queue

        try:
            place = await queue.move(self.store, session_id, steps)
        except Exception as e:  # noqa: BLE001
            self._fail(f"Could not move #{session_id}", e)
            return
        await self.state.poll(force=True)
        self.app.notify(f"#{session_id} is {place} in the queue", timeout=2)

    def start_now(self, session_id: int) -> Worker[Any]:
        """Start a queued session now, whatever the limits say."""
        return self._worker("start_now", self._start_now(session_id))

    async def _start_now(self, session_id: int) -> None:
        from runner import queue

        try:
            session = await queue.start_now(self.store, self.paths, session_id)
        except Exception as e:  # noqa: BLE001
            self._fail(f"Could not start #{session_id}", e)
            return
        await self.state.poll(force=True)
        if session.status != "failed":
            self.app.notify(f"Started #{session_id} ahead of the queue")

    def stop(self, session_id: int) -> Worker[Any]:
        """Stop a session once the user confirms."""
        return self._worker("stop", self._stop(session_id))

    async def _stop(self, session_id: int) -> None:
        session = await self.state.session(session_id)
        if session is None or not applies("stop", session.status):
            return
        if session_id in self.state.queue_places:
            modal = ConfirmModal(
                f"Cancel #{session.id}?",
                Text.assemble(
                    "It waits in the queue: it leaves it and never starts.\n\n",
                    (session.command, "bold"),
                ),
                confirm="Cancel it",
                danger=True,
            )
        else:
            modal = ConfirmModal(
                f"Stop #{session.id}?",
                Text.assemble(
                    "SIGTERM, then SIGKILL after ",
                    f"{self.config.general.stop_grace:g}s if it is still running:\n\n",
                    (session.command, "bold"),
                ),
                confirm="Stop",
                danger=True,
            )
        ok = await self.app.push_screen_wait(modal)
        if not ok:
            return
        from runner import control

        try:
            await control.stop(
                self.store, self.paths, session_id, grace=self.config.general.stop_grace
            )
        except Exception as e:  # noqa: BLE001
            self._fail(f"Could not stop #{session_id}", e)
        await self.state.poll(force=True)

    def toggle_pause(self, session_id: int) -> Worker[Any]:
        """Pause a running session, continue a paused one."""
        return self._worker("toggle_pause", self._toggle_pause(session_id))

    async def _toggle_pause(self, session_id: int) -> None:
        from runner import control

        session = await self.state.session(session_id)
        if session is None or not applies("pause", session.status):
            return
        try:
            if session.status == "paused":
                await control.continue_(self.store, self.paths, session_id)
                self.app.notify(f"#{session_id} continues")
            else:
                await control.pause(self.store, self.paths, session_id)
                self.app.notify(f"#{session_id} paused")
        except Exception as e:  # noqa: BLE001
            self._fail(f"Could not pause or continue #{session_id}", e)
        await self.state.poll(force=True)

    def resume(self, session_id: int) -> Worker[Any]:
        """Run the session again. An imported session first shows its exact command."""
        return self._worker("resume", self._resume(session_id))

    async def _resume(self, session_id: int) -> None:
        from runner import control
        from runner.errors import NeedsConfirmation

        session = await self.state.session(session_id)
        if session is None:
            return
        grace = self.config.general.stop_grace
        try:
            from tui.attention_watch import continue_conversation

            if not await continue_conversation(self, session):  # an agent's own resume
                return
            redact = self.capture_patterns()
            try:
                resumed = await control.resume_run(
                    self.store,
                    self.paths,
                    session_id,
                    grace=grace,
                    redact=redact,
                    limits=self.queue_limits(),
                )
            except NeedsConfirmation as need:
                command = visible(need.command)  # exactly what would run, nothing hidden
                ok = await self.app.push_screen_wait(
                    ConfirmModal(
                        f"Run imported session #{session.id}?",
                        Text.assemble(
                            "It came from another machine. This exact command will run in ",
                            (session.cwd, "bold"),
                            ":\n\n",
                            (command, "bold yellow"),
                        ),
                        confirm="Run it",
                        danger=True,
                    )
                )
                if not ok:
                    return
                resumed = await control.resume_run(
                    self.store,
                    self.paths,
                    session_id,
                    grace=grace,
                    confirmed=True,
                    redact=redact,
                    limits=self.queue_limits(),
                )
        except Exception as e:  # noqa: BLE001
            self._fail(f"Could not resume #{session_id}", e)
            return
        await self.state.poll(force=True)
        queued = resumed.status == "pending"  # waits in the queue for a slot
        self.app.notify(f"{'Queued' if queued else 'Resumed'} #{session_id}")

    async def send_input(self, session_id: int, text: str) -> bool:
        """Send a line to a live session's input; whether it went (the user is told
        why not)."""
        from runner import control

        try:
            await control.send_input(self.store, self.paths, session_id, text)
        except Exception as error:  # noqa: BLE001 - say why; the screen stays
            self.app.notify(str(error), title="Input not sent", severity="error")
            return False
        return True

    async def attach(self, session_id: int) -> None:
        """Suspend the app and use the session from this terminal until its detach
        key; then the app is back as it was (screen, selection, filter)."""
        from runner.attach import (
            attach_request,
            attach_settings,
            farewell,
            greeting,
            run_attached,
        )
        from runner.client import attach

        try:
            key, record = attach_settings(self.config)
            sock, hello = await attach(self.store, self.paths, session_id, attach_request(record))
        except Exception as e:  # noqa: BLE001
            self._fail(f"Could not attach to #{session_id}", e)
            return
        terminal = bool(hello.get("terminal"))
        try:
            with sock, self.app.suspend():
                print(greeting(session_id, terminal, key), file=sys.stderr, flush=True)
                title = f"tether #{session_id} ({key.shown} detaches)"
                outcome = run_attached(sock, terminal=terminal, key=key, title=title)
        except SuspendNotSupported as e:  # no terminal to hand over (a headless app)
            self._fail(f"Could not attach to #{session_id}", e)
            return
        line, code = farewell(session_id, outcome)
        self.app.notify(line.removeprefix("tether: "), severity="error" if code else "information")
        await self.state.poll(force=True)

    # -- editing ------------------------------------------------------------------------
    def delete(self, session_id: int) -> Worker[Any]:
        """Move a session to the trash once the user confirms."""
        return self._worker("delete", self._delete(session_id))

    async def _delete(self, session_id: int) -> None:
        session = await self.state.session(session_id)
        if session is None or session.trashed:
            return
        body = Text.assemble(
            (session.label, "bold"),
            "\n\nIt goes to the trash: ",
            ("u", "bold"),
            " brings it back, ",
            ("tether restore", "bold"),
            " too.",
        )
        if session.live:
            body.append("\nIt keeps running until stopped.", style="yellow")
        ok = await self.app.push_screen_wait(
            ConfirmModal(f"Delete #{session.id}?", body, confirm="Delete", danger=True)
        )
        if ok and await self.state.trash(session_id):
            self.app.notify(f"#{session_id} moved to the trash (u to undo)")
            # Deleted from its own detail or output screen: back to the list.
            from tui.screens.base import TetherScreen

            screen = self.app.screen
            if isinstance(screen, TetherScreen) and screen.shown_session == session_id:
                self.app.pop_screen()

    def delete_many(self, session_ids: list[int]) -> Worker[Any]:
        """Trash several (marked) sessions after one confirmation; one undo brings
        them all back."""
        if len(session_ids) == 1:
            return self.delete(session_ids[0])
        return self._worker("delete_many", self._delete_many(session_ids))

    async def _delete_many(self, session_ids: list[int]) -> None:
        labels = ", ".join(f"#{sid}" for sid in session_ids[:12])
        more = len(session_ids) - 12
        body = Text.assemble(
            (labels + (f" and {more} more" if more > 0 else ""), "bold"),
            "\n\nThey go to the trash: ",
            ("u", "bold"),
            " brings them all back.",
        )
        ok = await self.app.push_screen_wait(
            ConfirmModal(
                f"Delete {len(session_ids)} sessions?", body, confirm="Delete", danger=True
            )
        )
        if ok:
            moved = await self.state.trash_many(session_ids)
            self.app.notify(f"{moved} sessions moved to the trash (u to undo)")

    async def undo_delete(self) -> None:
        """Bring back what the last delete moved to the trash."""
        ids = await self.state.undo_trash()
        if not ids:
            self.app.notify("Nothing to undo.")
        elif len(ids) == 1:
            self.app.notify(f"#{ids[0]} is back")
        else:
            self.app.notify(f"{len(ids)} sessions are back")

    def edit_tags(self, session_id: int) -> Worker[Any]:
        """Edit a session's tags in a modal."""
        return self._worker("edit_tags", self._edit_tags(session_id))

    async def _edit_tags(self, session_id: int) -> None:
        session = await self.state.session(session_id)
        if session is None:
            return
        known = await self.store.sessions.all_tags()
        tags = await self.app.push_screen_wait(TagsModal(f"#{session.id}", session.tags, known))
        if tags is not None:
            self.state.edit(session_id, tags=tags)

    async def toggle_pin(self, session_id: int) -> None:
        """Pin or unpin: pinned sessions stay on top."""
        session = self.state.row(session_id) or await self.state.session(session_id)
        if session is None:
            return
        self.state.edit(session_id, pinned=not session.pinned)
        await self.state.reindex()
