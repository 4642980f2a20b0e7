"""Screens of terminal sessions: snapshots of the emulated screen, and the rendered
transcript (what a person saw scroll by), with its own full-text index.

A pty session's supervisor feeds its output through a terminal emulator
(runner/screen/) and stores here, every so often and at the end of each run:

- a **snapshot** of the screen (``screen_snapshots``), opaque bytes from the emulator,
  at a *replay position*: ``line`` is the first output line not wholly fed, ``offset``
  the bytes of it fed; ``rendered`` counts the transcript rows before that screen. A
  screen at any moment is the nearest snapshot at or before it plus the output after
  it (``nearest_snapshot``), so rebuilding it replays at most one interval. A snapshot
  is stored only once the output it stands for is (runner/screen/keeper.py), so a
  supervisor killed with output still in memory leaves no snapshot ahead of it;
- the **rendered transcript** (``rendered_chunks``): rows that scrolled off the main
  screen, and the screen each run ended on, numbered from 0 per session, indexed in
  ``rendered_words`` (contentless, detail=none: the options of ``output_words``),
  stored as zstd frames of up to ``ROWS_PER_CHUNK`` rows (schema v16; ``text_of`` reads
  either kind, ``pack_step`` compresses the chunks stored plain before);
- how far the transcript is built (``screen_renders``): ``complete`` once every ended
  run is in it. Sessions recorded before v6 have none (nor an import, nor the tail of a
  run whose supervisor was killed): their transcript is built by ``runner.screen.render``
  on first use (``tether logs --rendered``, ``tether screen``), by ``tether import`` for
  what it brings and by ``tether doctor --fix`` for all (``unrendered_sessions``).

Since v15 the transcript is all search reads of a pty session's stdout, which is not
indexed itself (storage/engine/output_index.py, search/rendered.py).

Nothing here knows an emulator: snapshots are bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.engine.compress import pack_text, text_of
from storage.engine.index_merge import (
    RENDERED,
    SEGMENT_GUARD,
    STEP_PAGES,
    merge_for_write,
    merge_step,
    segment_count,
)

if TYPE_CHECKING:
    from storage.engine.store import Store

# A transcript chunk holds at most this many rows, and ends once its text reaches
# CHUNK_TEXT_BYTES: each chunk is an index entry and a zstd frame, and a burst of short
# rows (``seq``) made tens of thousands a second at 200 rows each.
ROWS_PER_CHUNK = 2000
CHUNK_TEXT_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class ScreenSnapshot:
    """A stored screen: where in the output it stands, and the emulator's bytes."""

    session_id: int
    run: int
    line: int  # first output line not wholly fed
    offset: int  # bytes of that line fed
    rendered: int  # transcript rows before this screen
    at: float
    final: bool  # taken at the end of its run (its screen is in the transcript)
    data: bytes

    @property
    def position(self) -> tuple[int, int]:
        return self.line, self.offset


@dataclass(frozen=True, slots=True)
class RenderState:
    """How far a session's rendered transcript is stored."""

    line: int
    offset: int
    rows: int
    complete: bool


@dataclass(frozen=True, slots=True)
class RenderedRows:
    """Transcript rows to store: ``rows`` scrolled off (or ended a run) by ``line``."""

    run: int
    first_row: int
    rows: Sequence[str]
    line: int
    at: float


_SNAP_COLS = "session_id, run, line, offset, rendered, at, final, data"


def _snapshot(row: Any) -> ScreenSnapshot:
    sid, run, line, offset, rendered, at, final, data = tuple(row)
    return ScreenSnapshot(sid, run, line, offset, rendered, at, bool(final), bytes(data))


@dataclass(frozen=True, slots=True)
class PackedRows:
    """``RenderedRows`` cut into chunks and compressed (``pack_rows``), ready to insert:
    each chunk is ``(first row, row count, line, stored text, plain_size, plain text)``."""

    run: int
    first_row: int
    count: int
    at: float
    chunks: list[tuple[int, int, int, Any, int | None, str]]
    size: int  # characters of text to index


