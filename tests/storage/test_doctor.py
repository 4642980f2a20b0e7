"""``storage.doctor``: each kind of damage is found, repaired, and found no more.

The damage is made for real with a raw ``sqlite3`` connection, the way a bug or an
old version could have left it.
"""

from __future__ import annotations

import os
import sqlite3

import pytest

from storage import open_store
from storage.engine import compress
from storage.engine.doctor import diagnose, repair
from storage.engine.search import search
from storage.query import parse
from storage.text import index_text
from tests.support.database import assert_output_index_exact, rows


async def seed(store, n=3):
    ids = []
    for i in range(n):
        s = await store.sessions.create(["echo", f"word{i}"], cwd="/tmp", name=f"s{i}", tags=["a"])
        await store.runs.start(s.id)
        await store.output.append(
            s.id, "stdout", b"".join(b"line %d zebra%d\n" % (j, i) for j in range(500))
        )
        await store.runs.finish(s.id, exit_code=0)
        ids.append(s.id)
    return ids


def by_check(findings):
    return {f.check: f for f in findings}


def raw(path):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA foreign_keys=OFF")
    return con


async def test_a_healthy_store_has_no_problems(store):
    await seed(store)
    while await store.output.upkeep():  # (what a supervisor does when idle: word pairs)
        pass
    found = by_check(await diagnose(store))
    assert {f.level for f in found.values()} <= {"ok", "info"}, found
    assert found["integrity"].level == "ok"
    assert await repair(store, list(found.values())) == []


async def test_orphans_are_found_and_deleted(db_path):
    async with open_store(db_path) as store:
        ids = await seed(store)
    con = raw(db_path)
    con.execute("DELETE FROM sessions WHERE id = ?", (ids[0],))  # behind the layer's back
    con.close()
    async with open_store(db_path) as store:
        found = by_check(await diagnose(store))
        assert found["orphans"].level == "problem"
        assert "output chunks" in found["orphans"].message and "runs" in found["orphans"].message
        done = await repair(store, list(found.values()))
        assert any(d.startswith("deleted orphaned") for d in done)
        again = by_check(await diagnose(store))
        assert again["orphans"].level == "ok"
        assert again["output-index"].level == "ok"
        assert await store.search("zebra1") and not await store.search("zebra0")
    assert not rows(db_path, "SELECT id FROM output_chunks WHERE session_id = ?", [ids[0]])
    assert_output_index_exact(db_path)


async def test_ghost_index_entries_mean_a_rebuild(db_path):
    async with open_store(db_path) as store:
        ids = await seed(store)
    con = raw(db_path)
    # A chunk deleted without its index entry (the text is then lost to the index).
    cid = con.execute(
        "SELECT id FROM output_chunks WHERE session_id=? LIMIT 1", (ids[1],)
    ).fetchone()[0]
    con.execute("DELETE FROM output_chunks WHERE id = ?", (cid,))
    con.close()
    async with open_store(db_path) as store:
        found = by_check(await diagnose(store))
        assert found["output-index"].level == "problem"
        assert "belong to no indexed chunk" in found["output-index"].message
        done = await repair(store, list(found.values()))
        assert any(d.startswith("rebuilt the output index") for d in done)
        assert by_check(await diagnose(store))["output-index"].level == "ok"
    assert_output_index_exact(db_path)


async def test_missing_index_entries_are_added(db_path):
    async with open_store(db_path) as store:
        ids = await seed(store)
    con = raw(db_path)
    cid, data, size = con.execute(
        "SELECT id, data, plain_size FROM output_chunks WHERE session_id=? LIMIT 1", (ids[2],)
    ).fetchone()
    con.execute(
        "INSERT INTO output_words (output_words, rowid, text) VALUES ('delete', ?, ?)",
        (cid, index_text(compress.plain(data, size))),
    )
    con.close()
    async with open_store(db_path) as store:
        assert not await store.search("zebra2")
        found = by_check(await diagnose(store))
        assert found["output-index"].level == "problem"
        assert found["output-index"].fix == "index those chunks"
        done = await repair(store, list(found.values()))
        assert "indexed 1 chunks that were missing from the output index" in done
        assert await store.search("zebra2")
    assert_output_index_exact(db_path)


