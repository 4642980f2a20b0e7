"""Where a search hit on a terminal session was seen, and that moment rebuilt.

A hit in a pty session's rendered transcript (stream ``screen``, its ``row`` set:
storage/engine/search/rendered.py) is a row a person saw, one of two kinds:

- a row of the screen a run ended on (claude's first screen, vim's last): it never
  scrolled off, so it is shown on that screen, rebuilt from the run's final snapshot
  (the nearest snapshot there: nothing to replay);
- a row that scrolled off the top: it is in the transcript, as in a terminal's
  scrollback, shown there with the rows around it. The screen as it was then (the
  hit's line: the row at its top) is one key away, rebuilt from the nearest snapshot
  plus at most one snapshot interval of output.

``locate`` tells which by looking: the final screen of the run holding the row
(``screens.final_snapshot_after``) is restored, and the row is on it when it is one of
the rows that screen added to the transcript, with the same text. Anything else (a run
still going, a supervisor killed before its final snapshot) is a transcript row. No SQL
here; the emulator is loaded by the caller (a few hundred milliseconds the first time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.screen.replay import ScreenReplay
    from storage import Store
    from storage.models import SearchHit

SCREEN, TRANSCRIPT = "screen", "transcript"


@dataclass(frozen=True)
class HitPlace:
    """A hit on a terminal session's transcript, as the search screen hands it on."""

    row: int  # its row of the transcript (0-based)
    line: int  # the hit's output line (0-based): the screen then shows a scrolled row
    text: str  # the row
    spans: tuple[tuple[int, int], ...]  # the words found, in ``text``

    @classmethod
    def of(cls, hit: SearchHit) -> HitPlace | None:
        """The place of a rendered hit; None for any other (a pipe session's line)."""
        if hit.row is None:
            return None
        return cls(hit.row, hit.line, hit.text, hit.spans)


@dataclass
class Located:
    """Where to show a hit: on the screen a run ended on, or in the transcript."""

    where: str  # SCREEN or TRANSCRIPT
    replay: ScreenReplay | None  # the screen it was on (SCREEN), already rebuilt
    screen_row: int | None  # the hit's row on that screen
    until: int  # output lines fed for that screen (exclusive)


def _until(line: int, offset: int) -> int:
    """Lines to feed (exclusive) for the screen at replay position (line, offset)."""
    return line + 1 if offset else line


async def locate(store: Store, session_id: int, place: HitPlace) -> Located:
    """Which view shows ``place`` as it was seen (see the module)."""
    from runner.screen.replay import ScreenReplay
    from runner.screen.state import shown_lines
    from storage.engine import screens

    end = await screens.final_snapshot_after(store, session_id, place.row)
    if end is not None:
        until = _until(end.line, end.offset)
        replay = ScreenReplay(session_id)
        if await replay.start_near(store, until=until) and replay.started_from == end.position:
            await replay.catch_up(store, until=until)
            rows = shown_lines(replay.screen.lines())
            y = place.row - (end.rendered - len(rows))
            if 0 <= y < len(rows) and rows[y] == place.text.rstrip(" "):
                return Located(SCREEN, replay, y, until)
    return Located(TRANSCRIPT, None, None, place.line + 1)


async def screen_at(store: Store, session_id: int, until: int) -> ScreenReplay:
    """The screen once lines up to ``until`` (exclusive) were fed: from the nearest
    snapshot, then at most one snapshot interval of output."""
    from runner.screen.replay import ScreenReplay

    replay = ScreenReplay(session_id)
    await replay.start_near(store, until=until)
    await replay.catch_up(store, until=until)
    return replay


def row_of(lines: list[str], text: str) -> int | None:
    """The row of a screen showing ``text`` (the first, top down), if any."""
    want = text.rstrip(" ")
    for y, line in enumerate(lines):
        if line.rstrip(" ") == want:
            return y
    return None
