"""A terminal's cells drawn with Rich: cell styles to Rich styles, one row to segments
(with the cursor), marks (search matches) drawn over them. Pure: no widget, no state;
``screen_view`` (the terminal view) and ``preview`` (the list's preview) draw with it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from runner.screen.base import DEFAULT_STYLE, CellStyle, StyledRun

Mark = tuple[int, int, Style]  # characters start..end of a row drawn in a style


def _colour(value: int | str | None) -> Color | None:
    if value is None:
        return None
    if isinstance(value, int):
        return Color.from_ansi(value)
    return Color.parse(value)


@lru_cache(maxsize=1024)
def cell_style(style: CellStyle) -> Style:
    """The Rich style of a terminal cell style (default colours: the widget's own)."""
    if style == DEFAULT_STYLE:
        return Style()
    return Style(
        color=_colour(style.fg),
        bgcolor=_colour(style.bg),
        bold=style.bold or None,
        dim=style.faint or None,
        italic=style.italic or None,
        underline=style.underline or None,
        blink=style.blink or None,
        reverse=style.inverse or None,
        conceal=style.invisible or None,
        strike=style.strike or None,
    )


def styled_text(runs: list[StyledRun]) -> Text:
    """One row as Rich ``Text`` (for the preview)."""
    text = Text(no_wrap=True, overflow="crop")
    for run in runs:
        text.append(run.text, cell_style(run.style))
    return text


def row_segments(runs: list[StyledRun], base: Style, cursor_x: int | None) -> list[Segment]:
    """Segments of one row; ``cursor_x`` draws the cursor (reversed) on that cell."""
    segments = []
    x = 0
    for run in runs:
        style = base + cell_style(run.style)
        width = Segment(run.text).cell_length
        if cursor_x is not None and x <= cursor_x < x + width:
            for ch in run.text:
                w = Segment(ch).cell_length
                on = x <= cursor_x < x + w
                segments.append(Segment(ch, style + Style(reverse=True) if on else style))
                x += w
            cursor_x = None
            continue
        segments.append(Segment(run.text, style))
        x += width
    if cursor_x is not None:
        if cursor_x > x:
            segments.append(Segment(" " * (cursor_x - x), base))
        segments.append(Segment(" ", base + Style(reverse=True)))
    return segments


def marked(segments: list[Segment], marks: Sequence[Mark]) -> list[Segment]:
    """``segments`` with the characters of each mark (offsets into their joined text)
    drawn in the mark's style on top of their own."""
    if not marks:
        return segments
    out: list[Segment] = []
    pos = 0
    for segment in segments:
        text, style = segment.text, segment.style or Style()
        end = pos + len(text)
        cuts = sorted({pos, end, *(x for a, b, _ in marks for x in (a, b) if pos < x < end)})
        for a, b in zip(cuts, cuts[1:], strict=False):
            shown = style
            for start, stop, mark in marks:
                if start <= a and b <= stop:
                    shown = shown + mark
            out.append(Segment(text[a - pos : b - pos], shown))
        pos = end
    return out