async def test_metadata_index_is_rebuilt(db_path):
    async with open_store(db_path) as store:
        ids = await seed(store)
    con = raw(db_path)
    con.execute("DELETE FROM sessions_fts WHERE rowid = ?", (ids[0],))
    con.execute("INSERT INTO sessions_fts (rowid, name) VALUES (999, 'ghost')")
    con.close()
    async with open_store(db_path) as store:
        found = by_check(await diagnose(store))
        f = found["metadata-index"]
        assert f.level == "problem" and "1 sessions are missing" in f.message
        assert "1 session index entries belong to no session" in f.message
        await repair(store, list(found.values()))
        assert by_check(await diagnose(store))["metadata-index"].level == "ok"
    assert {r[0] for r in rows(db_path, "SELECT rowid FROM sessions_fts")} == set(ids)


async def test_counters_and_backlog(db_path):
    async with open_store(db_path) as store:
        ids = await seed(store)
        await store.output.append(ids[0], "stdout", b"later quokka\n", index=False)
    con = raw(db_path)
    con.execute("UPDATE sessions SET output_bytes = 1, output_lines = 2 WHERE id = ?", (ids[1],))
    con.close()
    async with open_store(db_path) as store:
        found = by_check(await diagnose(store))
        assert found["counters"].level == "problem" and f"#{ids[1]}" in found["counters"].message
        assert found["backlog"].level == "warning" and found["backlog"].count == 1
        assert not await store.search("quokka")
        await repair(store, list(found.values()))
        again = by_check(await diagnose(store))
        assert again["counters"].level == "ok" and again["backlog"].level == "ok"
        assert await store.search("quokka")
        s = await store.sessions.require(ids[1])
        assert s.output_lines == 500 and s.output_bytes == len(await store.output.read_bytes(s.id))
        (entry,) = await store.audit.list(action="doctor-fix")
        assert entry.detail["done"]


async def test_free_space_and_trash_are_reported(db_path):
    async with open_store(db_path) as store:
        ids = await seed(store, 6)
        await store.sessions.trash(ids[:2])
        big = await store.sessions.create(["yes"], cwd="/tmp")  # random: compresses poorly
        await store.output.append(big.id, "stdout", os.urandom(2 << 20).hex().encode())
        await store.sessions.purge([*ids[2:5], big.id])  # not reclaimed: pages stay free
        found = by_check(await diagnose(store, trash_days=0))
        assert found["trash"].count == 2 and "2 in it longer than 0 days" in found["trash"].message
        space = found["space"]
        assert space.count > 0
        free_before = int(await store.scalar("PRAGMA freelist_count"))
        assert free_before == space.count
        if space.fix:  # over 1 MiB free: the repair gives it back
            await repair(store, [space])
            assert int(await store.scalar("PRAGMA freelist_count")) == 0


async def test_damaged_file_is_a_problem_with_no_fix(db_path):
    async with open_store(db_path) as store:
        await seed(store, 30)
        await store.db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        page = int(await store.scalar("PRAGMA page_size"))
        root = int(await store.scalar("SELECT rootpage FROM sqlite_master WHERE name='runs'"))
    with open(db_path, "r+b") as f:  # scribble over the runs table's root page
        f.seek((root - 1) * page)
        f.write(b"\x0d" + b"\xff" * 40)
    async with open_store(db_path) as store:
        found = by_check(await diagnose(store))
        assert found["integrity"].level == "problem"
        assert found["integrity"].fix is None
        assert "restore-backup" in found["integrity"].message


