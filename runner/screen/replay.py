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

Not here yet: screen snapshots in SQLite (a replay then starts from the nearest one
instead of the first byte).
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
        self._fresh = False
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
            if not self.screen.alt_screen:
                self.transcript += shown_lines(self.screen.lines())
        self.screen = open_screen(cols, rows, self.backend)
        self._fresh = True

    def rendered(self) -> list[str]:
        """The transcript (with ``transcript=True``), then the screen's rows up to the
        last that shows anything."""
        return [*(self.transcript or []), *shown_lines(self.screen.lines())]
