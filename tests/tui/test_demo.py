"""``tether demo --no-tui``: real sessions of every kind in a separate home."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from cli.demo import stop_live
from home.paths import resolve_paths
from storage import open_store


def test_demo_builds_real_sessions_of_every_status(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "demo"
    code = "import sys; from cli import main; sys.exit(main())"
    out = subprocess.run(
        [sys.executable, "-c", code, "demo", "--no-tui", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(home)
    paths = resolve_paths(env={"TETHER_HOME": str(home)})

    async def check() -> None:
        try:
            async with open_store(paths.db) as store:
                sessions = {s.name: s for s in await store.sessions.list()}
                statuses = {s.status for s in sessions.values()}
                assert {"succeeded", "failed", "running", "paused", "stopped", "lost"} <= statuses
                assert sessions["unit tests"].exit_code == 1
                assert sessions["dev server"].pinned
                colours = sessions["colours"]
                assert colours.mode == "pty"
                assert b"\x1b[31m" in await store.output.read_bytes(colours.id)
                lost = await store.output.read_bytes(sessions["agent: refactor auth"].id, "system")
                assert b"lost" in lost
                assert sessions["agent: refactor auth"].context["model"] == "opus"
        finally:
            await stop_live(paths)
        async with open_store(paths.db) as store:
            assert not await store.sessions.list(status=("running", "paused"))

    asyncio.run(check())


def test_demo_refuses_a_home_that_has_a_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "used"
    paths = resolve_paths(env={"TETHER_HOME": str(home)})
    paths.ensure()
    paths.db.write_bytes(b"")
    code = "import sys; from cli import main; sys.exit(main())"
    out = subprocess.run(
        [sys.executable, "-c", code, "demo", "--no-tui", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert "already exists" in out.stderr
