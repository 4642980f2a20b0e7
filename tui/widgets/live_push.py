"""Wake-ups pushed by a live session's supervisor, for the live views.

The views read the database (it stays the source of truth) and poll it; while the
session is live they also subscribe to its supervisor's stream (``watch``,
runner/stream.py), which says each time new output has been written. Each wake-up
pokes the view's poll at once, so new output shows within milliseconds of the
write instead of up to a poll interval later. The subscription is a hint only: when
the supervisor cannot be reached (not started yet, gone, another host) the poll
goes on as before, and a new subscription is tried every ``RETRY`` seconds while
the session is live.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from storage.models import LIVE

if TYPE_CHECKING:
    from textual.widget import Widget
    from textual.worker import Worker

RETRY = 2.0  # seconds between attempts to subscribe
# While subscribed, a view polls this seldom: each write wakes it, so the poll is only
# a safety net (a status change, a write made by someone else); an idle live session
# then costs the TUI one read a second instead of twenty.
SUBSCRIBED_POLL = 1.0


class LivePush:
    """Sets ``poke`` each time the supervisor of ``session_id`` has written output."""

    def __init__(self, session_id: int, poke: asyncio.Event) -> None:
        self.session_id = session_id
        self.poke = poke
        self.wakes = 0  # wake-ups received (tests look)
        self.subscribed = False  # the supervisor counts this view as watching (tests look)
        self._worker: Worker[None] | None = None
        self._tried = -RETRY

    def poll_interval(self, interval: float) -> float:
        """How long a view waits between two polls: ``interval``, or while the supervisor
        wakes it, ``SUBSCRIBED_POLL`` (whichever is longer)."""
        return max(interval, SUBSCRIBED_POLL) if self.subscribed else interval

    @property
    def listening(self) -> bool:
        return self._worker is not None and not self._worker.is_finished

    def keep_up(self, widget: Widget, status: str) -> None:
        """Call at each poll: subscribes while the session is live (a worker of
        ``widget``, so it ends when the widget goes)."""
        if status not in LIVE or self.listening:
            return
        now = time.monotonic()
        if now - self._tried < RETRY:
            return
        app = widget.app
        store, paths = getattr(app, "store", None), getattr(app, "paths", None)
        if store is None or paths is None:
            return
        self._tried = now
        self._worker = widget.run_worker(
            self._listen(store, paths), group="live-push", exit_on_error=False
        )

    async def _listen(self, store: object, paths: object) -> None:
        from runner.client import watch
        from runner.errors import RunnerError
        from runner.stream import END, read_frame

        try:
            reader, writer = await watch(store, paths, self.session_id)  # type: ignore[arg-type]
        except (RunnerError, OSError, ValueError):
            return  # the poll carries on alone
        self.subscribed = True
        try:
            while (got := await read_frame(reader)) is not None:
                self.wakes += 1
                self.poke.set()
                if got[0] == END:
                    return
        finally:
            self.subscribed = False
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
