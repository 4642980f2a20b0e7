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
