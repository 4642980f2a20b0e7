"""Output compressed at rest (storage/engine/compress.py) and the lean output index
(storage/engine/output_index.py): every reader gets back exactly the bytes written; a
database from before schema v9 is upgraded in short steps, and a kill -9 in the middle
of that leaves a valid database that the next steps finish."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import open_store
from storage.engine import compress, output_index
from storage.engine.reader import open_reader
from storage.engine.schema import MIGRATIONS
from storage.models import STREAMS
from storage.text import index_text
from tests.support.database import ROOT, assert_output_index_exact, rows

LOG_LINE = b"2026-12-03T10:%02d:%02d.%03dZ INFO  worker-%d handled request %d in %d ms\n"


def log_lines(n: int, seed: int = 0) -> bytes:
    return b"".join(
        LOG_LINE % (i // 60 % 60, i % 60, i * 7 % 1000, i % 8, seed * n + i, i * 13 % 97)
        for i in range(n)
    )


def stored(path: Path) -> list[tuple]:
    return rows(path, "SELECT plain_size IS NOT NULL, open_end, length(data) FROM output_chunks")


# -- every reader gets the bytes back --------------------------------------------------

_PIECES = st.lists(
    st.tuples(
        st.sampled_from(STREAMS[:2]),
        st.one_of(
            st.binary(max_size=300),
            st.binary(min_size=1, max_size=40).map(lambda b: b * 50),  # compressible
            st.integers(1, 400).map(log_lines),
        ),
        st.booleans(),  # indexed at once or later
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(pieces=_PIECES, with_dict=st.booleans())
def test_any_bytes_come_back_exactly_through_every_reader(tmp_path_factory, pieces, with_dict):
    path = tmp_path_factory.mktemp("rt") / "t.db"
    asyncio.run(_round_trip(path, pieces, with_dict))


async def _round_trip(path: Path, pieces, with_dict: bool) -> None:
    async with open_store(path) as store:
        sid = (await store.sessions.create(["x"], cwd="/")).id
        if with_dict:  # a dictionary trained on other output, as a real database has
            other = (await store.sessions.create(["y"], cwd="/")).id
            for k in range(40):
                await store.output.append(other, "stdout", log_lines(30, k))
            assert await compress.train(store) is not None
        for stream, data, indexed in pieces:
            await store.output.append(sid, stream, data, index=indexed)
        while await store.output.index_pending():
            pass
        want = b"".join(d for _, d, _ in pieces)
        assert await store.output.read_bytes(sid) == want
        for stream in STREAMS[:2]:
            mine = b"".join(d for s, d, _ in pieces if s == stream)
            assert await store.output.read_bytes(sid, stream) == mine
        lines = await store.output.read_lines(sid, 0, 10**9)
        assert b"".join(ln.raw + b"\n" * ln.terminated for ln in lines) == want
    with open_reader(path) as reader:  # the synchronous reader of one-query commands
        assert reader.run(reader.output.read_bytes(sid)) == want
    assert_output_index_exact(path)
    big_closed = [r for r in stored(path) if not r[1] and r[2] >= 4096]
    assert all(r[0] for r in big_closed)  # complete chunks of some size: compressed


async def test_complete_chunks_are_stored_compressed_and_the_open_one_plain(store, db_path):
    sid = (await store.sessions.create(["x"], cwd="/")).id
    body = log_lines(2000)
    prompt = b"a prompt long enough to be worth compressing, " * 3 + b"continue? "
    await store.output.append(sid, "stdout", body + prompt, index=False)
    chunks = stored(db_path)
    assert [r[:2] for r in chunks] == [(1, 0)] * (len(chunks) - 1) + [(0, 1)]
    assert sum(r[2] for r in chunks) < len(body) / 3
    await store.output.append(sid, "stdout", b"yes\n")  # the open line is completed
    assert [r[:2] for r in stored(db_path)][-1] == (1, 0)
    assert await store.output.read_bytes(sid) == body + prompt + b"yes\n"
    while await store.output.index_pending():
        pass
    [hit] = await store.search("prompt")
    assert hit.text == (prompt + b"yes").decode()  # search reads the compressed lines
    assert_output_index_exact(db_path)


def test_a_dictionary_is_trained_and_read_by_a_process_that_never_saw_it(tmp_path):
    path = tmp_path / "t.db"

    async def write() -> int:
        async with open_store(path) as store:
            sid = (await store.sessions.create(["x"], cwd="/")).id
            for k in range(2 * compress.TRAIN_AFTER // len(log_lines(400)) + 1):
                await store.output.append(sid, "stdout", log_lines(400, k), index=False)
                while await store.output.index_pending():
                    pass
            return sid

    sid = asyncio.run(write())
    [(dict_id, size)] = rows(path, "SELECT id, length(data) FROM chunk_dicts")
    assert size > 0
    frames = [r[0] for r in rows(path, "SELECT data FROM output_chunks WHERE plain_size > 0")]
    import zstandard

    ids = {zstandard.get_frame_parameters(bytes(f)).dict_id for f in frames}
    assert dict_id in ids  # chunks written after training use it
    code = (
        "import sys\nfrom storage.engine.reader import open_reader\n"
        "with open_reader(sys.argv[1]) as r:\n"
        "    sys.stdout.buffer.write(r.run(r.output.read_bytes(int(sys.argv[2]))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(sid)], env=env, capture_output=True, check=True
    ).stdout
    k = 2 * compress.TRAIN_AFTER // len(log_lines(400)) + 1
    assert out == b"".join(log_lines(400, i) for i in range(k))


async def test_a_dictionary_is_trained_on_at_most_sample_bytes(store, monkeypatch):
    """A burst's chunks are big: 2000 of them were 131 MB to train on (seconds that the
    burst's indexing waited for). Samples stop at SAMPLE_BYTES, chosen over all output."""
    sid = (await store.sessions.create(["x"], cwd="/")).id
    for k in range(8):  # 8 x ~520 KB: chunks of up to 64 KiB, ~64 of them
        await store.output.append(sid, "stdout", log_lines(8000, k), index=False)
    seen: list[list[bytes]] = []
    trained = compress._trained
    monkeypatch.setattr(compress, "SAMPLE_BYTES", 512 * 1024, raising=False)
    monkeypatch.setattr(compress, "_trained", lambda s, i: seen.append(s) or trained(s, i))
    await compress.train(store)
    [samples] = seen
    biggest = max(map(len, samples))
    assert 512 * 1024 <= sum(map(len, samples)) < 512 * 1024 + biggest
    first = {bytes(r[0]) for r in await store.fetchall("SELECT data FROM output_chunks")}
    assert len(samples) < len(first)  # (a sample, not every chunk)


