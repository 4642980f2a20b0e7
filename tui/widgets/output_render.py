"""Turning a stored output line into something safe and readable on screen.

A line's bytes may hold anything a program wrote: colours, cursor movement, screen
clears, clipboard writes, carriage-return progress bars. ``line_text`` keeps the colours
and nothing else (``storage.text.terminal_safe`` removes every other control sequence
and collapses carriage returns), styles the line by its stream, and highlights the
words being looked for. ``gutter_text`` is the column to the left: line number,
timestamp and a mark for the stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from storage.models import Line
from storage.text import terminal_safe

from .output_find import Finder

# Characters of one line that are turned into text for display. A stored line is at
# most one 64 KiB chunk; nobody reads further than this sideways, and parsing colours
# of a huge line on every repaint would make scrolling stutter.
MAX_LINE_CHARS = 4096
# Bytes of one line kept in memory by the view (the rest stays in the database).
MAX_LINE_BYTES = 4 * MAX_LINE_CHARS

MARKS = {"stdout": " ", "stderr": "▌", "system": "·", "input": "›"}


@dataclass(frozen=True)
class LineStyles:
    """Rich styles for each part of a line, resolved from the widget's CSS."""

    base: Style = Style()
    stderr: Style = Style()  # marked in the gutter, not painted as a failure
    system: Style = Style(dim=True, italic=True)
    input: Style = Style(bold=True)
    gutter: Style = Style(dim=True)
    mark_stderr: Style = Style(color="magenta")
    mark_system: Style = Style(dim=True)
    mark_input: Style = Style(color="cyan")
    match: Style = Style(reverse=True)
    current: Style = Style(reverse=True, bold=True)
    placeholder: Style = Style(dim=True)
    badge: Style = Style(reverse=True, bold=True)

    def stream(self, stream: str) -> Style:
        if stream == "stderr":
            return self.base + self.stderr
        if stream == "system":
            return self.base + self.system
        if stream == "input":
            return self.base + self.input
        return self.base

    def mark(self, stream: str) -> Style:
        if stream == "stderr":
            return self.base + self.mark_stderr
        if stream == "system":
            return self.base + self.mark_system
        if stream == "input":
            return self.base + self.mark_input
        return self.base + self.gutter


def line_text(
    line: Line, styles: LineStyles, finder: Finder | None = None, current: bool = False
) -> Text:
    """The line as styled text: colours kept, every other control sequence gone, tabs
    expanded, matches of ``finder`` highlighted (more strongly on the ``current`` one)."""
    raw = line.raw
    clipped = len(raw) > MAX_LINE_BYTES
    shown = terminal_safe(raw[:MAX_LINE_BYTES].decode("utf-8", "replace"))
    if len(shown) > MAX_LINE_CHARS:
        shown, clipped = shown[:MAX_LINE_CHARS], True
    text = Text.from_ansi(shown, style=styles.stream(line.stream), no_wrap=True, end="")
    if "\t" in text.plain:
        text.expand_tabs(8)
    if clipped:
        text.append(" …", styles.placeholder)
    if finder is not None:
        style = styles.current if current else styles.match
        for start, end in finder.spans(text.plain):
            text.stylize(style, start, end)
    return text


@dataclass(frozen=True)
class GutterLayout:
    """Which columns the gutter has, and how wide the line numbers are."""

    numbers: bool
    number_width: int
    timestamps: bool
    marks: bool

    @property
    def width(self) -> int:
        w = (self.number_width + 1) if self.numbers else 0
        w += 9 if self.timestamps else 0
        w += 2 if self.marks else 0
        return w


def gutter_text(
    layout: GutterLayout,
    styles: LineStyles,
    line: Line | None,
    number: int,
    *,
    continuation: bool = False,
) -> Text:
    """The gutter of one screen row: line number (1-based, as people count), timestamp
    (local time), stream mark. Blank but the mark on a wrapped line's later rows."""
    text = Text(no_wrap=True, end="")
    gutter = styles.base + styles.gutter
    if layout.numbers:
        label = "" if continuation else str(number + 1)
        text.append(label.rjust(layout.number_width) + " ", gutter)
    if layout.timestamps:
        stamp = ""
        if line is not None and not continuation:
            stamp = time.strftime("%H:%M:%S", time.localtime(line.at))
        text.append(stamp.ljust(8) + " ", gutter)
    if layout.marks:
        stream = line.stream if line is not None else "stdout"
        text.append(MARKS.get(stream, " "), styles.mark(stream))
        text.append(" ", styles.base)
    return text


def text_strip(text: Text, console: Console) -> Strip:
    """A ``Strip`` of one line of text, its base style included (``Text.render`` leaves
    the base style to the console)."""
    strip = Strip(list(text.render(console)), text.cell_len)
    if text.style:
        style = text.style if isinstance(text.style, Style) else console.get_style(text.style)
        strip = strip.apply_style(style)
    return strip
