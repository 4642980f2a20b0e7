"""The output screen's interactive mode: the session's supervisor attach channel,
opened from inside the app.

``InteractiveLink`` is what ``tether attach`` does (runner/attach.py), on the app's
event loop and without taking over the terminal: it attaches to the supervisor's
stream (runner/stream.py) with the view's size, sends each key as ``I`` frames and
size changes as ``R`` frames. What the program draws reaches the screen the usual
way (the terminal view reads the database, woken by the supervisor), so the link
only drains the output frames it is sent and watches for the end of the run.

The detach key and whether typed input is recorded are ``tether attach``'s own
settings (``[attach]`` detach_key, record_input; ``runner.attach.attach_settings``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from runner.attach import attach_settings, who
from runner.attach_keys import DetachKey
from runner.stream import END, INPUT, RESIZE, frame, read_frame

if TYPE_CHECKING:
    from home.config import Config
    from home.paths import Paths
    from storage import Store

# Textual's name for each detach key (``DetachKey.byte``), for the footer's binding.
_TEXTUAL_NAME = {
    0x1C: "ctrl+backslash",
    0x1D: "ctrl+right_square_bracket",
    0x1E: "ctrl+circumflex_accent",
    0x1F: "ctrl+underscore",
}


def detach_key(config: Config) -> DetachKey:
    """The configured detach key (``attach.detach_key``), ctrl+\\ when it is invalid
    (``tether config`` reports the bad value)."""
    try:
        return attach_settings(config)[0]
    except ValueError:
        return DetachKey.parse("ctrl+\\")


def textual_key(key: DetachKey) -> str:
    """The detach key as Textual names it."""
    return _TEXTUAL_NAME.get(key.byte) or f"ctrl+{chr(key.byte + 0x60)}"


class InteractiveLink:
    """One attachment of the app to a running session."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self.size: tuple[int, int] | None = None  # the size the app asked for
        self.ended: str | None = None  # the run's status, once it ended
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None

    @property
    def open(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(
        self, store: Store, paths: Paths, record: bool, cols: int, rows: int
    ) -> dict[str, Any]:
        """Attach with the view's size; the supervisor's hello (``terminal``...).
        ``record``: whether what is typed is stored (``attach.record_input``)."""
        from runner.client import attach_stream

        request: dict[str, Any] = {"cols": cols, "rows": rows, "record_input": record}
        request["who"] = f"{who()} (tether tui)"
        self._reader, self._writer, hello = await attach_stream(
            store, paths, self.session_id, request
        )
        self.size = (cols, rows)
        return hello

    async def run(self) -> str | None:
        """Drain what the supervisor sends until the run ends or the link closes;
        the run's status when it ended."""
        assert self._reader is not None
        while (got := await read_frame(self._reader)) is not None:
            if got[0] == END:
                self.ended = json.loads(got[1]).get("status") or "ended"
                break
        await self.close()
        return self.ended

    def send(self, data: bytes) -> None:
        if data and self.open:
            assert self._writer is not None
            self._writer.write(frame(INPUT, data))

    def resize(self, cols: int, rows: int) -> None:
        if self.open and (cols, rows) != self.size and cols > 0 and rows > 0:
            assert self._writer is not None
            self.size = (cols, rows)
            self._writer.write(frame(RESIZE, json.dumps({"cols": cols, "rows": rows}).encode()))

    def abort(self) -> None:
        """Close without waiting (the screen is going)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