# -- databases from before v9 ----------------------------------------------------------


def make_v8(path: Path, sessions: int = 3, chunks: int = 40) -> dict[int, bytes]:
    """A database as tether wrote it before schema v9: plain chunks, indexed in the
    detail=full ``output_fts``. Returns each session's output."""
    con = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:8]:
        for sql in step:
            con.execute(sql)
    con.execute("PRAGMA user_version = 8")
    out: dict[int, bytes] = {}
    cid = 0
    con.execute("BEGIN")
    for s in range(1, sessions + 1):
        con.execute(
            "INSERT INTO sessions (id, uid, argv, cwd, created_at, updated_at) "
            "VALUES (?, ?, '[\"x\"]', '/', 1.0, 1.0)",
            (s, f"uid-{s}"),
        )
        line, data = 0, b""
        for k in range(chunks):
            piece = log_lines(200, s * 1000 + k) + b"zebra%d\n" % s
            cid += 1
            n = piece.count(b"\n")
            con.execute(
                "INSERT INTO output_chunks (id, session_id, run, stream, first_line, "
                "line_count, first_at, last_at, indexed, data) VALUES (?,?,0,'stdout',?,?,1,1,1,?)",
                (cid, s, line, n, piece),
            )
            con.execute(
                "INSERT INTO output_fts (rowid, text) VALUES (?, ?)", (cid, index_text(piece))
            )
            line, data = line + n, data + piece
        con.execute(
            "UPDATE sessions SET output_bytes = ?, output_lines = ? WHERE id = ?",
            (len(data), line, s),
        )
        out[s] = data
    con.execute("COMMIT")
    con.close()
    return out


