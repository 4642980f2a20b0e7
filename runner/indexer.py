"""A supervisor's indexing: its session's output is readable at once, searchable next.

A step indexes the waiting output of every session, not only this one's: when many
sessions print at once, the first supervisor whose output is due indexes what all of
them wrote in one transaction and one index segment, and the others find theirs done
(50 sessions stepping on their own wrote 50 small segments, and merged them, for each
one this way). Nor do they take turns: a step that is not urgent (its own output is
under ``INDEX_AFTER_BYTES``, all sessions' under ``SHARED_AFTER_BYTES``) waits until the
oldest output waiting, any session's, is as old as the step would wait for its own
(``INDEX_AFTER_SECONDS``, or ``IDLE_AGE`` after a pause). Fifty supervisors each
stepping every 3 s on its own clock indexed about 17 times a second, a sliver each time,
and that wrote more than all the output did (bench/cases/many_sessions.py: 7.0x the
output written with it, 3.6x without; tests/runner/test_indexer.py).

The writer (runner/writer.py) writes output unindexed, then indexes its session's new
chunks in steps between writes. A small backlog is indexed with merging (as any indexed write
is, storage/engine/index_merge.py). A big one, a burst of megabytes, is indexed without
merging the index's segments: merging is half of indexing's cost on such output, and
deferring it makes the burst searchable about twice as soon. The segments that piled
up are then merged in short steps (``tidy``) when the supervisor has nothing else
to do, and after the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import log
from .errors import DB_ERRORS, short_reason

TIDY_AFTER_RUN_MAX = 300.0  # seconds a finished supervisor spends merging, at most
# While output keeps coming, an index step waits for this much unindexed output or for
# its oldest byte to be this old: every step writes a new index segment and the index's
# bookkeeping pages, so steps of a few KiB cost many times what they index. (Quiet
# sessions are indexed once their output pauses: runner/writer.py.)
INDEX_AFTER_BYTES = 256 * 1024
INDEX_AFTER_SECONDS = 6.0
SHARED_AFTER_BYTES = 4 * 1024 * 1024  # all sessions' unindexed output: a step goes at once
# Why not sooner (issue 18): a step rewrites every chunk row it marks indexed and writes
# a segment that merging rewrites again later, and each step adds the index's own
# bookkeeping pages. With 50 sessions printing 100 lines a second, steps of ~1 MB every
# ~1.3 s wrote 1.14x the output to the WAL (a quarter of it); at 6 s / 4 MB, 0.89x
# (bench/cases/many_sessions_wal.py, with half as many writes too: runner/pace.py).
# Output stays searchable within ~6 s while it streams; a pause or a burst is indexed
# as soon as before.
STEP_EVERY = 1.0  # seconds between index or merge steps while output keeps coming
IDLE_AFTER = 0.3  # a pause in the output this long: index what waits...
IDLE_AGE = 1.0  # ...once its oldest byte is this old (one step for several lines)


class Indexer:
    """Index and tidy steps for one session; the writer decides when."""

    def __init__(self, store: Any, session_id: int, log_path: Path, *, defer_above: int) -> None:
        self.store = store
        self.defer_above = defer_above  # a backlog bigger than this: index without merging
        self.sid = session_id
        self.log_path = log_path
        self.due = False  # output was written that may not be indexed yet
        self.tidy_due = False  # segments were left unmerged
        self.last = time.monotonic()  # when the last step started
        self.busy = False  # the last step left more waiting than it could take: on at once
        self.waiting = 0  # bytes written since the last index step
        self.waiting_since: float | None = None  # when the oldest of them was written

    def wrote(self, nbytes: int = 0) -> None:
        self.due = True
        self.waiting += nbytes
        if self.waiting_since is None:
            self.waiting_since = time.monotonic()

    def ready(self, now: float) -> bool:
        """Worth a step now, between writes (see ``INDEX_AFTER_BYTES``). At most one a
        ``STEP_EVERY`` seconds: during a burst, writing comes first (readable first)."""
        if now - self.last < STEP_EVERY:
            return False
        if self.due:
            since = self.waiting_since
            return (
                self.busy
                or self.waiting >= INDEX_AFTER_BYTES
                or (since is not None and now - since >= INDEX_AFTER_SECONDS)
            )
        return self.tidy_due

    def idle_wait(self, now: float) -> float:
        """When the output has paused: seconds of quiet before the next step."""
        since = self.waiting_since
        if not self.due or since is None:
            return IDLE_AFTER
        return max(IDLE_AFTER, IDLE_AGE - (now - since))

    async def step(self, max_bytes: int, *, wait_age: float = 0.0, last: bool = False) -> int:
        """Index up to about ``max_bytes``. Returns chunks indexed (0: caught up, or
        put off with ``due`` still set; -1: the database refused; logged, retried later).

        ``last``: the run has ended (``rest``). A backlog that was indexed unmerged is
        then indexed unmerged to its end, however small its rest: ``tidy_rest`` merges
        it all next, and a merge in the step would only make it searchable later (the
        last 16 MiB of a 200 MB burst merged ~1.2 s of segments before it was found).

        ``wait_age``: unless this is urgent (a backlog of ours or of all sessions), put
        the step off until the oldest output waiting, any session's, is this old; at
        least ``INDEX_AFTER_SECONDS`` while other sessions' output waits too (a pause
        in one of many sessions does not start a step for all of them)."""
        now = time.monotonic()
        self.last = now
        urgent = self.busy or self.waiting >= INDEX_AFTER_BYTES
        self.waiting, self.waiting_since = 0, None
        try:
            mine = await self.store.output.unindexed_bytes(self.sid)
            if not mine:
                self.due = self.busy = False  # caught up (maybe by another supervisor)
                return 0
            # Every session's waiting output, oldest first, not only ours: with many
            # sessions writing, one supervisor's step indexes what all of them wrote
            # (one index segment, one transaction) and the others find theirs done.
            backlog, oldest = await self.store.output.unindexed_backlog()
            if wait_age and backlog > mine:  # others' output waits too: the shared pace
                wait_age = max(wait_age, INDEX_AFTER_SECONDS)
            if wait_age and not urgent and backlog < SHARED_AFTER_BYTES and oldest is not None:
                age = max(0.0, time.time() - oldest)
                if age < wait_age:  # another supervisor stepped lately: wait for its age
                    self.waiting_since = now - age
                    return 0
            merge = backlog <= self.defer_above and not (last and self.tidy_due)
            n = await self.store.output.index_pending(max_bytes=max_bytes, merge=merge)
        except DB_ERRORS as e:
            self._postponed("indexing", e)
            self.busy = False
            return -1
        if n and not merge:
            self.tidy_due = True
        if n == 0:
            self.due = False
        self.busy = n > 0 and backlog > max_bytes  # more waits: on at once
        return n

    async def tidy(self) -> bool:
        """One short merge step. True while there is more to merge."""
        self.last = time.monotonic()
        try:
            more = await self.store.output.tidy_index()
        except DB_ERRORS as e:
            self._postponed("merging the index", e)
            self.busy = False
            return False  # tidy_due stays set: tried again later
        self.tidy_due = self.busy = more
        return more

    async def rest(self, stop: Callable[[], bool], retry_for: float) -> None:
        """After the run: index what is left. Gives up only after ``retry_for``
        seconds of failures in a row, or when ``stop()`` says so."""
        failing_since: float | None = None
        while not stop():
            n = await self.step(8 * 1024 * 1024, last=True)
            if n == 0:
                return
            if n > 0:
                failing_since = None
                continue
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > retry_for:
                return
            await asyncio.sleep(0.5)

    async def tidy_rest(self, stop: Callable[[], bool]) -> None:
        """After the run: merge what this supervisor's backlogs left unmerged, then the
        upkeep's steps (the word pairs of what was just indexed, above all: until it
        has them, a phrase of common words reads it whole)."""
        deadline = time.monotonic() + TIDY_AFTER_RUN_MAX
        while self.tidy_due and not stop() and time.monotonic() < deadline and await self.tidy():
            pass
        while not stop() and time.monotonic() < deadline and await self._upkeep():
            pass

    async def _upkeep(self) -> bool:
        try:
            return await self.store.output.upkeep()
        except DB_ERRORS as e:
            self._postponed("upkeep", e)
            return False

    def _postponed(self, what: str, e: BaseException) -> None:
        log.write_entry(
            self.log_path, f"{what} postponed: {short_reason(e)}", session_id=self.sid, level="WARN"
        )
