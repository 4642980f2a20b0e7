"""What every screen that shows one current session has in common: the keys that act
on it, and which of them make sense right now (the footer hides the others)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.screen import Screen

if TYPE_CHECKING:
    from storage import Session
    from tui.state import AppState

# Keys that act on the current session, and the statuses where they mean something.
_LIVE = ("pending", "running", "paused")
_WHEN: dict[str, tuple[str, ...] | None] = {
    "stop": _LIVE,
    "pause": ("running", "paused"),
    "resume": ("succeeded", "failed", "stopped", "lost"),
    "open": None,
    "output": None,
    "delete": None,
    "tags": None,
    "pin": None,
    "export": None,
}


class SessionScreen(Screen):
    """A screen with a current session (``current_id``) the common keys act on."""

    def __init__(self, state: AppState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state

    @property
    def current_id(self) -> int | None:
        raise NotImplementedError

    @property
    def current(self) -> Session | None:
        sid = self.current_id
        return None if sid is None else self.state.row(sid)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo_delete":
            return self.state.can_undo
        if action not in _WHEN:
            return True
        session = self.current
        if session is None:
            return False
        statuses = _WHEN[action]
        return statuses is None or session.status in statuses

    def update_bindings(self) -> None:
        """Refresh the footer only when what the keys can do has changed (the footer
        rebuilds itself on every refresh, too slow for every cursor move)."""
        key = self.bindings_key()
        if key != getattr(self, "_bindings_key", None):
            self._bindings_key = key
            self.refresh_bindings()

    def bindings_key(self) -> tuple[object, ...]:
        session = self.current
        return (session.status if session else None, self.state.can_undo)

    def on_mount(self) -> None:
        blink = getattr(self.app, "cursor_blink", True)
        for widget in self.query("Input, TextArea"):
            widget.cursor_blink = blink  # type: ignore[attr-defined]

    # -- the common keys ----------------------------------------------------------------
    def action_output(self) -> None:
        if self.current_id is not None:
            self.app.open_output(self.current_id)  # type: ignore[attr-defined]

    def action_stop(self) -> None:
        if self.current_id is not None:
            self.app.stop_session(self.current_id)  # type: ignore[attr-defined]

    def action_pause(self) -> None:
        if self.current_id is not None:
            self.app.toggle_pause(self.current_id)  # type: ignore[attr-defined]

    def action_resume(self) -> None:
        if self.current_id is not None:
            self.app.resume_session(self.current_id)  # type: ignore[attr-defined]

    def action_delete(self) -> None:
        if self.current_id is not None:
            self.app.delete_session(self.current_id)  # type: ignore[attr-defined]

    async def action_undo_delete(self) -> None:
        await self.app.undo_delete()  # type: ignore[attr-defined]

    def action_tags(self) -> None:
        if self.current_id is not None:
            self.app.edit_tags(self.current_id)  # type: ignore[attr-defined]

    async def action_pin(self) -> None:
        if self.current_id is not None:
            await self.app.toggle_pin(self.current_id)  # type: ignore[attr-defined]

    def action_export(self) -> None:
        if self.current_id is not None:
            self.app.open_export([self.current_id])  # type: ignore[attr-defined]

    def action_back(self) -> None:
        self.app.pop_screen()
