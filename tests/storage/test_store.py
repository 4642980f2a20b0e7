"""Opening the store, its connection settings, files and permissions, change detection,
integrity checks, online backups, reclaiming space."""

from __future__ import annotations

import os
import sqlite3

import pytest

import storage
from storage import SCHEMA_VERSION, IntegrityReport, Store, StoreCorrupt, open_store
from storage.engine.opening import BUSY_TIMEOUT_MS
from tests.support.database import mode_of, rows, run_python


async def test_open_store_is_a_context_manager_and_an_awaitable(db_path):
    async with open_store(db_path) as store:
        assert isinstance(store, Store)
        assert store.path == db_path
        s = await store.sessions.create(["true"], cwd="/")
    store2 = await open_store(db_path)
    try:
        assert (await store2.sessions.get(s.id)).argv == ("true",)
    finally:
        await store2.close()


async def test_connection_settings(store):
    assert (await store.scalar("PRAGMA journal_mode")) == "wal"
    assert (await store.scalar("PRAGMA busy_timeout")) == BUSY_TIMEOUT_MS
    assert (await store.scalar("PRAGMA synchronous")) == 1  # NORMAL
    assert (await store.scalar("PRAGMA foreign_keys")) == 1
    assert (await store.scalar("PRAGMA auto_vacuum")) == 2  # INCREMENTAL
    assert await store.schema_version() == SCHEMA_VERSION
    assert (await store.scalar("PRAGMA user_version")) == SCHEMA_VERSION


async def test_journal_mode_persists_for_other_programs(db_path):
    async with open_store(db_path):
        pass
    assert rows(db_path, "PRAGMA journal_mode") == [("wal",)]


async def test_new_files_and_directories_are_private(tmp_path):
    old_umask = os.umask(0o022)  # a typical umask: without care files would be 0644
    try:
        path = tmp_path / "a" / "b" / "c" / "tether.db"
        async with open_store(path) as store:
            await store.sessions.create(["x"], cwd="/")  # make sure -wal exists
            assert mode_of(path) == 0o600
            for suffix in ("-wal", "-shm"):
                assert mode_of(f"{path}{suffix}") == 0o600
            backup = await store.backup_to(tmp_path / "backups" / "deep" / "copy.db")
        for d in ("a", "a/b", "a/b/c", "backups", "backups/deep"):
            assert mode_of(tmp_path / d) == 0o700, d
        assert mode_of(backup) == 0o600
    finally:
        os.umask(old_umask)


