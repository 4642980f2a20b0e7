"""Bad input and faults: hostile bytes, a 50 MB line, damaged files, read-only places,
a full disk, a writer killed mid-flight."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from storage import StoreCorrupt, StoreFull, open_store
from storage.engine.chunks import CHUNK_BYTES
from tests.support.database import (
    PLAIN_SIZES,
    ROOT,
    assert_output_index_exact,
    file_bytes,
    rows,
    run_python,
)

# -- hostile bytes -----------------------------------------------------------------------

HOSTILE = {
    "invalid utf-8": [b"ok \xff\xfe\xc3\x28 \xed\xa0\x80 end\n"],
    "nul bytes": [b"a\x00b\x00\x00c\n", b"\x00\n"],
    "cr only": [b"10%\r20%\r30%\r", b"100%\rdone\n"],
    "crlf": [b"windows\r\nline\r\n"],
    "ansi and osc": [
        b"\x1b[1;31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07 \x1b]0;title\x1b\\ \x1b[2J\x1b[H\n"
    ],
    "split multibyte": ["ü漢🎉".encode()[:3], "ü漢🎉".encode()[3:8], "ü漢🎉".encode()[8:] + b"\n"],
    "lone escapes": [b"\x1b", b"[31mnot joined\n", b"\x9b\x9d\x1b]unterminated"],
    "only newlines": [b"\n\n\n"],
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_bytes_are_stored_losslessly(store, db_path, name):
    s = await store.sessions.create(["x"], cwd="/")
    pieces = HOSTILE[name]
    for piece in pieces:
        await store.output.append(s.id, "stdout", piece)
    expected = b"".join(pieces)
    assert await store.output.read_bytes(s.id) == expected
    lines = await store.output.read_lines(s.id, 0, 1000)
    rebuilt = b"".join(ln.raw + (b"\n" if ln.terminated else b"") for ln in lines)
    assert rebuilt == expected
    assert [ln.raw for ln in lines] == expected.split(b"\n")[: len(lines)]
    for ln in lines:
        assert "\x1b" not in ln.plain and "\x00" not in ln.plain and "\r" not in ln.plain
    assert (await store.sessions.get(s.id)).output_bytes == len(expected)
    assert_output_index_exact(db_path)


async def test_hostile_bytes_survive_reopening(db_path):
    blob = bytes(range(256)) * 3
    async with open_store(db_path) as store:
        s = await store.sessions.create(["x"], cwd="/")
        await store.output.append(s.id, "stderr", blob)
    async with open_store(db_path) as store:
        assert await store.output.read_bytes(s.id) == blob


async def test_words_around_escapes_are_searchable(store):
    s = await store.sessions.create(["x"], cwd="/")
    await store.output.append(s.id, "stdout", b"\x1b[31mFAIL\x1b[0m:\x00 test_login \xff\n")
    [hit] = await store.search("fail test_login")
    assert hit.text == "FAIL: test_login \ufffd"


# -- one 50 MB line ----------------------------------------------------------------------

FIFTY_MB = 50 * 1024 * 1024


def _big_line() -> bytes:
    # Text-like (words, a few multibyte characters) but no newline anywhere.
    unit = ("progress ünïcode " * 60).encode()[:1000]
    return (unit * (FIFTY_MB // len(unit) + 1))[:FIFTY_MB]


async def test_a_50_mb_line_in_one_append_is_chunked_and_memory_stays_bounded(store, db_path):
    """Memory check: tracemalloc counts every Python allocation made while ``append``
    runs (on both threads), not SQLite's own page cache. The 50 MB input exists before
    the measurement starts, so the peak is what the append adds: buffering the line
    (or copying it whole) would show up as >= 50 MB. The bound, 16 chunk sizes (1 MiB,
    2% of the input), leaves room for one batch of rows and their index text."""
    line = _big_line()
    s = await store.sessions.create(["x"], cwd="/")
    tracemalloc.start()
    try:
        res = await store.output.append(s.id, "stdout", line)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * CHUNK_BYTES, f"append added {peak / 2**20:.1f} MiB for a 50 MiB line"
    sizes = [n for (n,) in rows(db_path, PLAIN_SIZES)]
    assert max(sizes) <= CHUNK_BYTES
    assert sum(sizes) == FIFTY_MB
    assert res.chunks == len(sizes) >= FIFTY_MB // CHUNK_BYTES
    assert await store.output.read_bytes(s.id) == line
    assert await store.output.line_count(s.id) == len(sizes)  # one piece per chunk
    tail = await store.output.tail(s.id, 1)
    assert tail[0].terminated is False
    assert rows(db_path, "SELECT count(*) FROM output_words_docsize") == [(len(sizes),)]


async def test_a_50_mb_line_streamed_like_a_supervisor_does(store, db_path):
    """The runner hands over 64 KiB at a time: memory must not grow with the line."""
    line = _big_line()
    s = await store.sessions.create(["x"], cwd="/")
    step = CHUNK_BYTES - 7  # not aligned with chunks, so every append continues one
    tracemalloc.start()
    try:
        for i in range(0, len(line), step):
            await store.output.append(s.id, "stdout", line[i : i + step], index=False)
        await store.output.append(s.id, "stdout", b"\n", index=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * CHUNK_BYTES, f"streaming added {peak / 2**20:.1f} MiB"
    sizes = [n for (n,) in rows(db_path, PLAIN_SIZES)]
    assert max(sizes) <= CHUNK_BYTES
    assert await store.output.read_bytes(s.id) == line + b"\n"


# -- files that are not (whole) tether databases ------------------------------------------


async def _real_db(path: Path) -> None:
    async with open_store(path) as store:
        for i in range(30):
            s = await store.sessions.create(["x", str(i)], cwd="/")
            await store.output.append(s.id, "stdout", os.urandom(3000).hex().encode() + b"\n")
    assert not Path(f"{path}-wal").exists()


def _damage(name: str, path: Path) -> None:
    data = bytearray(path.read_bytes())
    if name == "truncated to half":
        data = data[: len(data) // 2]
    elif name == "truncated inside the header":
        data = data[:60]
    elif name == "header damaged":
        data[16:18] = (3).to_bytes(2, "big")  # page size 3
    elif name == "schema page garbage":
        for i in range(100, 4096):
            data[i] = (i * 31 + 7) & 0xFF
    elif name == "middle pages garbage":
        for i in range(4096 * 3, 4096 * 40):
            data[i] = (data[i] * 7 + 13) & 0xFF
    path.write_bytes(bytes(data))


NOT_DATABASES = {
    "text file": b"these are my notes, not a database\n" * 100,
    "png image": b"\x89PNG\r\n\x1a\n" + os.urandom(3000),
    "random bytes": os.urandom(8192),
    "zeroes": bytes(8192),
    "empty file": b"",
}


def _assert_refused(err: StoreCorrupt, path: Path) -> None:
    assert err.path == str(path)
    assert str(path) in str(err)
    assert "not changed" in str(err) and ("backup" in str(err) or "move the file" in str(err))


@pytest.mark.parametrize("name", sorted(NOT_DATABASES))
async def test_a_file_that_is_not_a_database_is_refused_unchanged(tmp_path, name):
    path = tmp_path / "tether.db"
    path.write_bytes(NOT_DATABASES[name])
    os.chmod(path, 0o644)
    with pytest.raises(StoreCorrupt) as info:
        await open_store(path)
    _assert_refused(info.value, path)
    assert path.read_bytes() == NOT_DATABASES[name]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tether.db"]
    assert os.stat(path).st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    "name",
    ["truncated to half", "truncated inside the header", "header damaged", "schema page garbage"],
)
async def test_a_damaged_database_is_refused_unchanged(tmp_path, name):
    path = tmp_path / "tether.db"
    await _real_db(path)
    _damage(name, path)
    before = path.read_bytes()
    with pytest.raises(StoreCorrupt) as info:
        await open_store(path)
    _assert_refused(info.value, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tether.db"]


async def test_damage_deep_inside_is_refused_or_reported(tmp_path):
    """Damage the header and schema do not show may only be found by reading it; then
    the error is typed, and ``integrity_check`` names the problem."""
    path = tmp_path / "tether.db"
    await _real_db(path)
    _damage("middle pages garbage", path)
    before = path.read_bytes()
    try:
        store = await open_store(path)
    except StoreCorrupt as e:
        _assert_refused(e, path)
        assert path.read_bytes() == before
        return
    try:
        report = await store.integrity_check()
        assert not report.ok and report.problems
        with pytest.raises(StoreCorrupt):
            for sid in range(1, 31):
                await store.output.read_bytes(sid)
    finally:
        await store.close()


async def test_a_directory_is_refused(tmp_path):
    with pytest.raises(StoreCorrupt, match="directory"):
        await open_store(tmp_path)


# -- read-only places --------------------------------------------------------------------

_OPEN_AND_WRITE = """
import asyncio, sys
from storage import open_store, StoreReadOnly, StoreError
async def main():
    try:
        store = await open_store(sys.argv[1])
    except StoreError as e:
        print("open", type(e).__name__, e)
        return
    try:
        n = await store.sessions.count()
        print("read", n)
        await store.sessions.create(["x"], cwd="/")
        print("wrote")
    except StoreError as e:
        print("write", type(e).__name__, e)
    finally:
        await store.close()
