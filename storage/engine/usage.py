"""Where the space goes: the database on disk by part, the biggest sessions, output
per day, sizes grouped by session, tag, day, directory or status, and the trend.

Every function reads only, and runs on a ``Store`` or on a ``Reader``. Sizes of
*output* in groups, days and sessions are what was captured (before compression);
sizes in ``Space`` are bytes on disk.

``space`` has two ways to split the file:

- ``exact=False`` (what the usage screen shows first): file sizes from ``stat``, free
  pages from ``PRAGMA freelist_count``, output as the stored size of every chunk (one
  pass over the chunk rows, their data not read: about 0.1 s for 1 GB); the full-text
  indexes, terminal screens and small tables are the rest of the used pages,
  reported together as ``index`` with ``other`` 0.
- ``exact=True``: SQLite's ``dbstat`` table, page by page: output is the pages of the
  chunks (with their indexes and compression dictionaries) and of terminal screens
  and transcripts, index the pages of the FTS5 indexes, other the rest. It reads every
  page of the file (about a second for 1 GB): ``tether usage`` does it, the usage
  screen does it in a thread after it has drawn.

Either way output is split between ``output`` and ``trash`` in proportion to the
captured bytes of sessions outside and inside the trash.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.engine import metrics
from storage.engine.metrics import Sample
from storage.quota import backups_bytes
from storage.units import DAY

if TYPE_CHECKING:
    from storage.engine.metrics import _Queries

GROUPINGS = ("session", "tag", "day", "cwd", "status")
# dbstat names (tables and their indexes) by prefix: output (chunks, compression
# dictionaries, terminal screens and transcripts), and the full-text indexes.
_OUTPUT_PREFIXES = ("output_chunks", "chunk_dicts", "screen_", "rendered_chunks")
_INDEX_PREFIXES = ("output_fts", "output_words", "sessions_fts", "rendered_fts")


@dataclass(frozen=True, slots=True)
class Space:
    """Bytes by part. ``total`` is what is on disk, what a quota counts: the file, the
    WAL, the backups. ``content`` (every page of the database as its connections see
    it) is split into output, trash, index, other and free."""

    database: int  # the database file on disk
    wal: int  # its write-ahead log (pages not yet copied into the file)
    content: int  # the database's pages, the WAL's newer copies counted: the parts below
    backups: int
    backup_files: int
    output: int  # output of sessions outside the trash
    trash: int  # output of sessions in the trash
    index: int  # the full-text indexes (exact=False: and the small tables)
    other: int  # sessions, runs, tags, settings, audit log, metrics
    free: int  # free pages inside the file
    exact: bool
    split: bool = True  # False: only the totals (file, WAL, backups, content, free)

    @property
    def total(self) -> int:
        return self.database + self.wal + self.backups

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "total": self.total}


@dataclass(frozen=True, slots=True)
class SessionUse:
    id: int
    label: str
    status: str
    bytes: int
    lines: int
    trashed: bool
    pinned: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Group:
    """A row of ``usage --by``: the output of the sessions sharing ``key``."""

    key: str
    sessions: int
    bytes: int
    lines: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Trend:
    """How fast the database grows: bytes a day (None: not enough known), from
    ``source`` (``db_bytes`` samples, else the output captured a day)."""

    bytes_per_day: float | None
    source: str
    days: float  # over how many days

    def days_to(self, used: int, limit: int) -> float | None:
        """Days until ``used`` reaches ``limit`` at this rate (None: never, or now)."""
        if not self.bytes_per_day or self.bytes_per_day <= 0 or used >= limit:
            return None
        return (limit - used) / self.bytes_per_day

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Usage:
    """Everything the usage view shows, as of ``at``."""

    at: float
    space: Space
    sessions: int
    trashed: int
    top: tuple[SessionUse, ...]
    days: tuple[Group, ...]  # output per day, oldest first, every day of the span
    db_sizes: tuple[Sample, ...]  # db_bytes samples, oldest first
    trend: Trend
    figures: dict[str, dict[str, float] | None]  # metric name -> its last day

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "space": self.space.to_json(),
            "sessions": self.sessions,
            "trashed": self.trashed,
            "top": [s.to_json() for s in self.top],
            "days": [d.to_json() for d in self.days],
            "db_sizes": [{"at": s.at, "bytes": int(s.value)} for s in self.db_sizes],
            "trend": self.trend.to_json(),
            "metrics": self.figures,
        }


# -- space -------------------------------------------------------------------------------
async def output_totals(store: _Queries) -> tuple[int, int, int, int]:
    """Output bytes outside and inside the trash, and how many sessions of each."""
    row = (
        await store.fetchall(
            "SELECT coalesce(sum(output_bytes) FILTER (WHERE deleted_at IS NULL), 0), "
            "coalesce(sum(output_bytes) FILTER (WHERE deleted_at IS NOT NULL), 0), "
            "count(*) FILTER (WHERE deleted_at IS NULL), "
            "count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM sessions"
        )
    )[0]
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


async def space(
    store: _Queries,
    *,
    backups_dir: Path | None = None,
    exact: bool = False,
    stored: int | None = None,
    split: bool = True,
) -> Space:
    """Bytes on disk by part (see the module docstring for ``exact``). ``stored``: the
    stored size of all chunks when the caller has it (``usage`` counts it with the
    days), else it is counted here (``exact=False``). ``split=False``: only the totals,
    no pass over the chunks (the parts are 0)."""
    db = Path(store.path)
    size = _stat(db)
    wal = _stat(db.with_name(db.name + "-wal"))
    backups, files = backups_bytes(backups_dir)
    page = int(await store.scalar("PRAGMA page_size"))
    pages = int(await store.scalar("PRAGMA page_count"))
    free = int(await store.scalar("PRAGMA freelist_count")) * page
    content = pages * page
    live, trashed, _, _ = await output_totals(store)
    if not split:
        return Space(size, wal, content, backups, files, 0, 0, 0, 0, free, False, False)
    if exact:
        output = index = other = 0
        for name, used in await store.fetchall(
            "SELECT name, pgsize FROM dbstat WHERE aggregate = TRUE"
        ):
            if name.startswith(_OUTPUT_PREFIXES):
                output += used
            elif name.startswith(_INDEX_PREFIXES):
                index += used
            else:
                other += used
    else:
        if stored is None:
            stored = sum(d.stored for d in await _chunk_days(store, 0.0))
        output = stored
        index, other = max(0, content - free - output), 0
    share = trashed / (live + trashed) if live + trashed else 0.0
    trash = round(output * share)
    return Space(
        size, wal, content, backups, files, output - trash, trash, index, other, free, exact
    )


def _stat(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


# -- sessions and groups -------------------------------------------------------------------
async def biggest(store: Any, limit: int = 10) -> list[SessionUse]:
    """The sessions with the most output (the trash included), biggest first."""
    found = await store.sessions.list(order="size", include_deleted=True, limit=limit)
    return [
        SessionUse(s.id, s.label, s.status, s.output_bytes, s.output_lines, s.trashed, s.pinned)
        for s in found
        if s.output_bytes
    ]


_GROUP_SQL = {
    "tag": "SELECT coalesce(t.tag, '(no tag)') AS k, count(DISTINCT s.id), "
    "sum(s.output_bytes), sum(s.output_lines) FROM sessions s "
    "LEFT JOIN session_tags t ON t.session_id = s.id GROUP BY k",
    "cwd": "SELECT s.cwd, count(*), sum(s.output_bytes), sum(s.output_lines) "
    "FROM sessions s GROUP BY s.cwd",
    "status": "SELECT CASE WHEN s.deleted_at IS NULL THEN s.status ELSE 'trash' END AS k, "
    "count(*), sum(s.output_bytes), sum(s.output_lines) FROM sessions s GROUP BY k",
}


# Days by the local offset of now: SQLite's 'localtime' asks the C library per row
# (about 0.1 ms each); an offset that changed (daylight saving) moves an hour. LIMIT -1
# keeps the inner query apart: flattened, the GROUP BY sorter would carry every chunk's
# data along (length() after sorting): 300 ms instead of 1 for 20 MB.
_DAYS = (
    "SELECT k, count(DISTINCT sid), sum(n), sum(plain), sum(lines) FROM ("
    "SELECT CAST((first_at + ?) / 86400 AS INTEGER) AS k, session_id AS sid, "
    "length(data) AS n, coalesce(plain_size, length(data)) AS plain, line_count AS lines "
    "FROM output_chunks WHERE first_at >= ? LIMIT -1) GROUP BY k"
)


@dataclass(frozen=True, slots=True)
class _Day:
    key: str  # YYYY-MM-DD, local
    sessions: int
    stored: int  # bytes on disk
    plain: int  # bytes captured
    lines: int


async def _chunk_days(store: Any, since: float) -> list[_Day]:
    """Output captured and stored on each local day since ``since`` (one pass)."""
    offset = time.localtime().tm_gmtoff
    rows = await store.fetchall(_DAYS, (offset, since))
    return [
        _Day(
            time.strftime("%Y-%m-%d", time.gmtime(k * DAY)), n, stored or 0, plain or 0, lines or 0
        )
        for k, n, stored, plain, lines in rows
    ]


async def groups(
    store: Any, by: str, *, limit: int | None = None, since: float = 0.0
) -> list[Group]:
    """Output grouped ``by`` session, tag, day, cwd or status, biggest first (days:
    newest first, each the output captured that local day; ``since`` limits the days)."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPINGS)}")
    if by == "session":
        found = await store.sessions.list(order="size", include_deleted=True, limit=limit)
        out = [Group(f"#{s.id} {s.label}", 1, s.output_bytes, s.output_lines) for s in found]
        return out
    if by == "day":
        days = await _chunk_days(store, since)
        rows = [(d.key, d.sessions, d.plain, d.lines) for d in days]
    else:
        rows = await store.fetchall(_GROUP_SQL[by])
    out = [Group(str(k), int(n), int(b or 0), int(lines or 0)) for k, n, b, lines in rows]
    if by == "day":
        out.sort(key=lambda g: g.key, reverse=True)
    else:
        out.sort(key=lambda g: (-g.bytes, g.key))
    return out[:limit] if limit is not None else out