def pack_rows(part: RenderedRows) -> PackedRows:
    """The work of storing ``part`` that needs no database: cutting it into chunks
    (``_cuts``), and compressing each. Pure: a supervisor runs it off its event loop
    (runner/screen/keeper.py), beside the capture's reads."""
    rows = part.rows
    whole = "\n".join(rows) + "\n" if rows else ""
    chunks = []
    for start, end, at, upto in _cuts(rows, whole):
        text = whole[at:upto]
        # The rows of a part scrolled off by ``part.line``; those before its last
        # chunk, a row per line earlier (exact for plain output, near for the rest).
        line = max(0, part.line - (len(rows) - end))
        stored, plain_size = pack_text(text)  # compressed at rest (v16)
        chunks.append((part.first_row + start, end - start, line, stored, plain_size, text))
    return PackedRows(part.run, part.first_row, len(rows), part.at, chunks, len(whole))


async def save(
    store: Store,
    session_id: int,
    *,
    rows: Sequence[RenderedRows | PackedRows] = (),
    snapshots: Sequence[ScreenSnapshot] = (),
    position: tuple[int, int] | None = None,
    complete: bool = False,
    merge: bool = True,
) -> None:
    """Store transcript rows and snapshots in one transaction, and how far the
    transcript is built (``position``: rendered up to there; ``complete``: every ended
    run is in it). Callers store only what stands for output already stored.

    ``merge=False`` leaves merging the index's segments to ``tidy_step`` (a burst's
    transcript: it becomes searchable sooner), unless they are past ``SEGMENT_GUARD``
    (storage/engine/index_merge.py); else they are merged in proportion, as FTS5's
    ``automerge`` would."""
    async with store.transaction() as db:
        total = None
        indexed = 0
        for part in rows:
            packed = part if isinstance(part, PackedRows) else pack_rows(part)
            total = await _add_rows(db, session_id, packed)
            indexed += packed.size
        if indexed and (merge or await segment_count(db, RENDERED) > SEGMENT_GUARD):
            await merge_for_write(db, indexed, RENDERED)
        await db.executemany(
            f"INSERT INTO screen_snapshots ({_SNAP_COLS}) VALUES (?,?,?,?,?,?,?,?)",
            [
                (session_id, s.run, s.line, s.offset, s.rendered, s.at, int(s.final), s.data)
                for s in snapshots
            ],
        )
        if snapshots:
            total = max(total or 0, snapshots[-1].rendered)
        if position is not None or total is not None or complete:
            line, offset = position or (snapshots[-1].position if snapshots else (0, 0))
            await db.execute(
                "INSERT INTO screen_renders (session_id, line, offset, rows, complete) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET "
                "line = excluded.line, offset = excluded.offset, "
                "rows = max(rows, excluded.rows), complete = excluded.complete",
                (session_id, line, offset, total or 0, int(complete)),
            )


async def _add_rows(db: Any, session_id: int, part: PackedRows) -> int:
    """Insert ``part``'s chunks, indexed. (In two statements for them all, their ids
    chosen here under the write lock: a burst's transcript is thousands of chunks a
    second, and a statement each was most of the time it took to become searchable.)"""
    top = (await db.execute_fetchall("SELECT coalesce(max(id), 0) FROM rendered_chunks"))[0][0]
    chunks, words = [], []
    run, at = part.run, part.at
    for n, (row, count, line, stored, plain_size, text) in enumerate(part.chunks, top + 1):
        chunks.append((n, session_id, run, row, count, line, at, stored, plain_size))
        words.append((n, text))
    await db.executemany(
        "INSERT INTO rendered_chunks "
        "(id, session_id, run, first_row, row_count, line, at, text, plain_size) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        chunks,
    )
    await db.executemany("INSERT INTO rendered_words (rowid, text) VALUES (?, ?)", words)
    return part.first_row + part.count


def _cuts(rows: Sequence[str], whole: str) -> list[tuple[int, int, int, int]]:
    """``rows`` cut into chunks, each ``(first row, row after its last, first character,
    character after its last)`` in ``whole``, the rows joined with a newline after each.
    A chunk ends at ``ROWS_PER_CHUNK`` rows or at the row that takes its text to
    ``CHUNK_TEXT_BYTES``. Found with string searches, not a Python loop over the rows:
    a 200 MB ``seq`` burst is 25 million rows, and such a loop was 1.4 s of its
    transcript. (Rows holding a newline, which a screen's never do, are counted one by
    one.)"""
    if whole.count("\n") != len(rows):
        return _cuts_row_by_row(rows)
    out = []
    start = at = 0
    while start < len(rows):
        # The first row whose newline ends at or past CHUNK_TEXT_BYTES, else the rest.
        upto = whole.find("\n", at + CHUNK_TEXT_BYTES - 1) + 1 or len(whole)
        count = whole.count("\n", at, upto)
        if count > ROWS_PER_CHUNK:
            count = ROWS_PER_CHUNK
            upto = at + sum(map(len, rows[start : start + count])) + count
        out.append((start, start + count, at, upto))
        start, at = start + count, upto
    return out


