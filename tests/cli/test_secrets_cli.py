"""Secrets a session carries are not shown unless asked (issue 13): ``-e`` values whose
names look secret are masked by ``show`` (text and ``--json``), ``ls --json``, exports
and the TUI's detail screen, while the stored value (what resume needs) is kept; with
``[redaction] on_capture`` the command line itself is stored redacted everywhere, and
such a session is not resumed with a command it never ran. A pinned session is not
purged without ``--force``. Real ``tether`` processes, real sessions."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from storage import open_store
from tests.support.tui_app import make_app, paths_for, pin_environment
from tui.screens.detail import DetailScreen

TOKEN = "tok-4f9c2e71b0a8d3"
PASSWORD = "hunter2hunter2"


def _run_to_end(tether, *args: str) -> str:  # type: ignore[no-untyped-def]
    sid = tether.ok("run", *args).strip()
    tether.wait_status(sid, ("succeeded", "failed"))
    return sid


# -- env overrides -----------------------------------------------------------------------
def test_secret_env_values_are_masked_wherever_shown_and_kept_for_resume(tether, tether_home):
    sid = _run_to_end(
        tether,
        "-e",
        f"API_TOKEN={TOKEN}",
        "-e",
        "MODE=fast",
        "-e",
        "DATABASE_URL=postgres://app:pw-9d8c7b6a@db/app",
        "--",
        "sh",
        "-c",
        'printf "len=%s mode=%s\\n" "${#API_TOKEN}" "$MODE"',
    )
    shown = tether.ok("show", sid)
    assert TOKEN not in shown and "pw-9d8c7b6a" not in shown
    assert "API_TOKEN=[REDACTED:env]" in shown and "MODE=fast" in shown
    assert "--reveal" in shown
    as_json = tether.json("show", sid)
    assert as_json["env"]["API_TOKEN"] == "[REDACTED:env]"
    assert as_json["env"]["DATABASE_URL"] == "[REDACTED:env]"
    assert as_json["env"]["MODE"] == "fast"
    listed = tether.json("ls")
    assert TOKEN not in json.dumps(listed)
    # Asked for: in clear.
    assert f"API_TOKEN={TOKEN}" in tether.ok("show", sid, "--reveal")
    assert tether.json("show", sid, "--reveal")["env"]["API_TOKEN"] == TOKEN
    assert "--reveal" in tether.ok("show", "--help")
    # An export (redacted by default) masks it too; --no-redact is asking for it.
    exported = tether.ok("export", sid)
    where = exported.find(TOKEN)
    assert where < 0, exported[max(0, where - 300) : where + 50]
    session = json.loads(exported)["sessions"][0]["session"]
    assert all("[REDACTED:" in session["env"][k] for k in ("API_TOKEN", "DATABASE_URL"))
    assert "pw-9d8c7b6a" not in exported
    assert session["env"]["MODE"] == "fast"
    assert TOKEN in tether.ok("export", sid, "--no-redact")
    # The stored value is what a resumed run gets.
    tether.ok("resume", sid)
    tether.wait_status(sid, ("succeeded", "failed"))
    logs = tether.ok("logs", sid)
    assert logs.count(f"len={len(TOKEN)} mode=fast") == 2, logs


async def test_the_detail_screen_masks_secret_env_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pin_environment()
    paths = paths_for(tmp_path)
    paths.ensure()
    async with open_store(paths.db) as store:
        await store.sessions.create(
            ["deploy"], "/src", name="deploy", env={"GITHUB_TOKEN": TOKEN, "REGION": "eu-west-1"}
        )
    app = make_app(paths)
    async with app.run_test(size=(120, 36)) as pilot:
        await app.wait_idle()
        await pilot.press("enter")
        await pilot.pause()
        await app.wait_idle()
        assert isinstance(app.screen, DetailScreen)
        console = Console(width=120, record=True, color_system=None)
        console.print(app.screen.query_one("#facts", Static).content)
        text = console.export_text()
    assert "GITHUB_TOKEN=[REDACTED:env]" in text and "REGION=eu-west-1" in text, text
    assert TOKEN not in text


# -- the command line with redaction on capture -------------------------------------------
@pytest.fixture
def tether_config() -> str:
    return "[general]\nstop_grace = 1.0\n"


def _everything_stored(home: Path) -> bytes:
    """Every byte of the database (and its WAL) after a checkpoint."""
    con = sqlite3.connect(home / "tether.db")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return b"".join(p.read_bytes() for p in home.glob("tether.db*"))


def test_on_capture_the_command_line_is_stored_redacted(tether, tether_home):
    (tether_home / "config.toml").write_text(
        "[general]\nstop_grace = 1.0\n[redaction]\non_capture = true\n"
    )
    # The command prints the length of its own argument: the real one ran (27), not
    # the redacted one.
    sid = _run_to_end(
        tether, "--", "sh", "-c", 'printf "arg-length=%s\\n" "${#0}"', f"--password={PASSWORD}"
    )
    assert "arg-length=25" in tether.ok("logs", sid)
    for shown in (
        tether.ok("ls"),
        tether.ok("show", sid),
        json.dumps(tether.json("show", sid)),
        tether.ok("export", sid, "--no-redact"),
    ):
        assert PASSWORD not in shown
    assert "--password=[REDACTED:assignment]" in tether.json("show", sid)["argv"]
    assert PASSWORD.encode() not in _everything_stored(tether_home)
    assert tether("search", PASSWORD).stdout.count(PASSWORD) == 0
    # Resuming would run a different command: refused, saying how to start it again.
    refused = tether("resume", sid)
    assert refused.returncode == 1
    assert "redacted" in refused.stderr and "tether run" in refused.stderr
    # A command without secrets is stored as it is, and resumes.
    plain = _run_to_end(tether, "--", "echo", "nothing secret")
    assert tether.json("show", plain)["argv"] == ["echo", "nothing secret"]
    tether.ok("resume", plain)


# -- pinned sessions ---------------------------------------------------------------------
def test_purging_a_pinned_session_needs_force(tether, tether_home):
    async def make() -> tuple[int, int]:
        async with open_store(tether_home / "tether.db") as store:
            pinned = await store.sessions.create(["make"], "/src", name="keep me")
            await store.sessions.update(pinned.id, pinned=True)
            other = await store.sessions.create(["make"], "/src", name="scratch")
            return pinned.id, other.id

    pinned, other = asyncio.run(make())
    done = tether("rm", "--purge", str(pinned), str(other))
    assert done.returncode == 1
    assert f"#{pinned} is pinned" in done.stderr and "--force" in done.stderr
    ids = {s["id"] for s in tether.json("ls", "--all")}
    assert ids == {pinned}  # the unpinned one went, the pinned one stayed
    # In the trash it is still pinned, still protected.
    tether.ok("rm", str(pinned))
    assert tether("rm", "--purge", str(pinned)).returncode == 1
    tether.ok("rm", "--purge", "--force", str(pinned))
    assert tether.json("ls", "--all") == []