async def per_day(store: Any, days: int = 14, *, now: float | None = None) -> list[Group]:
    """Output captured on each of the last ``days`` local days, oldest first, days
    without output included (as 0)."""
    return _last_days(await _chunk_days(store, 0.0), days, time.time() if now is None else now)


def _last_days(found: list[_Day], days: int, now: float) -> list[Group]:
    today = time.localtime(now)
    midnight = time.mktime((today.tm_year, today.tm_mon, today.tm_mday, 0, 0, 0, 0, 0, -1))
    keys = [
        time.strftime("%Y-%m-%d", time.localtime(midnight - i * DAY + DAY / 2))
        for i in range(days - 1, -1, -1)
    ]
    by_key = {d.key: Group(d.key, d.sessions, d.plain, d.lines) for d in found}
    return [by_key.get(k, Group(k, 0, 0, 0)) for k in keys]


# -- trend ---------------------------------------------------------------------------------
def trend_of(sizes: list[Sample], days: list[Group], now: float, span_days: int = 7) -> Trend:
    """Growth a day: from ``db_bytes`` samples over the last ``span_days`` when they
    span an hour or more, else the mean output a day over the last ``span_days`` days
    (None when neither says anything)."""
    recent = [s for s in sizes if s.at >= now - span_days * DAY]
    if len(recent) >= 2 and recent[-1].at - recent[0].at >= 3600:
        span = recent[-1].at - recent[0].at
        rate = (recent[-1].value - recent[0].value) / span * DAY
        return Trend(rate, "database size", round(span / DAY, 2))
    last = days[-span_days:]
    if last and any(d.bytes for d in last):
        return Trend(sum(d.bytes for d in last) / len(last), "output captured", len(last))
    return Trend(None, "nothing recorded yet", 0)


