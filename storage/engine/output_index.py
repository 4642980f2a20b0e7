"""The output index: which FTS5 table holds a chunk's words, and the upgrade of old ones.

``output_chunks.indexed`` says where a chunk's words are: 0 nowhere yet, 2 in
``output_words`` (schema v9), 1 in ``output_fts`` (chunks indexed before v9), 3 nowhere
on purpose: the stdout of a pty session (schema v15), whose words are searched in its
rendered transcript instead (storage/engine/screens.py, search/rendered.py). Raw, a
terminal program's words are glued by cursor moves (``Welcome``, a move, ``to``) and its
redraws repeat them: their entries found what no person saw, and missed what one did.
Such chunks are still compressed when sealed, as every chunk. Both tables
are contentless, so removing an entry means giving its text again, to the table it is
in (``storage.text.index_text`` of the chunk's plain bytes, with its word pairs
unless it is ``unpaired``): ``remove`` does that for any mix of chunks.

Why ``output_words`` is ``detail=none`` (figures from bench/cases/disk.py's corpus,
index size / raw output, realistic logs; seq): detail=full 0.34x; 1.18x, column
0.19x; 1.05x, none 0.11x; 0.78x. Positions buy phrase matching and bm25's term
frequencies. Phrases do not need them here: every candidate chunk's lines are checked
by ``storage.query.match.line_matcher`` anyway, so a phrase is asked of the index as
its words (``fts_words``) and checked in the line. Prefix queries work the same at
every detail level; highlighting comes from the line matcher, never from FTS5. What is
lost is ranking by how often a word occurs in a chunk: bm25 gives every chunk the same
score without positions, so ``--rank`` orders chunks newest first (lines with more
matched words first within a chunk). Prefix indexes (``prefix=``) would add to the
index for queries that are already fast. Number-heavy output: an index of ``seq``
holds one term per number; cutting numbers to their first 4 digits in the index text
shrinks it from 0.78x to 0.005x, but the Python pass doing that indexes at 5 MB/s
instead of 35, which a 200 MB burst cannot afford; so the text is indexed as is.

Word pairs (schema v18, storage/engine/word_pairs.py) come later than the words: a
chunk is indexed with its words alone and listed in ``unpaired``, and the upkeep
(``pairs_step``, when the writer is idle) adds a second entry under its id with its
pairs (FTS5 takes a rowid twice in a contentless table; a delete of the words and
pairs together then removes both) and takes it off the list. Finding pairs costs
Python about 25 ms per MB of logs: in the indexing step it made a 200 MB burst
searchable seconds later (bench/cases/disk.py: indexing 64 MB of logs took 8.8 s
instead of 4.8), and rewriting the row to mark it would double what a supervisor
writes. Until a chunk has its pairs, search finds it through its words
(``search/hits.py``). A database from before v18 lists all its chunks at the upgrade.

Chunks from before v9 are moved by ``upkeep_step`` (short transactions, resumable:
``output_upgrade`` keeps how far it got) into ``output_words`` and compressed; until a
chunk is moved, search reads it directly as not indexed yet. When none is left, the old
table is emptied (its pages go back with the next incremental vacuum).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from storage.engine import compress
from storage.engine.index_merge import merge_for_write
from storage.engine.word_pairs import MARK, entry_text, pair_token, pairable, pairs
from storage.text import index_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import aiosqlite

    from storage.engine.store import Store

WORDS = "output_words"
LEGACY = "output_fts"
NOT_INDEXED, IN_LEGACY, IN_WORDS, IN_SCREEN = 0, 1, 2, 3
TABLES = {IN_LEGACY: LEGACY, IN_WORDS: WORDS}
STEP_BYTES = 4 * 1024 * 1024  # raw output per upkeep transaction
PAIRS_STEP_BYTES = 1024 * 1024  # output whose word pairs one step finds (~40 ms of CPU)
_PAIRS_LISTED = 1024  # unpaired chunks looked at by one step
UPKEEP_EVERY = 30.0  # seconds between upkeep steps of a writer that has caught up
# Free pages (after merging the index, compressing, purging) are given back once they
# are over this share of the file, at most GIVE_BACK_PAGES per step.
FREE_SHARE = 0.02
GIVE_BACK_PAGES = 4096
_ROWS = 256


async def add(db: aiosqlite.Connection, entries: Iterable[tuple[int, str]]) -> None:
    """Put ``(chunk id, index text)`` entries into ``output_words``, as ``unpaired``
    (their word pairs come with ``pairs_step``)."""
    entries = list(entries)
    await db.executemany(f"INSERT INTO {WORDS} (rowid, text) VALUES (?, ?)", entries)
    await db.executemany(
        "INSERT OR IGNORE INTO unpaired (id) VALUES (?)", [(cid,) for cid, _ in entries]
    )


async def index_and_pack(db: aiosqlite.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Index chunks given as ``(id, data, plain_size, open_end, session_id)`` rows into
    ``output_words`` (a pty session's stdout only marked ``IN_SCREEN``: see the module)
    and store those that can no longer change compressed (the moment a chunk is
    compressed: see storage/engine/compress.py). In the caller's transaction."""
    dict_id = await compress.newest_dict(db)
    screen = await _screen_chunks(db, [r[0] for r in rows])
    entries, updates = [], []
    for cid, data, plain_size, open_end, sid in rows:
        text = compress.plain(data, plain_size)
        if cid not in screen:
            entries.append((cid, index_text(text)))
        blob, n = None, None
        if plain_size is None and await _sealed(db, cid, sid, open_end):
            blob, n = compress.pack(text, dict_id)
        mark = IN_SCREEN if cid in screen else IN_WORDS
        updates.append((mark, blob if n is not None else None, n, cid))
    await add(db, entries)
    # One rewrite per row: marked indexed, and compressed when it can be.
    await db.executemany(
        "UPDATE output_chunks SET indexed = ?, data = coalesce(?, data), "
        "plain_size = coalesce(?, plain_size) WHERE id = ?",
        updates,
    )


