"""A database tether cannot use: damaged, from a newer tether, or read-only.

For each kind of file, ``tether ls``, ``tether run`` and the TUI (a real ``tether`` on
a terminal) must each say what is wrong in one line starting with ``tether:``, exit
non-zero (``ls`` may list a read-only database: reading it is fine), never run the
command, and leave the database byte-identical.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import sqlite3
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage import SCHEMA_VERSION, open_store
from tests.support.reliability import after_screen, one_line_error, run_in_pty
from tests.support.tether_cli import TETHER, Tether

CASES = (
    "truncated",
    "random-pages",
    "png",
    "text",
    "empty",
    "newer-schema",
    "read-only-file",
    "read-only-dir",
)
READ_ONLY = ("read-only-file", "read-only-dir")


async def _seed(db: Path) -> None:
    async with open_store(db) as store:
        for i in range(3):
            s = await store.sessions.create(["make", f"step{i}"], "/src", name=f"build-{i}")
            await store.runs.start(s.id)
            lines = b"".join(b"compiling unit %d of step %d\n" % (n, i) for n in range(3000))
            await store.output.append(s.id, "stdout", lines)
            await store.runs.finish(s.id, exit_code=0)


@pytest.fixture(scope="module")
def good_db(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    db = tmp_path_factory.mktemp("good") / "tether.db"
    asyncio.run(_seed(db))
    return db.read_bytes()


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


def _damaged(case: str, good: bytes, db: Path) -> None:
    if case == "truncated":
        db.write_bytes(good[: len(good) // 2])
    elif case == "random-pages":
        page = int.from_bytes(good[16:18], "big")
        rng = random.Random(8)
        db.write_bytes(good[:page] + rng.randbytes(len(good) - page))
    elif case == "png":
        db.write_bytes(_png())
    elif case == "text":
        db.write_bytes(b"notes about the build\nnothing to see here\n")
    elif case == "empty":
        db.write_bytes(b"")
    else:
        db.write_bytes(good)
        if case == "newer-schema":
            con = sqlite3.connect(db)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            con.commit()
            con.close()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` (a file or a directory) read-only even for root: a read-only bind
    mount when we are root, else plain permissions."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    mounted = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount {path} read-only: {mounted.stderr.decode().strip()}")
    try:
        ro = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(path)], capture_output=True, text=True
        )
        if ro.returncode != 0:
            pytest.skip(f"cannot remount {path} read-only: {ro.stderr.strip()}")
        yield
    finally:
        subprocess.run(["umount", str(path)], capture_output=True)


@pytest.fixture
def broken(request: pytest.FixtureRequest, tmp_path: Path, good_db: bytes, figures):
    """(case, Tether on a home whose database is broken that way, the database path)."""
    case = request.param
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    db = home / "tether.db"
    t = Tether(home)
    if case == "read-only-dir":
        ro_dir = tmp_path / "ro"
        ro_dir.mkdir()
        db = ro_dir / "tether.db"
        t.env["TETHER_DB"] = str(db)
    _damaged(case, good_db, db)
    guard = read_only(db if case == "read-only-file" else db.parent)
    with guard if case in READ_ONLY else contextlib.nullcontext():
        yield case, t, db
    figures.add("damaged database", trials=1, faults=1)
    t.stop_leftovers()


def _siblings(db: Path) -> set[str]:
    """The database's own files (-wal, -shm, -journal, new databases beside it)."""
    return {p.name for p in db.parent.iterdir() if p.name.startswith(db.name)}


@pytest.mark.parametrize("broken", CASES, indirect=True)
def test_ls_and_run_refuse_clearly_and_change_nothing(broken, tmp_path):
    case, tether, db = broken
    before, files = db.read_bytes(), _siblings(db)
    listed = tether("ls")
    if case in READ_ONLY and listed.returncode == 0:
        assert "build-2" in listed.stdout and not listed.stderr
    else:
        assert listed.returncode == 1, (listed.returncode, listed.stdout, listed.stderr)
        one_line_error(listed.stderr, f"ls on {case}")
        assert str(db) in listed.stderr
    marker = tmp_path / "the-command-ran"
    ran = tether("run", "--", "sh", "-c", f"touch {marker}")
    assert ran.returncode == 1, (ran.returncode, ran.stdout, ran.stderr)
    line = one_line_error(ran.stderr, f"run on {case}")
    assert str(db) in line
    assert not marker.exists(), "the command ran although its session could not be recorded"
    assert db.read_bytes() == before
    if case != "read-only-file":  # SQLite may leave -wal/-shm beside a read-only file
        assert _siblings(db) == files


TUI_CASES = list(CASES)


@pytest.mark.parametrize("broken", TUI_CASES, indirect=True)
def test_the_tui_refuses_clearly_and_changes_nothing(broken):
    case, tether, db = broken
    before = db.read_bytes()
    env = {**tether.env, "TERM": "xterm-256color"}
    # (A session name on screen means the TUI opened the database: no need to wait.)
    code, out = run_in_pty(list(TETHER), env, timeout=60, until=b"build-2")
    assert code is not None, f"the TUI opened a {case} database: {after_screen(out)[-300:]!r}"
    text = after_screen(out)
    assert code == 1, (code, text)
    line = one_line_error(text, f"TUI on {case}")
    assert str(db) in line
    assert db.read_bytes() == before


def test_damage_is_seen_with_a_healthy_control(tmp_path, good_db):
    """The same commands and the TUI work on the undamaged file (so the refusals above
    are about the damage, not about the test's setup)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "tether.db").write_bytes(good_db)
    t = Tether(home)
    try:
        assert "build-2" in t.ok("ls")
        assert t.ok("run", "--", "true").strip().isdigit()
        env = {**t.env, "TERM": "xterm-256color"}
        code, out = run_in_pty(list(TETHER), env, timeout=60, until=b"build-2")
        assert code is None and b"build-2" in out, "the TUI opens the healthy database"
    finally:
        t.stop_leftovers()
    shutil.rmtree(home, ignore_errors=True)
