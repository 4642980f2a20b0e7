"""``--db`` picks the database wherever it is written on the command line."""

from __future__ import annotations

import asyncio
import json

import pytest

from storage import open_store


@pytest.mark.parametrize("where", ["before", "after"])
def test_db_option_before_or_after_the_command(tether, tmp_path, where) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other.db"

    async def seed() -> None:
        async with open_store(other) as store:
            await store.sessions.create(["echo", "only-in-other"], cwd="/")

    asyncio.run(seed())
    args = (
        ["--db", str(other), "ls", "--json"]
        if where == "before"
        else ["ls", "--db", str(other), "--json"]
    )
    out = tether(*args)
    assert out.returncode == 0, out.stderr
    assert [s["argv"] for s in json.loads(out.stdout)] == [["echo", "only-in-other"]]
    # ...and the default database was not used (nor created).
    default = tether("ls", "--json")
    assert json.loads(default.stdout) == []


def test_db_option_pointing_at_a_non_database_fails_clearly(tether) -> None:  # type: ignore[no-untyped-def]
    out = tether("--db", "/etc/passwd", "ls")
    assert out.returncode == 1
    assert "/etc/passwd is not a usable tether database" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_database_in_a_shared_directory_leaves_that_directory_alone(tether, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``--db /tmp/x.db`` must not make /tmp private: tether only sets the mode of
    directories it creates."""
    import os
    import stat

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    out = tether("--db", str(shared / "x.db"), "ls")
    assert out.returncode == 0, out.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE((shared / "x.db").stat().st_mode) == 0o600
    # A missing directory on the way is created private.
    out = tether("--db", str(shared / "new" / "deeper" / "y.db"), "ls")
    assert out.returncode == 0, out.stderr
    for d in (shared / "new", shared / "new" / "deeper"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
