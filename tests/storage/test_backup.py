"""Backups: consistent while sessions write, rotated, validated, restored."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from storage import open_store
from storage.engine.backup import (
    BackupInvalid,
    create_backup,
    list_backups,
    restore_backup,
    rotate,
    validate_backup,
)
from storage.engine.schema import SCHEMA_VERSION
from tests.support.database import assert_output_index_exact, mode_of, rows, spawn_python


async def seed(store, names):
    out = []
    for name in names:
        s = await store.sessions.create(["echo", name], cwd="/", name=name)
        await store.output.append(s.id, "stdout", f"hello from {name}\n".encode() * 20)
        out.append(s.id)
    return out


async def test_backup_is_private_named_and_rotated(store, tmp_path):
    await seed(store, ["a"])
    folder = tmp_path / "backups"
    made = [await create_backup(store, backup_dir=folder, keep=3) for _ in range(5)]
    names = [b.path.name for b in made]
    assert all(n.startswith("tether-") and n.endswith("-backup.backup.db") for n in names)
    left = list_backups(folder, store.path)
    assert len(left) == 3 and left[0].path == made[-1].path  # newest first
    assert {b.label for b in left} == {"backup"}
    assert all(mode_of(b.path) == 0o600 for b in left)
    assert mode_of(folder) == 0o700
    # Migration backups are listed but never rotated away.
    migration = folder / "tether.v1-20240101-000000.bak.db"
    migration.write_bytes(made[-1].path.read_bytes())
    os.utime(migration, (1, 1))
    assert rotate(folder, store.path, 1)
    left = list_backups(folder, store.path)
    assert {b.label for b in left} == {"backup", "migration"} and len(left) == 2


async def test_backup_to_a_given_file(store, tmp_path):
    await seed(store, ["a", "b"])
    info = await create_backup(store, tmp_path / "elsewhere" / "copy.db")
    assert info.path == tmp_path / "elsewhere" / "copy.db"
    checked = await validate_backup(info.path)
    assert checked.sessions == 2 and checked.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("hello, I am a text file\n" * 10), "not an SQLite database"),
        (
            lambda p: sqlite3.connect(p).execute("CREATE TABLE t (x)").connection.commit(),
            "not a tether one",
        ),
    ],
)
async def test_validate_rejects_what_is_not_a_tether_database(tmp_path, make, message):
    path = tmp_path / "candidate.db"
    make(path)
    with pytest.raises(BackupInvalid, match=message):
        await validate_backup(path)


async def test_validate_rejects_newer_and_damaged(store, tmp_path):
    await seed(store, ["a"] * 40)
    newer = (await create_backup(store, tmp_path / "newer.db")).path
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(BackupInvalid, match="newer than this tether"):
        await validate_backup(newer)
    damaged = (await create_backup(store, tmp_path / "damaged.db")).path
    root = rows(damaged, "SELECT rootpage FROM sqlite_master WHERE name='output_chunks'")[0][0]
    with open(damaged, "r+b") as f:
        f.seek((root - 1) * 4096)
        f.write(b"\x0d" + b"\xff" * 60)
    with pytest.raises(BackupInvalid, match="damaged|malformed"):
        await validate_backup(damaged)


async def test_restore_replaces_content_and_keeps_the_current_one(db_path, tmp_path):
    folder = tmp_path / "backups"
    async with open_store(db_path) as store:
        a, b = await seed(store, ["alpha", "beta"])
        saved = await create_backup(store, tmp_path / "saved.db")
        (c,) = await seed(store, ["gamma"])
        await store.sessions.purge([a])
        result = await restore_backup(store, saved.path, backup_dir=folder, keep=5)
        assert result.restored_from.sessions == 2
        # The same open store now sees the restored content, and keeps working.
        assert [s.id for s in await store.sessions.list(order="id")] == [a, b]
        assert await store.search("alpha") and not await store.search("gamma")
        d = await store.sessions.create(["new"], cwd="/")
        await store.output.append(d.id, "stdout", b"after restore\n")
        assert await store.search("after restore")
        assert (await store.integrity_check()).ok
        (entry,) = await store.audit.list(action="restore-backup")
        assert entry.detail["from"] == str(saved.path)
    assert result.previous is not None and result.previous.label == "pre-restore"
    before = {r[0] for r in rows(result.previous.path, "SELECT id FROM sessions")}
    assert before == {b, c}  # the database as it was just before the restore
    assert_output_index_exact(db_path)
    # The backup itself was not touched.
    assert {r[0] for r in rows(saved.path, "SELECT id FROM sessions")} == {a, b}


async def test_restore_refuses_garbage_without_touching_anything(db_path, tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    async with open_store(db_path) as store:
        await seed(store, ["a"])
        with pytest.raises(BackupInvalid):
            await restore_backup(store, garbage, backup_dir=tmp_path / "b")
        with pytest.raises(BackupInvalid, match="the database itself"):
            await restore_backup(store, db_path, backup_dir=tmp_path / "b")
        assert len(await store.sessions.list()) == 1
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())


_WRITER = r"""
import asyncio, sys
from storage import open_store
path, k = sys.argv[1], int(sys.argv[2])
async def main():
    async with open_store(path) as store:
        s = await store.sessions.create(["writer", str(k)], cwd="/", name=f"w{k}")
        print(s.id, flush=True)
        n = 0
        while n < 20_000:  # bounded: a slow test process must not face gigabytes
            batch = b"".join(b"w%d line %d tok%dx\n" % (k, n + i, k) for i in range(200))
            await store.output.append(s.id, "stdout", batch)
            n += 200
            if n % 1000 == 0:
                print(n, flush=True)
        await asyncio.sleep(3600)  # until killed
