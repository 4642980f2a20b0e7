"""What screens may ask of the app: ``TetherHost``, the typed face of tether's app.

Screens (``tui.screens.base``) and palette providers (``tui.commands``) reach the app
through this class, never through ``tui.app`` itself: the app imports its screens to
show them, so screens importing the app would make a cycle. ``tui.app.TetherApp`` is
the one implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from textual.app import App

if TYPE_CHECKING:
    from home.config import Config
    from home.paths import Paths
    from storage import Store
    from tui.actions import SessionActions
    from tui.state import AppState


class TetherHost(App[int]):
    """tether's app as its screens see it: the store, the state, paths and config,
    ``actions`` (what the keys do to a session) and navigation between screens."""

    store: Store
    state: AppState
    paths: Paths
    config: Config
    actions: SessionActions
    clock: Callable[[], float]
    start_cwd: str
    cursor_blink: bool

    def open_detail(self, session_id: int) -> None:
        raise NotImplementedError

    def open_output(
        self,
        session_id: int,
        *,
        line: int | None = None,
        highlight: str | Sequence[str] | None = None,
    ) -> None:
        raise NotImplementedError

    def open_search(self) -> None:
        raise NotImplementedError

    def open_cleanup(self) -> None:
        raise NotImplementedError

    def open_usage(self) -> None:
        raise NotImplementedError

    def open_export(self, session_ids: list[int]) -> None:
        raise NotImplementedError


def tether_app(app: App[Any]) -> TetherHost:
    """``app`` as tether's own app (screens of this package run only there)."""
    if not isinstance(app, TetherHost):
        raise TypeError(f"tether's screens need tether's app, not {type(app).__name__}")
    return app
