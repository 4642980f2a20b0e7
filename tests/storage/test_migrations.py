"""The migration mechanism: user_version, backup first, one transaction, rollback on
failure with the original file byte-identical, refusal of newer databases.

The mechanism is exercised by adding a next step (``monkeypatch`` on
``storage.schema``) over real files: one made by the store itself at the current
version (WAL mode) and one made by hand at v1 with plain sqlite3 from
``fixtures/v1_sample.sql`` (rollback-journal mode, as an older tool would leave it),
which takes every real step too. The real steps' own effects are checked at the end.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import storage.engine.schema as schema
from storage import (
    SCHEMA_VERSION,
    MigrationFailed,
    SchemaTooNew,
    StoreCorrupt,
    open_store,
)
from tests.support.database import file_bytes, mode_of, rows

FIXTURE_SQL = Path(__file__).parent / "fixtures" / "v1_sample.sql"

NEXT_OK = [
    "ALTER TABLE sessions ADD COLUMN colour TEXT NOT NULL DEFAULT ''",
    "UPDATE sessions SET colour = 'red' WHERE status = 'failed'",
    "CREATE TABLE bookmarks (session_id INTEGER NOT NULL, line INTEGER NOT NULL)",
]
NEXT_FAILS = [
    "ALTER TABLE sessions ADD COLUMN colour TEXT NOT NULL DEFAULT ''",
    "CREATE TABLE half_done (x)",
    "INSERT INTO no_such_table VALUES (1)",  # fails after two steps did work
]


NEXT = SCHEMA_VERSION + 1


def add_next_step(monkeypatch: pytest.MonkeyPatch, step: list[str]) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, step])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.MIGRATIONS))


def make_hand_made_v1(path: Path) -> None:
    con = sqlite3.connect(path)
    con.executescript(FIXTURE_SQL.read_text())
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()


async def make_store_current(path: Path) -> int:
    async with open_store(path) as store:
        s = await store.sessions.create(["make"], cwd="/src", name="b", tags=["ci"])
        await store.runs.start(s.id)
        await store.output.append(s.id, "stdout", b"compiling\n" * 100)
        await store.runs.finish(s.id, exit_code=1)
        return s.id


def backups(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.bak.db"))


def user_version(path: Path) -> int:
    return rows(path, "PRAGMA user_version")[0][0]


# -- a new database ----------------------------------------------------------------------


async def test_a_new_database_gets_the_current_schema_without_a_backup(db_path):
    async with open_store(db_path):
        pass
    assert user_version(db_path) == SCHEMA_VERSION
    tables = {r[0] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    expected = {"sessions", "session_tags", "runs", "output_chunks", "settings", "audit_log"}
    assert expected | {"output_fts", "sessions_fts"} <= tables
    assert backups(db_path.parent) == []


def test_the_fixture_is_exactly_schema_v1(tmp_path):
    """The hand-made fixture and the v1 migration must describe the same schema, so a
    later edit of an existing migration (instead of a new one) fails here."""
    made = tmp_path / "made.db"
    con = sqlite3.connect(made)
    for statement in schema.MIGRATIONS[0]:
        con.execute(statement)
    con.commit()
    con.close()
    fixture = tmp_path / "fixture.db"
    make_hand_made_v1(fixture)

    def shape(path: Path) -> list[tuple]:
        found = []
        for (table,) in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'"):
            cols = rows(
                path,
                f"SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info('{table}')",
            )
            found.append((table, tuple(cols)))
        idx = rows(path, "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        return sorted(found) + sorted(idx)

    assert shape(made) == shape(fixture)


# -- upgrading ---------------------------------------------------------------------------


async def test_upgrade_backs_up_first_then_migrates(db_path, monkeypatch):
    sid = await make_store_current(db_path)
    original = file_bytes(db_path)
    add_next_step(monkeypatch, NEXT_OK)
    async with open_store(db_path) as store:
        assert await store.schema_version() == NEXT
        s = await store.sessions.get(sid)
        assert s.name == "b" and s.tags == ("ci",) and s.status == "failed"
        assert await store.output.line_count(sid) == 100
        assert len(await store.search("compiling", limit=500)) == 100
        assert (await store.scalar("SELECT colour FROM sessions WHERE id = ?", (sid,))) == "red"
        assert (await store.scalar("PRAGMA journal_mode")) == "wal"
    [backup] = backups(db_path.parent)
    assert backup.name.startswith(f"tether.v{SCHEMA_VERSION}-")
    assert mode_of(backup) == 0o600
    assert user_version(backup) == SCHEMA_VERSION
    assert rows(backup, "SELECT id, name, status FROM sessions") == [(sid, "b", "failed")]
    chunks = "SELECT count(*), sum(coalesce(plain_size, length(data))) FROM output_chunks"
    assert rows(backup, chunks) == rows(db_path, chunks)
    assert len(original) > 0
    cols = [r[0] for r in rows(backup, "SELECT name FROM pragma_table_info('sessions')")]
    assert "colour" not in cols
    # opening again migrates nothing and backs up nothing
    async with open_store(db_path):
        pass
    assert len(backups(db_path.parent)) == 1


async def test_backup_dir_option(db_path, tmp_path, monkeypatch):
    await make_store_current(db_path)
    add_next_step(monkeypatch, NEXT_OK)
    async with open_store(db_path, backup_dir=tmp_path / "safe" / "place"):
        pass
    [backup] = backups(tmp_path / "safe" / "place")
    assert mode_of(tmp_path / "safe") == 0o700 and mode_of(backup) == 0o600
    assert backups(db_path.parent) == []


@pytest.mark.parametrize("made_by", ["store", "hand"])
async def test_a_failed_upgrade_leaves_the_file_byte_identical(db_path, monkeypatch, made_by):
    if made_by == "store":
        await make_store_current(db_path)
    else:
        make_hand_made_v1(db_path)
    old = user_version(db_path)
    original = file_bytes(db_path)
    add_next_step(monkeypatch, NEXT_FAILS)
    with pytest.raises(MigrationFailed) as info:
        await open_store(db_path)
    err = info.value
    [backup] = backups(db_path.parent)
    assert str(db_path) in str(err) and str(backup) in str(err)
    assert "rolled back" in str(err) and "no_such_table" in str(err)
    assert err.backup == str(backup)
    assert file_bytes(db_path) == original
    assert not Path(f"{db_path}-wal").exists() and not Path(f"{db_path}-journal").exists()
    assert user_version(db_path) == old
    # the backup is kept and is a whole database of the old version
    assert user_version(backup) == old
    assert rows(backup, "SELECT count(*) FROM sessions") == rows(
        db_path, "SELECT count(*) FROM sessions"
    )
    # with the broken step gone, the same file opens with the current code
    monkeypatch.undo()
    async with open_store(db_path) as store:
        assert await store.sessions.count(include_deleted=True) >= 1


async def test_the_hand_made_v1_fixture_is_read_back(db_path):
    make_hand_made_v1(db_path)
    async with open_store(db_path) as store:
        await _check_fixture_contents(store)
        assert (await store.integrity_check()).ok


async def test_the_hand_made_v1_fixture_migrates_and_reads_back(db_path, monkeypatch):
    make_hand_made_v1(db_path)
    add_next_step(monkeypatch, NEXT_OK)
    async with open_store(db_path) as store:
        assert await store.schema_version() == NEXT
        await _check_fixture_contents(store)
        assert (await store.integrity_check()).ok
        assert (await store.scalar("SELECT colour FROM sessions WHERE id = 1")) == "red"
        # and the migrated database works for new writes
        await store.output.append(1, "stderr", b" again\n")
        assert (await store.output.read_lines(1, 4, 5))[0].raw == b"ld: \xff again"
    [backup] = backups(db_path.parent)
    assert user_version(backup) == 1


async def _check_fixture_contents(store) -> None:
    s = await store.sessions.get(1)
    assert s.uid == "018f3a2b-0000-7000-8000-000000000001"
    assert (s.name, s.argv, s.cwd, s.env) == (
        "nightly build",
        ("make", "-j4", "all"),
        "/src/app",
        {"CC": "clang"},
    )
    assert (s.status, s.exit_code, s.run_count, s.pinned) == ("failed", 2, 2, True)
    assert (s.created_at, s.started_at, s.ended_at) == (1700000000.0, 1700000001.0, 1700000090.0)
    assert s.context == {"ticket": "OPS-12"} and s.notes == "flaky linker"
    assert s.tags == ("ci", "nightly") and (s.output_bytes, s.output_lines) == (58, 5)
    t = await store.sessions.get(2)
    assert t.trashed and t.origin == "imported" and t.mode == "pty"
    assert t.resume_argv == ("claude", "--continue") and t.name == "" and t.label == "claude"
    assert [s.id for s in await store.sessions.list()] == [1]
    runs = await store.runs.list(1)
    assert [(r.number, r.pid, r.exit_code, r.first_line) for r in runs] == [
        (1, 4100, 2, 0),
        (2, 4200, 2, 3),
    ]
    lines = await store.output.read_lines(1, 0, 10)
    assert [(ln.number, ln.stream, ln.run, ln.raw, ln.terminated) for ln in lines] == [
        (0, "stdout", 1, b"cc -c main.c", True),
        (1, "stdout", 1, b"cc -c util.c", True),
        (2, "stderr", 1, b"ld: undefined symbol", True),
        (3, "system", 1, b"run 2", True),
        (4, "stderr", 2, b"ld: \xff", False),
    ]
    assert [h.line for h in await store.search("undefined symbol")] == [2]
    assert await store.output.unindexed_bytes() == 5
    from storage.engine.search import search_sessions

    assert await search_sessions(store, "linker") == [1]
    assert await store.settings.get("ui.sort") == "updated"
    assert [(e.action, e.actor) for e in await store.audit.list()] == [
        ("trash", "tui"),
        ("create", "cli"),
    ]


# -- refusing ----------------------------------------------------------------------------


@pytest.mark.parametrize("made_by", ["store", "hand"])
async def test_a_newer_database_is_refused_unchanged(db_path, made_by):
    if made_by == "store":
        await make_store_current(db_path)
    else:
        make_hand_made_v1(db_path)
    con = sqlite3.connect(db_path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    con.commit()
    con.close()
    original = file_bytes(db_path)
    with pytest.raises(SchemaTooNew) as info:
        await open_store(db_path)
    err = info.value
    assert (err.found, err.supported) == (SCHEMA_VERSION + 5, SCHEMA_VERSION)
    assert str(db_path) in str(err) and "Upgrade tether" in str(err)
    assert file_bytes(db_path) == original
    assert backups(db_path.parent) == []


async def test_a_foreign_sqlite_database_is_refused_unchanged(db_path):
    con = sqlite3.connect(db_path)
    con.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, path TEXT)")
    con.execute("INSERT INTO photos (path) VALUES ('/x.jpg')")
    con.commit()
    con.close()
    original = file_bytes(db_path)
    with pytest.raises(StoreCorrupt, match="not a tether one"):
        await open_store(db_path)
    assert file_bytes(db_path) == original


# -- several processes upgrading at once ---------------------------------------------------

_OPEN_V2 = """
import asyncio, os, sys, time
import storage.engine.schema as schema
schema.MIGRATIONS.append([
    # slow on purpose: the other processes read user_version 1 before this commits
    "CREATE TABLE filler (n INTEGER)",
    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 400000) "
    "INSERT INTO filler SELECT n FROM c",
    "CREATE TABLE once (x)",
    "INSERT INTO once VALUES (1)",
])
schema.SCHEMA_VERSION = len(schema.MIGRATIONS)
from storage import open_store
go = sys.argv[2]
while not os.path.exists(go):
    time.sleep(0.005)
