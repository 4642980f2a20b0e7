"""Helpers for the storage tests: raw looks inside the database, subprocesses.

The helpers that look inside the database (``rows``, ``fts_postings``) open their own
read-only ``sqlite3`` connection, so they see what another program would see.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from storage.engine import compress
from storage.engine.word_pairs import entry_text
from storage.text import index_text

ROOT = Path(__file__).resolve().parents[2]
FTS_TOKENIZER = "unicode61 remove_diacritics 2"


def mode_of(path: str | os.PathLike[str]) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def file_bytes(path: str | os.PathLike[str]) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# The plain size of every chunk (``plain``: see ``rows``).
PLAIN_SIZES = "SELECT length(plain(data, plain_size)) FROM output_chunks"


def rows(path: str | os.PathLike[str], sql: str, params: Iterable[Any] = ()) -> list[tuple]:
    """Run a query on a separate read-only connection. SQL may use ``plain(data,
    plain_size)``: a chunk's bytes as written, compressed or not."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    compress.know(path)
    con.create_function("plain", 2, compress.plain, deterministic=True)
    try:
        return [tuple(r) for r in con.execute(sql, tuple(params))]
    finally:
        con.close()


def fts_postings(path: str | os.PathLike[str], table: str = "output_words") -> list[tuple]:
    """Every (rowid, column, term, offset) the FTS index holds, sorted. Works for the
    contentless ``output_words`` too, so stale entries (a delete that repeated the wrong
    text) show up here even though the index cannot give its text back. (Column and
    offset are None for a ``detail=none`` index like ``output_words``.)"""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        con.execute(f"CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, {table}, instance)")
        return sorted(tuple(r) for r in con.execute("SELECT doc, col, term, offset FROM temp.v"))
    finally:
        con.close()


def expected_postings(texts: dict[int, str], detail: str = "none") -> list[tuple]:
    """What ``fts_postings`` must return for an index holding ``texts`` (rowid -> text)."""
    con = sqlite3.connect(":memory:")
    try:
        con.execute(
            f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize = '{FTS_TOKENIZER}', "
            f"detail = {detail})"
        )
        con.executemany("INSERT INTO t (rowid, text) VALUES (?, ?)", texts.items())
        con.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, t, instance)")
        return sorted(tuple(r) for r in con.execute("SELECT doc, col, term, offset FROM temp.v"))
    finally:
        con.close()


def assert_output_index_exact(path: str | os.PathLike[str]) -> None:
    """The output index holds exactly the text of every indexed chunk (``entry_text``,
    or ``index_text`` for one still ``unpaired``), nothing else: no entry for a deleted
    chunk, no stale text of a chunk that grew or shrank."""
    chunks = rows(path, "SELECT id, plain(data, plain_size) FROM output_chunks WHERE indexed = 2")
    unpaired = {r[0] for r in rows(path, "SELECT id FROM unpaired")}
    texts = {i: index_text(d) if i in unpaired else entry_text(d) for i, d in chunks}
    assert fts_postings(path) == expected_postings(texts)
    docs = {r[0] for r in rows(path, "SELECT id FROM output_words_docsize")}
    assert docs == {i for i, _ in chunks}
    assert unpaired <= docs  # (a chunk gone takes its place on the list with it)


def run_python(
    code: str, *args: str, user: int | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter of this venv, with the project importable.
    ``user`` drops to that uid first (permission tests, when the suite runs as root)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    exe = sys.executable
    cwd = ROOT
    if user is not None:
        exe = _python_for_other_users()
        cwd = _code_for_other_users()
        env["PYTHONPATH"] = str(cwd)

    def demote() -> None:
        if user is not None:
            os.setgroups([])
            os.setgid(user)
            os.setuid(user)

    return subprocess.run(
        [exe, "-c", textwrap.dedent(code), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=demote if user is not None else None,
        cwd=cwd,
    )


def _python_for_other_users() -> str:
    """This venv's interpreter may live under a private home (``/root/.pyenv``); a
    process that dropped to ``nobody`` needs one it can execute, of the same version."""
    real = os.path.realpath(sys.executable)
    if _world_executable(real):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if os.path.exists(candidate) and _world_executable(candidate):
            return candidate
    import pytest

    pytest.skip(f"running as root, and no {version} that another user can run")


_SHARED_CODE: list[Path] = []


def _code_for_other_users() -> Path:
    """A copy of ``storage`` and ``aiosqlite`` that another user can read: the clone
    (and its venv) may sit in a private directory, such as one made by ``mktemp -d``.
    Made once per test run, removed at exit."""
    if not _SHARED_CODE:
        import atexit
        import shutil
        import tempfile

        import aiosqlite

        shared = Path(tempfile.mkdtemp(prefix="tether-code-"))
        atexit.register(shutil.rmtree, shared, ignore_errors=True)
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / "storage", shared / "storage", ignore=ignore)
        shutil.copytree(Path(aiosqlite.__file__).parent, shared / "aiosqlite", ignore=ignore)
        for path in [shared, *shared.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        _SHARED_CODE.append(shared)
    return _SHARED_CODE[0]


def _world_executable(path: str) -> bool:
    parts = Path(path).parents
    return all(os.stat(p).st_mode & 0o001 for p in parts) and bool(os.stat(path).st_mode & 0o001)


def json_lines(out: str) -> list[Any]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def spawn_python(code: str, *args: str) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter of this venv without waiting for it."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


_CREATOR = r"""
import asyncio, json, sys, os, time
from storage import open_store
path, n, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
async def main():
    while not os.path.exists(go):
        time.sleep(0.002)
    async with open_store(path) as st:
        made = [await st.sessions.create(["c"], cwd="/") for _ in range(n)]
    print(json.dumps([[s.id, s.uid, s.created_at] for s in made]))
asyncio.run(main())
"""


def create_concurrently(db_path, tmp_path, counts: list[int]) -> list[list[list]]:
    """Create ``counts[i]`` sessions from process i, all at once; returns what each
    process was given back."""
    go = tmp_path / f"go-{time.monotonic_ns()}"
    procs = [spawn_python(_CREATOR, str(db_path), str(n), str(go)) for n in counts]
    time.sleep(0.2)
    go.touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    return results


def check_unique_ids(db_path, results: list[list[list]]) -> None:
    made = [tuple(s) for proc in results for s in proc]
    ids = [s[0] for s in made]
    uids = [s[1] for s in made]
    assert len(set(ids)) == len(ids)
    assert len(set(uids)) == len(uids)
    for proc in results:  # within a process, ids and uids grow with time
        assert [s[0] for s in proc] == sorted(s[0] for s in proc)
        assert [s[1] for s in proc] == sorted(s[1] for s in proc)
    stored = set(rows(db_path, "SELECT id, uid, created_at FROM sessions"))
    assert set(made) <= stored


def damage(path: str | os.PathLike[str], table: str = "output_chunks") -> None:
    """Overwrite the root page of ``table`` with garbage: the file still opens (its
    header and schema are whole) but ``quick_check`` fails. Checkpoint first."""
    ((root,),) = rows(path, "SELECT rootpage FROM sqlite_master WHERE name=?", [table])
    ((page_size,),) = rows(path, "PRAGMA page_size")
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\x0d" + b"\xff" * 60)