@pytest.mark.parametrize("mode", ["NONE", "FULL"])
async def test_auto_vacuum_mode_is_put_back(tmp_path, mode):
    path = tmp_path / "t.db"
    async with open_store(path) as store:
        await seed(store, 1)
    con = raw(path)
    con.execute(f"PRAGMA auto_vacuum={mode}")
    con.execute("VACUUM")
    con.close()
    async with open_store(path) as store:
        found = by_check(await diagnose(store))
        assert found["auto-vacuum"].level == "warning"
        done = await repair(store, [found["auto-vacuum"]])
        assert int(await store.scalar("PRAGMA auto_vacuum")) == 2
        assert "auto-vacuum" not in by_check(await diagnose(store))
    backups = list((tmp_path / "backups").glob("*.db"))
    if mode == "NONE":  # the file was rewritten (VACUUM): a copy was kept first
        assert len(backups) == 1 and str(backups[0]) in " ".join(done)
        assert rows(backups[0], "PRAGMA auto_vacuum") == [(0,)]
    else:
        assert backups == []


async def test_doctor_fix_upgrades_old_output_with_progress(tmp_path):
    from tests.storage.test_compression import make_v8

    path = tmp_path / "t.db"
    want = make_v8(path)
    said: list[str] = []
    async with open_store(path) as store:
        found = by_check(await diagnose(store))
        assert found["output-upgrade"].level == "info" and found["output-upgrade"].fix
        done = await repair(store, [found["output-upgrade"]], progress=said.append)
        assert any("upgrading output:" in s for s in said)
        assert "compressed and re-indexed" in done[0]
        assert by_check(await diagnose(store))["output-upgrade"].level == "ok"
        for sid, data in want.items():
            assert await store.output.read_bytes(sid) == data
    assert rows(path, "SELECT count(*) FROM output_chunks WHERE plain_size IS NULL") == [(0,)]


async def test_an_unmerged_transcripts_index_is_reported_and_merged(store):
    """The terminal transcripts' index (``rendered_words``, merged by the supervisors
    since schema v17): a burst's pile of segments is reported and merged on --fix."""
    from storage.engine import screens
    from storage.engine.index_merge import MERGE_AT

    sid = (await store.sessions.create(["sh"], cwd="/", mode="pty")).id
    for i in range(3 * MERGE_AT):  # each store its own segment (a burst's way)
        part = screens.RenderedRows(1, i, [f"row {i} quokkaword"], i + 1, 1.0e9)
        await screens.save(store, sid, rows=[part], position=(i + 1, 0), merge=False)
    found = by_check(await diagnose(store))["transcript-segments"]
    assert found.level == "info" and found.fix and found.count >= 3 * MERGE_AT
    done = await repair(store, [found])
    assert done == [
        f"merged the terminal transcripts' index from {found.count} segments to 1 segment"
    ]
    assert by_check(await diagnose(store))["transcript-segments"].level == "ok"
    found_rows = (await search(store, parse("quokkaword"), limit=500)).groups
    assert sum(len(g.hits) for g in found_rows) == 3 * MERGE_AT


async def test_an_unmerged_output_index_is_reported_and_merged(db_path):
    from storage.engine.index_merge import MERGE_AT

    async with open_store(db_path) as store:
        for i in range(3 * MERGE_AT):  # one unmerged segment per session (a burst's way)
            sid = (await store.sessions.create(["seq"], cwd="/")).id
            await store.output.append(sid, "stdout", f"n{i} wombat\n".encode(), index=False)
            await store.output.index_pending(sid, merge=False)
        found = by_check(await diagnose(store))["index-segments"]
        assert found.level == "info" and found.fix and found.count >= 3 * MERGE_AT
        assert f"{found.count} segments" in found.message
        done = await repair(store, [found])
        assert done == [f"merged the output index from {found.count} segments to 1 segment"]
        again = by_check(await diagnose(store))["index-segments"]
        assert again.level == "ok" and "(1 segment)" in again.message
        assert len(await store.search("wombat")) == 3 * MERGE_AT
