"""The emulated screen of a running pty session, fed off the capture path.

Capture hands every read to ``ScreenKeeper.feed`` (runner/kinds.py), which only queues
it: a thread feeds the emulator in batches, so the command's output is drained at the
pace of the pipe, not of the emulator (libghostty-vt releases the GIL while it parses).
Whoever reads the screen (the ``screen`` control request) first feeds what is queued,
under the same lock, so it always sees every byte received. Should the emulator fall
``MAX_BEHIND`` bytes behind, capture feeds it itself: memory stays bounded and the
screen is never wrong, only slower.

While the run is recorded (``start_recording``) the keeper collects, from its thread,
the rows that scroll off the main screen (the rendered transcript) and a snapshot of
the screen every ``SNAPSHOT_BYTES`` of output or ``SNAPSHOT_SECONDS`` of activity, each
marked with how many bytes of the run's output it stands for. ``ScreenSaver`` turns
those marks into positions in the stored output (``Positions``: it reads the run's
stored stdout chunks, so it never guesses how lines were numbered) once that output is
stored, and stores them (storage/engine/screens.py): a snapshot never stands ahead of
the stored output, even after a kill -9.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .base import Screen
from .state import shown_lines

MAX_BEHIND = 16 * 1024 * 1024  # bytes queued for the emulator before capture feeds it
SNAPSHOT_BYTES = 2 * 1024 * 1024  # a snapshot at least every this much output
SNAPSHOT_SECONDS = 30.0  # or this long after the last, if anything was written


@dataclass(frozen=True, slots=True)
class Rows:
    """Transcript rows, numbered from ``first``, gone once ``mark`` bytes were fed."""

    mark: int
    first: int
    rows: list[str]
    at: float


@dataclass(frozen=True, slots=True)
class Snap:
    """A snapshot of the screen once ``mark`` bytes of the run's output were fed."""

    mark: int
    rendered: int
    final: bool
    data: bytes
    at: float


@dataclass
class Derived:
    """What the keeper made that is not stored yet."""

    rows: list[Rows] = field(default_factory=list)
    snapshots: list[Snap] = field(default_factory=list)
    mark: int = 0  # bytes of the run's output fed when it was taken

    def __bool__(self) -> bool:
        return bool(self.rows or self.snapshots)


