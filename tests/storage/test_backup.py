"""Backups: consistent while sessions write, rotated, validated, restored."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest

from storage import open_store
from storage.engine.backup import (
    BackupDamaged,
    BackupInvalid,
    create_backup,
    list_backups,
    restore_backup,
    restore_file,
    rotate,
    validate_backup,
)
from storage.engine.schema import SCHEMA_VERSION
from tests.support.database import (
    assert_output_index_exact,
    damage,
    mode_of,
    rows,
    run_python,
    spawn_python,
)


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
    # tether-20261203-101500.backup.db, then .2, .3 ... within the same second
    assert all(re.fullmatch(r"tether-\d{8}-\d{6}(\.\d+)?\.backup\.db", n) for n in names), names
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
        "SELECT first_line, line_count, plain(data, plain_size) FROM output_chunks "
        "WHERE session_id=? ORDER BY first_line",
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
    con.execute("INSERT INTO output_words (output_words) VALUES ('integrity-check')")
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


# -- a damaged database: never rotate good backups away for it -------------------------
async def test_a_damaged_database_is_not_backed_up_and_no_good_backup_is_rotated(db_path, tmp_path):
    folder = tmp_path / "backups"
    async with open_store(db_path) as store:
        await seed(store, ["a"] * 40)
        good = [await create_backup(store, backup_dir=folder, keep=5) for _ in range(5)]
    damage(db_path)
    before = sorted(p.name for p in folder.iterdir())
    async with open_store(db_path) as store:
        with pytest.raises(BackupDamaged) as caught:
            await create_backup(store, backup_dir=folder, keep=5)
        # All five good backups are still there, nothing was added (no temp left either).
        assert sorted(p.name for p in folder.iterdir()) == before
        assert caught.value.good is not None and caught.value.good.path == good[-1].path
        message = str(caught.value)
        assert str(good[-1].path) in message and "tether doctor" in message
        assert "restore-backup" in message
        # An explicit destination: refused the same way, nothing written there.
        with pytest.raises(BackupDamaged):
            await create_backup(store, tmp_path / "copy.db", backup_dir=folder)
        assert not (tmp_path / "copy.db").exists()
        # Kept when asked (before a restore), beside the good ones and never rotated.
        kept = await create_backup(store, backup_dir=folder, keep=5, keep_damaged=True)
        assert kept.label == "damaged" and kept.path.name.endswith(".damaged.db")
        assert rotate(folder, store.path, 1) == [b.path for b in good[-2::-1]]
        labels = sorted(b.label for b in list_backups(folder, store.path))
        assert labels == ["backup", "damaged"]


async def test_old_backup_names_are_still_recognised_and_rotated(store, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    first = await create_backup(store, backup_dir=folder)
    old = {
        "tether-20240101-000000-backup.backup.db": "backup",
        "tether-20240101-000001.2-pre-cleanup.backup.db": "pre-cleanup",
        "tether-20240101-000002-pre-restore.backup.db": "pre-restore",
    }
    for i, name in enumerate(old):
        (folder / name).write_bytes(first.path.read_bytes())
        os.utime(folder / name, (1000 + i, 1000 + i))
    labels = {b.path.name: b.label for b in list_backups(folder, store.path)}
    assert labels == {**old, first.path.name: "backup"}
    removed = rotate(folder, store.path, 2)
    assert sorted(p.name for p in removed) == sorted(list(old)[:2])


# -- files in a directory others can write to ------------------------------------------
_PLANT = r"""
import os, sys
folder, victim = sys.argv[1], sys.argv[2]
for name in sys.argv[3:]:
    kind, _, name = name.partition(":")
    path = os.path.join(folder, name)
    if kind == "file":  # a file the attacker can read, waiting to be written into
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.close(fd)
        os.chmod(path, 0o666)
    else:  # a link to a file of the victim's
        os.symlink(victim, path)
print("planted")
"""


def _as_other_user() -> int | None:
    return 65534 if os.geteuid() == 0 else None


@pytest.fixture
def sticky_dir(shared_tmp):
    """A directory anyone can create files in, like /tmp (sticky)."""
    d = shared_tmp / "shared"
    d.mkdir()
    os.chmod(d, 0o1777)
    return d


def _plant(folder: Path, victim: Path, *names: str) -> None:
    out = run_python(_PLANT, str(folder), str(victim), *names, user=_as_other_user())
    assert out.stdout.strip() == "planted", out.stderr


async def test_backup_to_a_shared_directory_gives_nothing_to_another_user(
    store, sticky_dir, tmp_path
):
    await seed(store, ["secret"])
    victim = tmp_path / "victim.txt"
    victim.write_text("the victim's own file\n")
    dest = sticky_dir / "tether.db"
    # What the old code wrote to (DEST.partial, O_TRUNC): a file the other user made
    # and can read; and a second destination whose .partial is a link to the victim.
    _plant(sticky_dir, victim, "file:tether.db.partial", "link:other.db.partial")
    info = await create_backup(store, dest)
    other = await store.backup_to(sticky_dir / "other.db")  # the library's own call
    assert (await validate_backup(info.path)).sessions == 1
    assert (await validate_backup(other)).sessions == 1
    assert (sticky_dir / "tether.db.partial").read_bytes() == b""  # received nothing
    assert victim.read_bytes() == b"the victim's own file\n"
    assert mode_of(dest) == 0o600 and os.stat(dest).st_uid == os.geteuid()
    leftovers = {p.name for p in sticky_dir.iterdir()}
    assert leftovers == {"tether.db", "other.db", "tether.db.partial", "other.db.partial"}
    if _as_other_user() is not None:
        read = run_python(
            "import sys; open(sys.argv[1], 'rb').read()", str(dest), user=_as_other_user()
        )
        assert "Permission denied" in read.stderr


async def test_backup_refuses_or_replaces_a_planted_destination_never_writes_through(
    store, sticky_dir, tmp_path
):
    await seed(store, ["a"])
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    _plant(sticky_dir, victim, "link:linked.db", "file:theirs.db")
    with pytest.raises(FileExistsError):
        await create_backup(store, sticky_dir / "linked.db", replace=False)
    with pytest.raises(FileExistsError):
        await create_backup(store, sticky_dir / "theirs.db", replace=False)
    assert victim.read_bytes() == b"keep me\n"
    assert (sticky_dir / "theirs.db").read_bytes() == b""
    # Overwriting (--force) replaces the link itself, not the file it points to.
    info = await create_backup(store, sticky_dir / "linked.db", replace=True)
    assert not info.path.is_symlink() and victim.read_bytes() == b"keep me\n"
    assert {p.name for p in sticky_dir.iterdir()} == {"linked.db", "theirs.db"}


async def test_restore_file_in_a_shared_directory_does_not_write_through_a_planted_link(
    db_path, sticky_dir, tmp_path
):
    async with open_store(db_path) as store:
        await seed(store, ["a", "b"])
        saved = await create_backup(store, tmp_path / "saved.db")
    db = sticky_dir / "tether.db"
    db.write_bytes(b"not a database at all" * 10)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    # The old fixed temporary name, `.tether.db.restore`, as a link to the victim.
    _plant(sticky_dir, victim, "link:.tether.db.restore")
    moved = await restore_file(db, saved.path, backup_dir=tmp_path / "backups")
    assert victim.read_bytes() == b"keep me\n"
    assert moved is not None and moved.read_bytes() == b"not a database at all" * 10
    assert (await validate_backup(db)).sessions == 2
    assert mode_of(db) == 0o600
    assert {p.name for p in sticky_dir.iterdir()} == {"tether.db", ".tether.db.restore"}