async def main():
    async with open_store(sys.argv[1]) as st:
        print(await st.schema_version())
asyncio.run(main())
"""


def test_processes_opening_an_old_database_at_once_migrate_it_once(db_path, tmp_path):
    import asyncio
    import subprocess
    import sys

    from tests.support.database import ROOT

    asyncio.run(make_store_current(db_path))
    go = tmp_path / "go"
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_V2, str(db_path), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    time.sleep(0.5)  # let them import and wait at the start line
    go.touch()
    results = [p.communicate(timeout=120) for p in procs]
    for (out, err), p in zip(results, procs, strict=True):
        assert p.returncode == 0, err
        assert out.strip() == str(NEXT)
    assert rows(db_path, "SELECT count(*) FROM once") == [(1,)]
    assert user_version(db_path) == NEXT


# -- the real steps ------------------------------------------------------------------------


def fts_settings(path: Path) -> dict[str, int]:
    return dict(rows(path, "SELECT k, v FROM output_fts_config WHERE k != 'version'"))


async def test_v2_hands_merging_of_the_output_index_to_tether(db_path):
    """v1 let FTS5 merge segments inside every write; v2 turns that off and sets the
    limits storage/index_merge.py works within. A v1 file gets exactly those settings,
    keeps its index, and a new database is born with them."""
    make_hand_made_v1(db_path)
    assert fts_settings(db_path) == {}  # (FTS5 defaults: automerge 4, crisismerge 16)
    async with open_store(db_path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        await _check_fixture_contents(store)
    await assert_merge_settings(db_path, fts_settings)


async def assert_merge_settings(db_path: Path, settings: Callable[[Path], dict]) -> None:
    """``db_path``, and a database created now, hold index_merge's settings for the
    index ``settings`` reads."""
    from storage.engine import index_merge

    want = {
        "automerge": 0,
        "usermerge": index_merge.MERGE_AT,
        "crisismerge": index_merge.CRISIS_AT,
        "hashsize": index_merge.HASH_BYTES,
    }
    assert settings(db_path) == want
    fresh = db_path.with_name("fresh.db")
    async with open_store(fresh):
        pass
    assert settings(fresh) == want


def make_hand_made_v2(path: Path) -> None:
    """The v1 fixture taken to v2 by hand (plain sqlite3, as tether v2 left it), with a
    session still running (in the trash, to leave the v1 contents as they were): v2
    recorded nothing of who supervised a run."""
    make_hand_made_v1(path)
    con = sqlite3.connect(path)
    for statement in schema.MIGRATIONS[1]:
        con.execute(statement)
    con.execute(
        "INSERT INTO sessions (uid, argv, cwd, status, created_at, updated_at, started_at, "
        "run_count, pid, deleted_at) VALUES ('018f3a2b-0000-7000-8000-000000000003', "
        "'[\"sleep\", \"300\"]', '/tmp', 'running', 1700000100.0, 1700000100.0, "
        "1700000100.0, 1, 4300, 1700000200.0)"
    )
    con.execute(
        "INSERT INTO runs (session_id, number, argv, pid, started_at, first_line) "
        'VALUES (3, 1, \'["sleep", "300"]\', 4300, 1700000100.0, 0)'
    )
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()


async def test_v3_records_who_supervises_a_run(db_path):
    """A v2 file (made by hand) is backed up and upgraded: its data is kept, every old
    run is marked as tether's (judged by its lock, as before), and new runs record their
    supervisor, its process identity and a lease."""
    from storage import ProcessIdentity

    make_hand_made_v2(db_path)
    async with open_store(db_path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        await _check_fixture_contents(store)
        old = await store.runs.latest(3)
        assert (old.number, old.pid, old.status, old.supervisor) == (1, 4300, None, "tether")
        assert (old.host, old.supervisor_pid, old.lease_until, old.socket) == (None,) * 4
        assert [r.supervisor for r in await store.runs.list(1)] == ["tether", "tether"]
        assert (await store.integrity_check()).ok
        # new runs: an embedder with a lease, and a supervisor with its identity
        s = await store.sessions.create(["agent"], cwd="/src")
        before = time.time()
        run = await store.runs.start(s.id, supervisor="bot", lease=30)
        assert run.supervisor == "bot" and run.lease == 30
        assert before + 30 <= run.lease_until <= time.time() + 30
        who = ProcessIdentity("h", "b n", 10, 20, command_start=30, socket="/x.sock")
        t = await store.sessions.create(["make"], cwd="/src")
        run = await store.runs.start(t.id, pid=11, supervisor="tether", identity=who)
        assert (run.host, run.boot, run.supervisor_pid, run.supervisor_start) == (
            "h",
            "b n",
            10,
            20,
        )
        assert (run.pid, run.command_start, run.socket, run.lease_until) == (
            11,
            30,
            "/x.sock",
            None,
        )
    [backup] = backups(db_path.parent)
    assert user_version(backup) == 2
    assert rows(backup, "SELECT count(*) FROM runs") == [(3,)]
    cols = [r[0] for r in rows(backup, "SELECT name FROM pragma_table_info('runs')")]
    assert "supervisor" not in cols


async def test_a_v3_database_is_refused_by_a_v2_tether(db_path, monkeypatch):
    async with open_store(db_path):
        pass
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 2)
    original = file_bytes(db_path)
    with pytest.raises(SchemaTooNew) as info:
        await open_store(db_path)
    assert (info.value.found, info.value.supported) == (SCHEMA_VERSION, 2)
    assert file_bytes(db_path) == original


async def test_an_export_made_at_v2_imports_into_v3(db_path, tmp_path):
    """v3 added only local columns (who supervises a run), not to the export layout:
    an export whose header says schema version 2 is imported whole."""
    from storage.transfer.importer import import_file
    from tests.support.transfer import export_doc, lines_of, seed, with_checksum

    async with open_store(tmp_path / "source.db") as source:
        ids = await seed(source)
        doc = await export_doc(source, ids)
        want = [await source.output.read_bytes(i) for i in ids]
    lines = lines_of(doc)
    current = f'"schema_version":{SCHEMA_VERSION},'.encode()
    assert current in lines[0]
    lines[0] = lines[0].replace(current, b'"schema_version":2,')
    path = tmp_path / "v2-export.json"
    path.write_bytes(with_checksum(lines))
    async with open_store(db_path) as store:
        result = await import_file(store, path)
        assert result.imported == len(ids)
        got = sorted(s.id for s in await store.sessions.list(include_deleted=True))
        assert [await store.output.read_bytes(i) for i in got] == want


def make_v14_with_terminal_sessions(path: Path) -> bytes:
    """A database as tether v14 left it (its SQL), with a pty session that ran claude and
    a pipe session, both indexed raw as v14 did (``output_words``, indexed = 2). Returns
    the claude bytes."""
    from runner.screen.state import size_line
    from storage.text import index_text

    fixtures = Path(__file__).resolve().parent.parent / "fixtures" / "terminal"
    data = (fixtures / "claude_first.bin").read_bytes()
    size = size_line(100, 30)
    con = sqlite3.connect(path)
    for step in schema.MIGRATIONS[:14]:
        for sql in step:
            con.execute(sql)
    chunks = [(1, 1, "system", 0, size), (2, 1, "stdout", 1, data)]
    chunks.append((3, 2, "stdout", 0, b"Welcome to the build\nClaude compiled in 3 countries\n"))
    for sid, mode, argv, chunk_ids in (
        (1, "pty", '["claude"]', (1, 2)),
        (2, "pipe", '["make"]', (3,)),
    ):
        mine = [c for c in chunks if c[0] in chunk_ids]
        lines = sum(c[4].count(b"\n") + (not c[4].endswith(b"\n")) for c in mine)
        con.execute(
            "INSERT INTO sessions (id, uid, argv, cwd, mode, status, created_at, updated_at, "
            "run_count, output_lines, output_bytes) VALUES (?, ?, ?, '/', ?, 'succeeded', 1, 2, "
            "1, ?, ?)",
            (sid, f"u{sid}", argv, mode, lines, sum(len(c[4]) for c in mine)),
        )
        con.execute(
            "INSERT INTO runs (session_id, number, argv, started_at, first_line) "
            "VALUES (?, 1, ?, 1, 0)",
            (sid, argv),
        )
    for cid, sid, stream, first, chunk in chunks:
        lines = chunk.count(b"\n") + (not chunk.endswith(b"\n"))
        con.execute(
            "INSERT INTO output_chunks (id, session_id, run, stream, first_line, line_count, "
            "open_end, first_at, last_at, indexed, data) VALUES (?, ?, 1, ?, ?, ?, ?, 1, 1, 2, ?)",
            (cid, sid, stream, first, lines, int(not chunk.endswith(b"\n")), chunk),
        )
        con.execute(
            "INSERT INTO output_words (rowid, text) VALUES (?, ?)", (cid, index_text(chunk))
        )
    con.execute("UPDATE output_upgrade SET index_next = 4, pack_next = 4, below = 4")
    con.execute("PRAGMA user_version = 14")
    con.commit()
    con.close()
    return data


async def test_v15_a_pty_session_is_searched_raw_until_rendered_then_only_as_seen(db_path):
    """v15 stops indexing pty sessions' stdout: the migration lists those recorded before
    (their raw entries stay, searched until their transcript is built, lazily: first open,
    doctor --fix); once it is, their raw entries are dropped and search finds what a person
    saw (`Welcome to Claude`, glued by cursor moves in the raw stream). Pipe sessions keep
    their entries; every byte stays stored."""
    from runner.screen.render import render_pending
    from storage.engine.search import search
    from storage.query import parse

    data = make_v14_with_terminal_sessions(db_path)
    async with open_store(db_path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        assert [tuple(r) for r in await store.fetchall("SELECT * FROM pty_raw_index")] == [(1,)]

        async def hits(text: str) -> set[tuple[int, str]]:
            found = (await search(store, parse(text))).hits
            return {(h.session_id, h.stream) for h in found}

        assert await hits('"Welcome to Claude"') == set()  # raw: glued
        assert await hits("Claude") == {(2, "stdout")}  # (raw: ClaudeCodemightnot...)
        assert await hits("countries") == {(1, "stdout"), (2, "stdout")}  # raw, as before
        assert await render_pending(store) == 1
        assert await hits('"Welcome to Claude"') == {(1, "screen")}
        assert await hits("Claude") == {(1, "screen"), (2, "stdout")}
        assert await hits("countries") == {(1, "screen"), (2, "stdout")}
        entries = await store.fetchall(
            "SELECT rowid FROM output_words WHERE output_words MATCH 'countries'"
        )
        assert sorted(r[0] for r in entries) == [3]  # the pipe session's alone
        assert not await store.fetchall("SELECT * FROM pty_raw_index")
        assert await store.output.read_bytes(1, "stdout") == data


async def test_v17_merges_the_transcripts_index_as_the_output_index(db_path, monkeypatch):
    """v17 gives ``rendered_words`` the settings of the output index (merging decided
    by tether: storage/engine/index_merge.py). A v16 file gets them, keeps its
    transcript and its entries, and a new database is born with them."""
    from storage.engine import schema, screens
    from storage.engine.search import search
    from storage.query import parse

    def rendered_settings(path: Path) -> dict[str, int]:
        return dict(rows(path, "SELECT k, v FROM rendered_words_config WHERE k != 'version'"))

    with monkeypatch.context() as at_v16:
        at_v16.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:16])
        at_v16.setattr(schema, "SCHEMA_VERSION", 16)
        async with open_store(db_path) as store:
            sid = (await store.sessions.create(["sh"], cwd="/", mode="pty")).id
            part = screens.RenderedRows(1, 0, ["seen before v17 kestrelword"], 1, 1.0e9)
            await screens.save(store, sid, rows=[part], position=(1, 0))
    assert user_version(db_path) == 16
    assert rendered_settings(db_path) == {}  # (FTS5's defaults: automerge inside writes)
    async with open_store(db_path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        found = await search(store, parse("kestrelword"))
        assert [(g.session.id, len(g.hits)) for g in found.groups] == [(sid, 1)]
    await assert_merge_settings(db_path, rendered_settings)
