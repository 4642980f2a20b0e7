"""Store-level health checks and the repairs that are safe to make.

``diagnose`` looks and changes nothing; ``repair`` fixes what ``diagnose`` found that
can be fixed without losing anything: orphaned rows (of sessions that no longer
exist), index entries that do not match the chunks (by rebuilding the index from the
stored bytes, which are the truth), the unindexed backlog, session counters that
disagree with the chunks, and free pages. Damage that SQLite itself reports is never
"repaired": the answer to that is a backup.

Checks about files, permissions and supervisors belong to the CLI (``tether
doctor``), which knows where things live; this module only needs a ``Store``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.engine import output_index
from storage.engine.index_merge import MERGE_AT, RENDERED, merge_for_write, merge_step, segments_sql
from storage.engine.purge import db_size
from storage.engine.sessions import _reindex_meta
from storage.errors import StoreError
from storage.retention import DAY, format_size

if TYPE_CHECKING:
    from storage.engine.store import Store
    from storage.quota import QuotaState

LEVELS = ("ok", "info", "warning", "problem")


@dataclass(frozen=True, slots=True)
class Finding:
    """One result. ``fix`` says what ``repair`` would do (None: nothing safe to do)."""

    check: str
    level: str  # ok, info, warning, problem
    message: str
    fix: str | None = None
    count: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "level": self.level,
            "message": self.message,
            "fix": self.fix,
            "count": self.count,
        }


async def _count(store: Store, sql: str, params: Any = ()) -> int:
    return int(await store.scalar(sql, params) or 0)


async def diagnose(store: Store, *, trash_days: float | None = None) -> list[Finding]:
    """Every store-level check, in a fixed order. Read-only."""
    out: list[Finding] = []
    checks: list[tuple[str, Callable[[], Awaitable[Finding | list[Finding]]]]] = [
        ("integrity", lambda: _integrity(store)),
        ("indexes", lambda: _indexes(store)),
        ("orphans", lambda: _orphans(store)),
        ("counters", lambda: _counters(store)),
        ("backlog", lambda: _backlog(store)),
        ("index-segments", lambda: _segments(store)),
        ("transcript-segments", lambda: _transcript_segments(store)),
        ("output-upgrade", lambda: _upgrade(store)),
        ("word-pairs", lambda: _pairs(store)),
        ("space", lambda: _space(store, trash_days)),
    ]
    for name, check in checks:
        try:
            found = await check()
        except (StoreError, sqlite3.Error) as e:
            # A damaged file can fail any query; say so and go on with the rest.
            found = Finding(name, "problem", f"could not be checked: {e}")
        out += found if isinstance(found, list) else [found]
    return out


async def _integrity(store: Store) -> Finding:
    try:
        rows = await store.fetchall("PRAGMA integrity_check(20)")
    except StoreError as e:
        rows = [(getattr(e, "detail", str(e)),)]
    problems = [r[0] for r in rows if r[0] != "ok"]
    if problems:
        return Finding(
            "integrity",
            "problem",
            "SQLite finds the file damaged: " + "; ".join(problems[:5]) + ". Restore a "
            "backup (`tether backup --list`, `tether restore-backup PATH`).",
            count=len(problems),
        )
    version = await store.schema_version()
    return Finding("integrity", "ok", f"the database is intact (schema version {version})")


async def _fts_check(store: Store, table: str) -> str | None:
    try:
        await store.db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
    except sqlite3.Error as e:
        return str(e)
    return None


# Entries of the output index (output_words) with no chunk indexed there, and back.
_GHOSTS = (
    "SELECT count(*) FROM output_words_docsize d WHERE NOT EXISTS "
    "(SELECT 1 FROM output_chunks c WHERE c.id = d.id AND c.indexed = 2)"
)
_MISSING = (
    "SELECT count(*) FROM output_chunks c WHERE c.indexed = 2 AND NOT EXISTS "
    "(SELECT 1 FROM output_words_docsize d WHERE d.id = c.id)"
)


async def _indexes(store: Store) -> list[Finding]:
    out = []
    broken = await _fts_check(store, "output_words")
    ghost = await _count(store, _GHOSTS)
    missing = await _count(store, _MISSING)
    if broken or ghost:
        why = [f"the output index is damaged ({broken})"] if broken else []
        if ghost:
            why.append(f"{ghost} output index entries belong to no indexed chunk")
        if missing:
            why.append(f"{missing} indexed chunks have no index entry")
        out.append(
            Finding(
                "output-index",
                "problem",
                "; ".join(why) + ": search may show wrong or missing results",
                "rebuild the output index from the stored output",
                ghost + missing or 1,
            )
        )
    elif missing:
        out.append(
            Finding(
                "output-index",
                "problem",
                f"{missing} chunks marked indexed have no index entry: search misses them",
                "index those chunks",
                missing,
            )
        )
    else:
        out.append(Finding("output-index", "ok", "the output index matches the output"))

    broken = await _fts_check(store, "sessions_fts")
    unlisted = await _count(
        store,
        "SELECT count(*) FROM sessions s WHERE NOT EXISTS "
        "(SELECT 1 FROM sessions_fts f WHERE f.rowid = s.id)",
    )
    stale = await _count(
        store,
        "SELECT count(*) FROM sessions_fts f WHERE NOT EXISTS "
        "(SELECT 1 FROM sessions s WHERE s.id = f.rowid)",
    )
    if broken or unlisted or stale:
        why = [f"the session index is damaged ({broken})"] if broken else []
        if unlisted:
            why.append(f"{unlisted} sessions are missing from the session index")
        if stale:
            why.append(f"{stale} session index entries belong to no session")
        out.append(
            Finding(
                "metadata-index",
                "problem",
                "; ".join(why),
                "rebuild the session index",
                unlisted + stale or 1,
            )
        )
    else:
        out.append(Finding("metadata-index", "ok", "the session index matches the sessions"))
    return out


_ORPHANS = {
    "output chunks": "SELECT count(*) FROM output_chunks c WHERE NOT EXISTS "
    "(SELECT 1 FROM sessions s WHERE s.id = c.session_id)",
    "runs": "SELECT count(*) FROM runs r WHERE NOT EXISTS "
    "(SELECT 1 FROM sessions s WHERE s.id = r.session_id)",
    "tags": "SELECT count(*) FROM session_tags t WHERE NOT EXISTS "
    "(SELECT 1 FROM sessions s WHERE s.id = t.session_id)",
}


async def _orphans(store: Store) -> Finding:
    counts = {name: await _count(store, sql) for name, sql in _ORPHANS.items()}
    total = sum(counts.values())
    if not total:
        return Finding("orphans", "ok", "no orphaned rows")
    what = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    return Finding(
        "orphans",
        "problem",
        f"{what} belong to sessions that no longer exist",
        "delete them (and their index entries)",
        total,
    )


_COUNTERS = (
    "SELECT s.id, s.output_bytes, s.output_lines, "
    "coalesce((SELECT sum(coalesce(c.plain_size, length(c.data))) FROM output_chunks c "
    "WHERE c.session_id = s.id), 0), "
    "coalesce((SELECT max(c.first_line + c.line_count) FROM output_chunks c "
    "WHERE c.session_id = s.id), 0) FROM sessions s"
)


async def _counters(store: Store) -> Finding:
    async with store.reading() as db:  # one snapshot: a writer commits chunks and counters
        rows = await db.execute_fetchall(_COUNTERS)
    wrong = [r[0] for r in rows if (r[1], r[2]) != (r[3], r[4])]
    if not wrong:
        return Finding("counters", "ok", "session sizes and line counts match their output")
    shown = ", ".join(f"#{i}" for i in wrong[:8]) + (" ..." if len(wrong) > 8 else "")
    return Finding(
        "counters",
        "problem",
        f"{len(wrong)} sessions have sizes or line counts that disagree with their output "
        f"({shown})",
        "recount them from the stored output",
        len(wrong),
    )


async def _backlog(store: Store) -> Finding:
    n = await _count(store, "SELECT count(*) FROM output_chunks WHERE indexed = 0")
    if not n:
        return Finding("backlog", "ok", "all output is indexed for search")
    size = await store.output.unindexed_bytes()
    return Finding(
        "backlog",
        "warning",
        f"{n} chunks ({format_size(size)}) of output are not indexed yet: search misses "
        "them (normal for a moment while sessions write)",
        "index them now",
        n,
    )


async def _segments(store: Store) -> Finding:
    n = await store.output.index_segments()
    if n < 2 * MERGE_AT:
        return Finding("index-segments", "ok", f"the output index is merged ({_segs(n)})")
    return Finding(
        "index-segments",
        "info",
        f"the output index is in {_segs(n)}: searches are slower until they are merged "
        "(supervisors merge them after a burst of output, when they are idle)",
        "merge them now",
        n,
    )


async def _upgrade(store: Store) -> Finding:
    left = await output_index.upgrade_left(store)
    if not left:
        return Finding("output-upgrade", "ok", "all output is compressed and in the new index")
    return Finding(
        "output-upgrade",
        "info",
        f"{format_size(left)} of output from before schema v9 is still to be compressed and "
        "moved to the new index (supervisors do it when idle; search reads it directly)",
        "compress and index it now",
        left,
    )


async def _transcript_segments(store: Store) -> Finding:
    n = int(await store.scalar(segments_sql(RENDERED)))
    what = "the terminal transcripts' index"
    if n < 2 * MERGE_AT:
        return Finding("transcript-segments", "ok", f"{what} is merged ({_segs(n)})")
    return Finding(
        "transcript-segments",
        "info",
        f"{what} is in {_segs(n)}: searches of terminal sessions are slower until they "
        "are merged (supervisors merge them when the output pauses)",
        "merge them now",
        n,
    )


async def _pairs(store: Store) -> Finding:
    left = await output_index.pairs_left(store)
    if not left:
        return Finding("word-pairs", "ok", "all indexed output has its word pairs (fast phrases)")
    return Finding(
        "word-pairs",
        "info",
        f"{format_size(left)} of indexed output has no word pairs yet: a phrase of common "
        "words reads it whole (supervisors add them when idle)",
        "add them now",
        left,
    )


def _segs(n: int) -> str:
    return f"{n} segment" + ("" if n == 1 else "s")


async def _space(store: Store, trash_days: float | None) -> list[Finding]:
    out = []
    page = int(await store.scalar("PRAGMA page_size"))
    free = int(await store.scalar("PRAGMA freelist_count")) * page
    wal = 0
    with contextlib.suppress(OSError):
        wal = (store.path.parent / (store.path.name + "-wal")).stat().st_size
    size = db_size(store)
    mode = int(await store.scalar("PRAGMA auto_vacuum"))
    out.append(
        Finding(
            "space",
            "info" if free < 1 << 20 else "warning",
            f"database {format_size(size - wal)}, WAL {format_size(wal)}, "
            f"{format_size(free)} free inside the file",
            "give the free space back to the file system" if free >= 1 << 20 else None,
            free // page,
        )
    )
    if mode != 2:
        out.append(
            Finding(
                "auto-vacuum",
                "warning",
                f"auto_vacuum is {('NONE', 'FULL', 'INCREMENTAL')[mode]}, not INCREMENTAL: "
                "purges may not shrink the file",
                "switch to INCREMENTAL" + (" (rewrites the file once)" if mode == 0 else ""),
            )
        )
    row = await store.fetchone(
        "SELECT count(*), coalesce(sum(output_bytes), 0), min(deleted_at) FROM sessions "
        "WHERE deleted_at IS NOT NULL"
    )
    n, size, oldest = row if row else (0, 0, None)
    message = f"trash: {n} sessions, {format_size(size)}"
    level = "info"
    if n and trash_days is not None:
        import time

        expired = await _count(
            store,
            "SELECT count(*) FROM sessions WHERE deleted_at IS NOT NULL AND deleted_at < ?",
            (time.time() - trash_days * DAY,),
        )
        if expired:
            message += (
                f"; {expired} in it longer than {trash_days:g} days (`tether cleanup` purges them)"
            )
    out.append(Finding("trash", level, message, count=n))
    return out


def quota_finding(state: QuotaState) -> Finding:
    """``storage.quota``: a warning at 80% of it, a problem at 100% (``tether cleanup``
    or ``on_quota = "cleanup"`` frees space; doctor does not purge)."""
    level = {"ok": "ok", "near": "warning", "over": "problem"}[state.level]
    hint = "" if level == "ok" else "; `tether usage` shows where it goes"
    return Finding("quota", level, state.message() + hint)


# -- repairs ---------------------------------------------------------------------------
async def repair(
    store: Store, findings: list[Finding], progress: Callable[[str], Any] | None = None
) -> list[str]:
    """Fix what the findings say can be fixed; returns what was done, one line each."""
    todo = {f.check for f in findings if f.fix and f.level != "ok"}
    done: list[str] = []

    def say(text: str) -> None:
        done.append(text)
        if progress is not None:
            progress(text)

    if "orphans" in todo:
        say(await _delete_orphans(store))
    if "output-index" in todo:
        say(await _fix_output_index(store))
    if "metadata-index" in todo:
        say(await _rebuild_metadata_index(store))
    if "counters" in todo:
        say(await _recount(store))
    if "backlog" in todo:
        n = 0
        while True:
            step = await store.output.index_pending()
            if not step:
                break
            n += step
        say(f"indexed {n} chunks of output that were waiting")
    if "output-upgrade" in todo:
        say(await _run_upgrade(store, progress or (lambda _: None)))
    if "word-pairs" in todo:
        say(await _run_pairs(store, progress or (lambda _: None)))
    if "index-segments" in todo:
        before = await store.output.index_segments()
        while await store.output.tidy_index():
            pass
        after = await store.output.index_segments()
        say(f"merged the output index from {_segs(before)} to {_segs(after)}")
    if "transcript-segments" in todo:
        before = int(await store.scalar(segments_sql(RENDERED)))
        more = True
        while more:  # short transactions, as the supervisors' own steps
            async with store.transaction() as db:
                more = await merge_step(db, index=RENDERED)
        after = int(await store.scalar(segments_sql(RENDERED)))
        say(f"merged the terminal transcripts' index from {_segs(before)} to {_segs(after)}")
    if "auto-vacuum" in todo:
        mode = int(await store.scalar("PRAGMA auto_vacuum"))
        if mode == 0:  # VACUUM rewrites the whole file: keep a copy of it first
            from storage.engine.backup import create_backup

            info = await create_backup(store, label="before-vacuum")
            say(f"backed the database up to {info.path} before rewriting it")
        async with store._lock:
            await store.db.execute_fetchall("PRAGMA auto_vacuum=INCREMENTAL")
            if mode == 0:
                await store.db.execute_fetchall("VACUUM")
        say("switched auto_vacuum to INCREMENTAL")
    if todo & {"space", "orphans", "output-index"}:
        before = db_size(store)
        await store.reclaim_space()
        say(f"gave {format_size(max(0, before - db_size(store)))} back to the file system")
    if done:
        await store.audit.record("doctor-fix", None, {"done": done})
    return done


async def _delete_orphans(store: Store) -> str:
    async with store.transaction() as db:
        rows = await db.execute_fetchall(
            f"SELECT {output_index.REMOVE_COLUMNS} FROM output_chunks c WHERE c.indexed > 0 "
            "AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = c.session_id)"
        )
        await output_index.remove(db, rows)
        counts = []
        for name, table, column in (
            ("output chunks", "output_chunks", "session_id"),
            ("runs", "runs", "session_id"),
            ("tags", "session_tags", "session_id"),
        ):
            cur = await db.execute(
                f"DELETE FROM {table} WHERE NOT EXISTS "
                f"(SELECT 1 FROM sessions s WHERE s.id = {table}.{column})"
            )
            if cur.rowcount:
                counts.append(f"{cur.rowcount} {name}")
    return "deleted orphaned " + (", ".join(counts) or "rows")


async def _fix_output_index(store: Store) -> str:
    broken = await _fts_check(store, "output_words")
    ghost = await _count(store, _GHOSTS)
    async with store.transaction() as db:
        if broken or ghost:
            # Entries whose text is unknown cannot be deleted from a contentless index
            # one by one: start it again from the stored output.
            await output_index.clear(db)
            await output_index.reindex_all(db, lambda _: None)
            n = (await db.execute_fetchall("SELECT count(*) FROM output_words_docsize"))[0][0]
            return f"rebuilt the output index ({n} chunks)"
        rows = await db.execute_fetchall(
            "SELECT c.id, c.data, c.plain_size, c.open_end, c.session_id FROM output_chunks c "
            "WHERE c.indexed = 2 AND NOT EXISTS "
            "(SELECT 1 FROM output_words_docsize d WHERE d.id = c.id)"
        )
        await output_index.index_and_pack(db, rows)
        await merge_for_write(db, sum(len(r[1]) for r in rows))
        return f"indexed {len(rows)} chunks that were missing from the output index"


async def _run_upgrade(store: Store, say: Callable[[str], Any]) -> str:
    """Upgrade pre-v9 output in short transactions (each one whole: a kill leaves a valid
    database and the next run goes on from there), saying how far it got."""
    total = await output_index.upgrade_left(store)
    while await output_index.upgrade_step(store):
        left = await output_index.upgrade_left(store)
        say(f"upgrading output: {format_size(total - left)} of {format_size(total)}")
    return f"compressed and re-indexed {format_size(total)} of output from before schema v9"


async def _run_pairs(store: Store, say: Callable[[str], Any]) -> str:
    """Add the word pairs of indexed output that lacks them (short transactions, as the
    upkeep does), saying how far it got."""
    total = await output_index.pairs_left(store)
    while await output_index.pairs_step(store):
        left = await output_index.pairs_left(store)
        say(f"adding word pairs: {format_size(total - left)} of {format_size(total)}")
    return f"added the word pairs of {format_size(total)} of output"


async def _rebuild_metadata_index(store: Store) -> str:
    async with store.transaction() as db:
        await db.execute("DELETE FROM sessions_fts")
        ids = [r[0] for r in await db.execute_fetchall("SELECT id FROM sessions")]
        for sid in ids:
            await _reindex_meta(db, sid)
    return f"rebuilt the session index ({len(ids)} sessions)"


async def _recount(store: Store) -> str:
    async with store.transaction() as db:
        rows = await db.execute_fetchall(_COUNTERS)
        wrong = [r for r in rows if (r[1], r[2]) != (r[3], r[4])]
        await db.executemany(
            "UPDATE sessions SET output_bytes = ?, output_lines = ? WHERE id = ?",
            [(r[3], r[4], r[0]) for r in wrong],
        )
    return f"recounted the output of {len(wrong)} sessions"
