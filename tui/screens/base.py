"""How screens reach the app, and what every screen with a current session shares.

``TetherScreen`` and ``TetherModal`` give a screen typed access to tether's app
(``self.tether``: its store, state, paths, config, navigation and ``actions``).
``SessionScreen`` adds the keys that act on the current session, and hides those
that make no sense in its status (``tui.action_statuses``; the footer follows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from textual.screen import ModalScreen, Screen
from textual.widgets import Input

from tui.action_statuses import applies
from tui.host import TetherHost, tether_app

if TYPE_CHECKING:
    from storage import Session
    from tui.state import AppState

ResultType = TypeVar("ResultType")


class TetherScreen(Screen[ResultType]):
    """A screen of tether's app."""

    @property
    def tether(self) -> TetherHost:
        return tether_app(self.app)

    @property
    def shown_session(self) -> int | None:
        """The session this screen is about, if it is about one (detail, output)."""
        return None

    @property
    def covered(self) -> bool:
        """An opaque screen is above this one: nothing of it can be seen."""
        stack = self.app.screen_stack
        if self not in stack:
            return False
        above = stack[stack.index(self) + 1 :]
        return any(screen.styles.background.a >= 1 for screen in above)

    # Textual 8 draws the screen right under the top one as if it showed through, also
    # under an opaque one (App._background_screens), and its repaint repaints the same
    # regions of the top screen and asks for itself again (Screen._compositor_refresh):
    # every message the list handled under the output screen (its one-second tick, a
    # change of the sessions) made a whole-screen frame there, ~1.7 a second while a
    # session ticked, each holding the next line's frame back up to a frame interval
    # (issue 14). Covered, a screen repaints nothing; shown again, Textual refreshes it
    # whole (Screen._on_screen_resume).
    # Its widgets' own repaints (a footer key, a row) go the same way, region by region
    # (Screen._compositor_refresh): they are dropped too.
    def _on_timer_update(self) -> None:
        covered = self.covered
        if covered:
            self._repaint_required = False
            self._dirty_widgets.clear()
        super()._on_timer_update()
        if covered:
            self._repaint_required = False
            self._dirty_widgets.clear()

    # A layout of the covered screen (a footer's keys composed again) hands its regions
    # to the top screen from here as well (Screen._refresh_layout).
    def _compositor_refresh(self) -> None:
        if self is not self.app.screen and self.covered:
            self._compositor._dirty_regions.clear()
            self._dirty_widgets.clear()
            self._repaint_required = False
            return
        super()._compositor_refresh()


class TetherModal(ModalScreen[ResultType]):
    """A modal of tether's app."""

    @property
    def tether(self) -> TetherHost:
        return tether_app(self.app)


class SessionScreen(TetherScreen[None]):
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
        session = self.current
        return applies(action, session.status if session is not None else None)

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
        blink = self.tether.cursor_blink
        for widget in self.query(Input):
            widget.cursor_blink = blink

    # -- the common keys ----------------------------------------------------------------
    def action_output(self) -> None:
        if self.current_id is not None:
            self.tether.open_output(self.current_id)

    async def action_attach(self) -> None:
        if self.current_id is not None:
            await self.tether.actions.attach(self.current_id)

    def action_stop(self) -> None:
        if self.current_id is not None:
            self.tether.actions.stop(self.current_id)

    def action_pause(self) -> None:
        if self.current_id is not None:
            self.tether.actions.toggle_pause(self.current_id)

    def action_resume(self) -> None:
        if self.current_id is not None:
            self.tether.actions.resume(self.current_id)

    def action_delete(self) -> None:
        if self.current_id is not None:
            self.tether.actions.delete(self.current_id)

    async def action_undo_delete(self) -> None:
        await self.tether.actions.undo_delete()

    def action_tags(self) -> None:
        if self.current_id is not None:
            self.tether.actions.edit_tags(self.current_id)

    async def action_pin(self) -> None:
        if self.current_id is not None:
            await self.tether.actions.toggle_pin(self.current_id)

    def action_export(self) -> None:
        if self.current_id is not None:
            self.tether.open_export([self.current_id])

    def action_back(self) -> None:
        self.app.pop_screen()
