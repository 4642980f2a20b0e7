"""A quota on the space tether takes on disk: the database, its WAL and the backups.

``measure`` needs nothing but ``stat`` (a few microseconds), so every command may
check it; ``QuotaState`` says whether the use is below 80 % (``ok``), at or over 80 %
(``near``) or at or over 100 % (``over``) of the limit, and words it.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.units import format_size

NEAR = 0.8  # share of the quota from which it is "near"
LEVELS = ("ok", "near", "over")


@dataclass(frozen=True, slots=True)
class QuotaState:
    limit: int
    used: int

    @property
    def fraction(self) -> float:
        return self.used / self.limit if self.limit > 0 else float("inf")

    @property
    def level(self) -> str:
        if self.fraction >= 1.0:
            return "over"
        return "near" if self.fraction >= NEAR else "ok"

    def message(self) -> str:
        """One line for people: ``tether takes 4.1 GiB of its 5.0 GiB quota (82%)``."""
        used, limit = format_size(self.used), format_size(self.limit)
        pct = f"{self.fraction * 100:.0f}%"
        if self.level == "over":
            return f"tether takes {used}, over its {limit} quota ({pct})"
        return f"tether takes {used} of its {limit} quota ({pct})"

    def to_json(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "used": self.used,
            "fraction": round(self.fraction, 4),
            "level": self.level,
        }


def database_bytes(db: Path) -> int:
    """Bytes of the database file and its WAL, by ``stat``."""
    total = 0
    for path in (db, db.with_name(db.name + "-wal")):
        with contextlib.suppress(OSError):
            total += os.stat(path).st_size
    return total


def backups_bytes(backups_dir: Path | None) -> tuple[int, int]:
    """Bytes and number of the files in ``backups_dir``, by ``stat``."""
    total = files = 0
    if backups_dir is None:
        return 0, 0
    with contextlib.suppress(OSError), os.scandir(backups_dir) as entries:
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
                    files += 1
    return total, files


def measure(limit: int, db: Path, backups_dir: Path | None = None) -> QuotaState:
    """The quota state now: database, WAL and backups against ``limit``."""
    return QuotaState(limit, database_bytes(db) + backups_bytes(backups_dir)[0])
