"""When generated benchmark data in ``bench/data/`` may be reused.

Building the large corpora takes minutes (1 GB of search corpus, a 10-million-line
session), so benchmarks keep them between runs. Cached data is reused only while it
is still what the current code would build: its marker file records a *stamp*, a
hash of the schema DDL, of ``storage/text.py`` and ``storage/engine/word_pairs.py``
(what the full-text index sees),
of the chunk size, and of the generator code that made it; and the database's own
schema must be exactly the current one (tables, indexes, FTS shadow tables). Any
difference and the data is built again.

    stamp = cache.stamp(build_corpus, Writer)
    if not cache.valid(home / "READY", db, stamp):
        ...build...
        cache.mark(home / "READY", stamp)
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository


def stamp(*sources: object) -> str:
    """A hash of the storage format and of ``sources`` (functions, classes or
    modules whose source code made the data, or plain strings)."""
    from storage.engine.chunks import CHUNK_BYTES
    from storage.engine.schema import MIGRATIONS

    h = hashlib.sha256()
    h.update(json.dumps(MIGRATIONS).encode())
    h.update((ROOT / "storage" / "text.py").read_bytes())
    h.update((ROOT / "storage" / "engine" / "word_pairs.py").read_bytes())
    h.update(str(CHUNK_BYTES).encode())
    for source in sources:
        h.update(source.encode() if isinstance(source, str) else inspect.getsource(source).encode())
    return h.hexdigest()[:16]


def schema_matches(db: Path) -> bool:
    """True if ``db`` has exactly the schema the current code creates."""
    from storage.engine.schema import MIGRATIONS

    fresh = sqlite3.connect(":memory:")
    try:
        for step in MIGRATIONS:
            for statement in step:
                fresh.execute(statement)
        want = _objects(fresh)
    finally:
        fresh.close()
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return _objects(con) == want
    except sqlite3.Error:
        return False
    finally:
        con.close()


def _objects(con: sqlite3.Connection) -> set[tuple]:
    rows = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    # SQLite's own tables (sqlite_sequence, sqlite_stat1 from PRAGMA optimize) come and
    # go with use; they are not the schema.
    return {r for r in rows if not r[1].startswith("sqlite_")}


def valid(marker: Path, db: Path, want: str) -> bool:
    """Reusable: the marker holds ``want`` and ``db`` has the current schema."""
    if not marker.exists() or not db.exists():
        return False
    lines = marker.read_text().splitlines()
    return bool(lines) and lines[0].strip() == want and schema_matches(db)


def mark(marker: Path, want: str, *extra: str) -> None:
    """Record that the data beside ``marker`` is complete and made with ``want``;
    ``extra`` lines follow (for example ids the benchmark needs again)."""
    marker.write_text("\n".join([want, *extra]) + "\n")


def extra(marker: Path) -> list[str]:
    """The ``extra`` lines written by ``mark``."""
    return marker.read_text().splitlines()[1:]