class ScreenKeeper:
    """One run's emulated screen: fed from capture, read by requests, derived from."""

    def __init__(self, cols: int, rows: int, *, session_id: int) -> None:
        self.size = self._first_size = (cols, rows)  # queued resizes apply in order
        self.screen: Screen | None = None  # opened at the first output (or read)
        self.session_id = session_id
        self.run = 0
        self.error: str | None = None  # the emulator failed: nothing more is derived
        self.recording = False  # positions known (``start_recording``): derive and store
        self._lock = threading.RLock()  # held while the screen is fed or read
        self._wake = threading.Condition(threading.Lock())
        self._queue: deque[tuple[bytes | None, tuple[int, int], int]] = deque()
        self._queued = 0
        self._closed = False
        self._bytes = 0  # bytes of the run's output given (capture's side)
        self._fed = 0  # bytes of it fed to the emulator (the thread's side)
        self._rendered = 0
        self._since_snapshot = 0
        self._snapshot_at = time.monotonic()
        self._derived = Derived()
        self._thread = threading.Thread(target=self._work, name="screen", daemon=True)
        self._thread.start()

    def start_recording(self, run: int, rendered: int) -> None:
        """Collect rows and snapshots of run ``run`` from now on; the session's
        transcript is ``rendered`` rows long."""
        with self._lock:
            self.run = run
            self._rendered = rendered
            self.recording = True

    # -- feeding ----------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Output was captured (the capture loop: only queue it)."""
        self._bytes += len(data)
        self._put(data, None)
        if self._queued > MAX_BEHIND:
            self.catch_up()  # far behind: feed it here, keeping memory bounded

    def resize(self, cols: int, rows: int) -> None:
        self.size = (cols, rows)
        self._put(None, (cols, rows))

    def _put(self, data: bytes | None, size: tuple[int, int] | None) -> None:
        item = (data, size or (0, 0), self._bytes)
        with self._wake:
            self._queue.append(item)
            self._queued += len(data) if data else 0
            self._wake.notify()

    def catch_up(self) -> None:
        """Feed everything queued, here and now."""
        with self._lock:
            self._feed_queued()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed and not self._queue:
                    return
            with self._lock:
                self._feed_queued()

    def _feed_queued(self) -> None:
        # Under self._lock. Takes what is queued now, in one batch.
        with self._wake:
            items = list(self._queue)
            self._queue.clear()
            self._queued = 0
        if not items or self.error is not None:
            return
        try:
            screen = self.open()
            for data, size, mark in items:
                if data is None:
                    screen.resize(*size)
                else:
                    screen.feed(data)
                    self._since_snapshot += len(data)
                self._fed = mark
                if self._since_snapshot >= SNAPSHOT_BYTES:
                    self._derive()  # a big batch: a snapshot within it, on time
            self._derive()
        except Exception as e:  # noqa: BLE001 - the emulator must never stop the capture
            self.error = f"the terminal emulator failed: {e!r}"

    def open(self) -> Screen:
        """The screen, opened now if it is not yet (under ``self._lock``)."""
        if self.screen is None:
            from . import open_screen

            self.screen = open_screen(*self._first_size)
        return self.screen

    def _derive(self, *, final: bool = False) -> None:
        assert self.screen is not None
        gone = self.screen.scrolled_off()  # taken even when not recording: memory stays flat
        if not self.recording:
            return
        if final:  # the screen the run ended on, alternate or not: what was seen last
            gone += shown_lines(self.screen.lines())
        d = self._derived
        if gone:
            d.rows.append(Rows(self._fed, self._rendered, gone, time.time()))
            self._rendered += len(gone)
        due = self._since_snapshot >= SNAPSHOT_BYTES or (
            self._since_snapshot and time.monotonic() - self._snapshot_at >= SNAPSHOT_SECONDS
        )
        if (final or due) and getattr(self.screen, "settled", True):
            # (mid-sequence it waits: a snapshot there could not give the start back)
            blob = self.screen.snapshot()
            d.snapshots.append(Snap(self._fed, self._rendered, final, blob, time.time()))
            self._since_snapshot, self._snapshot_at = 0, time.monotonic()
        d.mark = self._fed

    # -- what was derived -------------------------------------------------------------
    def take(self, *, final: bool = False) -> Derived:
        """Rows and snapshots made since the last call (with ``final``: the end of the
        run, so the screen's rows and a final snapshot too). Feeds what is queued first."""
        with self._lock:
            self._feed_queued()
            if final and self.error is None and self.recording and self.screen is not None:
                try:
                    self._derive(final=True)
                except Exception as e:  # noqa: BLE001
                    self.error = f"the terminal emulator failed: {e!r}"
            out = self._derived
            self._derived = Derived(mark=out.mark)
            return out

    def give_back(self, d: Derived) -> None:
        """``take``'s result could not be stored yet: keep it for the next try."""
        with self._lock:
            cur = self._derived
            cur.rows[:0] = d.rows
            cur.snapshots[:0] = d.snapshots

    def read(self):
        """``with keeper.read() as screen``: the screen with every byte received fed."""
        keeper = self

        class _Reading:
            def __enter__(self) -> Screen:
                keeper._lock.acquire()
                try:
                    keeper._feed_queued()
                    return keeper.open()
                except BaseException:
                    keeper._lock.release()
                    raise

            def __exit__(self, *exc: object) -> None:
                keeper._lock.release()

        return _Reading()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=5)


Warn = Callable[[str], None]
SAVE_EVERY = 1.0  # seconds between stores of what the keeper derived
# Transcript text stored at once above which its index's merging waits for a pause
# (``ScreenSaver.tidy``): a burst (storage/engine/index_merge.py).
DEFER_MERGE_ABOVE = 1024 * 1024
TIDY_AFTER_RUN_MAX = 300.0  # seconds a finished run's saver spends merging, at most
_BATCH_LINES = 2000


