"""Building a pty session's stored screens after the fact: its rendered transcript and
snapshots, from the raw output, for sessions recorded without them (before schema v6,
or whose supervisor was killed before the end of its run).

``render_session`` replays the session from the newest snapshot whose transcript rows
are all stored (or from the first byte), storing the rows that scroll off and a
snapshot every ``SNAPSHOT_BYTES`` as the supervisor would have, then the final screen
and snapshot, and marks the transcript complete. It runs on first use: ``tether logs
--rendered`` and ``tether screen`` of such a session (README: "Terminal sessions").

``render_pending`` does it for every such session, newest first (``tether doctor
--fix``, with progress): since schema v15 a pty session's stdout is searched only
through its transcript, and the sessions recorded before keep their raw stdout in the
output index until theirs is built; it then drops those entries
(storage/engine/output_index.py, ``drop_raw_step``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .keeper import SNAPSHOT_BYTES
from .replay import ScreenReplay
from .state import shown_lines

if TYPE_CHECKING:
    from storage import Store

STEP_LINES = 2000  # lines fed between checks for rows and snapshots to store


async def needs_render(store: Store, session_id: int) -> bool:
    """Whether an ended pty session's transcript is not (wholly) stored."""
    from storage.engine import screens

    session = await store.sessions.require(session_id)
    if session.mode != "pty" or session.live or not session.output_lines:
        return False
    state = await screens.render_state(store, session_id)
    return state is None or not state.complete


async def render_session(
    store: Store, session_id: int, progress: Callable[[int, int], None] | None = None
) -> None:
    """Store the rendered transcript and snapshots of an ended pty session (see the
    module). ``progress(line, lines)`` is called as it goes."""
    from storage.engine import screens

    total = await store.output.line_count(session_id)
    replay = ScreenReplay(session_id, transcript=True)
    state = await screens.render_state(store, session_id)
    resumed = state is not None and await replay.start_near(store)
    await screens.forget_from(store, session_id, replay.rendered_before if resumed else 0)
    replay.transcript = []  # rows before the start are stored: only new ones are kept
    stored = replay.rendered_before
    since = 0
    run = (await store.sessions.require(session_id)).run_count or 1
    while replay.line < total:
        before = replay.fed
        await replay.catch_up(store, until=min(total, replay.line + STEP_LINES))
        since += replay.fed - before
        rows, replay.transcript = replay.transcript or [], []
        snaps = []
        if since >= SNAPSHOT_BYTES and getattr(replay.screen, "settled", True):
            snaps.append(_snapshot(replay, session_id, run, stored + len(rows), final=False))
            since = 0
        if rows or snaps:
            parts = [screens.RenderedRows(run, stored, rows, replay.line, time.time())]
            await screens.save(
                store, session_id, rows=parts if rows else [], snapshots=snaps,
                position=replay.position,
            )  # fmt: skip
            stored += len(rows)
        if progress is not None:
            progress(replay.line, total)
        if replay.fed == before and replay.line < total:
            break  # nothing more to feed (an open last line): done
    rows = replay.transcript or []
    if not replay.ended:
        rows += shown_lines(replay.screen.lines())
    final = []
    if getattr(replay.screen, "settled", True):
        final.append(_snapshot(replay, session_id, run, stored + len(rows), final=True))
    await screens.save(
        store,
        session_id,
        rows=[screens.RenderedRows(run, stored, rows, replay.line, time.time())] if rows else [],
        snapshots=final,
        position=replay.position,
        complete=True,
    )


def _snapshot(replay: ScreenReplay, session_id: int, run: int, rendered: int, *, final: bool):
    from storage.engine.screens import ScreenSnapshot

    line, offset = replay.position
    return ScreenSnapshot(
        session_id, run, line, offset, rendered, time.time(), final, replay.screen.snapshot()
    )


@dataclass(frozen=True, slots=True)
class PendingRenders:
    """Ended pty sessions whose transcript is not (wholly) built, and their output."""

    sessions: tuple[int, ...]  # newest first
    bytes: int


async def pending_renders(store: Store) -> PendingRenders:
    from storage.engine import screens

    found = await screens.unrendered_output(store)
    return PendingRenders(tuple(sid for sid, _ in reversed(found)), sum(n for _, n in found))


async def render_pending(
    store: Store,
    progress: Callable[[int, int, int], None] | None = None,
    *,
    deadline: float | None = None,
) -> int:
    """Build the transcript of every ended pty session without one (newest first), then
    drop the raw stdout entries of those recorded before v15 from the output index.
    ``progress(done, sessions, bytes done)`` after each; ``deadline`` (a
    ``time.monotonic()``) stops between sessions. Returns how many were built."""
    from storage.engine.output_index import drop_raw_step

    pending = await pending_renders(store)
    done = fed = 0
    for sid in pending.sessions:
        if deadline is not None and time.monotonic() >= deadline:
            break
        session = await store.sessions.get(sid)
        if session is None or not await needs_render(store, sid):
            continue  # purged, or built meanwhile (by its first open)
        await render_session(store, sid)
        done += 1
        fed += session.output_bytes
        if progress is not None:
            progress(done, len(pending.sessions), fed)
    while await drop_raw_step(store):
        pass
    return done
