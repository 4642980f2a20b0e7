"""A screen as plain data, and the size lines that let a screen be rebuilt later.

``screen_state`` is what the supervisor's ``screen`` request answers and what
``tether screen --json`` prints: the same dict whether the screen comes from a live
supervisor or from replaying stored output (``runner.screen.replay``). Styled rows
travel as ``[[text, {style fields that are set}], ...]``; ``styled_from_state``
turns them back into ``StyledRun``s.

The supervisor of a pty session records its terminal's size as a system line when
a run starts and whenever it is resized, in order with the output: a replay reads
them to resize its emulator at the same point the program saw the change.
"""

from __future__ import annotations

import base64
import re
from dataclasses import fields
from typing import Any

from .base import DEFAULT_STYLE, CellStyle, Screen, StyledRun

DEFAULT_SIZE = (80, 24)  # sessions recorded before sizes were: what a terminal starts as

_SIZE_LINE = re.compile(r"^tether: terminal (resized to )?(\d{1,4})x(\d{1,4})$")
_STYLE_FIELDS = tuple(f.name for f in fields(CellStyle))


def size_line(cols: int, rows: int, *, resized: bool = False) -> bytes:
    """The system line recording a terminal size (a run's first, or a resize)."""
    return f"tether: terminal {'resized to ' if resized else ''}{cols}x{rows}\n".encode()


def parse_size_line(text: str) -> tuple[int, int, bool] | None:
    """``(cols, rows, resized)`` from a line ``size_line`` wrote, else None."""
    m = _SIZE_LINE.match(text)
    if m is None:
        return None
    cols, rows = int(m[2]), int(m[3])
    if not (cols and rows):
        return None
    return cols, rows, bool(m[1])


def style_json(style: CellStyle) -> dict[str, Any]:
    """The fields of ``style`` that differ from the default (``{}`` for plain text)."""
    if style == DEFAULT_STYLE:
        return {}
    return {
        name: value
        for name in _STYLE_FIELDS
        if (value := getattr(style, name)) != getattr(DEFAULT_STYLE, name)
    }


def styled_json(rows: list[list[StyledRun]]) -> list[list[list[Any]]]:
    return [[[run.text, style_json(run.style)] for run in row] for row in rows]


def styled_from_state(rows: list[list[list[Any]]]) -> list[list[StyledRun]]:
    """The ``styled`` rows of a state back as ``StyledRun``s."""
    out = []
    for row in rows:
        runs = []
        for text, style in row:
            known = {k: v for k, v in style.items() if k in _STYLE_FIELDS}
            runs.append(StyledRun(str(text), CellStyle(**known) if known else DEFAULT_STYLE))
        out.append(runs)
    return out


def screen_state(screen: Screen, *, styled: bool = False, vt: bool = False) -> dict[str, Any]:
    """The screen as JSON-ready data: size, cursor, alternate screen, modes, rows of
    text; with ``styled`` its styled runs, with ``vt`` the VT bytes that redraw it
    (base64, for attaching a terminal to it)."""
    cols, rows = screen.size
    cursor = screen.cursor
    state: dict[str, Any] = {
        "cols": cols,
        "rows": rows,
        "cursor": {"x": cursor.x, "y": cursor.y, "visible": cursor.visible},
        "alt_screen": screen.alt_screen,
        "modes": screen.modes,
        "title": screen.title,
        "lines": screen.lines(),
    }
    if styled:
        state["styled"] = styled_json(screen.styled_lines())
    if vt:
        state["vt"] = base64.b64encode(screen.to_vt()).decode("ascii")
    return state


def shown_lines(lines: list[str]) -> list[str]:
    """Rows as printed: trailing spaces stripped, trailing empty rows dropped."""
    out = [line.rstrip(" ") for line in lines]
    while out and not out[-1]:
        out.pop()
    return out
