"""When the output index's segments are merged, and how much.

FTS5 writes each batch of indexed text as a new *segment*; a query looks in every
segment, so segments are merged into bigger ones as they pile up. FTS5's own
``automerge`` does that inside every write transaction. For a command that prints
200 MB in a second, that merging is half the cost of indexing (bench/capture.py):
indexing can only start once the output is in the database, and until it is done
the output cannot be found. So schema v2 turns ``automerge`` off and merging is
decided here instead:

- An ordinary indexed write (``output.append``, import, a purge's rebuild, a repair)
  calls ``merge_for_write`` in its own transaction: about the merging that
  ``automerge`` would have done for it, on levels of ``MERGE_AT`` segments or more.
- A supervisor catching up on a backlog indexes with ``merge=False`` (no merging at
  all, so the backlog becomes searchable sooner), then merges what piled up in
  small steps (``merge_step``) once it has caught up, or when it is idle.
- Past ``SEGMENT_GUARD`` segments even deferred indexing merges, and FTS5's
  ``crisismerge`` (``CRISIS_AT`` segments on one level) stays as a last resort: FTS5
  refuses a write outright at 2 000 segments.

Deferring changes only when the work is done, never what a search finds: every
indexed chunk is in some segment, merged or not.

The rendered transcripts' index (``rendered_words``, storage/engine/screens.py) has the
same settings since schema v17 and the same policy: each function takes the index's
name (``OUTPUT``, the default, or ``RENDERED``). A supervisor storing a burst's
transcript defers its merging and merges in steps once the output pauses
(runner/screen/keeper.py): with ``automerge`` in every store, a 200 MB ``seq`` burst
through a pty was readable 5.1 s and searchable 17 s after it ended.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import aiosqlite

MERGE_AT = 16  # a level of this many segments is merged (FTS5 'usermerge')
CRISIS_AT = 1000  # FTS5 'crisismerge': the backstop inside any write
SEGMENT_GUARD = 900  # deferred indexing merges anyway above this many segments
HASH_BYTES = 2 * 1024 * 1024  # FTS5 'hashsize': pending text per flushed segment
PAGE_BYTES = 4000  # about one index page (FTS5 'pgsz' default 4050)
STEP_PAGES = 256  # index pages written per merge_step (~1 MB, ~50-150 ms)

# Schema v2: the settings above, stored in the index itself (shared by every writer);
# v9 gives output_words, the output index since, the same.
SETTINGS = [
    "INSERT INTO output_fts (output_fts, rank) VALUES ('automerge', 0)",
    f"INSERT INTO output_fts (output_fts, rank) VALUES ('usermerge', {MERGE_AT})",
    f"INSERT INTO output_fts (output_fts, rank) VALUES ('crisismerge', {CRISIS_AT})",
    f"INSERT INTO output_fts (output_fts, rank) VALUES ('hashsize', {HASH_BYTES})",
]


OUTPUT, RENDERED = "output_words", "rendered_words"  # the indexes merged this way
_INDEXES = (OUTPUT, RENDERED)


def segments_sql(index: str = OUTPUT) -> str:
    """How many segments ``index`` has (every segment has a row in ``_idx``; a few
    milliseconds even for a 200 MB index)."""
    assert index in _INDEXES, index
    return f"SELECT count(DISTINCT segid) FROM {index}_idx"


SEGMENTS_SQL = segments_sql(OUTPUT)


async def segment_count(db: aiosqlite.Connection, index: str = OUTPUT) -> int:
    """``segments_sql(index)`` inside the caller's transaction."""
    rows = await db.execute_fetchall(segments_sql(index))
    return int(rows[0][0])


async def merge_step(
    db: aiosqlite.Connection, pages: int = STEP_PAGES, index: str = OUTPUT
) -> bool:
    """Merge about ``pages`` index pages' worth on levels of ``MERGE_AT`` segments or
    more. True when it did some work (call again), False when nothing is left to merge.
    Runs in the caller's transaction, or as its own statement."""
    assert index in _INDEXES, index
    before = db.total_changes
    await db.execute(f"INSERT INTO {index} ({index}, rank) VALUES ('merge', ?)", (pages,))
    # FTS5's documented test: fewer than two changed rows means no merging was done.
    return db.total_changes - before >= 2


async def merge_for_write(
    db: aiosqlite.Connection, indexed_bytes: int, index: str = OUTPUT
) -> None:
    """After indexing ``indexed_bytes`` of text in the caller's transaction, merge in
    proportion, as ``automerge`` would have: a few pages per page written."""
    if indexed_bytes > 0:
        await merge_step(db, 4 * (indexed_bytes // PAGE_BYTES) + 16, index)
