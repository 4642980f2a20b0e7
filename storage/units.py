"""Sizes, ages and durations for people: parsed from settings, formatted for display.

One home for every unit tether shows or reads; pure functions, no I/O. Where two
places show a quantity differently on purpose (binary units on screen, decimal units in
the CLI's transfer summary; ``2m05s`` in lists, ``2m 05s`` in a Markdown export), each
way has its own named function here.

    format_size(4300)            '4.2 KiB'        format_size_decimal(4300)   '4.3 KB'
    format_size_setting(5<<30)   '5G'             parse_size('1.5GiB')        1610612736
    format_duration(185)         '3m05s'          format_duration_spaced(185) '3m 05s'
    format_age(5 * 3600)         '5h'             parse_age('2w')             1209600.0
    format_age_setting(86400)    '1d'
"""

from __future__ import annotations

import math
import re

DAY = 86_400.0

# Compiled when first used (``re`` keeps them): tether search imports this module, for
# DAY, and reads no size or age.
_SIZE = r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*"
_AGE = r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|y)?\s*"
_AGE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY, "y": 365 * DAY}
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB")


class UnitError(ValueError):
    """A size or an age that cannot be read; the message says what was expected."""


# -- sizes -------------------------------------------------------------------------------
def parse_size(value: str | int) -> int:
    """``5G``, ``500M``, ``1.5GiB``, ``2048`` (bytes) -> bytes. Units are powers of 1024."""
    if isinstance(value, bool):
        raise UnitError(f"expected a size like 5G or 500M, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UnitError("a size cannot be negative")
        return value
    m = re.fullmatch(_SIZE, str(value), re.IGNORECASE)
    if not m:
        raise UnitError(f"expected a size like 5G or 500M, not {value!r}")
    number, unit, _ = m.groups()
    return int(float(number) * _SIZE_UNITS[unit.lower()])


def format_size(n: int, *, largest: str = "TiB") -> str:
    """Bytes in binary units: ``812 B``, ``4.2 KiB``, ``1.3 GiB``; nothing bigger than
    ``largest`` (``GiB`` gives ``2048.0 GiB`` where the default gives ``2.0 TiB``)."""
    value = float(n)
    for unit in _BINARY[: _BINARY.index(largest) + 1]:
        if abs(value) < 1024 or unit == largest:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # unreachable: the loop ends at ``largest``


def format_size_decimal(n: float) -> str:
    """Bytes in decimal units, as the CLI's export and import summaries say them:
    ``812 B``, ``4.3 KB``, ``1.2 GB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # unreachable


def format_size_setting(n: int | None) -> str:
    """A size as a setting is written, read back by ``parse_size``: ``20G``, ``512M``,
    ``1000`` (bytes when no unit divides it); ``""`` for no size."""
    if n is None:
        return ""
    for unit, size in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return str(n)


# -- ages --------------------------------------------------------------------------------
def parse_age(value: str | int | float) -> float:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` -> seconds. A bare number means days."""
    if isinstance(value, bool):
        raise UnitError(f"expected an age like 30d or 12h, not {value!r}")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise UnitError("an age must be a positive number of days")
        return float(value) * DAY
    m = re.fullmatch(_AGE, str(value), re.IGNORECASE)
    if not m:
        raise UnitError(f"expected an age like 30d, 12h or 2w, not {value!r}")
    number, unit = m.groups()
    return float(number) * _AGE_UNITS[(unit or "d").lower()]


def format_age(seconds: float) -> str:
    """An age in its largest whole unit: ``45s``, ``12m``, ``5h``, ``3d``, ``2.5d``."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            value = seconds / size
            return (
                f"{value:.0f}{unit}" if value >= 10 or value == int(value) else f"{value:.1f}{unit}"
            )
    return f"{seconds:.0f}s"


def format_age_setting(seconds: float | None) -> str:
    """An age as a setting is written, read back by ``parse_age``: ``30d``, ``12h``,
    ``90m``, ``45s`` (the largest unit that divides it); ``""`` for no age."""
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# -- durations ---------------------------------------------------------------------------
def format_duration(seconds: float) -> str:
    """A duration the way lists and system lines say it: ``0.4s``, ``42s``, ``3m05s``,
    ``2h07m``, ``3d04h``. A negative one (a clock that went back) is ``0.0s``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def format_duration_spaced(seconds: float) -> str:
    """A duration in whole seconds, spaced for reading in a document (the Markdown
    export): ``5s``, ``2m 05s``, ``1h 02m 03s``."""
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m:02d}m {s:02d}s" if h else (f"{m}m {s:02d}s" if m else f"{s}s")
