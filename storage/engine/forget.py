"""After a purge, no trace of the purged sessions' words in the search indexes.

Used by both ways to purge (storage/engine/purge.py for many sessions,
``store.sessions.purge`` for a few), so it lives apart from both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.engine import output_index

if TYPE_CHECKING:
    from storage.engine.store import Store

# Index pages written per step when a purge merges the output index (``forget_terms``):
# about 100 ms each, a transaction each, so writers (supervisors capturing) go between.
FORGET_STEP_PAGES = 256


async def forget_terms(store: Store, *, output: bool = True) -> None:
    """After a purge, leave no trace of the purged sessions' words in the search
    indexes. A delete from an FTS5 index only adds a tombstone (SQLite 3.40 has no
    ``secure-delete``): the words stay in older segments, readable in the file, until
    the segments holding them are merged into one.

    The metadata index (one row per session) is merged whole at once. The output index
    (``output``: when indexed chunks were deleted one by one, not rebuilt) is merged
    whole too, by FTS5's incremental optimize (``'merge'`` with a negative page count)
    in steps of ``FORGET_STEP_PAGES``, one transaction each, until a step has nothing
    left to do. It rewrites the index once: 0.5 s for the 6 MB index of 40 MiB of
    output (bench/cases/usage.py's database), so about 0.1 s per MB of index; an index
    already in one segment costs nothing."""
    async with store.transaction() as db:
        await db.execute("INSERT INTO sessions_fts (sessions_fts) VALUES ('optimize')")
    if not output:
        return
    for table in output_index.TABLES.values():
        while True:
            async with store.transaction() as db:
                before = db.total_changes
                await db.execute(
                    f"INSERT INTO {table} ({table}, rank) VALUES ('merge', ?)",
                    (-FORGET_STEP_PAGES,),
                )
                # FTS5's documented test: fewer than two changed rows, nothing merged.
                if db.total_changes - before < 2:
                    break
