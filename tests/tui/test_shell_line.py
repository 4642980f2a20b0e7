"""The new-session box runs a line of shell (``$SHELL -c LINE``, else ``/bin/sh``) and
shows it as typed; ``tether run -c LINE`` does the same, ``tether run -- ARGV`` keeps
its exact argv; a start that fails says what failed, never "exit code None". Real
supervisors, real shells, real SQLite files."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from runner.shell import FALLBACK, shell_argv, user_shell
from storage import open_store
from tests.support.tether_cli import Tether
from tests.support.tui_app import HOME, make_app, paths_for, pin_environment
from tui.screens.modals import NewSession

SIZE = (120, 36)
LOOP = "for i in 1 2 3; do echo $i; done"
PIPE = "echo $HOME | tr a-z A-Z"


@pytest.fixture(autouse=True)
def _pinned() -> None:
    pin_environment()


@pytest.fixture
def paths(tmp_path):  # type: ignore[no-untyped-def]
    p = paths_for(tmp_path)
    p.ensure()
    return p


async def until(pilot, condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {condition.__doc__ or condition}")
        await pilot.pause(0.05)


def _toasts(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(t.render()) for t in app.screen.query("Toast")]


def test_the_users_shell_else_bin_sh() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    assert user_shell({"SHELL": bash}) == bash
    assert shell_argv("ls | wc", {"SHELL": bash}) == [bash, "-c", "ls | wc"]
    for unusable in ({}, {"SHELL": ""}, {"SHELL": "bash"}, {"SHELL": "/nonexistent/zsh"}):
        assert user_shell(unusable) == FALLBACK == "/bin/sh"


@pytest.mark.parametrize(
    ("line", "stdout"),
    [(LOOP, b"1\n2\n3\n"), (PIPE, HOME.upper().encode() + b"\n")],
)
async def test_the_new_session_box_runs_a_shell_line(paths, tmp_path, line, stdout) -> None:  # type: ignore[no-untyped-def]
    os.environ["SHELL"] = shutil.which("bash") or "/bin/sh"
    app = make_app(paths, background=True, cwd=str(tmp_path))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.wait_idle()
        await pilot.press("n", *line, "enter")
        await until(pilot, lambda: len(app.state.ids) == 1)
        sid = app.state.ids[0]

        def ended() -> bool:
            row = app.state.row(sid)
            return row is not None and row.ended

        await until(pilot, ended)
        row = app.state.row(sid)
        assert row.status == "succeeded", _toasts(app)
        assert row.command == line  # shown as typed
        assert row.argv == (os.environ["SHELL"], "-c", line)
        await pilot.pause()
        assert line[:20] in app.screen.query_one("SessionTable").render_line(1).text
    async with open_store(paths.db) as store:
        assert await store.output.read_bytes(sid, "stdout") == stdout


async def test_a_start_that_fails_says_what_failed(paths, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = make_app(paths, background=True, cwd=str(tmp_path))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await app.wait_idle()
        request = NewSession(
            argv=("no-such-program-here",), cwd=str(tmp_path), name="", tags=(), mode="pipe"
        )
        session = await app.actions.start_session(request)
        assert session is not None and session.status == "failed"
        await until(pilot, lambda: any("could not start" in t for t in _toasts(app)))
        toasts = _toasts(app)
        assert any("command not found: no-such-program-here" in t for t in toasts), toasts
        assert not any("None" in t for t in toasts), toasts
        assert not any(t.startswith("Started") for t in toasts), toasts


def test_cli_run_c_runs_a_shell_line_and_keeps_argv_otherwise(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tether = Tether(tmp_path / "home")
    tether.env["SHELL"] = shutil.which("bash") or "/bin/sh"
    sid = tether.ok("run", "-f", "-c", LOOP).splitlines()[0]
    assert tether.ok("logs", sid, "--stream", "stdout") == "1\n2\n3\n"
    shown = tether.json("show", sid)
    assert shown["argv"] == [tether.env["SHELL"], "-c", LOOP]
    assert LOOP in tether.ok("ls")
    exact = tether.ok("run", "-f", "--", "echo", "$HOME", "|", "tr").splitlines()[0]
    assert tether.ok("logs", exact, "--stream", "stdout") == "$HOME | tr\n"
    assert tether.json("show", exact)["argv"] == ["echo", "$HOME", "|", "tr"]
    both = tether("run", "-c", "echo a", "--", "echo", "b")
    assert both.returncode == 2 and "not both" in both.stderr
