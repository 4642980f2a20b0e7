"""Times in queries: ``since:2h``, ``since:2026-11-01``, ``until:2026-11-01T10:00``.

A time is either a duration back from now (``90s``, ``30m``, ``2h``, ``7d``, ``2w``, or
a sum such as ``1h30m``), a local date or date-time, or one of ``now``, ``today``,
``yesterday``. Dates are in local time. A bare date given to ``until:`` means the end
of that day, so ``since:2026-11-01 until:2026-11-01`` is that whole day.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Bounded digit counts: int() of a huge digit string is slow and may raise.
_DURATION = re.compile(r"(?:\d{1,9}[smhdw])+")
_DURATION_PART = re.compile(r"(\d{1,9})([smhdw])")
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")

DURATION_HINT = "a number and a unit (s, m, h, d, w), like 30m, 2h, 7d"
DATE_HINT = "a date like 2026-11-01 or 2026-11-01T10:00"


class TimeValueError(ValueError):
    """A time value that is not a duration, a date or a known word; ``str`` says why."""


def parse_time(value: str, *, now: float, end_of_day: bool = False) -> float:
    """Turn a time value into a unix timestamp, relative to ``now``.

    ``end_of_day`` makes a bare date (or ``today``/``yesterday``) mean the end of that day.
    Raises ``TimeValueError`` with a message naming the value and the accepted forms.
    """
    text = value.strip().lower()
    if _DURATION.fullmatch(text):
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
        return now - seconds
    if text in ("now", "today", "yesterday"):
        if text == "now":
            return now
        try:
            day = datetime.fromtimestamp(now).date()
        except (OverflowError, OSError, ValueError) as exc:  # only for absurd `now`
            raise TimeValueError(f"cannot use {value!r} with this clock: {exc}") from None
        if text == "yesterday":
            day -= timedelta(days=1)
        return _day_start(day, value, next_day=end_of_day)
    match = _DATE.fullmatch(text)
    if match:
        return _date_value(match, value, end_of_day)
    if re.match(r"\d{4}-|\d+[-/.:]\d", text):
        raise TimeValueError(f"bad date {value!r}: use {DATE_HINT}")
    if text[:1].isdigit():
        raise TimeValueError(f"bad duration {value!r}: use {DURATION_HINT}")
    raise TimeValueError(f"bad time {value!r}: use a duration (30m, 2h, 7d) or {DATE_HINT}")


def _date_value(match: re.Match[str], value: str, end_of_day: bool) -> float:
    year, month, day, hour, minute, second = match.groups()
    try:
        if hour is None:
            return _day_start(date(int(year), int(month), int(day)), value, next_day=end_of_day)
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        return moment.timestamp()
    except TimeValueError:
        raise
    except (ValueError, OverflowError, OSError) as exc:
        raise TimeValueError(f"bad date {value!r}: {exc}") from None


def _day_start(day: date, value: str, *, next_day: bool) -> float:
    try:
        if next_day:
            day += timedelta(days=1)
        return datetime(day.year, day.month, day.day).timestamp()
    except (ValueError, OverflowError, OSError) as exc:
        raise TimeValueError(f"bad date {value!r}: {exc}") from None