async def test_a_v8_database_is_upgraded_in_steps_and_searchable_throughout(tmp_path):
    path = tmp_path / "tether.db"
    want = make_v8(path)
    async with open_store(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        assert await output_index.upgrade_left(store) > 0
        # Before any step: found through the old index.
        assert {h.session_id for h in await store.search("zebra2", limit=500)} == {2}
        steps = 0
        while await output_index.upkeep_step(store, max_bytes=256 * 1024):
            steps += 1
            hits = await store.search("zebra3", limit=500)
            assert len(hits) == 40 and {h.session_id for h in hits} == {3}  # meanwhile too
        assert steps > 3
        assert await output_index.upgrade_left(store) == 0
        for sid, data in want.items():
            assert await store.output.read_bytes(sid) == data
        assert (await store.integrity_check()).ok
    assert rows(path, "SELECT DISTINCT indexed FROM output_chunks") == [(2,)]
    assert rows(path, "SELECT count(*) FROM output_chunks WHERE plain_size IS NULL") == [(0,)]
    assert rows(path, "SELECT count(*) FROM output_fts_docsize") == [(0,)]  # emptied
    assert_output_index_exact(path)


_UPGRADE = """
import asyncio, sys
from storage import open_store
from storage.engine import output_index
async def main():
    async with open_store(sys.argv[1]) as store:
        while await output_index.upkeep_step(store, max_bytes=64 * 1024):
            pass
asyncio.run(main())
"""


def test_kill_9_in_the_middle_of_the_upgrade_leaves_a_valid_database(tmp_path):
    path = tmp_path / "tether.db"
    want = make_v8(path, sessions=4, chunks=150)
    asyncio.run(_open_and_close(path))  # the schema migration itself (with its backup)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _UPGRADE, str(path)], env=env)
    try:
        below = rows(path, "SELECT below FROM output_upgrade")[0][0]
        deadline = time.monotonic() + 60
        while True:  # until it is well under way, not done
            done = rows(path, "SELECT index_next FROM output_upgrade")[0][0]
            if done > below // 4 or proc.poll() is not None or time.monotonic() > deadline:
                break
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = rows(path, "SELECT index_next FROM output_upgrade")[0][0]
    assert 0 < done < below  # killed half way
    asyncio.run(_check_and_finish(path, want))


async def _open_and_close(path: Path) -> None:
    async with open_store(path):
        pass


async def _check_and_finish(path: Path, want: dict[int, bytes]) -> None:
    async with open_store(path) as store:
        assert (await store.integrity_check()).ok
        for sid, data in want.items():
            assert await store.output.read_bytes(sid) == data
        assert len(await store.search("zebra4", limit=500)) == 150
        while await output_index.upkeep_step(store):
            pass
        for sid, data in want.items():
            assert await store.output.read_bytes(sid) == data
    assert_output_index_exact(path)


async def _free_some_pages(store) -> None:
    """Six sessions of incompressible output, four of them purged."""
    ids = []
    for _ in range(6):
        sid = (await store.sessions.create(["x"], cwd="/")).id
        await store.output.append(sid, "stdout", os.urandom(300_000).hex().encode() + b"\n")
        ids.append(sid)
    await store.sessions.purge(ids[:4])


async def test_free_pages_are_given_back(store, db_path):
    await _free_some_pages(store)
    free = int(await store.scalar("PRAGMA freelist_count"))
    pages = int(await store.scalar("PRAGMA page_count"))
    assert free > pages * output_index.FREE_SHARE
    while await store.output.upkeep():
        pass
    assert int(await store.scalar("PRAGMA freelist_count")) <= pages * output_index.FREE_SHARE


async def test_find_in_output_looks_into_compressed_chunks(store):
    """``find_line`` filters chunks in SQL before reading them; a compressed chunk's
    stored bytes are a zstd frame, so it must be a candidate whatever they hold."""
    s = await store.sessions.create(["x"], "/")
    await store.runs.start(s.id)
    # A repeated pattern: the frame holds "abcdefgh" once and then back-references, so
    # the words looked for are not in the stored bytes.
    data = b"".join(b"line %d of the log\n" % i for i in range(100)) + b"abcdefgh" * 40 + b"\n"
    await store.output.append(s.id, "stdout", data)
    await store.runs.finish(s.id, exit_code=0)
    stored = await store.fetchall("SELECT data, plain_size FROM output_chunks")
    assert all(n is not None for _, n in stored)  # compressed
    assert not any(b"habcdefgha" in bytes(d).lower() for d, _ in stored)
    assert not any(b"\x1b" in bytes(d) for d, _ in stored)  # (no escape-like byte either)
    assert await store.output.find_line(s.id, "habcdefgha", 0) == 100
    assert await store.output.find_line(s.id, "HABCDEFGHA", 100, forward=False) is None
    assert await store.output.find_line(s.id, "habcdefgha", 100, forward=False) == 100
    assert await store.output.find_line(s.id, "absent", 0) is None


async def test_free_pages_are_given_back_step_by_step(store, monkeypatch):
    """A merge or a purge can free more pages than one step gives back: the upkeep says
    there is more until the free share is under ``FREE_SHARE`` (issue 18's ``seq``
    corpus kept 22% of its file free when it stopped after one step)."""
    monkeypatch.setattr(output_index, "GIVE_BACK_PAGES", 16)
    await _free_some_pages(store)
    free = int(await store.scalar("PRAGMA freelist_count"))
    assert free > 4 * 16
    steps = 0
    while await store.output.upkeep():
        steps += 1
        now = int(await store.scalar("PRAGMA freelist_count"))
        assert free - now <= 16  # one step gives back at most its share
        free = now
    pages = int(await store.scalar("PRAGMA page_count"))
    assert steps >= 3
    left = int(await store.scalar("PRAGMA freelist_count"))
    assert left <= max(64, pages * output_index.FREE_SHARE)


async def test_a_database_without_incremental_vacuum_does_not_keep_the_upkeep_busy(
    db_path, monkeypatch
):
    """Before ``doctor --fix`` switches it, an old file has auto_vacuum=NONE, where
    ``incremental_vacuum`` gives nothing back: the upkeep must not say there is more."""
    import sqlite3

    from storage import open_store

    monkeypatch.setattr(output_index, "GIVE_BACK_PAGES", 16)
    await (await open_store(db_path)).close()
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA auto_vacuum=NONE")
    db.execute("VACUUM")  # (the mode changes only with a VACUUM)
    db.close()
    store = await open_store(db_path)
    try:
        assert int(await store.scalar("PRAGMA auto_vacuum")) == 0
        ids = []
        for _ in range(4):
            sid = (await store.sessions.create(["x"], cwd="/")).id
            await store.output.append(sid, "stdout", os.urandom(200_000).hex().encode() + b"\n")
            ids.append(sid)
        await store.sessions.purge(ids[:3])
        assert int(await store.scalar("PRAGMA freelist_count")) > 64
        steps = 0
        while await store.output.upkeep():
            steps += 1
            assert steps < 50
    finally:
        await store.close()


def test_threads_compress_and_decompress_at_once():
    """zstd's contexts are not thread-safe, and a supervisor compresses on its event
    loop and in a worker thread at once (the transcript, runner/screen/keeper.py): each
    thread gets its own. (With one shared, this failed "Src size is incorrect".)"""
    blobs = [log_lines(3000, seed=i) for i in range(4)]
    errors: list[BaseException] = []
    ready = threading.Barrier(len(blobs))

    def work(blob: bytes) -> None:
        try:
            ready.wait()
            for _ in range(100):
                frame, size = compress.pack(blob, None)
                assert compress.plain(frame, size) == blob
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(blob,)) for blob in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