def _cuts_row_by_row(rows: Sequence[str]) -> list[tuple[int, int, int, int]]:
    out = []
    start = at = size = 0
    for i, row in enumerate(rows):
        size += len(row) + 1
        if size >= CHUNK_TEXT_BYTES or i + 1 - start == ROWS_PER_CHUNK:
            out.append((start, i + 1, at, at + size))
            start, at, size = i + 1, at + size, 0
    if start < len(rows):
        out.append((start, len(rows), at, at + size))
    return out


async def forget_from(store: Store, session_id: int, row: int) -> None:
    """Drop transcript rows from ``row`` on and snapshots after them (a render that
    starts again from a snapshot rebuilds them)."""
    async with store.transaction() as db:
        found = await db.execute_fetchall(
            "SELECT id, text, plain_size FROM rendered_chunks "
            "WHERE session_id = ? AND first_row >= ?",
            (session_id, row),
        )
        await forget_words(db, found)
        await db.executemany(
            "DELETE FROM rendered_chunks WHERE id = ?", [(c,) for c, _, _ in found]
        )
        await db.execute(
            "DELETE FROM screen_snapshots WHERE session_id = ? AND rendered > ?", (session_id, row)
        )
        await db.execute(
            "UPDATE screen_renders SET rows = ?, complete = 0 WHERE session_id = ?",
            (row, session_id),
        )


async def forget_words(db: Any, chunks: Any) -> None:
    """Drop the index entries of transcript chunks given as ``(id, text, plain_size)``
    rows (a contentless index: deleting an entry repeats its text)."""
    texts = [(cid, text_of(text, size)) for cid, text, size in chunks]
    await db.executemany(
        "INSERT INTO rendered_words (rendered_words, rowid, text) VALUES ('delete', ?, ?)", texts
    )
    # (deletions are index entries too, until merged)
    await merge_for_write(db, sum(len(text) for _, text in texts), RENDERED)


async def tidy_step(store: Store, pages: int = STEP_PAGES) -> bool:
    """One short transaction of merging the transcripts' index segments (about
    ``pages`` pages written), what stores with ``merge=False`` left. True while there is
    more to merge. Searches find the same either way; merged, they are faster."""
    async with store.transaction() as db:
        return await merge_step(db, pages, RENDERED)


PACK_STEP_BYTES = 4 * 1024 * 1024  # transcript text compressed in one upkeep step


async def pack_step(store: Store, after: int) -> int | None:
    """Compress transcript chunks stored plain before schema v16, those after chunk id
    ``after``, in one short transaction of about ``PACK_STEP_BYTES`` of them (part of the
    writers' upkeep, ``store.output.upkeep``). Returns the last chunk id it passed, to
    go on from; None once there is none left. Chunks that would not shrink stay plain
    (the caller's cursor passes over them). The index needs no change: same words."""
    rows = await store.fetchall(  # (read first: most steps find nothing to write)
        "SELECT id, text FROM rendered_chunks WHERE id > ? AND plain_size IS NULL "
        "ORDER BY id LIMIT 64",
        (after,),
    )
    packed, size = [], 0
    for cid, text in rows:
        stored, plain_size = pack_text(text)  # (plain: stored as text)
        if plain_size is not None:
            # (the text again: another process may have replaced the row since)
            packed.append((stored, plain_size, cid, text))
        after = cid
        size += len(stored) if plain_size is None else plain_size
        if size >= PACK_STEP_BYTES:
            break
    if packed:
        async with store.transaction() as db:
            await db.executemany(
                "UPDATE rendered_chunks SET text = ?, plain_size = ? "
                "WHERE id = ? AND plain_size IS NULL AND text = ?",
                packed,
            )
    return after if rows else None


