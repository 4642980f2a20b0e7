"""The supervisor keeps an emulated screen of a pty session: real programs on a real pty,
asked over the control socket; and the same screen rebuilt from the stored output."""

from __future__ import annotations

import shutil
import sys
import textwrap

import pytest

from runner import control
from runner.errors import ControlError, NotRunning
from runner.screen.replay import ScreenReplay
from runner.screen.state import shown_lines
from tests.support.supervisors import eventually, system_lines, wait_ended, wait_output

# Draws with cursor moves and colours, then an alternate screen, then leaves it; each
# step waits for a line of input (echo off, so the input does not draw).
DRAW = textwrap.dedent(
    r"""
    import sys, termios
    fd = sys.stdin.fileno()
    a = termios.tcgetattr(fd); a[3] &= ~termios.ECHO; termios.tcsetattr(fd, termios.TCSANOW, a)
    w = sys.stdout.write
    w("line one\r\nline two\r\n\x1b[5;10Hplaced at 5,10 \x1b[1;31mred\x1b[0m")
    sys.stdout.flush(); sys.stdin.readline()
    w("\x1b[?1049h\x1b[H\x1b[2Jon the alternate screen\x1b[3;3Hmenu\x1b[?2004h\r\n")
    sys.stdout.flush(); sys.stdin.readline()
    w("\x1b[?2004l\x1b[?1049l\r\nback")
    sys.stdout.flush(); sys.stdin.readline()
    """
)


async def _screen_when(store, paths, sid, probe, what, **kw):
    async def look():
        state = await control.screen(store, paths, sid, **kw)
        return state if probe(state) else None

    return await eventually(look, what=what)


async def test_the_supervisor_emulates_a_pty_sessions_screen(store, paths, tmp_path):
    s = await control.start_session(
        store,
        paths,
        argv=[sys.executable, "-c", DRAW],
        cwd=tmp_path,
        mode="pty",
        size=(60, 12),
    )
    await wait_output(store, s.id, b"red")
    state = await control.screen(store, paths, s.id, styled=True, vt=True)
    assert (state["cols"], state["rows"], len(state["lines"])) == (60, 12, 12)
    assert state["lines"][:2] == ["line one", "line two"]
    assert state["lines"][4] == "         placed at 5,10 red"
    assert state["cursor"] == {"x": 27, "y": 4, "visible": True}
    assert state["alt_screen"] is False
    assert ["red", {"fg": 1, "bold": True}] in state["styled"][4]
    assert state["vt"]  # base64 of the bytes that redraw it

    await control.send_input(store, paths, s.id, "")
    state = await _screen_when(
        store, paths, s.id, lambda st: st["alt_screen"], "the alternate screen"
    )
    assert state["lines"][0] == "on the alternate screen"
    assert state["lines"][2] == "  menu"
    assert state["modes"]["bracketed_paste"] is True

    await control.send_input(store, paths, s.id, "")
    state = await _screen_when(
        store, paths, s.id, lambda st: not st["alt_screen"], "back on the main screen"
    )
    assert state["lines"][4] == "         placed at 5,10 red"
    assert state["lines"][5] == "back"
    assert state["modes"]["bracketed_paste"] is False

    await control.send_input(store, paths, s.id, "")
    s = await wait_ended(store, paths, s.id)
    assert s.status == "succeeded"
    with pytest.raises(NotRunning):
        await control.screen(store, paths, s.id)

    # The stored output replays to the same screen, and to the screen as it was once a
    # given line was written (the alternate screen's drawing ends a line).
    replay = ScreenReplay(s.id)
    await replay.catch_up(store)
    assert replay.screen.size == (60, 12)
    assert replay.screen.lines() == state["lines"]
    alt_line = await store.output.find_line(s.id, "alternate", 0)
    assert alt_line is not None
    at = ScreenReplay(s.id)
    await at.catch_up(store, until=alt_line + 1)
    assert at.screen.alt_screen and at.screen.lines()[0] == "on the alternate screen"