# -- all of it -----------------------------------------------------------------------------
async def usage(
    store: Any,
    *,
    backups_dir: Path | None = None,
    exact: bool = False,
    top: int = 10,
    days: int = 14,
    now: float | None = None,
    chunks: bool = True,
) -> Usage:
    """Everything the usage view shows: space, biggest sessions, output per day, the
    database size over the last ``days`` days, the trend and the last day's metrics.
    ``chunks=False`` skips the one pass over the chunk rows (about 0.2 s for 1 GB):
    no output per day, and only the totals of the space (what the screen draws first)."""
    now = time.time() if now is None else now
    chunk_days = await _chunk_days(store, 0.0) if chunks else []  # days and stored size
    stored = sum(d.stored for d in chunk_days)
    where = await space(
        store, backups_dir=backups_dir, exact=exact, stored=stored, split=chunks or exact
    )
    _, _, n_live, n_trash = await output_totals(store)
    daily = _last_days(chunk_days, days, now) if chunks else []
    sizes = await metrics.series(store, "db_bytes", since=now - days * DAY)
    figures = {
        name: await metrics.summary(store, name, since=now - DAY)
        for name in ("capture_rate", "index_lag", "search_ms")
    }
    return Usage(
        now,
        where,
        n_live,
        n_trash,
        tuple(await biggest(store, top)),
        tuple(daily),
        tuple(sizes),
        trend_of(sizes, daily, now),
        figures,
    )