def _parts(ids: Sequence[int]):  # -> Iterator[tuple[list[int], str]]
    """``ids`` 500 at a time, each part with its ``?,?,...`` (SQLite's variable limit)."""
    for start in range(0, len(ids), 500):
        part = list(ids[start : start + 500])
        yield part, ",".join("?" * len(part))


async def _screen_chunks(db: aiosqlite.Connection, ids: Sequence[int]) -> set[int]:
    """Which of the chunks ``ids`` are a pty session's stdout (not indexed: the module)."""
    found: set[int] = set()
    for part, marks in _parts(ids):
        rows = await db.execute_fetchall(
            "SELECT c.id FROM output_chunks c JOIN sessions s ON s.id = c.session_id "
            f"WHERE c.id IN ({marks}) AND c.stream = 'stdout' AND s.mode = 'pty'",
            part,
        )
        found.update(r[0] for r in rows)
    return found


async def remove(db: aiosqlite.Connection, rows: Iterable[Sequence[Any]]) -> int:
    """Remove the index entries of chunks given as ``(id, indexed, data, plain_size)``
    rows, each from the table it is in. Returns the plain bytes whose text was given."""
    by_table: dict[str, list[tuple[int, str]]] = defaultdict(list)
    size = 0
    rows = [r for r in rows if r[1] in TABLES]
    words = [r[0] for r in rows if r[1] == IN_WORDS]
    unpaired: set[int] = set()
    for part, marks in _parts(words):
        found = await db.execute_fetchall(f"SELECT id FROM unpaired WHERE id IN ({marks})", part)
        unpaired.update(r[0] for r in found)
        await db.execute(f"DELETE FROM unpaired WHERE id IN ({marks})", part)
    for cid, indexed, data, plain_size in rows:
        text = compress.plain(data, plain_size)
        size += len(text)
        paired = indexed == IN_WORDS and cid not in unpaired
        by_table[TABLES[indexed]].append((cid, entry_text(text) if paired else index_text(text)))
    for table, entries in by_table.items():
        await db.executemany(
            f"INSERT INTO {table} ({table}, rowid, text) VALUES ('delete', ?, ?)", entries
        )
    return size


REMOVE_COLUMNS = "id, indexed, data, plain_size"  # what ``remove`` takes, in its order


