"""The full-screen app: opens the store, restores where the user was, keeps it current.

Screens reach it typed through ``screen.tether``: the store, the state, paths and
config, the ``open_*`` methods that move between screens, and ``actions``
(``tui.actions.SessionActions``, what the keys do to a session).

Background work, all on timers of the app:
- every 0.5 s ``state.poll``: other processes' commits show within about a second;
- every ``reconcile_interval`` s ``runner.control.reconcile``: a session whose
  supervisor died turns ``lost``;
- every 0.25 s ``state.autosave_tick``: edits reach SQLite ``autosave_interval``
  seconds after they were made; quit and suspend flush at once.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from textual.app import App

from storage.models import ACTIVE
from tui import format as fmt
from tui.actions import SessionActions
from tui.commands import AppCommands, SessionCommands
from tui.host import TetherHost
from tui.keys import KeyConfigError, bindings, keymap
from tui.list_query import ListQuery
from tui.state import AppState, Ended

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from home.config import Config
    from home.paths import Paths
    from storage import Store

POLL_INTERVAL = 0.5
AUTOSAVE_TICK = 0.25
# tether's own theme variables, and the theme colour each takes when a theme does not
# set it (``Theme(variables={"stderr-mark": "#d08770"})``). stderr is marked in the
# output's gutter, not painted as a failure: servers log ordinary requests there.
THEME_VARIABLES = {
    "stderr-mark": "text-secondary",  # the ▌ beside a stderr line
    "stderr-foreground": "foreground",  # a stderr line's text
}


class TetherApp(TetherHost):
    """tether's TUI. ``background=False`` turns off polling and reconcile (snapshots).

    Screens reach it typed, as ``screen.tether`` (``tui.screens.base``): its ``store``,
    ``state``, ``paths`` and ``config``, the ``open_*`` navigation below, and
    ``actions``, what the keys do to a session (``tui.actions.SessionActions``).
    """

    CSS_PATH = "app.tcss"
    TITLE = "tether"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS: ClassVar = App.COMMANDS | {SessionCommands, AppCommands}
    BINDINGS: ClassVar = bindings(
        "quit", "help", "command_palette", "search", "cleanup", "usage", "suspend"
    )

    def __init__(
        self,
        paths: Paths,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        background: bool = True,
        cursor_blink: bool = True,
        cwd: str | None = None,
    ) -> None:
        super().__init__()
        self.start_cwd = cwd or os.getcwd()  # the new-session modal's default directory
        self.paths = paths
        self.config = config
        self.clock = clock
        self.background = background
        self.cursor_blink = cursor_blink
        self.store: Store = None  # type: ignore[assignment]  # opened on mount
        self.state: AppState = None  # type: ignore[assignment]
        self.actions = SessionActions(self)
        self._loaded = asyncio.Event()
        self._key_error: str | None = None
        self._reconciling = False
        self.startup_error: str | None = None  # why the database could not be opened
        self._quit_unsaved = False
        self._save_error: str | None = None
        try:
            self.set_keymap(keymap(config.keys))
        except KeyConfigError as e:
            self._key_error = str(e)

    def get_css_variables(self) -> dict[str, str]:
        """The theme's variables, plus tether's (``THEME_VARIABLES``), which a theme
        may set and otherwise follow the theme's own colours."""
        variables = super().get_css_variables()
        for name, default in THEME_VARIABLES.items():
            if name not in self.current_theme.variables:
                variables[name] = variables[default]
        return variables

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """None of the app's keys while a screen takes every key (the output screen's
        interactive mode: ctrl+q, ctrl+p... go to the session)."""
        return not (self.screen_stack and getattr(self.screen, "takes_all_keys", False))

    # -- start and stop -----------------------------------------------------------------
    async def on_mount(self) -> None:
        from home.store import open_store
        from storage.errors import StoreError

        try:
            self.store = await open_store(self.paths, actor="tui")
        except StoreError as e:
            # run_app prints it once the terminal is restored: one line (Rich would
            # wrap it at the terminal's width), and the exit code says it failed.
            self.startup_error = f"tether: {e}"
            self.exit(return_code=1)
            return
        try:
            # The app writes (autosave, reconcile, new sessions): find out now that it
            # cannot, not at the first edit behind a "saved" indicator.
            await self.store.check_writable()
        except StoreError as e:
            await self.store.close()
            self.startup_error = (
                f"tether: {e} The app needs to write; `tether ls` and `tether logs` can read it."
            )
            self.exit(return_code=1)
            return
        self.state = AppState(
            self.store,
            self,
            clock=self.clock,
            autosave_interval=self.config.general.autosave_interval,
        )
        await self.state.load()
        self.state.ended.subscribe(self, self._session_ended)
        from tui.attention_watch import AttentionWatch  # who needs you (issue 16)

        bell = self.config.section("attention").get("bell", True)
        self.attention_watch = AttentionWatch(self, self.state, bell=bell)
        await self.attention_watch.start()
        self.app_suspend_signal.subscribe(self, self._suspending)
        from tui.screens.sessions import SessionsScreen

        place = self.state.place  # read first: showing the list sets the place to "list"
        await self.push_screen(SessionsScreen(self.state))
        if place.session_id is not None and place.screen == "detail":
            self.open_detail(place.session_id)
        elif place.session_id is not None and place.screen == "output":
            self.open_output(place.session_id)
        self.set_interval(AUTOSAVE_TICK, self._autosave)
        if self.background:
            self.set_interval(POLL_INTERVAL, self._poll)
            self.set_interval(self.config.general.reconcile_interval, self._reconcile)
            self.call_later(self._reconcile)
            from tui.quota_watch import QUOTA_EVERY, QuotaWatch

            quota = QuotaWatch(self)  # toasts at 80% and 100% of storage.quota
            self.set_interval(QUOTA_EVERY, quota.check)
            self.call_later(quota.check)
            if self.config.general.auto_cleanup:
                self.run_worker(self._auto_cleanup(), group="auto-cleanup", exclusive=True)
        if self._key_error:
            self.notify(self._key_error, title="config.toml", severity="error", timeout=15)
        self._loaded.set()
        self.call_after_refresh(self._freeze_heap)

    def _freeze_heap(self) -> None:
        """Leave what start-up made (modules, Textual, the first screens: some 75 000
        objects) out of the garbage collector's full collections. Each of those walked
        them all and paused the app for 70-240 ms on a loaded machine, every few
        seconds while a live session ticked (issue 14). Later objects are collected as
        before; the start-up ones mostly live as long as the app (a first screen left
        later stays in memory: one screen, once). Not in a headless app (tests run
        hundreds of apps in one process, and each would pin the ones before)."""
        if not self.is_headless:
            gc.freeze()

    async def wait_loaded(self) -> None:
        """Wait until the store is open, the list loaded and its rows fetched."""
        await self._loaded.wait()
        await self.state.settle()

    async def wait_idle(self, timeout: float = 120.0) -> None:
        """Wait until what is on screen reflects the database: rows fetched, preview
        and detail read (tests and screenshots call this before looking). Raises
        TimeoutError rather than let a caller look at a screen still loading."""
        await self.wait_loaded()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            await self.state.settle()
            screen = self.screen
            busy = [w for w in screen.query("SessionPreview") if getattr(w, "busy", False)]
            if not busy and getattr(screen, "ready", True):
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"{type(self.screen).__name__} not idle after {timeout:.0f} s")

    async def on_unmount(self) -> None:
        if self.state is not None:
            try:
                await self.state.close()
            except Exception as e:  # noqa: BLE001 - the user chose to quit unsaved
                self.log.error(f"closing: {e}")
        if self.store is not None:
            await self.store.close()

    async def action_quit(self) -> None:
        if self.state is not None and not self._quit_unsaved:
            try:
                await self.state.flush()
            except Exception as e:  # noqa: BLE001 - say why; a second q quits anyway
                self._quit_unsaved = True
                self.notify(
                    f"Could not save: {e}. Press q again to quit without saving.",
                    severity="error",
                    timeout=15,
                )
                return
        self.exit(0)

    async def _suspending(self, _app: object) -> None:
        await self.state.flush()

    async def action_suspend(self) -> None:
        """ctrl+z: everything is saved before the process stops."""
        await self.state.flush()
        self.action_suspend_process()

    # -- background ---------------------------------------------------------------------
    async def _autosave(self) -> None:
        try:
            await self.state.autosave_tick()
        except Exception as e:  # noqa: BLE001 - edits stay pending; say so once
            if str(e) != self._save_error:
                self._save_error = str(e)
                self.notify(f"Could not save edits: {e}", severity="error", timeout=10)
        else:
            self._save_error = None

    async def _poll(self) -> None:
        await self.state.poll()

    async def _reconcile(self) -> None:
        if self._reconciling:
            return
        try:
            from runner import control
        except ImportError:
            return
        self._reconciling = True
        try:
            lost = await control.reconcile(self.store, self.paths)
            # and the queue: a slot freed by a lost session, a dead starter's claim
            from home.queue import queue_limits
            from runner.queue import kick

            if lost or await kick(self.store, self.paths, limits=queue_limits(self.config)):
                await self.state.poll(force=True)
        except Exception as e:  # noqa: BLE001 - keep running; say why once
            self.log.error(f"reconcile failed: {e}")
        finally:
            self._reconciling = False

    async def _auto_cleanup(self) -> None:
        """``general.auto_cleanup``: apply the retention policy once, after start."""
        from home.cleanup import auto_cleanup

        try:
            result = await auto_cleanup(self.store, self.config, self.paths)
        except Exception as e:  # noqa: BLE001 - a bad policy must not stop the app
            self.notify(f"Automatic cleanup failed: {e}", severity="error", timeout=10)
            return
        if result is not None and result.purged:
            await self.state.poll(force=True)
            self.notify(
                f"Automatic cleanup removed {len(result.purged)} sessions "
                f"({fmt.size(result.bytes)} of output)",
                title="cleanup",
            )

    async def _session_ended(self, ended: Ended) -> None:
        s = ended.session
        took = fmt.duration(s.duration(s.ended_at or self.clock()))
        severity: SeverityLevel
        if s.status == "succeeded":
            message, severity = f"✓ #{s.id} {s.label} succeeded ({took})", "information"
        elif s.status == "failed":
            if s.signal is not None:
                why = f"failed with signal {s.signal}"
            elif s.exit_code is not None:
                why = f"failed with exit code {s.exit_code}"
            else:  # it never ran, or tether gave up on it: its last system line says why
                reason = await self._failure_reason(s.id)
                why = reason if reason.startswith("could not start") else f"failed: {reason}"
            message, severity = f"✗ #{s.id} {s.label} {why}", "error"
        elif s.status == "lost":
            message = f"⊘ #{s.id} {s.label} was lost: its supervisor is gone"
            severity = "warning"
        else:
            message, severity = f"■ #{s.id} {s.label} stopped", "information"
        self.notify(message, severity=severity, timeout=6)
        if self.config.general.bell:
            self.bell()

    async def _failure_reason(self, session_id: int) -> str:
        """Why a session failed without an exit code: its last system line
        (``could not start: command not found: nosuchprog``)."""
        from storage.text import visible

        try:
            lines = await self.store.output.tail(session_id, 1, "system")
        except Exception:  # noqa: BLE001 - the toast still says that it failed
            lines = []
        if not lines:
            return "no exit code was recorded"
        return visible(lines[-1].text.strip())

    # -- navigation -----------------------------------------------------------------------
    def open_detail(self, session_id: int) -> None:
        from tui.screens.detail import DetailScreen

        self.push_screen(DetailScreen(self.state, session_id))

    def open_output(
        self,
        session_id: int,
        *,
        line: int | None = None,
        highlight: str | Sequence[str] | None = None,
    ) -> None:
        from tui.screens.output import OutputScreen

        self.push_screen(OutputScreen(session_id, line=line, highlight=highlight))

    def open_search(self) -> None:
        from tui.screens.search import SearchScreen

        self.push_screen(SearchScreen())

    def open_cleanup(self) -> None:
        from tui.screens.cleanup import CleanupScreen

        if not isinstance(self.screen, CleanupScreen):
            self.push_screen(CleanupScreen())

    def open_usage(self) -> None:
        from tui.screens.usage import UsageScreen

        if not isinstance(self.screen, UsageScreen):
            self.push_screen(UsageScreen())

    def open_export(self, session_ids: list[int]) -> None:
        from tui.screens.export import ExportModal

        self.push_screen(ExportModal(session_ids))

    # -- app-wide keys ------------------------------------------------------------------
    def action_help(self) -> None:
        from textual.screen import ModalScreen

        from tui.screens.help import HelpModal, screen_keys

        screen = self.screen
        if isinstance(screen, ModalScreen):
            return
        title = (
            getattr(screen, "HELP_TITLE", None)
            or type(screen).__name__.replace("Screen", "").lower()
        )
        self.push_screen(HelpModal(title, screen_keys(screen)))

    def action_search(self) -> None:
        self.open_search()

    def action_cleanup(self) -> None:
        self.open_cleanup()

    # -- palette commands ---------------------------------------------------------------
    def action_palette_new_session(self) -> None:
        self.actions.new_session()

    def action_palette_search(self) -> None:
        self.open_search()

    def action_palette_cleanup(self) -> None:
        self.open_cleanup()

    def action_usage(self) -> None:
        self.open_usage()

    def action_palette_usage(self) -> None:
        self.open_usage()

    def action_palette_help(self) -> None:
        self.action_help()

    async def _filter_statuses(self, statuses: frozenset[str]) -> None:
        view = self.state.view
        await self.state.set_view(ListQuery(text=view.text, statuses=statuses, sort=view.sort))

    async def action_palette_clear_filter(self) -> None:
        await self._filter_statuses(frozenset())

    async def action_palette_filter_running(self) -> None:
        await self._filter_statuses(ACTIVE)

    async def action_palette_filter_problems(self) -> None:
        await self._filter_statuses(frozenset({"failed", "lost"}))


def run_app(paths: Paths, config: Config) -> int:
    """Open the TUI on the database of ``paths``; the exit code."""
    app = TetherApp(paths, config)
    app.run()
    if app.startup_error:
        print(app.startup_error, file=sys.stderr)
    return app.return_code or 0
