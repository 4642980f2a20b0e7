"""A pty session's screen rebuilt from its stored output, and kept up to date.

``ScreenReplay`` feeds the raw bytes of a session's stdout, as stored, through an
emulator at the size the supervisor recorded (its size lines, see
``runner.screen.state``; sessions recorded before those start at 80x24). It remembers
where it stopped (a line number and how many bytes of that line it has fed, since the
newest line may still grow), so ``catch_up`` again feeds only what was written since:
the TUI's screen view and preview stay live by calling it after each poll, and a
finished session replays once. ``until`` stops at a line: the screen as it was then.

With ``transcript=True`` the rows that scroll off the top of the main screen are kept
(``transcript``); ``rendered()`` is that plus the screen: what a person would have
seen in their terminal, scrollback included. Each run starts on a new screen, as its
supervisor's does; the screen a run ended on goes to the transcript first.

``start_near`` first restores the nearest stored snapshot at or before where the
replay is to stop (storage/engine/screens.py), so a replay feeds at most one snapshot
interval; sessions without snapshots (recorded before they were taken) replay from the
first byte, as does a snapshot this emulator cannot restore. ``started_from`` says
where it began.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from . import open_screen
from .base import Screen
from .state import DEFAULT_SIZE, parse_size_line, shown_lines

if TYPE_CHECKING:
    from storage import OutputChunk, Store

BATCH_LINES = 2000  # lines read per query (chunks hold up to 64 KiB)


class ScreenReplay:
    """One session's emulated screen, fed from the store."""

    def __init__(
        self,
        session_id: int,
        *,
        transcript: bool = False,
        backend: str | None = None,
        size: tuple[int, int] = DEFAULT_SIZE,
    ) -> None:
        self.session_id = session_id
        self.backend = backend
        self.screen: Screen = open_screen(*size, backend)
        self.transcript: list[str] | None = [] if transcript else None
        self.line = 0  # the first line not wholly fed
        self.offset = 0  # bytes of that line already fed
        self.fed = 0  # bytes fed in all
        self._fresh = True  # nothing fed to this screen yet
        self._ended = False  # this screen's rows are in the transcript (its run ended)
        self.started_from: tuple[int, int] = (0, 0)  # the snapshot's position, if any
        self.rendered_before = 0  # transcript rows before the screen it started from

    async def start_near(self, store: Store, *, until: int | None = None) -> bool:
        """Start from the nearest snapshot at or before line ``until`` (the newest
        without it), if one can be restored; with ``transcript``, the stored rows
        before it are the transcript's start. Returns whether one was used."""
        from storage.engine import screens

        from . import restore_screen
        from .errors import ScreenError

        snap = await screens.nearest_snapshot(store, self.session_id, until)
        while snap is not None:
            try:
                screen = restore_screen(snap.data)
            except ScreenError:
                snap = await screens.snapshots_before(store, self.session_id, snap)
                continue
            if self.transcript is not None:
                self.transcript = await screens.rendered_rows(
                    store, self.session_id, 0, snap.rendered
                )
                if len(self.transcript) < snap.rendered:  # rows missing: start over
                    self.transcript = []
                    return False
            self.screen = screen
            self.line, self.offset = snap.position
            self.started_from = snap.position
            self.rendered_before = snap.rendered
            self._fresh, self._ended = False, snap.final
            return True
        return False

    @property
    def ended(self) -> bool:
        """The screen's rows are in the transcript already (restored at a run's end)."""
        return self._ended

    @property
    def position(self) -> tuple[int, int]:
        return self.line, self.offset

    async def catch_up(self, store: Store, *, until: int | None = None) -> bool:
        """Feed what was stored since the last call (up to line ``until``, exclusive).
        Returns whether anything was fed."""
        moved = False
        while until is None or self.line < until:
            stop = self.line + BATCH_LINES
            if until is not None:
                stop = min(stop, until)
            chunks = await store.output.chunks(self.session_id, self.line, stop)
            before = self.position
            for chunk in chunks:
                self._take(chunk, stop)
            if self.position == before:
                break
            moved = True
            await asyncio.sleep(0)  # a long replay must not freeze the caller's loop
        return moved

    def _take(self, chunk: OutputChunk, stop: int) -> None:
        end = chunk.first_line + chunk.line_count
        if end <= self.line or chunk.first_line >= stop:
            return
        data = chunk.data
        pos = 0
        if chunk.first_line <= self.line:
            for _ in range(self.line - chunk.first_line):
                pos = data.index(b"\n", pos) + 1
            pos += self.offset
        cut = len(data)
        if end > stop:
            # Only the lines before ``stop``: cut after its last newline.
            cut = 0
            for _ in range(stop - chunk.first_line):
                cut = data.index(b"\n", cut) + 1
            end = stop
        piece = data[pos:cut]
        if chunk.stream == "stdout":
            self._feed(piece)
        elif chunk.stream == "system":
            self._system(piece)
        if cut == len(data) and chunk.open_end:
            self.line = end - 1
            self.offset = len(data) - (data.rfind(b"\n") + 1)
        else:
            self.line, self.offset = end, 0

    def _feed(self, data: bytes) -> None:
        if not data:
            return
        self.screen.feed(data)
        self.fed += len(data)
        self._fresh = self._ended = False
        gone = self.screen.scrolled_off()  # taken even when not kept: memory stays flat
        if self.transcript is not None:
            self.transcript += gone

    def _system(self, data: bytes) -> None:
        for raw in data.split(b"\n"):
            size = parse_size_line(raw.decode("utf-8", "replace"))
            if size is None:
                continue
            cols, rows, resized = size
            if resized:
                self.screen.resize(cols, rows)
            elif self._fresh:
                self.screen = open_screen(cols, rows, self.backend)
            else:
                self._new_run(cols, rows)

    def _new_run(self, cols: int, rows: int) -> None:
        """A new run starts on a new screen; the last one's goes to the transcript."""
        if self.transcript is not None:
            self.transcript += self.screen.scrolled_off()
            if not self._ended:  # the screen it ended on, alternate or not
                self.transcript += shown_lines(self.screen.lines())
        self.screen = open_screen(cols, rows, self.backend)
        self._fresh, self._ended = True, False

    def rendered(self) -> list[str]:
        """The transcript (with ``transcript=True``), then the screen's rows up to the
        last that shows anything (unless they are in it already: the run ended)."""
        rows = [] if self._ended else shown_lines(self.screen.lines())
        return [*(self.transcript or []), *rows]
