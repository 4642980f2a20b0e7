"""Driving a real terminal session from inside the TUI: the output screen's interactive
mode (``I``; the detach key leaves) and ``enter`` on a running terminal session in the
list (it attaches; other sessions open their details). Real supervisors, real ptys."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from textual.pilot import Pilot
from textual.widget import Widget

from runner import control
from storage import open_store
from tests.support.output_screen import open_output, output_app, paths_of
from tests.support.supervisors import eventually, system_lines, wait_output
from tui.app import TetherApp
from tui.screens.detail import DetailScreen
from tui.screens.output import OutputScreen
from tui.screens.sessions import SessionsScreen
from tui.widgets.key_footer import KeyFooter
from tui.widgets.screen_view import TerminalView

SIZE = (110, 32)
PROMPT = "in-bash$ "
BASH = ["env", f"PS1={PROMPT}", "bash", "--norc", "--noprofile", "-i"]


@contextlib.asynccontextmanager
async def sessions(db: Path, *specs: tuple[list[str], str]) -> AsyncIterator[list[int]]:
    """Running sessions (argv, mode), stopped at the end whatever happened."""
    paths = paths_of(db)
    paths.ensure()
    ids = []
    try:
        async with open_store(db) as store:
            for argv, mode in specs:
                s = await control.start_session(
                    store, paths, argv=argv, cwd=db.parent, mode=mode, name=mode
                )
                ids.append(s.id)
            for sid, (argv, _mode) in zip(ids, specs, strict=True):
                if argv is BASH:
                    await wait_output(store, sid, PROMPT.encode())
        yield ids
    finally:
        async with open_store(db) as store:
            for sid in ids:
                with contextlib.suppress(Exception):
                    await control.stop(store, paths, sid, grace=1)


def footer_text(app: TetherApp) -> str:
    """The key hints the footer shows, as a person reads them."""
    footer = app.screen.query_one(KeyFooter)
    keys = [w for w in footer.children if hasattr(w, "key_display") and w.display]
    return "  ".join(_plain(w) for w in keys)


def _plain(widget: Widget) -> str:
    return str(widget.render().plain)  # type: ignore[attr-defined]


def header_text(app: TetherApp) -> str:
    return str(app.screen.query_one("#output-header").render())


async def until(pilot: Pilot, check, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    async def probe() -> bool:
        await pilot.pause(0.02)
        return bool(check())

    await eventually(probe, timeout=timeout, what=what)


def _child_runs(parent: int | None, argv: list[str]) -> bool:
    """Has ``parent`` a child running ``argv`` (exec done: in the terminal's foreground)?"""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")[:-1]
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and cmdline == [a.encode() for a in argv]:
            return True
    return False


def interactive(app: TetherApp) -> bool:
    screen = app.screen
    return isinstance(screen, OutputScreen) and screen.takes_all_keys


def on_screen(app: TetherApp, text: str) -> bool:
    return any(text in line for line in app.screen.query_one(TerminalView).lines_shown())


async def test_interactive_mode_types_into_a_running_terminal_session(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    async with sessions(db, (BASH, "pty")) as (sid,):
        app = output_app(db)
        async with app.run_test(size=SIZE) as pilot:
            await open_output(pilot, sid)
            await until(pilot, lambda: "I Interactive" in footer_text(app), "the I key shown")
            assert "leave interactive" not in footer_text(app)

            await pilot.press("I")
            await until(pilot, lambda: interactive(app), "interactive mode")
            assert "interactive — ctrl+\\ to leave" in header_text(app)
            # The footer is recomposed on a later refresh (under load, after the header).
            await until(
                pilot, lambda: "ctrl+\\ leave interactive" in footer_text(app), "the footer"
            )
            footer = footer_text(app)
            assert "Find" not in footer and "Quit" not in footer  # our keys go to bash now

            # q (the app's quit key) and every character reach the program; Enter runs it
            await pilot.press(*"echo q-$((6*7)) size $(stty size)", "enter")
            store = app.store
            await wait_output(store, sid, b"q-42 size")
            # The pty took the view's size: the program draws what the view shows.
            view = app.screen.query_one(TerminalView)
            cols, rows = view.outer_size
            await wait_output(store, sid, f"q-42 size {rows} {cols}".encode())
            await until(pilot, lambda: f"{cols}x{rows}" in header_text(app), "the header's size")
            await until(pilot, lambda: on_screen(app, f"q-42 size {rows} {cols}"), "drawn")

            # ctrl+c reaches the program: it interrupts the sleep, the shell takes keys again
            await pilot.press(*"sleep 300", "enter")
            await wait_output(store, sid, b"sleep 300\r\n")
            # Only once sleep runs: a ctrl+c while bash still forks it reaches bash, and
            # sleep then runs its 300 s with the next keys waiting (seen under load).
            shell = (await store.sessions.require(sid)).pid
            await until(pilot, lambda: _child_runs(shell, ["sleep", "300"]), "sleep to run")
            await pilot.press("ctrl+c")
            await pilot.press(*"echo after-$((1+1))", "enter")
            await wait_output(store, sid, b"after-2")
            assert interactive(app)

            await pilot.press("ctrl+backslash")
            await until(pilot, lambda: not interactive(app), "interactive mode left")
            assert "interactive" not in header_text(app)
            await until(pilot, lambda: "I Interactive" in footer_text(app), "the footer back")
            await pilot.press("i")  # our keys are ours again: i opens the input line
            assert app.screen.query_one("#input-line").has_focus

        lines = await eventually(
            lambda: _detached(db, sid), what="the detach recorded in the session"
        )
        assert any("attached: " in line and "(tether tui)" in line for line in lines)
        async with open_store(db) as store:  # what was typed is not stored by default
            assert await store.output.read_bytes(sid, stream="input") == b""


async def _detached(db: Path, sid: int) -> list[str] | None:
    async with open_store(db) as store:
        lines = await system_lines(store, sid)
    return lines if any("tether: detached: " in line for line in lines) else None


async def test_interactive_keys_arrows_tab_escape_and_paste(tmp_path: Path) -> None:
    """Keys with no character of their own and a paste arrive as a terminal sends
    them (a Python program prints the bytes it reads)."""
    dump = (
        "import os, sys, tty\n"
        "tty.setraw(0)\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    data = os.read(0, 1024)\n"
        "    sys.stdout.write('got ' + data.hex() + '\\r\\n'); sys.stdout.flush()\n"
    )
    db = tmp_path / "t.db"
    async with sessions(db, ([sys.executable, "-u", "-c", dump], "pty")) as (sid,):
        app = output_app(db)
        async with app.run_test(size=SIZE) as pilot:
            await wait_output(app.store, sid, b"ready")
            await open_output(pilot, sid)
            await pilot.press("I")
            await until(pilot, lambda: interactive(app), "interactive mode")
            for key, sent in [
                ("up", b"\x1b[A"),
                ("tab", b"\t"),
                ("escape", b"\x1b"),
                ("ctrl+p", b"\x10"),  # the app's palette key, too
                ("f5", b"\x1b[15~"),
                ("shift+tab", b"\x1b[Z"),
            ]:
                await pilot.press(key)
                await wait_output(app.store, sid, b"got " + sent.hex().encode())
            app.screen.post_message(_paste("pasted\n"))
            await wait_output(app.store, sid, b"got " + b"pasted\r".hex().encode())


def _paste(text: str):  # type: ignore[no-untyped-def]
    from textual import events

    return events.Paste(text)


async def test_interactive_needs_a_running_terminal_session(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    argv = [sys.executable, "-c", "import time; print('pipe', flush=True); time.sleep(300)"]
    async with sessions(db, (argv, "pipe")) as (sid,):
        app = output_app(db)
        async with app.run_test(size=SIZE) as pilot:
            await open_output(pilot, sid)
            assert "Interactive" not in footer_text(app)
            await pilot.press("I")
            await pilot.pause()
            assert not interactive(app)


async def test_enter_attaches_to_a_running_terminal_session(tmp_path: Path) -> None:
    """The footer names what enter does for the selected session; on a running pty
    session it attaches (a headless app cannot hand its terminal over: it says so and
    stays on the list, selection kept; tests/e2e covers the attach itself)."""
    db = tmp_path / "t.db"
    pipe = [sys.executable, "-c", "import time; time.sleep(300)"]
    async with sessions(db, (BASH, "pty"), (pipe, "pipe")) as (pty_id, pipe_id):
        app = output_app(db)
        async with app.run_test(size=SIZE) as pilot:
            await app.wait_loaded()
            state = app.state
            state.select(pty_id)
            await until(pilot, lambda: "⏎ Attach" in footer_text(app), "⏎ Attach")
            assert "⏎ Open" not in footer_text(app)
            await pilot.press("enter")
            await until(
                pilot,
                lambda: any(f"attach to #{pty_id}" in n.message for n in app._notifications),
                "the attach tried",
            )
            assert isinstance(app.screen, SessionsScreen) and state.selected == pty_id
            lines = await eventually(
                lambda: _detached(db, pty_id), what="the attach recorded in the session"
            )
            assert any("attached: " in line for line in lines)

            state.select(pipe_id)
            await until(pilot, lambda: "⏎ Open" in footer_text(app), "⏎ Open")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the details")


async def test_interactive_follows_the_view_size_and_ends_with_the_run(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    async with sessions(db, (BASH, "pty")) as (sid,):
        app = output_app(db)
        async with app.run_test(size=SIZE) as pilot:
            await open_output(pilot, sid)
            await pilot.press("I")
            await until(pilot, lambda: interactive(app), "interactive mode")
            await pilot.resize_terminal(90, 26)
            view = app.screen.query_one(TerminalView)
            await until(pilot, lambda: view.outer_size == (90, 24), "the view resized")
            await pilot.press(*"echo size $(stty size)", "enter")
            await wait_output(app.store, sid, b"size 24 90")
            await until(pilot, lambda: "90x24" in header_text(app), "the header's size")

            await pilot.press(*"exit", "enter")  # the run ends: interactive mode too
            await until(pilot, lambda: not interactive(app), "interactive mode over")
            assert any("ended" in n.message for n in app._notifications)
            await until(pilot, lambda: "Interactive" not in footer_text(app), "no I key")