asyncio.run(main())
"""


def session_is_consistent(path: Path, sid: int, k: int) -> int:
    """Its chunks tile lines 0..n-1 without gaps, hold exactly the lines the writer
    wrote in order, and agree with the session's counters. Returns n."""
    ((count, size),) = rows(
        path, "SELECT output_lines, output_bytes FROM sessions WHERE id=?", [sid]
    )
    chunks = rows(
        path,
        "SELECT first_line, line_count, data FROM output_chunks WHERE session_id=? "
        "ORDER BY first_line",
        [sid],
    )
    line = 0
    for first, n, _ in chunks:
        assert first == line
        line += n
    assert line == count
    data = b"".join(c[2] for c in chunks)
    assert len(data) == size
    assert data == b"".join(b"w%d line %d tok%dx\n" % (k, i, k) for i in range(count))
    return count


async def test_backup_while_five_sessions_write_restores_consistent(db_path, tmp_path):
    async with open_store(db_path):
        pass
    writers = [spawn_python(_WRITER, str(db_path), str(k)) for k in range(5)]
    try:
        sids = [int(w.stdout.readline()) for w in writers]
        for w in writers:  # every writer is well under way
            for _ in range(3):
                assert w.stdout.readline(), w.stderr.read()
        async with open_store(db_path) as store:
            backup = await create_backup(store, tmp_path / "hot.db")
    finally:
        for w in writers:
            w.kill()
            w.wait()
            w.stdout.close()
            w.stderr.close()
    con = sqlite3.connect(backup.path)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    con.execute("INSERT INTO output_fts (output_fts) VALUES ('integrity-check')")
    con.close()
    assert_output_index_exact(backup.path)
    counts = [session_is_consistent(backup.path, sid, k) for k, sid in enumerate(sids)]
    assert all(c >= 3000 for c in counts)
    # Restore it into another database and find the same, consistent, state.
    other = tmp_path / "other.db"
    async with open_store(other) as store:
        await restore_backup(store, backup.path, backup_dir=tmp_path / "b")
        assert (await store.integrity_check()).ok
        for k, sid in enumerate(sids):
            hits = await store.search(f"tok{k}x", limit=1)
            assert hits and hits[0].session_id == sid
    assert [session_is_consistent(other, sid, k) for k, sid in enumerate(sids)] == counts
    assert_output_index_exact(other)


_STEADY_WRITER = r"""
import asyncio, sys
from storage import open_store
async def main():
    async with open_store(sys.argv[1]) as store:
        sid = int(sys.argv[2])
        print("writing", flush=True)
        n = 0
        while n < 2_000_000:  # a chatty session, writing all the time (bounded)
            await store.output.append(sid, "stdout", b"steady %d\n" % n)
            n += 1
asyncio.run(main())
"""


async def test_a_backup_finishes_while_a_session_keeps_writing(db_path, tmp_path):
    """A backup in several steps starts over whenever another connection writes in
    between; with a session that never pauses it never finished. One step does."""
    import asyncio

    async with open_store(db_path) as store:
        sid = (await store.sessions.create(["chatty"], cwd="/")).id
        block = b"".join(b"filler line %d\n" % i for i in range(20_000))
        for _ in range(150):  # about 50 MB: many steps of 1 024 pages
            await store.output.append(sid, "stdout", block, index=False)
    writer = spawn_python(_STEADY_WRITER, str(db_path), str(sid))
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        async with open_store(db_path) as store:
            # Several steps of 1 024 pages never finished here (measured: not in 30 s).
            backup = await asyncio.wait_for(create_backup(store, tmp_path / "b.db"), 30)
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
        writer.stderr.close()
    assert (await validate_backup(backup.path)).sessions == 1
    assert rows(backup.path, "SELECT count(*) FROM output_chunks")[0][0] > 0