class Positions:
    """Bytes of one run's output (stdout, as fed to the screen) to replay positions
    in the stored output: ``(line, offset)``, the first line not wholly fed and the
    bytes of it fed, as ``runner.screen.replay.ScreenReplay`` counts them. Reads the
    run's stored stdout chunks, forward only."""

    def __init__(self, store: Any, session_id: int, first_line: int) -> None:
        self.store = store
        self.session_id = session_id
        self.line, self.offset, self.bytes = first_line, 0, 0
        self.known: dict[int, tuple[int, int]] = {0: (first_line, 0)}  # marks resolved

    async def resolve(self, mark: int) -> tuple[int, int] | None:
        """Where the byte after the first ``mark`` bytes goes; None while they are not
        all stored yet."""
        if mark in self.known:
            return self.known[mark]
        while self.bytes < mark:
            chunks = await self.store.output.chunks(
                self.session_id, self.line, self.line + _BATCH_LINES, stream="stdout"
            )
            moved = False
            for chunk in chunks:
                if self.bytes >= mark:
                    break
                end = chunk.first_line + chunk.line_count
                if end <= self.line:
                    continue
                data, pos = chunk.data, 0
                if chunk.first_line <= self.line:
                    for _ in range(self.line - chunk.first_line):
                        pos = data.index(b"\n", pos) + 1
                    pos += self.offset
                else:  # the line we were in ended (another stream wrote): a new one
                    self.line, self.offset = chunk.first_line, 0
                piece = data[pos : pos + mark - self.bytes]
                if not piece:
                    continue
                moved = True
                self.bytes += len(piece)
                n = piece.count(b"\n")
                if n:
                    self.line += n
                    self.offset = len(piece) - piece.rfind(b"\n") - 1
                else:
                    self.offset += len(piece)
            if not moved:
                return None
        self.known[mark] = (self.line, self.offset)
        return self.known[mark]

    def forget_before(self, mark: int) -> None:
        self.known = {m: p for m, p in self.known.items() if m >= mark}


def _pack_all(rows: list[Any]) -> list[Any]:
    from storage.engine.screens import pack_rows

    return [pack_rows(part) for part in rows]


