"""Who needs you, in the app: sessions that need you first in the list, a toast and the
bell when one starts needing you (and, with ``[notify] desktop``, a desktop notification:
tui/desktop_notify.py), the count in the status bar, and ``y``/``n`` answering.

``AttentionWatch`` follows the app state's row changes (``Change.rows``: the rows the
state re-read because their session changed, attention included, since the supervisor
bumps ``updated_at`` when it records it). It keeps which sessions need you, oldest
first; the list's order puts them on top (``needs_you_first``, used by
``tui.list_query.view_ids``), so a change in or out of ``needs_you`` reindexes.

``continue_conversation`` is what ``r`` does first to an agent session: the agent's
own resume, or a fresh start when its transcript is gone and the user agrees.

``answer_keys`` is what ``y``/``n`` send to a session that needs you: its agent kind's
approve/deny keys (agents/kinds.py, config.toml's ``[agents]`` applied), or for any other
program ``y``/``n`` and Enter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual.signal import Signal

if TYPE_CHECKING:
    from storage import Session, Store

    from .state import AppState, Change


async def needs_you_now(store: Store) -> list[Session]:
    """The running sessions that need you, the one waiting longest first."""
    running = await store.sessions.list(status="running")
    waiting = [s for s in running if s.attention == "needs_you" and not s.trashed]
    return sorted(waiting, key=lambda s: s.attention_since or 0)


def needs_you_first(ordered: Iterable[int], waiting: list[int]) -> list[int]:
    """``ordered`` with ``waiting`` (those of it that need you, in that order) first."""
    ordered = list(ordered)
    if not waiting:
        return ordered
    present = set(ordered)
    first = [i for i in waiting if i in present]
    chosen = set(first)
    return first + [i for i in ordered if i not in chosen]


def answer_keys(session: Session, yes: bool) -> str:
    """The keys that answer ``session``'s question yes or no."""
    if session.agent_kind:
        from runner.attention import load_settings

        kind, _ = load_settings(session.agent_kind)
        if kind is not None and (kind.approve if yes else kind.deny):
            return kind.approve if yes else kind.deny
    return "y\r" if yes else "n\r"


async def answer(actions: Any, session: Session, *, yes: bool) -> bool:
    """Send ``session`` the keys that answer its question (the supervisor's ``input``
    op, no Enter added); whether they went (the user is told why not)."""
    from runner import control

    keys = await asyncio.to_thread(answer_keys, session, yes)
    try:
        await control.send_input(actions.store, actions.paths, session.id, keys, eol=False)
    except Exception as error:  # noqa: BLE001 - say why; the screen stays
        actions.app.notify(str(error), title="Answer not sent", severity="error")
        return False
    actions.app.notify(f"#{session.id}: answered {'yes' if yes else 'no'}", timeout=3)
    return True


async def continue_conversation(actions: Any, session: Session) -> bool:
    """Before ``r`` runs an ended agent session again: its agent's own resume (claude
    ``--resume ID``, ``codex resume ID``, aider ``--restore-chat-history``:
    runner/agent_resume.py), or, when the agent's transcript is gone, a plain restart
    once the user says so. False: the user chose not to run it."""
    if session.live or not session.agent_kind:
        return True
    from rich.text import Text

    from runner.agent_resume import native_resume
    from runner.errors import NotResumable

    from .screens.modals import ConfirmModal

    try:
        await native_resume(actions.store, session)
        return True
    except NotResumable as e:
        why = str(e).split("; `tether resume", 1)[0]
    fresh = ConfirmModal(
        f"Start #{session.id} afresh?",
        Text.assemble(why, ".\n\nRun ", (" ".join(session.argv), "bold"), " again, without it?"),
        confirm="Start afresh",
    )
    if not await actions.app.push_screen_wait(fresh):
        return False
    await native_resume(actions.store, session, fresh=True)
    return True


class AttentionWatch:
    """See the module docstring. ``app`` is the running app (notify, bell, title)."""

    def __init__(self, app: Any, state: AppState, *, bell: bool = True) -> None:
        self.app = app
        self.state = state
        self.bell = bell
        self.waiting: dict[int, float] = {}  # session -> needs you since
        self.counted: Signal[int] = Signal(app, "needs-you-count")  # how many need you
        self._reindex: asyncio.Task[None] | None = None
        from .desktop_notify import DesktopNotifier

        mode = str(app.config.section("notify").get("desktop", "off"))
        self.desktop = DesktopNotifier(mode, self._write)

    def _write(self, text: str) -> None:
        """Text for the app's terminal (nothing when it has none: headless)."""
        driver = getattr(self.app, "_driver", None)
        if not self.app.is_headless and driver is not None:
            driver.write(text)

    async def start(self) -> None:
        for s in await needs_you_now(self.state.store):
            self.waiting[s.id] = s.attention_since or 0.0
        self._show_count()
        self.state.changed.subscribe(self.app, self._changed)
        if self.waiting:  # the first page was read in plain order: put them on top
            self._reindex = asyncio.create_task(self.state.reindex())

    @property
    def ordered(self) -> list[int]:
        return sorted(self.waiting, key=lambda sid: self.waiting[sid])

    async def _changed(self, change: Change) -> None:
        moved = False
        for sid in change.rows:
            s = self.state.row(sid)
            if s is None:
                continue
            now_waiting = s.status == "running" and s.attention == "needs_you"
            if now_waiting and sid not in self.waiting:
                self.waiting[sid] = s.attention_since or 0.0
                moved = True
                self._announce(s)
            elif not now_waiting and sid in self.waiting:
                del self.waiting[sid]
                moved = True
        if moved:
            self._show_count()
            if self._reindex is None or self._reindex.done():
                self._reindex = asyncio.create_task(self.state.reindex())

    def _announce(self, s: Session) -> None:
        self.app.notify(f"◆ #{s.id} {s.label} needs you", severity="warning", timeout=8)
        if self.bell:
            self.app.bell()
        self.desktop.send("tether", f"#{s.id} {s.label} needs you")

    def _show_count(self) -> None:
        self.counted.publish(len(self.waiting))
