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