class ScreenSaver:
    """Stores what a ``ScreenKeeper`` derives (storage/engine/screens.py), about once a
    second while the run lasts and at its end. A run whose session's transcript is not
    whole before it (recorded before v6, or an earlier supervisor was killed) stores
    nothing: its transcript is rebuilt from the output on first use, all at once."""

    def __init__(
        self, store: Any, keeper: ScreenKeeper, positions: Positions | None, warn: Warn
    ) -> None:
        self.warn = warn  # writes to the supervisors' log
        self.store = store
        self.keeper = keeper
        self.positions = positions
        self._task: asyncio.Task[None] | None = None
        self._ending = asyncio.Event()
        self.tidy_due = False  # a store deferred merging the transcripts' index

    @classmethod
    async def begin(cls, store: Any, keeper: ScreenKeeper, run: int, warn: Warn) -> ScreenSaver:
        from storage.engine import screens

        sid = keeper.session_id
        state = await screens.render_state(store, sid)
        whole = (run == 1 and state is None) or bool(state and state.complete)
        if not whole:
            return cls(store, keeper, None, warn)
        first_line = await store.output.line_count(sid)  # where this run's output starts
        saver = cls(store, keeper, Positions(store, sid, first_line), warn)
        _steady_heap()
        keeper.start_recording(run, state.rows if state else 0)
        saver._task = asyncio.create_task(saver._loop())
        return saver

    async def _loop(self) -> None:
        seen = trimmed = 0  # bytes fed a second ago; when freed heap was given back
        while not self._ending.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ending.wait(), SAVE_EVERY)
            if self._ending.is_set():
                return
            try:
                await self.save_once()
            except Exception as e:  # noqa: BLE001 - the database refuses for now: next time
                self.warn(f"could not store the screen yet: {e!r}")
            fed = self.keeper._fed
            if fed == seen and self.tidy_due:  # output paused: merge until it goes on
                await self.tidy(lambda f=fed: self._ending.is_set() or self.keeper._fed != f)
            if fed == seen != trimmed:
                # Output paused: what its burst took that was freed after the stores
                # (the emulator's batch and history, the stores' own) is given back once
                # (a 200x60 screen after 10 000 lines: 47 -> 44 MB RSS).
                trimmed = fed
                _give_memory_back()
            seen = fed

    async def save_once(self, *, final: bool = False, complete: bool = False) -> bool:
        """Store what was derived whose output is stored. False: some waits for it."""
        from storage.engine import screens

        assert self.positions is not None
        keeper = self.keeper
        derived = keeper.take(final=final)
        sid, run = keeper.session_id, keeper.run
        rows: list[screens.RenderedRows] = []
        snaps: list[screens.ScreenSnapshot] = []
        left = Derived(mark=derived.mark)
        # In output order (rows before a snapshot taken at the same point): positions
        # are found forward only.
        items: list[Rows | Snap] = sorted(
            [*derived.rows, *derived.snapshots], key=lambda x: (x.mark, isinstance(x, Snap))
        )
        try:
            for item in items:
                pos = None if left else await self.positions.resolve(item.mark)
                if pos is None:
                    (left.rows if isinstance(item, Rows) else left.snapshots).append(item)
                elif isinstance(item, Rows):
                    rows.append(screens.RenderedRows(run, item.first, item.rows, pos[0], item.at))
                else:
                    snaps.append(
                        screens.ScreenSnapshot(
                            sid, run, *pos, item.rendered, item.at, item.final, item.data
                        )
                    )
            whole = not left and await self.positions.resolve(derived.mark) is not None
            # Cut into chunks and compressed in a worker thread: on the event loop, where
            # capture reads, that work held a pty burst's reads up (``seq`` through a
            # pty: its last line readable 5.1 s after the command ended, now 1.6 s).
            packed = await asyncio.to_thread(_pack_all, rows) if rows else []
            merge = sum(part.size for part in packed) <= DEFER_MERGE_ABOVE
            if packed or snaps or (complete and whole):
                await screens.save(
                    self.store,
                    sid,
                    rows=packed,
                    snapshots=snaps,
                    position=(self.positions.line, self.positions.offset),
                    complete=complete and whole and keeper.error is None,
                    merge=merge,
                )
                self.tidy_due = self.tidy_due or not merge
        except BaseException:
            keeper.give_back(derived)
            raise
        if rows or snaps:
            _give_memory_back()
        if left:
            keeper.give_back(left)
        self.positions.forget_before(
            min([p.mark for p in left.rows + left.snapshots] or [derived.mark])
        )
        return whole

    async def tidy(self, stop: Callable[[], bool]) -> None:
        """Merge what stores with deferred merging left, a short step at a time, until
        done or ``stop()``."""
        from storage.engine import screens

        while self.tidy_due and not stop():
            try:
                self.tidy_due = await screens.tidy_step(self.store)
            except Exception as e:  # noqa: BLE001 - the database refuses for now: later
                self.warn(f"could not merge the transcript index yet: {e!r}")
                return

    async def tidy_rest(self, stop: Callable[[], bool]) -> None:
        """After the run: ``tidy`` for at most ``TIDY_AFTER_RUN_MAX`` seconds."""
        deadline = time.monotonic() + TIDY_AFTER_RUN_MAX
        await self.tidy(lambda: stop() or time.monotonic() > deadline)

    async def finish(self, tries: int = 50) -> None:
        """The end of the run: the last rows, the final screen and snapshot."""
        if self._task is None:
            return
        self._ending.set()  # not cancelled: a store under way must finish or give back
        await self._task
        final = True
        for _ in range(tries):
            try:
                if await self.save_once(final=final, complete=True):
                    return
            except Exception as e:  # noqa: BLE001
                self.warn(f"could not store the screen yet: {e!r}")
            final = False  # taken already: what could not be stored was given back
            await asyncio.sleep(0.1)


_LIBC: Any = None
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)
# Blocks up to 4 MiB (capture's 256 KiB reads) come from the heap, not a fresh mmap
# each (0.12 ms a read at glibc's initial 128 KiB); a heap's free top over 1 MiB goes
# back to the system.
_TRIM_THRESHOLD = 1024 * 1024
_MMAP_THRESHOLD = 4 * 1024 * 1024


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim, _LIBC.mallopt  # noqa: B018 - glibc, or neither is used
        except (OSError, AttributeError):
            _LIBC = False
    return _LIBC


def _give_memory_back() -> None:
    """Return freed heap to the system (glibc keeps it, per thread arena, otherwise):
    the rows and snapshots just stored were the bulk of what the keeper held."""
    if libc := _libc():
        libc.malloc_trim(0)


def _steady_heap() -> None:
    """Fix glibc's trim and mmap thresholds in this supervisor. Left to itself, glibc
    raises both after a large block is freed (a burst's batch, a big stored chunk), up
    to a trim threshold of 64 MiB: a thread's heap then keeps its free top, which
    ``malloc_trim`` does not give back either (200x60 after 10 000 lines: 44 MB RSS,
    37 MB with these)."""
    if libc := _libc():
        libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