asyncio.run(main())
"""


def _as_other_user() -> int | None:
    """Root ignores permissions; drop to ``nobody`` for these tests when we are root."""
    return 65534 if os.geteuid() == 0 else None


def test_a_new_database_in_a_read_only_directory(shared_tmp):
    ro = shared_tmp / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    out = run_python(_OPEN_AND_WRITE, str(ro / "tether.db"), user=_as_other_user())
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("open StoreReadOnly"), out.stdout
    assert str(ro / "tether.db") in out.stdout and "permission" in out.stdout.lower()
    assert list(ro.iterdir()) == []


def test_a_read_only_database_file(shared_tmp):
    path = shared_tmp / "tether.db"
    asyncio.run(_real_db(path))
    os.chmod(path, 0o444)
    os.chmod(shared_tmp, 0o777)  # the directory is writable: only the file is not
    before = path.read_bytes()
    out = run_python(_OPEN_AND_WRITE, str(path), user=_as_other_user())
    assert out.returncode == 0, out.stderr
    # Opening may be refused, or reading allowed and the first write refused; either way
    # the error is typed, names the file, and nothing changed.
    first = out.stdout.splitlines()[0]
    assert first.startswith(("open StoreReadOnly", "read 30")), out.stdout
    if first.startswith("read"):
        assert out.stdout.splitlines()[1].startswith("write StoreReadOnly"), out.stdout
    assert str(path) in out.stdout
    assert path.read_bytes() == before


def test_a_database_in_a_directory_we_cannot_write(shared_tmp):
    """The WAL needs its -shm and -wal files next to the database."""
    path = shared_tmp / "tether.db"
    asyncio.run(_real_db(path))
    os.chmod(path, 0o666)
    os.chmod(shared_tmp, 0o555)
    before = path.read_bytes()
    out = run_python(_OPEN_AND_WRITE, str(path), user=_as_other_user())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(" ")[1] in {"StoreReadOnly"}, out.stdout
    assert str(path) in out.stdout
    assert path.read_bytes() == before


# -- a full disk -------------------------------------------------------------------------


async def test_a_full_disk_is_a_typed_error_and_writes_nothing(store, db_path):
    s = await store.sessions.create(["x"], cwd="/")
    await store.output.append(s.id, "stdout", b"before\n")
    pages = await store.scalar("PRAGMA page_count")
    # A hard cap on the file's size is what a full disk looks like to SQLite.
    await store.db.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(StoreFull) as info:
        await store.output.append(s.id, "stdout", os.urandom(200_000).hex().encode() + b"\n")
    assert str(db_path) in str(info.value) and "nothing was written" in str(info.value)
    assert await store.output.read_bytes(s.id) == b"before\n"
    assert (await store.sessions.get(s.id)).output_lines == 1
    await store.db.execute("PRAGMA max_page_count = 1073741823")
    await store.output.append(s.id, "stdout", b"after\n")
    assert await store.output.read_bytes(s.id) == b"before\nafter\n"
    assert (await store.integrity_check()).ok


# -- a writer killed in the middle -------------------------------------------------------

_WRITER = """
import asyncio, sys
from storage import open_store
async def main():
    async with open_store(sys.argv[1]) as st:
        s = await st.sessions.create(["x"], cwd="/")
        print(s.id, flush=True)
        i = 0
        while True:
            await st.output.append(s.id, "stdout", b"record %08d " % i + b"x" * 3000 + b"\\n")
            i += 1
asyncio.run(main())
"""


def test_a_writer_killed_mid_append_leaves_whole_records(db_path):
    asyncio.run(_real_db(db_path))
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db_path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    sid = int(proc.stdout.readline())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = rows(db_path, "SELECT output_lines FROM sessions WHERE id = ?", [sid])
        if got and got[0][0] > 300:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    async def check() -> None:
        async with open_store(db_path) as store:
            assert (await store.integrity_check()).ok
            data = await store.output.read_bytes(sid)
            lines = data.split(b"\n")
            assert lines[-1] == b""  # every committed record is whole
            n = len(lines) - 1
            assert n > 300
            assert lines[:-1] == [b"record %08d " % i + b"x" * 3000 for i in range(n)]
            assert (await store.sessions.get(sid)).output_lines == n
            await store.output.append(sid, "stdout", b"resumed\n")
            assert (await store.output.tail(sid, 1))[0].raw == b"resumed"

    asyncio.run(check())
    assert_output_index_exact(db_path)
    assert file_bytes(db_path)[:16] == b"SQLite format 3\x00"
