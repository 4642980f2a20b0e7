"""Plots in text, for the command line and the app alike: horizontal bars and
sparklines of unicode blocks. Pure functions of numbers to strings."""

from __future__ import annotations

from collections.abc import Sequence

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_TICKS = "▁▂▃▄▅▆▇█"


def bar(value: float, largest: float, width: int) -> str:
    """A horizontal bar ``width`` cells at ``largest``, in eighths of a cell; any value
    above zero shows at least a sliver."""
    if width <= 0 or largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(min(value, largest) / largest * width * 8))
    full, part = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[part] if part else "")


def sparkline(values: Sequence[float], *, top: float | None = None) -> str:
    """One cell a value, ``▁`` (zero) to ``█`` (``top``, default the largest); a value
    above zero never draws as zero, and no values give an empty string."""
    if not values:
        return ""
    top = max(values) if top is None else top
    if top <= 0:
        return _TICKS[0] * len(values)
    out = []
    for v in values:
        step = round(max(0.0, min(v, top)) / top * (len(_TICKS) - 1))
        out.append(_TICKS[max(step, 1) if v > 0 else 0])
    return "".join(out)


def timeline(
    points: Sequence[tuple[float, float]], start: float, end: float, cells: int, how: str = "max"
) -> list[float]:
    """``(time, value)`` points in ``cells`` equal spans of time from ``start`` to
    ``end``: each span's ``max``, ``sum`` or ``mean`` (0 where none fell), or its
    ``last`` (a level, such as a size: an empty span keeps the one before)."""
    if cells <= 0 or end <= start:
        return []
    spans: list[list[float]] = [[] for _ in range(cells)]
    width = (end - start) / cells
    for at, value in points:
        if start <= at <= end:
            spans[min(cells - 1, int((at - start) / width))].append(value)
    if how == "last":
        out, level = [], 0.0
        for span in spans:
            level = span[-1] if span else level
            out.append(level)
        return out
    if how == "sum":
        return [sum(s) for s in spans]
    if how == "mean":
        return [sum(s) / len(s) if s else 0.0 for s in spans]
    return [max(s) if s else 0.0 for s in spans]
