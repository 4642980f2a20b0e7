"""What the keys do to a session, shared by every screen (list, detail, output).

``SessionActions`` is mixed into the app: a screen's ``action_stop`` calls
``self.app.stop_session(id)``. Each action that needs an answer from the user runs
as a worker so it can wait for its modal; each one refreshes the state store
afterwards so every screen shows the result at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work

from storage.text import visible
from tui.screens.modals import ConfirmModal, NewSession, NewSessionModal, TagsModal

if TYPE_CHECKING:
    from home.config import Config
    from home.paths import Paths
    from storage import Session, Store
    from tui.state import AppState


class SessionActions:
    """Mixin for ``TetherApp``: needs ``store``, ``state``, ``paths``, ``config``."""

    store: Store
    state: AppState
    paths: Paths
    config: Config

    # -- helpers --------------------------------------------------------------------
    def control(self) -> Any:
        """``runner.control``, or None with a notification when it is not available."""
        try:
            return importlib.import_module("runner.control")
        except ModuleNotFoundError as e:
            self.notify(f"Cannot control sessions: {e}", severity="error")  # type: ignore[attr-defined]
            return None

    def lazy_screen(self, module: str, name: str) -> Any:
        """A screen class from a module that may not be built yet."""
        try:
            return getattr(importlib.import_module(module), name)
        except (ModuleNotFoundError, AttributeError):
            self.notify(  # type: ignore[attr-defined]
                f"{module.rsplit('.', 1)[-1].capitalize()} is not available in this build.",
                severity="warning",
            )
            return None

    def capture_patterns(self) -> list[str] | None:
        """``[redaction] on_capture``: the patterns the supervisor redacts while it
        records, so secrets never reach the disk (None when off)."""
        from storage.transfer.export import capture_patterns

        return capture_patterns(self.config.section("redaction"))

    async def _fail(self, what: str, error: Exception) -> None:
        self.notify(f"{what}: {error}", severity="error", timeout=8)  # type: ignore[attr-defined]

    # -- screens ----------------------------------------------------------------------
    def open_detail(self, session_id: int) -> None:
        from tui.screens.detail import DetailScreen

        self.push_screen(DetailScreen(self.state, session_id))  # type: ignore[attr-defined]

    def open_output(
        self, session_id: int, *, line: int | None = None, highlight: str | None = None
    ) -> None:
        screen = self.lazy_screen("tui.screens.output", "OutputScreen")
        if screen is not None:
            self.push_screen(screen(session_id, line=line, highlight=highlight))  # type: ignore[attr-defined]

    def open_search(self) -> None:
        screen = self.lazy_screen("tui.screens.search", "SearchScreen")
        if screen is not None:
            self.push_screen(screen())  # type: ignore[attr-defined]

    def open_cleanup(self) -> None:
        screen = self.lazy_screen("tui.screens.cleanup", "CleanupScreen")
        if screen is not None and not isinstance(self.screen, screen):  # type: ignore[attr-defined]
            self.push_screen(screen())  # type: ignore[attr-defined]

    def open_export(self, session_ids: list[int]) -> None:
        screen = self.lazy_screen("tui.screens.export", "ExportModal")
        if screen is not None:
            self.push_screen(screen(session_ids))  # type: ignore[attr-defined]

    # -- running ------------------------------------------------------------------------
    @work(group="session-actions")
    async def new_session(self) -> Session | None:
        """Ask for a command, start it, select it."""
        modal = NewSessionModal(self.start_cwd)  # type: ignore[attr-defined]
        request: NewSession | None = await self.push_screen_wait(modal)  # type: ignore[attr-defined]
        if request is None:
            return None
        return await self.start_session(request)

    async def start_session(self, request: NewSession) -> Session | None:
        control = self.control()
        if control is None:
            return None
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
            )
        except Exception as e:  # noqa: BLE001 - the user gets the reason, the TUI lives on
            await self._fail("Could not start the session", e)
            return None
        await self.state.poll(force=True)
        if self.state.position(session.id) is None and self.state.view.filtered:
            from tui.list_query import ListQuery

            await self.state.set_view(ListQuery(sort=self.state.view.sort))
        self.state.select(session.id)
        self.notify(f"Started #{session.id}: {session.label}")  # type: ignore[attr-defined]
        return session

    @work(group="session-actions")
    async def stop_session(self, session_id: int) -> None:
        session = await self.state.session(session_id)
        if session is None or not (session.live or session.status == "pending"):
            return
        ok = await self.push_screen_wait(  # type: ignore[attr-defined]
            ConfirmModal(
                f"Stop #{session.id}?",
                Text.assemble(
                    "SIGTERM, then SIGKILL after ",
                    f"{self.config.general.stop_grace:g}s if it is still running:\n\n",
                    (session.command, "bold"),
                ),
                confirm="Stop",
                danger=True,
            )
        )
        if not ok:
            return
        control = self.control()
        if control is None:
            return
        try:
            await control.stop(
                self.store, self.paths, session_id, grace=self.config.general.stop_grace
            )
        except Exception as e:  # noqa: BLE001
            await self._fail(f"Could not stop #{session_id}", e)
        await self.state.poll(force=True)

    @work(group="session-actions")
    async def toggle_pause(self, session_id: int) -> None:
        session = await self.state.session(session_id)
        control = self.control()
        if session is None or control is None or not session.live:
            return
        try:
            if session.status == "paused":
                await control.continue_(self.store, self.paths, session_id)
                self.notify(f"#{session_id} continues")  # type: ignore[attr-defined]
            else:
                await control.pause(self.store, self.paths, session_id)
                self.notify(f"#{session_id} paused")  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001
            await self._fail(f"Could not pause or continue #{session_id}", e)
        await self.state.poll(force=True)

    @work(group="session-actions")
    async def resume_session(self, session_id: int) -> None:
        """Run the session again. An imported session first shows its exact command."""
        session = await self.state.session(session_id)
        control = self.control()
        if session is None or control is None:
            return
        grace = self.config.general.stop_grace
        try:
            redact = self.capture_patterns()
            try:
                await control.resume_run(
                    self.store, self.paths, session_id, grace=grace, redact=redact
                )
            except control.NeedsConfirmation as need:
                command = visible(need.command)  # exactly what would run, nothing hidden
                ok = await self.push_screen_wait(  # type: ignore[attr-defined]
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
                await control.resume_run(
                    self.store, self.paths, session_id, grace=grace, confirmed=True, redact=redact
                )
        except Exception as e:  # noqa: BLE001
            await self._fail(f"Could not resume #{session_id}", e)
            return
        await self.state.poll(force=True)
        self.notify(f"Resumed #{session_id}")  # type: ignore[attr-defined]

    # -- editing ------------------------------------------------------------------------
    @work(group="session-actions")
    async def delete_session(self, session_id: int) -> None:
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
        ok = await self.push_screen_wait(  # type: ignore[attr-defined]
            ConfirmModal(f"Delete #{session.id}?", body, confirm="Delete", danger=True)
        )
        if ok and await self.state.trash(session_id):
            self.notify(f"#{session_id} moved to the trash (u to undo)")  # type: ignore[attr-defined]
            # Deleted from its own detail or output screen: back to the list.
            if getattr(self.screen, "session_id", None) == session_id:  # type: ignore[attr-defined]
                self.pop_screen()  # type: ignore[attr-defined]

    @work(group="session-actions")
    async def delete_sessions(self, session_ids: list[int]) -> None:
        """Trash several (marked) sessions after one confirmation; one undo brings
        them all back."""
        if len(session_ids) == 1:
            self.delete_session(session_ids[0])
            return
        labels = ", ".join(f"#{sid}" for sid in session_ids[:12])
        more = len(session_ids) - 12
        body = Text.assemble(
            (labels + (f" and {more} more" if more > 0 else ""), "bold"),
            "\n\nThey go to the trash: ",
            ("u", "bold"),
            " brings them all back.",
        )
        ok = await self.push_screen_wait(  # type: ignore[attr-defined]
            ConfirmModal(
                f"Delete {len(session_ids)} sessions?", body, confirm="Delete", danger=True
            )
        )
        if ok:
            moved = await self.state.trash_many(session_ids)
            self.notify(f"{moved} sessions moved to the trash (u to undo)")  # type: ignore[attr-defined]

    async def undo_delete(self) -> None:
        ids = await self.state.undo_trash()
        if not ids:
            self.notify("Nothing to undo.")  # type: ignore[attr-defined]
        elif len(ids) == 1:
            self.notify(f"#{ids[0]} is back")  # type: ignore[attr-defined]
        else:
            self.notify(f"{len(ids)} sessions are back")  # type: ignore[attr-defined]

    @work(group="session-actions")
    async def edit_tags(self, session_id: int) -> None:
        session = await self.state.session(session_id)
        if session is None:
            return
        known = await self.store.sessions.all_tags()
        tags = await self.push_screen_wait(TagsModal(f"#{session.id}", session.tags, known))  # type: ignore[attr-defined]
        if tags is not None:
            self.state.edit(session_id, tags=tags)

    async def toggle_pin(self, session_id: int) -> None:
        session = self.state.row(session_id) or await self.state.session(session_id)
        if session is None:
            return
        self.state.edit(session_id, pinned=not session.pinned)
        await self.state.reindex()