async def test_a_resize_reaches_the_screen_and_is_recorded_for_replay(store, paths, tmp_path):
    script = "trap 'stty size' WINCH; echo ready; while :; do sleep 0.05; done"
    s = await control.start_session(
        store, paths, argv=["sh", "-c", script], cwd=tmp_path, mode="pty", size=(80, 24)
    )
    await wait_output(store, s.id, b"ready")
    await control.resize(store, paths, s.id, 100, 30)
    await wait_output(store, s.id, b"30 100")
    state = await control.screen(store, paths, s.id)
    assert (state["cols"], state["rows"]) == (100, 30)
    assert shown_lines(state["lines"]) == ["ready", "30 100"]
    await control.resize(store, paths, s.id, 100, 30)  # no change: nothing recorded
    await control.stop(store, paths, s.id, grace=1)
    lines = await system_lines(store, s.id)
    assert lines[:2] == ["tether: terminal 80x24", "tether: terminal resized to 100x30"]
    assert not any(line.endswith("100x30") for line in lines[2:])
    replay = ScreenReplay(s.id)
    await replay.catch_up(store)
    assert replay.screen.size == (100, 30)
    assert shown_lines(replay.screen.lines())[:2] == ["ready", "30 100"]


async def test_a_pipe_session_has_no_screen(store, paths, tmp_path):
    s = await control.start_session(
        store, paths, argv=["sh", "-c", "echo hi; sleep 30"], cwd=tmp_path
    )
    await wait_output(store, s.id, b"hi")
    with pytest.raises(ControlError, match="has no terminal"):
        await control.screen(store, paths, s.id)
    assert await system_lines(store, s.id) == []  # no size line for a pipe
    await control.stop(store, paths, s.id, grace=1)


async def test_a_replay_catches_up_incrementally_across_a_growing_line(store, paths, tmp_path):
    # The unfinished last line grows in place in the database; a replay that fed part
    # of it feeds only the rest.
    script = "printf 'abc'; read x; printf 'def'; read y; printf '\\nnext'"
    s = await control.start_session(
        store, paths, argv=["sh", "-c", "stty -echo; " + script], cwd=tmp_path, mode="pty"
    )
    await wait_output(store, s.id, b"abc")
    replay = ScreenReplay(s.id)
    await replay.catch_up(store)
    assert replay.screen.lines()[0] == "abc"
    await control.send_input(store, paths, s.id, "")
    await wait_output(store, s.id, b"def")
    assert await replay.catch_up(store)
    assert replay.screen.lines()[0] == "abcdef"
    await control.send_input(store, paths, s.id, "")
    await wait_ended(store, paths, s.id)
    await replay.catch_up(store)
    assert shown_lines(replay.screen.lines()) == ["abcdef", "next"]
    assert replay.fed == len(await store.output.read_bytes(s.id, "stdout"))
    assert not await replay.catch_up(store)  # nothing new


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
async def test_vim_on_the_supervisors_screen(store, paths, tmp_path):
    (tmp_path / "notes.txt").write_text("first line of notes\nsecond line\n")
    s = await control.start_session(
        store,
        paths,
        argv=["vim", "-N", "-u", "NONE", "-i", "NONE", "notes.txt"],
        cwd=tmp_path,
        mode="pty",
        size=(70, 15),
    )

    def drawn(st):
        return st["lines"][0] == "first line of notes" and '"notes.txt"' in st["lines"][-1]

    state = await _screen_when(store, paths, s.id, drawn, "vim's first screen")
    assert state["alt_screen"] is True
    assert state["lines"][1] == "second line"
    assert all(line == "~" for line in state["lines"][2:-1])
    assert (state["cursor"]["x"], state["cursor"]["y"]) == (0, 0)
    await control.send_input(store, paths, s.id, ":q", eol=True)
    s = await wait_ended(store, paths, s.id)
    assert s.status == "succeeded"


@pytest.mark.skipif(shutil.which("less") is None, reason="less is not installed")
async def test_less_on_the_supervisors_screen(store, paths, tmp_path):
    (tmp_path / "many.txt").write_text("".join(f"entry {i}\n" for i in range(200)))
    s = await control.start_session(
        store, paths, argv=["less", "many.txt"], cwd=tmp_path, mode="pty", size=(40, 10)
    )
    state = await _screen_when(
        store, paths, s.id, lambda st: st["lines"][8] == "entry 8", "less's first page"
    )
    assert state["lines"][0] == "entry 0"
    await control.send_input(store, paths, s.id, " ", eol=False)
    state = await _screen_when(
        store, paths, s.id, lambda st: st["lines"][0] == "entry 9", "less's second page"
    )
    assert state["lines"][8] == "entry 17"
    await control.send_input(store, paths, s.id, "q", eol=False)
    s = await wait_ended(store, paths, s.id)
    assert s.status == "succeeded"
