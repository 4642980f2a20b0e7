"""A database another process keeps locked: a command waits for it within its busy
timeout, and past it says the database is busy (exit 1), never "unexpected error".
The lock is a real second connection holding a write transaction."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from cli.context import EXIT_ERROR, fail
from storage import StoreBusy


def _hold_write_lock(db) -> sqlite3.Connection:  # type: ignore[no-untyped-def]
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_command_waits_for_a_lock_released_within_its_busy_timeout(tether, tether_home):
    sid = tether.ok("run", "--", "true").strip()
    tether.wait_status(sid, ("succeeded",))
    holder = _hold_write_lock(tether_home / "tether.db")
    try:
        rm = tether.popen("rm", sid, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with pytest.raises(subprocess.TimeoutExpired):
            rm.wait(1.0)  # it waits on the lock (it cannot write while we hold it)
    finally:
        holder.execute("COMMIT")
        holder.close()
    out, err = rm.communicate(timeout=60)
    assert (rm.returncode, err) == (0, ""), err
    assert "moved 1 session to the trash" in out
    assert tether.json("show", sid)["deleted_at"]


async def test_a_lock_held_past_the_busy_timeout_is_reported_as_busy(store, paths, capsys):
    s = await store.sessions.create(argv=["true"], cwd="/")
    await store.tune(busy_timeout=0.2)
    holder = _hold_write_lock(paths.db)
    try:
        with pytest.raises(StoreBusy) as caught:
            await store.sessions.update(s.id, name="renamed")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert fail(caught.value) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"tether: the database {paths.db} is busy (database is locked)"), err
    assert "unexpected" not in err
    # SQLite's own error, had it escaped the store, is reported the same way
    assert fail(sqlite3.OperationalError("database is locked")) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "is busy (database is locked)" in err and "unexpected" not in err, err
    assert (await store.sessions.require(s.id)).name == ""  # nothing was changed