async def test_existing_directory_modes_are_left_alone(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    async with open_store(shared / "t.db"):
        pass
    assert mode_of(shared) == 0o755
    assert mode_of(shared / "t.db") == 0o600


async def test_create_false_refuses_a_missing_file(tmp_path):
    with pytest.raises(StoreCorrupt) as info:
        await open_store(tmp_path / "nope.db", create=False)
    assert "nope.db" in str(info.value)
    assert not (tmp_path / "nope.db").exists()


async def test_public_names_are_exported():
    for name in storage.__all__:
        assert getattr(storage, name) is not None
    with pytest.raises(AttributeError):
        storage.no_such_name  # noqa: B018


def test_importing_storage_loads_no_submodule_or_sqlite():
    out = run_python(
        """
        import sys
        import storage
        print(sorted(m for m in sys.modules if m.startswith("storage.") or m == "aiosqlite"))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- change detection --------------------------------------------------------------------


async def test_data_version_changes_only_for_other_connections_commits(db_path):
    async with open_store(db_path) as reader, open_store(db_path) as writer:
        v0 = await reader.data_version()
        assert await reader.data_version() == v0  # polling alone changes nothing
        await reader.settings.set("k", 1)  # the reader's own commit does not count
        assert await reader.data_version() == v0
        s = await writer.sessions.create(["echo"], cwd="/")
        v1 = await reader.data_version()
        assert v1 != v0
        await writer.output.append(s.id, "stdout", b"hello\n")
        assert await reader.data_version() != v1


async def test_data_version_sees_commits_of_another_process(db_path):
    async with open_store(db_path) as reader:
        v0 = await reader.data_version()
        out = run_python(
            """
            import asyncio, sys
            from storage import open_store
            async def main():
                async with open_store(sys.argv[1]) as st:
                    await st.sessions.create(["other"], cwd="/")
            asyncio.run(main())
            """,
            str(db_path),
        )
        assert out.returncode == 0, out.stderr
        assert await reader.data_version() != v0


async def test_a_reader_fetches_only_what_is_new(db_path):
    """The polling pattern of DESIGN: data_version says something changed; high-water
    marks (updated_at, line numbers) say what."""
    async with open_store(db_path) as reader, open_store(db_path) as writer:
        a = await writer.sessions.create(["a"], cwd="/")
        b = await writer.sessions.create(["b"], cwd="/")
        await writer.output.append(a.id, "stdout", b"1\n2\n")
        seen = await reader.sessions.list()
        mark = max(s.updated_at for s in seen)
        lines = await reader.output.since(a.id, -1)
        assert [ln.raw for ln in lines] == [b"1", b"2"]
        last_line = lines[-1].number

        await writer.output.append(a.id, "stdout", b"3\n")
        changed = await reader.sessions.list(updated_since=mark)
        assert [s.id for s in changed] == [a.id]
        assert b.id not in [s.id for s in changed]
        new = await reader.output.since(a.id, last_line)
        assert [(ln.number, ln.raw) for ln in new] == [(2, b"3")]
        assert await reader.output.since(a.id, new[-1].number) == []


async def test_since_returns_an_open_line_again_until_it_is_finished(store):
    s = await store.sessions.create(["x"], cwd="/")
    await store.output.append(s.id, "stdout", b"done\nprompt> ")
    lines = await store.output.since(s.id, -1)
    assert [(ln.raw, ln.terminated) for ln in lines] == [(b"done", True), (b"prompt> ", False)]
    # A live reader keeps its high-water mark before the open line and asks again.
    await store.output.append(s.id, "stdout", b"yes\n")
    again = await store.output.since(s.id, 0)
    assert [(ln.number, ln.raw, ln.terminated) for ln in again] == [(1, b"prompt> yes", True)]
    assert [ln.raw for ln in await store.output.since(s.id, -1, limit=1)] == [b"done"]


# -- integrity, backup, space ------------------------------------------------------------


async def test_integrity_check_ok_on_a_used_database(store):
    s = await store.sessions.create(["x"], cwd="/", tags=["a"])
    await store.output.append(s.id, "stdout", b"hello world\n" * 100)
    report = await store.integrity_check()
    assert report == IntegrityReport(ok=True, problems=())


async def test_integrity_check_reports_index_entries_without_chunks(db_path):
    async with open_store(db_path) as store:
        s = await store.sessions.create(["x"], cwd="/")
        await store.output.append(s.id, "stdout", b"hello\n")
    con = sqlite3.connect(db_path)
    con.execute("INSERT INTO output_words (rowid, text) VALUES (9999, 'ghost words')")
    con.commit()
    con.close()
    async with open_store(db_path) as store:
        report = await store.integrity_check()
    assert not report.ok
    assert any("index entries belong to no chunk" in p for p in report.problems)


async def test_integrity_check_reports_orphan_chunks(db_path):
    async with open_store(db_path) as store:
        s = await store.sessions.create(["x"], cwd="/")
        await store.output.append(s.id, "stdout", b"hello\n", index=False)
    con = sqlite3.connect(db_path)  # foreign keys are off by default here
    con.execute("DELETE FROM sessions")
    con.commit()
    con.close()
    async with open_store(db_path) as store:
        report = await store.integrity_check()
    assert not report.ok
    assert any("belong to no session" in p for p in report.problems)


async def test_backup_to_is_a_consistent_private_copy_made_while_writing(db_path, tmp_path):
    async with open_store(db_path) as store, open_store(db_path) as writer:
        s = await store.sessions.create(["x"], cwd="/", name="before")
        await store.output.append(s.id, "stdout", b"line\n" * 10_000)
        import asyncio

        async def keep_writing() -> None:
            for i in range(50):
                await writer.output.append(s.id, "stderr", f"w{i}\n".encode())

        task = asyncio.create_task(keep_writing())
        dest = await store.backup_to(tmp_path / "bk" / "copy.db", pages=8)
        await task
    assert dest == tmp_path / "bk" / "copy.db"
    assert mode_of(dest) == 0o600
    assert not (tmp_path / "bk" / "copy.db.partial").exists()
    assert rows(dest, "PRAGMA journal_mode") == [("delete",)]
    async with open_store(dest) as copy:
        got = await copy.sessions.get(s.id)
        assert got.name == "before"
        assert (await copy.integrity_check()).ok
        # Whatever the copy caught of the concurrent writer, it is a prefix of it.
        err = await copy.output.read_bytes(s.id, "stderr")
        assert err == b"".join(f"w{i}\n".encode() for i in range(len(err.splitlines())))
        assert await copy.output.read_bytes(s.id, "stdout") == b"line\n" * 10_000


async def test_reclaim_space_shrinks_the_file_after_a_purge(db_path):
    async with open_store(db_path) as store:
        s = await store.sessions.create(["x"], cwd="/")
        # Not indexed: this is about the chunks' pages. (Purged index entries are
        # logically gone at once, and physically when FTS5 merges its segments.)
        await store.output.append(s.id, "stdout", os.urandom(4_000_000).hex().encode(), index=False)
        await store.db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        big = os.path.getsize(db_path)
        await store.sessions.purge([s.id])
        await store.reclaim_space()
        small = os.path.getsize(db_path)
    assert big > 8_000_000
    assert small < big * 0.2


async def test_sqlite_errors_are_translated(tmp_path):
    from storage import StoreFull, StoreReadOnly
    from storage.engine.sqlite_errors import translate

    p = str(tmp_path / "x.db")
    assert isinstance(translate(sqlite3.OperationalError("database or disk is full"), p), StoreFull)
    ro = translate(sqlite3.OperationalError("attempt to write a readonly database"), p)
    assert isinstance(ro, StoreReadOnly)
    bad = translate(sqlite3.DatabaseError("database disk image is malformed"), p)
    assert isinstance(bad, StoreCorrupt) and p in str(bad)
    other = sqlite3.OperationalError("no such table: x")
    assert translate(other, p) is other
    assert isinstance(translate(ValueError("x"), p), ValueError)
