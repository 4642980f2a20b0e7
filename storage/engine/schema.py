"""Schema and migrations.

The schema version lives in ``PRAGMA user_version``. Each migration is a numbered
step; ``migrate`` applies the missing ones in one transaction. Opening an older
database backs it up first (see ``store.open_store``); a newer one is refused.

Output is stored in chunks (``output_chunks``), each holding whole lines of one
stream except that the last line of a chunk may be unterminated (``open_end``).
Concatenating a stream's chunk ``data`` in ``first_line`` order gives back the
exact bytes the command wrote.

``output_fts`` is a contentless FTS5 index keyed by chunk id. Its text is
``text.index_text(data)``: decoded, ANSI-stripped. Because it is contentless, a
delete must supply the same text again, which ``index_text`` recomputes from the
stored bytes; that function must therefore never change meaning without a
migration that rebuilds the index.
"""

from __future__ import annotations

from storage.engine import context_keys, index_merge

SCHEMA_VERSION = 18


_V1 = [
    """
    CREATE TABLE sessions (
        -- AUTOINCREMENT: a purged session's number (#42) is never given to another.
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        uid            TEXT    NOT NULL UNIQUE,
        name           TEXT    NOT NULL DEFAULT '',
        argv           TEXT    NOT NULL,               -- JSON list of strings
        cwd            TEXT    NOT NULL,
        env            TEXT,                           -- JSON object: overrides only
        mode           TEXT    NOT NULL DEFAULT 'pipe' CHECK (mode IN ('pipe', 'pty')),
        status         TEXT    NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending','running','paused','succeeded',
                                         'failed','stopped','lost')),
        exit_code      INTEGER,
        signal         INTEGER,
        pid            INTEGER,
        created_at     REAL    NOT NULL,
        updated_at     REAL    NOT NULL,
        started_at     REAL,
        ended_at       REAL,
        notes          TEXT    NOT NULL DEFAULT '',
        context        TEXT,                           -- JSON, free for embedders
        pinned         INTEGER NOT NULL DEFAULT 0,
        deleted_at     REAL,
        origin         TEXT    NOT NULL DEFAULT 'local' CHECK (origin IN ('local', 'imported')),
        resume_argv    TEXT,                           -- JSON list or NULL
        run_count      INTEGER NOT NULL DEFAULT 0,
        output_bytes   INTEGER NOT NULL DEFAULT 0,
        output_lines   INTEGER NOT NULL DEFAULT 0,
        last_output_at REAL
    )
    """,
    "CREATE INDEX sessions_created ON sessions (created_at)",
    "CREATE INDEX sessions_updated ON sessions (updated_at)",
    "CREATE INDEX sessions_status ON sessions (status)",
    """
    CREATE TABLE session_tags (
        session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        tag        TEXT    NOT NULL,
        PRIMARY KEY (session_id, tag)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX session_tags_tag ON session_tags (tag)",
    """
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        number      INTEGER NOT NULL,
        argv        TEXT    NOT NULL,
        pid         INTEGER,
        started_at  REAL    NOT NULL,
        ended_at    REAL,
        exit_code   INTEGER,
        signal      INTEGER,
        status      TEXT,
        first_line  INTEGER NOT NULL,
        UNIQUE (session_id, number)
    )
    """,
    """
    CREATE TABLE output_chunks (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        run         INTEGER NOT NULL,
        stream      TEXT    NOT NULL CHECK (stream IN ('stdout','stderr','system','input')),
        first_line  INTEGER NOT NULL,
        line_count  INTEGER NOT NULL,
        open_end    INTEGER NOT NULL DEFAULT 0,        -- last line has no newline
        first_at    REAL    NOT NULL,
        last_at     REAL    NOT NULL,
        indexed     INTEGER NOT NULL DEFAULT 0,        -- 1 once in output_fts
        data        BLOB    NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX output_chunks_line ON output_chunks (session_id, first_line)",
    "CREATE INDEX output_chunks_unindexed ON output_chunks (session_id, id) WHERE indexed = 0",
    """
    CREATE VIRTUAL TABLE output_fts USING fts5 (
        text, content = '', tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
    # Output is indexed in many small transactions (one per supervisor flush). Merging
    # segments less eagerly makes that about a third cheaper (bench/storage_ingest.py);
    # queries barely notice the extra segments (bench/storage_search.py). (v2 replaces
    # this: merging is decided by storage/engine/index_merge.py.)
    "INSERT INTO output_fts (output_fts, rank) VALUES ('automerge', 16)",
    "INSERT INTO output_fts (output_fts, rank) VALUES ('crisismerge', 64)",
    """
    CREATE VIRTUAL TABLE sessions_fts USING fts5 (
        name, command, cwd, tags, notes, tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,                      -- JSON
        updated_at REAL NOT NULL
    )
    """,
    """
    CREATE TABLE audit_log (
        id          INTEGER PRIMARY KEY,
        at          REAL    NOT NULL,
        actor       TEXT    NOT NULL,
        action      TEXT    NOT NULL,
        session_id  INTEGER,                           -- kept after a purge, on purpose
        detail      TEXT                               -- JSON
    )
    """,
    "CREATE INDEX audit_log_session ON audit_log (session_id, id)",
]

# Each entry upgrades from version N-1 to N (index 0 is version 1).
# v2: FTS5 no longer merges index segments inside every write; tether does, when it
# suits (storage/engine/index_merge.py). Settings only: no table changes.
_V2 = list(index_merge.SETTINGS)

# v3: each run records who supervises it, so that liveness never hangs on a path
# someone else can delete and nobody judges a run it cannot see (runner/reconcile.py):
# the supervisor's name ("tether" or an embedding program), the host and boot (boot id
# and pid namespace) its pids belong to, the supervisor's and the command's pid with
# their start times (/proc/PID/stat field 22: a pid alone may have been reused), an
# embedder's lease and when it expires, and the control socket. Runs recorded before
# v3 were all tether's: they keep being judged by their lock file alone.
_V3 = [
    "ALTER TABLE runs ADD COLUMN supervisor TEXT",
    "ALTER TABLE runs ADD COLUMN host TEXT",
    "ALTER TABLE runs ADD COLUMN boot TEXT",
    "ALTER TABLE runs ADD COLUMN supervisor_pid INTEGER",
    "ALTER TABLE runs ADD COLUMN supervisor_start INTEGER",
    "ALTER TABLE runs ADD COLUMN command_start INTEGER",
    "ALTER TABLE runs ADD COLUMN lease REAL",
    "ALTER TABLE runs ADD COLUMN lease_until REAL",
    "ALTER TABLE runs ADD COLUMN socket TEXT",
    "UPDATE runs SET supervisor = 'tether'",
    # reconcile looks up the live runs with a lease
    "CREATE INDEX runs_lease ON runs (lease_until) WHERE lease_until IS NOT NULL",
]

# v4: coding agents (issue 16, agents/): which agent a session runs and the agent's own
# session id (its native resume), and the attention state its supervisor reads from the
# screen while it runs (runner/attention.py), with when it began; NULL when not running.
_V4 = [
    "ALTER TABLE sessions ADD COLUMN agent_kind TEXT",
    "ALTER TABLE sessions ADD COLUMN agent_session_id TEXT",
    "ALTER TABLE sessions ADD COLUMN attention TEXT "
    "CHECK (attention IN ('working', 'idle', 'needs_you'))",
    "ALTER TABLE sessions ADD COLUMN attention_since REAL",
    "CREATE INDEX sessions_attention ON sessions (attention) WHERE attention IS NOT NULL",
]

# v5: metrics recorded as they happen (issue 17, storage/engine/metrics.py): one row per
# sample of a named figure (db_bytes, capture_bytes, index_lag, search_ms), for one
# session or (session_id NULL) the whole database. Read by time for the usage view.
_V5 = [
    """
    CREATE TABLE metrics (
        id         INTEGER PRIMARY KEY,
        at         REAL    NOT NULL,
        name       TEXT    NOT NULL,
        session_id INTEGER,                            -- no foreign key: kept after a purge
        value      REAL    NOT NULL
    )
    """,
    "CREATE INDEX metrics_name_at ON metrics (name, at)",
]

# v6: terminal sessions you can read (issue 14, storage/engine/screens.py). A pty
# session's supervisor stores snapshots of its emulated screen (runner/screen/), each
# at a replay position (the first output line not wholly fed and the bytes of it fed)
# with how many rendered-transcript rows came before it, so a screen at any moment is
# rebuilt by replaying at most one interval. The rendered transcript (rows scrolled off
# the main screen, and each ended run's last screen) is stored in row chunks with its
# own contentless FTS5 index, the same options as output_fts; ``screen_renders`` says
# how far a session's transcript is built (backfill of older sessions: on first use).
_V6 = [
    """
    CREATE TABLE screen_snapshots (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        run         INTEGER NOT NULL,
        line        INTEGER NOT NULL,                  -- first output line not wholly fed
        offset      INTEGER NOT NULL,                  -- bytes of that line fed
        rendered    INTEGER NOT NULL,                  -- transcript rows before this screen
        at          REAL    NOT NULL,
        final       INTEGER NOT NULL DEFAULT 0,        -- taken at the end of its run
        data        BLOB    NOT NULL                   -- runner.screen snapshot
    )
    """,
    "CREATE INDEX screen_snapshots_line ON screen_snapshots (session_id, line, offset)",
    "CREATE INDEX screen_snapshots_rendered ON screen_snapshots (session_id, rendered)",
    """
    CREATE TABLE rendered_chunks (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        run         INTEGER NOT NULL,
        first_row   INTEGER NOT NULL,                  -- 0-based row of the transcript
        row_count   INTEGER NOT NULL,
        line        INTEGER NOT NULL,                  -- output line when they scrolled off
        at          REAL    NOT NULL,
        text        TEXT    NOT NULL                   -- the rows, each ending in \n
    )
    """,
    "CREATE UNIQUE INDEX rendered_chunks_row ON rendered_chunks (session_id, first_row)",
    """
    CREATE VIRTUAL TABLE rendered_fts USING fts5 (
        text, content = '', tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TABLE screen_renders (
        session_id  INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
        line        INTEGER NOT NULL,                  -- rendered up to this position
        offset      INTEGER NOT NULL,
        rows        INTEGER NOT NULL,                  -- transcript rows stored
        complete    INTEGER NOT NULL DEFAULT 0         -- every ended run is in it
    )
    """,
]

# v7: the queue (issue 17, "Slots and a queue"; storage/engine/queue.py). One row per
# session that went through the queue: its group (``tether run --group``, '' for none;
# kept after it started, so the group's running sessions can be counted), its place in
# line (NULL once it left the line: claimed to start, started, or given up), the session
# it waits for (``--after``), how to launch it (JSON: grace, terminal size, redaction),
# and who claimed it to start it (JSON: claim id, host, boot, pid and start time), so a
# claim whose starter died is given back and never started twice.
_V7 = [
    """
    CREATE TABLE queue (
        session_id  INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
        grp         TEXT    NOT NULL DEFAULT '',
        position    INTEGER,
        after       INTEGER,
        queued_at   REAL    NOT NULL,
        options     TEXT,
        claim       TEXT,
        claimed_at  REAL
    )
    """,
    "CREATE INDEX queue_line ON queue (position) WHERE position IS NOT NULL",
    "CREATE INDEX queue_group ON queue (grp)",
]

# v8: the context key table (storage/engine/context_keys.py): each session's context
# flattened to one row per member a ctx. filter can name, kept by triggers, filled from
# the existing sessions here (SQL only); and an index on the live sessions by creation.
_V8 = list(context_keys.MIGRATION)

# v9: output at rest, compressed and indexed leaner (issue 18; storage/engine/compress.py,
# storage/engine/output_index.py). ``plain_size`` is NULL for a chunk stored as is, else
# the size of its bytes before compression (``data`` is then a zstd frame; a trained
# dictionary it uses is named in the frame and kept in ``chunk_dicts``). ``output_words``
# is the output index from now on: contentless, detail=none (no positions: phrases are
# checked in the lines themselves, as every match already is). Chunks from before v9
# (ids in [index_next, below) of ``output_upgrade``) keep their entries in the old
# ``output_fts`` until the upkeep step moves them (and compresses them: from pack_next).
_V9 = [
    "ALTER TABLE output_chunks ADD COLUMN plain_size INTEGER",
    """
    CREATE TABLE chunk_dicts (
        id          INTEGER PRIMARY KEY,               -- the zstd dictionary id
        data        BLOB    NOT NULL,
        created_at  REAL    NOT NULL,
        trained_on  INTEGER NOT NULL                   -- output bytes when it was trained
    )
    """,
    """
    CREATE VIRTUAL TABLE output_words USING fts5 (
        text, content = '', detail = none, tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
    *[q.replace("output_fts", "output_words") for q in index_merge.SETTINGS],
    """
    CREATE TABLE output_upgrade (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        index_next  INTEGER NOT NULL,                  -- first chunk id not yet moved
        pack_next   INTEGER NOT NULL,                  -- first chunk id not yet compressed
        below       INTEGER NOT NULL                   -- chunks from before v9 are below
    )
    """,
    # (a database with no output has nothing to upgrade: both cursors start at below)
    "INSERT INTO output_upgrade VALUES (1, (SELECT coalesce(min(id), 1) FROM output_chunks), "
    "(SELECT coalesce(min(id), 1) FROM output_chunks), "
    "(SELECT coalesce(max(id), 0) + 1 FROM output_chunks))",
]

# v10: the rendered transcript's index takes the options the output index took in v9
# (detail=none: phrases are checked in the rows, as every match already is):
# ``rendered_words`` replaces ``rendered_fts`` (v6), filled from the stored rows here;
# the old one is emptied (contentless: 'delete-all' is its only way to forget).
_V10 = [
    """
    CREATE VIRTUAL TABLE rendered_words USING fts5 (
        text, content = '', detail = none, tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
    "INSERT INTO rendered_words (rowid, text) SELECT id, text FROM rendered_chunks",
    "INSERT INTO rendered_fts (rendered_fts) VALUES ('delete-all')",
]

# v11: the pinned sessions without reading every row (the TUI orders them first: with
# 100 000 sessions that query was a scan of the whole table at every start).
_V11 = ["CREATE INDEX sessions_pinned ON sessions (pinned, deleted_at)"]

# v12: agent transcripts, searchable (issue 16; storage/engine/transcripts.py,
# agents/transcripts/). ``transcript_files``: each transcript file of an agent session
# (claude's projects/<slug>/<id>.jsonl, codex's rollout-*.jsonl), how far it was read
# (bytes, whole lines) and its size and mtime at that look, so an unchanged file costs one
# stat; ``state`` (JSON) is what reading on needs (model, token counts, line number).
# ``transcript_entries``: the conversation's prompts, replies and tool calls, with their
# own FTS5 index (external content, kept by triggers: a purge cascades to it).
_V12 = [
    """
    CREATE TABLE transcript_files (
        id          INTEGER PRIMARY KEY,
        path        TEXT    NOT NULL UNIQUE,
        session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        agent       TEXT    NOT NULL,                  -- the format: claude, codex
        size        INTEGER NOT NULL DEFAULT 0,        -- at the last look
        mtime_ns    INTEGER NOT NULL DEFAULT 0,
        offset      INTEGER NOT NULL DEFAULT 0,        -- bytes read (whole lines)
        entries     INTEGER NOT NULL DEFAULT 0,        -- entries taken from it
        state       TEXT                               -- JSON: what reading on needs
    )
    """,
    "CREATE INDEX transcript_files_session ON transcript_files (session_id)",
    """
    CREATE TABLE transcript_entries (
        id          INTEGER PRIMARY KEY,
        session_id  INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        file_id     INTEGER NOT NULL REFERENCES transcript_files (id) ON DELETE CASCADE,
        number      INTEGER NOT NULL,                  -- 0-based in its file
        at          REAL    NOT NULL,
        role        TEXT    NOT NULL,                  -- user, assistant, tool
        text        TEXT    NOT NULL
    )
    """,
    "CREATE INDEX transcript_entries_session ON transcript_entries (session_id, id)",
    "CREATE INDEX transcript_entries_file ON transcript_entries (file_id)",
    """
    CREATE VIRTUAL TABLE transcript_words USING fts5 (
        text, content = 'transcript_entries', content_rowid = 'id', detail = none,
        tokenize = 'unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER transcript_entries_added AFTER INSERT ON transcript_entries BEGIN
        INSERT INTO transcript_words (rowid, text) VALUES (new.id, new.text);
    END
    """,
    """
    CREATE TRIGGER transcript_entries_removed AFTER DELETE ON transcript_entries BEGIN
        INSERT INTO transcript_words (transcript_words, rowid, text)
        VALUES ('delete', old.id, old.text);
    END
    """,
]

# A context filter's sessions in id order from the index alone (``has:``, and the list a walk
# over every session tests against): storage.engine.context_keys.
_V13 = ["CREATE INDEX session_context_member ON session_context (key, parent, session_id, type)"]

# A session's runs when it joined the queue: a resumed session waits in line too, and it
# is claimed-not-started while it has no more runs than that (storage.engine.queue).
_V14 = ["ALTER TABLE queue ADD COLUMN runs INTEGER NOT NULL DEFAULT 0"]

# v15: a pty session's raw stdout is no longer indexed (issue 14: search finds what a
# person saw, its rendered transcript; storage/engine/search/rendered.py): its chunks are
# marked indexed = 3, compressed but with no entry in the output index. The pty sessions
# recorded before have entries for their stdout still: they are listed here, searched by
# their raw stream until their transcript is built (runner/screen/render.py: by search,
# doctor --fix, or first open), then the upkeep step drops those entries
# (storage/engine/output_index.py, ``drop_raw_step``) and the session leaves the list.
_V15 = [
    """
    CREATE TABLE pty_raw_index (
        session_id  INTEGER PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE
    )
    """,
    "INSERT INTO pty_raw_index (session_id) SELECT s.id FROM sessions s WHERE s.mode = 'pty' "
    "AND EXISTS (SELECT 1 FROM output_chunks c WHERE c.session_id = s.id "
    "AND c.stream = 'stdout' AND c.indexed IN (1, 2))",
]

# v16: a rendered transcript's chunks compressed at rest, as output chunks are (issue
# 18): ``text`` holds one zstd frame of the rows and ``plain_size`` their size in bytes
# (NULL: the rows as they are, as every chunk stored before; storage/engine/compress.py
# ``pack_text``). A plain-text pty burst stored its transcript beside its raw output,
# uncompressed: about the raw size again.
_V16 = ["ALTER TABLE rendered_chunks ADD COLUMN plain_size INTEGER"]

# v17: the rendered transcripts' index merged as the output index is (issue 18;
# storage/engine/index_merge.py): no ``automerge`` inside every store, merging decided
# by its writers. Settings only: no table changes.
_V17 = [q.replace("output_fts", "rendered_words") for q in index_merge.SETTINGS]

# v18: word pairs in the output index, which make a phrase of common words fast (issue
# 18; storage/engine/word_pairs.py). A chunk is indexed with its words, listed here, and
# given its pairs by the upkeep, which takes it off the list (storage/engine/
# output_index.py, ``pairs_step``). Every chunk indexed before is listed: nothing else
# changes (its entry stays; search finds it through its words until it has its pairs).
_V18 = [
    """
    CREATE TABLE unpaired (
        id          INTEGER PRIMARY KEY                -- an output chunk
    )
    """,
    "INSERT INTO unpaired (id) SELECT id FROM output_chunks WHERE indexed = 2",
]

MIGRATIONS: list[list[str]] = [
    *(_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11, _V12, _V13, _V14, _V15),
    *(_V16, _V17, _V18),
]
assert len(MIGRATIONS) == SCHEMA_VERSION