async def nearest_snapshot(
    store: Any, session_id: int, until: int | None = None, *, before: int | None = None
) -> ScreenSnapshot | None:
    """The newest snapshot standing at or before line ``until`` (exclusive: lines up to
    ``until - 1`` fed) — or the newest of all — whose ``rendered`` is at most ``before``
    when given."""
    where, params = "session_id = ?", [session_id]
    if until is not None:
        where += " AND (line < ? OR (line = ? AND offset = 0))"
        params += [until, until]
    if before is not None:
        where += " AND rendered <= ?"
        params.append(before)
    row = await store.fetchone(
        f"SELECT {_SNAP_COLS} FROM screen_snapshots WHERE {where} "
        "ORDER BY line DESC, offset DESC, id DESC LIMIT 1",
        params,
    )
    return _snapshot(row) if row else None


async def snapshots_before(
    store: Any, session_id: int, snapshot: ScreenSnapshot
) -> ScreenSnapshot | None:
    """The snapshot before ``snapshot`` (when that one cannot be restored)."""
    row = await store.fetchone(
        f"SELECT {_SNAP_COLS} FROM screen_snapshots WHERE session_id = ? AND "
        "(line < ? OR (line = ? AND offset < ?)) ORDER BY line DESC, offset DESC LIMIT 1",
        (session_id, snapshot.line, snapshot.line, snapshot.offset),
    )
    return _snapshot(row) if row else None


async def final_snapshot_after(store: Any, session_id: int, row: int) -> ScreenSnapshot | None:
    """The screen that ended the run whose transcript holds row ``row``: the first final
    snapshot whose transcript (``rendered``: rows through that screen) goes past it.
    None when that run has none (it is running, or its supervisor was killed)."""
    found = await store.fetchone(
        f"SELECT {_SNAP_COLS} FROM screen_snapshots WHERE session_id = ? AND final "
        "AND rendered > ? ORDER BY rendered, id LIMIT 1",
        (session_id, row),
    )
    return _snapshot(found) if found else None


async def snapshot_count(store: Any, session_id: int) -> int:
    return int(
        await store.scalar(
            "SELECT count(*) FROM screen_snapshots WHERE session_id = ?", (session_id,)
        )
    )


async def render_state(store: Any, session_id: int) -> RenderState | None:
    row = await store.fetchone(
        "SELECT line, offset, rows, complete FROM screen_renders WHERE session_id = ?",
        (session_id,),
    )
    return RenderState(row[0], row[1], row[2], bool(row[3])) if row else None


async def rendered_rows(
    store: Any, session_id: int, start: int = 0, stop: int | None = None
) -> list[str]:
    """Transcript rows ``start`` to ``stop - 1`` (to the end without ``stop``)."""
    end = stop if stop is not None else 2**62
    rows = await store.fetchall(
        "SELECT first_row, text, plain_size FROM rendered_chunks "
        "WHERE session_id = ? AND first_row < ? AND first_row + row_count > ? "
        "ORDER BY first_row",
        (session_id, end, start),
    )
    out: list[str] = []
    for first, text, size in rows:
        lines = text_of(text, size).split("\n")[:-1]
        lo, hi = max(0, start - first), min(len(lines), end - first)
        out += lines[lo:hi]
    return out


async def rendered_count(store: Any, session_id: int) -> int:
    """How many transcript rows are stored."""
    return int(
        await store.scalar(
            "SELECT coalesce(max(first_row + row_count), 0) FROM rendered_chunks "
            "WHERE session_id = ?",
            (session_id,),
        )
    )


async def unrendered_sessions(store: Any) -> list[int]:
    """Ended pty sessions whose transcript is not (wholly) built: older recordings,
    or a supervisor that was killed."""
    return [sid for sid, _ in await unrendered_output(store)]


async def unrendered_output(store: Any) -> list[tuple[int, int]]:
    """``unrendered_sessions`` with their output's size: ``(id, bytes)`` by id."""
    rows = await store.fetchall(
        "SELECT s.id, s.output_bytes FROM sessions s "
        "LEFT JOIN screen_renders r ON r.session_id = s.id "
        "WHERE s.mode = 'pty' AND s.status NOT IN ('pending', 'running', 'paused') "
        "AND s.output_lines > 0 AND coalesce(r.complete, 0) = 0 ORDER BY s.id"
    )
    return [(r[0], r[1]) for r in rows]
