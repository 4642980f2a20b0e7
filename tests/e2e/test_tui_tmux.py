"""End to end: the real ``tether`` in a real terminal (tmux, 120x36).

Starts the TUI on an empty temporary home, opens the new-session modal, starts a
command that prints a line every 0.2 s, sees its output in the preview, stops it
from the keyboard, quits, and checks the database afterwards.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
import sys
import uuid
from pathlib import Path

import pytest

from home.paths import resolve_paths
from storage import open_store
from tests.support.tmux import Tmux

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

LOOP = "sh -c 'i=0; while [ $i -lt 600 ]; do echo tick-$i; i=$((i+1)); sleep 0.2; done'"


def _tether_command() -> str:
    script = Path(sys.executable).parent / "tether"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -c 'import sys; from cli import main; sys.exit(main())'"


def test_start_watch_stop_and_quit_in_a_real_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    tmux = Tmux(f"tether-e2e-{uuid.uuid4().hex[:8]}")
    env = f"TETHER_HOME={shlex.quote(str(home))} TERM=xterm-256color"
    shell = (
        f"cd {shlex.quote(str(work))} && env {env} {_tether_command()}; echo EXITED-$?; sleep 60"
    )
    tmux.run("new-session", "-d", "-s", tmux.name, "-x", "120", "-y", "36", shell)
    tmux.run("resize-window", "-t", tmux.name, "-x", "120", "-y", "36")
    try:
        tmux.wait_for("No sessions yet")
        tmux.keys("n")
        tmux.wait_for("New session")
        # One field only: keys typed ahead of a focus change would land in the old
        # field (tmux types far faster than a person), and enter submits from here.
        tmux.type(LOOP)
        tmux.keys("Enter")
        shown = tmux.wait_for("tick-3")
        assert "#1" in shown  # the new session is in the list, its output in the preview
        tmux.keys("s")
        tmux.wait_for("Stop #1?")
        tmux.keys("y")
        tmux.wait_for("stopped")
        tmux.keys("q")
        tmux.wait_for("EXITED-0")
    finally:
        tmux.kill()

    async def check() -> None:
        paths = resolve_paths(env={"TETHER_HOME": str(home)})
        async with open_store(paths.db) as store:
            s = await store.sessions.get(1)
            assert s is not None
            # run through the user's shell, shown as typed
            assert (s.status, s.cwd, s.command) == ("stopped", str(work), LOOP)
            assert s.argv[1:] == ("-c", LOOP)
            out = await store.output.read_bytes(1, "stdout")
            assert b"tick-0\ntick-1\ntick-2\ntick-3\n" in out

    asyncio.run(check())


def test_keys_sent_at_once_each_move_the_cursor_in_a_real_terminal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Five Downs in one tmux send-keys (one write to the terminal: what a held key
    on a busy machine delivers) move the cursor five rows; then five Ups move it back."""
    home = tmp_path / "home"
    paths = resolve_paths(env={"TETHER_HOME": str(home)})
    paths.ensure()

    async def seed() -> None:
        async with open_store(paths.db) as store:
            for i in range(12):
                s = await store.sessions.create(["echo", f"job-{i}"], str(tmp_path), name=f"j{i}")
                await store.runs.start(s.id)
                await store.runs.finish(s.id, exit_code=0)

    asyncio.run(seed())
    tmux = Tmux(f"tether-e2e-{uuid.uuid4().hex[:8]}")
    env = f"TETHER_HOME={shlex.quote(str(home))} TERM=xterm-256color"
    shell = f"env {env} {_tether_command()}; echo EXITED-$?; sleep 60"
    tmux.run("new-session", "-d", "-s", tmux.name, "-x", "120", "-y", "36", shell)
    tmux.run("resize-window", "-t", tmux.name, "-x", "120", "-y", "36")
    try:
        tmux.wait_for("1/12 ")
        tmux.keys("Down", "Down", "Down", "Down", "Down")
        tmux.wait_for("6/12 ")
        tmux.keys("Up", "Up", "Up", "Up", "Down", "Down", "Down", "Down", "Down", "Down")
        tmux.wait_for("8/12 ")
        tmux.keys("q")
        tmux.wait_for("EXITED-0")
    finally:
        tmux.kill()
