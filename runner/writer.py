"""The writer: the captured output goes to SQLite in short batched transactions.

Output is written unindexed, readable at once; indexing follows in steps between
writes (runner/indexer.py), so it is searchable next. Batching: after a quiet spell
new output is written at once (a prompt or a log line shows up without delay) while
the session has quick writes in hand (runner/pace.py: a steady stream is written 0.5
to 10 times a second, the fewer the more sessions run; a quiet one at once); during a
burst, at most one transaction per
``flush_interval`` unless ``flush_bytes`` arrive first, and at most ``FLUSH_MAX`` bytes
per transaction; while the command writes flat out, one per ``FLOOD_WRITE_EVERY``
(``_hold_for_flood``). While a live view watches the session, output is written at once,
at most every ``WATCHED_GAP`` (what the view shows is what is stored). Indexing waits
for a few seconds' or 256 KiB of output (runner/indexer.py), or for a pause.

Health: a failed write puts the items back and is retried with backoff; meanwhile
capture keeps reading and drops what does not fit (runner/capture.py), and the
writer says so once in the supervisors' log, and again when the database is writable
again. ``retry`` does the same for the supervisor's single writes (start, end,
pause). A session deleted while running, or a database file removed or replaced,
leaves nothing to record into: the writer asks the supervisor to give up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from storage import SessionNotFound

from . import log
from .buffer import Gap, Piece
from .capture import Capture
from .errors import DB_ERRORS, short_reason
from .indexer import IDLE_AGE, INDEX_AFTER_SECONDS, Indexer
from .pace import Pace, shared_rate

T = TypeVar("T")

FLUSH_MAX = 4 * 1024 * 1024  # bytes per write transaction at most
DB_CHECK_EVERY = 2.0  # seconds between checks that the database file is still there
QUIET_SPELL = 0.05  # no write for this long: new output is written at once
# While a live view watches the session (runner/stream.py), output is written at most
# this long after the last write, batching and pacing aside: the view shows what is
# stored, so what is not written yet is not seen (issue 14: p95 <= 20 ms of the write).
WATCHED_GAP = 0.01
FLOOD_WRITE_EVERY = 0.5  # seconds between writes while the command writes flat out...
FLOOD_POLL = 0.01  # ...checked this often
TOUCH_EVERY = 2.0  # seconds between bumps of the session's updated_at while writing
COUNT_EVERY = 5.0  # seconds between counts of the running sessions (runner/pace.py)
INDEX_BATCH = 4 * 1024 * 1024  # bytes indexed per step while the command runs
INDEX_BACKLOG_MAX = 1024 * 1024  # no indexing while more than this waits to be written
RETRY_FOR = 60.0  # seconds a final write keeps retrying before giving up
GIVE_UP_AFTER = 20.0  # after the command's exit: seconds of failed writes before giving up
END_RETRY = 15.0  # then: seconds the end of the run keeps retrying


class Writer:
    """Writes one session's captured output and schedules its indexing."""

    def __init__(
        self,
        capture: Capture,
        *,
        session_id: int,
        log_path: Path,
        flush_interval: float,
        flush_bytes: int,
        exited: asyncio.Event,
        give_up: Callable[[str], None],
        give_up_after: float = GIVE_UP_AFTER,
    ) -> None:
        self.capture = capture
        self.buffer = capture.buffer
        self.sid = session_id
        self.log_path = log_path
        self.flush_interval = flush_interval
        self.flush_bytes = flush_bytes
        self.store: Any = None  # set by attach, once the database is open
        self.indexer: Indexer | None = None
        self.healthy = True  # the last write to the database worked
        self.last_error = ""
        self.db_gone = False  # the database file was removed: nothing can be recorded
        self._exited = exited  # the command has exited
        self._give_up = give_up  # stop the command: there is nowhere to record it
        self.give_up_after = give_up_after
        self.gave_up = False  # ``wait`` gave up: what is left in the buffer is lost
        self._last_flush = 0.0  # monotonic time of the last write transaction
        self.pace = Pace()  # quick writes while quiet, batches while busy
        self._touched = 0.0  # monotonic time updated_at was last bumped by a write
        self._counted = 0.0  # monotonic time the running sessions were last counted
        self._backoff = 0.1
        self._unhealthy_since: float | None = None
        self.on_written: Callable[[], None] | None = None  # after each write: live views look
        self.watched: Callable[[], bool] = lambda: False  # a live view watches (WATCHED_GAP)

    @property
    def unhealthy_for(self) -> float:
        """Seconds since writes began to fail (0 while they work)."""
        since = self._unhealthy_since
        return 0.0 if since is None else time.monotonic() - since

    def attach(self, store: Any, indexer: Indexer | None) -> None:
        self.store = store
        self.indexer = indexer

    def wake(self) -> None:
        """Look again whether the work is done (the command has exited)."""
        self.capture.data.set()

    # -- the flush loop -----------------------------------------------------------------
    async def run(self) -> None:
        """Write (and index) until the command has exited, its output has settled
        (runner/capture.py) and all of it is written."""
        capture = self.capture
        assert self.indexer is not None
        ix = self.indexer
        while True:
            if not self.buffer:
                if capture.settled.is_set() and self._exited.is_set():
                    return
                capture.data.clear()
                timeout = None
                if ix.due or ix.tidy_due:
                    if ix.busy:  # working through a backlog: on at once
                        await self._background_step()
                        continue
                    timeout = ix.idle_wait(time.monotonic())
                try:
                    await asyncio.wait_for(capture.data.wait(), timeout)
                except TimeoutError:
                    await self._background_step(IDLE_AGE)  # paused: searchable soon
                continue
            # Leading edge: output after a quiet spell is written at once (a prompt or a
            # log line shows up without delay) while the session has quick writes in
            # hand (runner/pace.py); during a burst, at most one transaction per
            # flush_interval, and once the quick writes are spent one per token, unless
            # flush_bytes arrive first. While a live view watches: at once, at most one
            # transaction per WATCHED_GAP.
            now = time.monotonic()
            since = now - self._last_flush
            if self.watched():
                wait = WATCHED_GAP - since
            else:
                wait = max(
                    0.0 if since >= QUIET_SPELL else self.flush_interval - since,
                    self.pace.delay(now),
                )
            if wait > 0 and self.buffer.pending < self.flush_bytes and not capture.settled.is_set():
                capture.big.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(capture.big.wait(), wait)
            if self._hold_for_flood(time.monotonic()):
                await asyncio.sleep(FLOOD_POLL)
                continue
            await self._flush_once()
            self._last_flush = time.monotonic()
            self.pace.spend(self._last_flush)
            if self._last_flush - self._counted >= COUNT_EVERY:
                await self._share_rate()
            if (
                ix.ready(self._last_flush)
                and self.buffer.pending < INDEX_BACKLOG_MAX  # readable first, searchable next
            ):
                await self._background_step(INDEX_AFTER_SECONDS)

    def _hold_for_flood(self, now: float) -> bool:
        """Whether to leave the event loop to the reader a moment longer: while the
        command writes flat out (a burst), a write's work on the loop (cutting lines
        into chunks, the rows) is time the command waits for its pipe, so output is
        written once per ``FLOOD_WRITE_EVERY`` instead, as long as the buffer (and its
        spill file) holds it. Not while a live view watches (it shows what is stored)."""
        return (
            self.capture.reading_flat_out(now)
            and now - self._last_flush < FLOOD_WRITE_EVERY
            and not self.watched()
            and not self.capture.settled.is_set()
            and self.buffer.drained_enough
        )

    async def wait(self, flusher: asyncio.Task[None]) -> None:
        """Let ``flusher`` (running ``run``) write everything; give up once writes have
        failed for ``give_up_after`` seconds since this call (the command has exited).
        What is left is then still in the buffer: the supervisor counts it as lost."""
        entered = time.monotonic()
        while not flusher.done():
            await asyncio.wait({flusher}, timeout=0.5)
            since = self._unhealthy_since
            if since is not None and time.monotonic() - max(since, entered) > self.give_up_after:
                log.write_entry(
                    self.log_path,
                    f"giving up: the database has refused writes for {self.give_up_after:g}s "
                    f"since the command ended ({self.last_error})",
                    session_id=self.sid,
                    level="ERROR",
                )
                self.gave_up = True
                flusher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flusher
                return
        flusher.result()

    async def flush_all(self) -> None:
        """Write whatever is buffered, retrying for up to ``RETRY_FOR`` seconds."""
        deadline = time.monotonic() + RETRY_FOR
        self._touched = 0.0  # the last writes: updated_at shows them
        while self.buffer and not self.db_gone and time.monotonic() < deadline:
            await self._flush_once()

    def _records(self, items: list[Piece | Gap]) -> list[tuple[int, str, bytes, float]]:
        out = []
        for item in items:
            if isinstance(item, Piece):
                out.append((self.sid, item.stream, bytes(item.data), item.at))
            else:
                text = item.describe(self.last_error or "unknown error")
                log.write_entry(self.log_path, text, session_id=self.sid)
                out.append((self.sid, "system", text.encode() + b"\n", item.last_at))
        return out

    async def _flush_once(self) -> bool:
        items = self.buffer.take(FLUSH_MAX)
        if not items:
            return True
        # The session's counters follow every write; its updated_at (what lists
        # refresh by) every TOUCH_EVERY seconds: bumping it rewrites an index page.
        now = time.monotonic()
        touch = now - self._touched >= TOUCH_EVERY
        try:
            await self.store.output.append_many(self._records(items), index=False, touch=touch)
        except SessionNotFound:
            # The session was deleted while running: nothing left to record into.
            log.write_entry(
                self.log_path, "the session was deleted; stopping its command", session_id=self.sid
            )
            self._give_up("deleted")
            return True
        except DB_ERRORS as e:
            self.buffer.give_back(items)
            self.last_error = short_reason(e)
            if self.healthy:
                self.healthy = False
                self._unhealthy_since = time.monotonic()
                log.write_entry(
                    self.log_path,
                    f"cannot write output to the database ({self.last_error}); buffering up "
                    f"to {self.buffer.limit} bytes and retrying",
                    session_id=self.sid,
                    level="WARN",
                )
            self.capture.database_failing(self.last_error)
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, 2.0)
            return False
        if touch:
            self._touched = now
        if self.indexer is not None:  # None only when writing what is left after a crash
            self.indexer.wrote(sum(len(item.data) for item in items if isinstance(item, Piece)))
        if not self.healthy:
            self.healthy = True
            self._unhealthy_since = None
            self._backoff = 0.1
            log.write_entry(
                self.log_path, "the database is writable again", session_id=self.sid, level="INFO"
            )
        self.capture.database_writable()
        if self.on_written is not None:
            self.on_written()
        return True

    async def _share_rate(self) -> None:
        """Quick writes are shared by the running sessions (runner/pace.py)."""
        self._counted = time.monotonic()
        with contextlib.suppress(*DB_ERRORS):
            self.pace.rate = shared_rate(await self.store.sessions.count(status="running"))

    async def _background_step(self, wait_age: float = 0.0) -> None:
        """Searchable next: one index step, or else one merge step (runner/indexer.py).
        A step that is not urgent waits until the oldest output waiting, any session's,
        is ``wait_age`` seconds old: one step then indexes what all sessions wrote."""
        assert self.indexer is not None
        if self.indexer.due:
            await self.indexer.step(INDEX_BATCH, wait_age=wait_age)
        elif self.indexer.tidy_due:
            await self.indexer.tidy()

    # -- single writes ------------------------------------------------------------------
    async def retry(self, fn: Callable[[], Awaitable[T]], what: str, seconds: float) -> T:
        """``await fn()``, retried with backoff while the database refuses, for up to
        ``seconds`` (not at all once the database file is gone)."""
        deadline = time.monotonic() + seconds
        delay, warned = 0.1, False
        while True:
            try:
                return await fn()
            except DB_ERRORS as e:
                if self.db_gone or time.monotonic() + delay > deadline:
                    raise
                if not warned:
                    warned = True
                    log.write_entry(
                        self.log_path,
                        f"could not {what} yet ({short_reason(e)}); retrying",
                        session_id=self.sid,
                        level="WARN",
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- the database file --------------------------------------------------------------
    async def watch_database(self, path: str, first: os.stat_result) -> None:
        """A deleted or replaced database file records nothing anyone can read: give
        up (the command is stopped) instead of running on unseen and filling an
        unlinked file. Runs until the command has exited."""
        while not self._exited.is_set():
            await asyncio.sleep(DB_CHECK_EVERY)
            try:
                st = os.stat(path)
                same = (st.st_dev, st.st_ino) == (first.st_dev, first.st_ino)
            except FileNotFoundError:
                same = False
            except OSError:
                continue  # unreadable for a moment is not gone
            if not same:
                log.write_entry(
                    self.log_path,
                    f"the database {path} was removed or replaced; stopping the command",
                    session_id=self.sid,
                    level="ERROR",
                )
                self.db_gone = True
                self._give_up("database removed")
                return