async def clear(db: aiosqlite.Connection) -> None:
    """Empty both output indexes (before indexing every chunk again)."""
    for table in (LEGACY, WORDS):
        await db.execute(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
    await db.execute("DELETE FROM unpaired")


async def reindex_all(db: aiosqlite.Connection, progress: Callable[[int], None]) -> int:
    """Put every chunk marked indexed (not ``IN_SCREEN``) into the (emptied, ``clear``)
    ``output_words``,
    in the caller's transaction. Returns the bytes of text indexed."""
    after, indexed = 0, 0
    while True:
        rows = await db.execute_fetchall(
            "SELECT id, data, plain_size FROM output_chunks WHERE indexed IN (1, 2) AND id > ? "
            f"ORDER BY id LIMIT {_ROWS}",
            (after,),
        )
        if not rows:
            break
        texts = [compress.plain(d, n) for _, d, n in rows]
        await add(db, [(r[0], index_text(t)) for r, t in zip(rows, texts, strict=True)])
        after = rows[-1][0]
        size = sum(map(len, texts))
        await merge_for_write(db, size)
        indexed += size
        progress(indexed)
    await db.execute(f"UPDATE output_chunks SET indexed = {IN_WORDS} WHERE indexed = {IN_LEGACY}")
    await db.execute("UPDATE output_upgrade SET index_next = below")
    return indexed


async def legacy_range(db: Any) -> tuple[int, int] | None:
    """``(from id, below id)`` of chunks that may still be indexed in ``output_fts``
    (search reads those directly), or None when the upgrade has moved them all.
    ``db`` is anything with ``fetchall`` (a Store or a Reader)."""
    rows = await db.fetchall("SELECT index_next, below FROM output_upgrade")
    if not rows or rows[0][0] >= rows[0][1]:
        return None
    return int(rows[0][0]), int(rows[0][1])


async def upgrade_left(store: Any) -> int:
    """Bytes of pre-v9 output still to move into the new index or compress."""
    rows = await store.fetchall("SELECT min(index_next, pack_next), below FROM output_upgrade")
    if not rows or rows[0][0] >= rows[0][1]:
        return 0
    return int(
        await store.scalar(
            "SELECT coalesce(sum(length(data)), 0) FROM output_chunks WHERE id >= ? AND id < ?",
            (rows[0][0], rows[0][1]),
        )
    )


async def upkeep_step(store: Store, max_bytes: int = STEP_BYTES) -> bool:
    """One step of the upkeep: ``upgrade_step`` (``max_bytes``), then ``pairs_step`` (its
    own ``PAIRS_STEP_BYTES``) once that is done. True while there is more to do."""
    return await upgrade_step(store, max_bytes) or await pairs_step(store)


async def upgrade_step(store: Store, max_bytes: int = STEP_BYTES) -> bool:
    """One short transaction of upgrading pre-v9 chunks (moving their index entries to
    ``output_words``, compressing them), or training a compression dictionary when
    due. True while there is more to do. A kill at any point leaves the database
    valid: each transaction moves whole chunks and the cursor together."""
    if await compress.train_due(store):
        await compress.train(store)
        return True
    async with store.transaction() as db:
        state = await db.execute_fetchall("SELECT index_next, pack_next, below FROM output_upgrade")
        if not state:
            return False
        index_next, pack_next, below = state[0]
        start = min(index_next, pack_next)
        if start >= below:
            return False
        dict_id = await compress.newest_dict(db)
        cursor = await db.execute(
            "SELECT id, indexed, open_end, data, plain_size, session_id FROM output_chunks "
            "WHERE id >= ? AND id < ? ORDER BY id",
            (start, below),
        )
        moved: list[tuple[int, str]] = []
        packed: list[tuple[bytes, int, int]] = []
        size, last = 0, start - 1
        while size < max_bytes:
            rows = await cursor.fetchmany(8)
            if not rows:
                last = below - 1
                break
            for cid, indexed, open_end, data, plain_size, sid in rows:
                text = compress.plain(data, plain_size)
                size += len(text)
                last = cid
                if cid >= index_next and indexed == IN_LEGACY:
                    moved.append((cid, index_text(text)))
                if (
                    cid >= pack_next
                    and plain_size is None
                    and await _sealed(db, cid, sid, open_end)
                ):
                    blob, n = compress.pack(text, dict_id)
                    if n is not None:
                        packed.append((blob, n, cid))
        await cursor.close()
        await add(db, moved)
        await db.executemany(
            f"UPDATE output_chunks SET indexed = {IN_WORDS} WHERE id = ?", [(c,) for c, _ in moved]
        )
        await db.executemany(
            "UPDATE output_chunks SET data = ?, plain_size = ? WHERE id = ?", packed
        )
        await merge_for_write(db, sum(len(t) for _, t in moved))
        done = last + 1
        await db.execute(
            "UPDATE output_upgrade SET index_next = max(index_next, ?), "
            "pack_next = max(pack_next, ?)",
            (done, done),
        )
        if done >= below:
            # Every old entry has moved: empty the old table in this same transaction.
            await db.execute(f"INSERT INTO {LEGACY} ({LEGACY}) VALUES ('delete-all')")
        return done < below


async def pairs_step(store: Store, max_bytes: int = PAIRS_STEP_BYTES) -> bool:
    """One step of giving ``unpaired`` chunks their word pairs (a second entry under
    their id: see the module), oldest first. True while there is more to do.

    The pairs are found in a worker thread, outside the write transaction (the
    writer's lock is held only to store them); a chunk still open (its last line may
    grow) waits until it is sealed. What was read is stored only if the chunk is still
    the same one, unpaired, and sealed: a kill at any point leaves the entries and the
    list agreeing."""
    import asyncio

    listed = await store.fetchall(
        "SELECT u.id, c.indexed, c.open_end, c.session_id, length(c.data), "
        "coalesce(c.plain_size, length(c.data)) FROM unpaired u "
        f"LEFT JOIN output_chunks c ON c.id = u.id ORDER BY u.id LIMIT {_PAIRS_LISTED}"
    )
    seen: dict[int, tuple[int, int]] = {}  # id -> (session, stored length)
    gone: list[tuple[int]] = []
    size = 0
    for cid, indexed, open_end, sid, stored, plain_size in listed:
        if size >= max_bytes:
            break
        if indexed != IN_WORDS:
            gone.append((cid,))  # (its chunk went without ``remove``)
        elif not open_end:
            seen[cid] = (sid, stored)
            size += plain_size
    more = len(listed) == _PAIRS_LISTED or len(seen) + len(gone) < len(listed)
    taken: list[tuple[int, bytes | None, int | None]] = []  # (id, blob, plain size)
    for part, marks in _parts(list(seen)):
        taken += await store.fetchall(
            f"SELECT id, data, plain_size FROM output_chunks WHERE id IN ({marks})", part
        )
    found = await asyncio.to_thread(_pairs_of, taken)
    async with store.transaction() as db:
        await db.executemany("DELETE FROM unpaired WHERE id = ?", gone)
        still: set[int] = set()
        for part, marks in _parts(list(seen)):
            rows = await db.execute_fetchall(
                "SELECT c.id, c.session_id, length(c.data) FROM unpaired u JOIN output_chunks c "
                f"ON c.id = u.id WHERE u.id IN ({marks}) "
                f"AND c.indexed = {IN_WORDS} AND c.open_end = 0",
                part,
            )
            still.update(r[0] for r in rows if seen[r[0]] == (r[1], r[2]))
        added = [(cid, "\n" + text) for cid, text in found if cid in still and text]
        await db.executemany(f"INSERT INTO {WORDS} (rowid, text) VALUES (?, ?)", added)
        await db.executemany("DELETE FROM unpaired WHERE id = ?", [(c,) for c in still])
        await merge_for_write(db, sum(len(t) for _, t in added))
    return more and bool(seen or gone)


def _pairs_of(chunks: list[tuple[int, bytes | None, int | None]]) -> list[tuple[int, str]]:
    return [(cid, pairs(compress.plain(data, n))) for cid, data, n in chunks]


async def pairs_left(store: Any) -> int:
    """Plain bytes of indexed output still without word pairs (``pairs_step``)."""
    return int(
        await store.scalar(
            "SELECT coalesce(sum(coalesce(c.plain_size, length(c.data))), 0) FROM unpaired u "
            "JOIN output_chunks c ON c.id = u.id"
        )
    )


async def drop_raw_step(store: Any, max_bytes: int = STEP_BYTES) -> bool:
    """One short transaction of removing the output index entries of a pty session's
    stdout recorded before v15 (``pty_raw_index``), once its rendered transcript is
    complete: from then on search reads that session's transcript only. The session
    leaves the list when none is left. True while there may be more to do; a kill at any
    point leaves the database valid (entries and marks change together)."""
    async with store.transaction() as db:
        rows = await db.execute_fetchall(
            "SELECT p.session_id FROM pty_raw_index p JOIN screen_renders r "
            "ON r.session_id = p.session_id WHERE r.complete = 1 ORDER BY p.session_id LIMIT 1"
        )
        if not rows:
            return False
        sid = rows[0][0]
        where = f"session_id = ? AND stream = 'stdout' AND indexed IN ({IN_LEGACY}, {IN_WORDS})"
        cursor = await db.execute(
            f"SELECT {REMOVE_COLUMNS} FROM output_chunks WHERE {where} ORDER BY id", (sid,)
        )
        taken: list[Any] = []
        size = 0
        while size < max_bytes:
            row = await cursor.fetchone()  # (chunks are up to 64 KiB: one at a time)
            if row is None:
                break
            taken.append(row)
            size += row[3] or len(row[2])
        await cursor.close()
        await remove(db, taken)
        await db.executemany(
            f"UPDATE output_chunks SET indexed = {IN_SCREEN} WHERE id = ?",
            [(r[0],) for r in taken],
        )
        left = await db.execute_fetchall(
            f"SELECT 1 FROM output_chunks WHERE {where} LIMIT 1", (sid,)
        )
        if not left:
            await db.execute("DELETE FROM pty_raw_index WHERE session_id = ?", (sid,))
        await merge_for_write(db, size)
        return True


async def raw_left(store: Any) -> tuple[int, int]:
    """Pty sessions recorded before v15 whose stdout is still in the output index, and
    its bytes: (sessions, bytes). Those with a complete transcript go with the upkeep;
    the others once it is built (runner/screen/render.py)."""
    row = await store.fetchone(
        "SELECT count(DISTINCT session_id), coalesce(sum(coalesce(plain_size, length(data))), 0) "
        "FROM output_chunks WHERE session_id IN (SELECT session_id FROM pty_raw_index) "
        f"AND stream = 'stdout' AND indexed IN ({IN_LEGACY}, {IN_WORDS})"
    )
    return (int(row[0]), int(row[1])) if row else (0, 0)


async def give_back_pages(store: Store) -> bool:
    """Give free pages back to the file system (auto_vacuum=INCREMENTAL, which new
    databases have and ``tether doctor --fix`` switches old ones to) once they are over
    ``FREE_SHARE`` of the file, at most ``GIVE_BACK_PAGES`` a step (the step holds the
    write lock). True while more than that share is still free after the step, so the
    upkeep goes on until the file has given back what a merge freed."""
    if int(await store.scalar("PRAGMA auto_vacuum")) != 2:  # INCREMENTAL
        return False  # (doctor --fix switches it; incremental_vacuum is a no-op else)
    free = int(await store.scalar("PRAGMA freelist_count"))
    pages = int(await store.scalar("PRAGMA page_count"))
    if free <= max(64, pages * FREE_SHARE):
        return False
    async with store._lock:
        # executescript steps the pragma to its end (execute would free one page).
        await store.db.executescript(f"PRAGMA incremental_vacuum({GIVE_BACK_PAGES});")
        free = int(await store.scalar("PRAGMA freelist_count"))
        pages = int(await store.scalar("PRAGMA page_count"))
    return free > max(64, pages * FREE_SHARE)


async def _sealed(db: aiosqlite.Connection, cid: int, sid: int, open_end: int) -> bool:
    """Whether a chunk can no longer change: its last line is complete, or it is not its
    session's newest chunk (only the newest open one is continued)."""
    if not open_end:
        return True
    rows = await db.execute_fetchall(
        "SELECT id FROM output_chunks WHERE session_id = ? ORDER BY first_line DESC LIMIT 1",
        (sid,),
    )
    return bool(rows[0][0] != cid)


def fts_words(query: Any, *, pairs: bool = False) -> str | None:
    """The MATCH expression ``output_words`` can run for a query: its phrases asked as
    their words, as is a word of several tokens (``test_y``: the index has no positions);
    exclusions are left to the line matcher. ``pairs=True``: a phrase is asked as its
    word pairs where it has some (storage/engine/word_pairs.py), or as its words in a
    chunk whose pairs are unknown; that finds no chunk still ``unpaired``."""
    from storage.frozen import replace
    from storage.query import And, Not, Or, Phrase, Term, Word
    from storage.query.match import fts_match

    def loosen(term: Term) -> Term:
        if isinstance(term, Phrase | Word):
            # Each token as its own word: quoted alone, FTS5 sees one token (the text
            # as typed may tokenize into several, a phrase this index cannot run).
            toks = term.tokens
            if not toks:
                return term
            n = len(toks)
            words = [Word(t, prefix=term.prefix and i == n - 1) for i, t in enumerate(toks)]
            if n == 1:
                return words[0]
            # (The last token of a prefix phrase is no whole word: it pairs with nothing.)
            whole = n - 1 if term.prefix else n
            joined = [i for i in range(n - 1) if i + 1 < whole and pairable(toks[i], toks[i + 1])]
            if not pairs or not joined:
                return And(tuple(words))
            covered = {j for i in joined for j in (i, i + 1)}
            asked = [Word(pair_token(toks[i], toks[i + 1])) for i in joined]
            asked += [w for j, w in enumerate(words) if j not in covered]
            return Or((And(tuple(asked)), And((Word(MARK), *words))))
        if isinstance(term, Not):
            return term
        return type(term)(tuple(loosen(t) for t in term.terms))

    return fts_match(replace(query, terms=tuple(loosen(t) for t in query.terms)), exclusions=False)
