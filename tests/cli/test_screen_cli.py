"""``tether screen`` and ``tether logs --rendered`` on real pty sessions, as a user runs them."""

from __future__ import annotations

import json
import sys
import textwrap

# 30 rows on a 24-row terminal (6 scroll off), a coloured word, then it waits for a
# line (echo off); then the alternate screen is entered and left, and a last row.
PROGRAM = textwrap.dedent(
    r"""
    import sys, termios
    fd = sys.stdin.fileno()
    a = termios.tcgetattr(fd); a[3] &= ~termios.ECHO; termios.tcsetattr(fd, termios.TCSANOW, a)
    w = sys.stdout.write
    for i in range(30):
        w(f"row {i}\r\n")
    w("status: \x1b[32mgreen\x1b[0m ok")
    sys.stdout.flush(); sys.stdin.readline()
    w("\r\n\x1b[?1049h\x1b[Hfull screen app\x1b[?1049l")
    w("done\r\n"); sys.stdout.flush()
    """
)


def _start(tether) -> str:
    sid = tether.ok("run", "--pty", "--", sys.executable, "-c", PROGRAM).strip()
    tether.wait_output(sid, "ok")
    return sid


def test_screen_of_a_running_then_finished_session(tether):
    sid = _start(tether)
    shown = tether.ok("screen", sid)
    rows = shown.splitlines()
    assert len(rows) == 24
    assert rows[0] == "row 7" and rows[-2] == "row 29" and rows[-1] == "status: green ok"
    live = json.loads(tether.ok("screen", sid, "--json"))
    assert live["source"] == "supervisor"
    assert (live["cols"], live["rows"]) == (80, 24)
    assert live["cursor"] == {"x": 16, "y": 23, "visible": True}
    assert live["alt_screen"] is False and "bracketed_paste" in live["modes"]
    assert live["lines"][-1] == "status: green ok"

    tether.ok("send", sid, "")
    tether.wait_status(sid, ("succeeded",))
    after = json.loads(tether.ok("screen", sid, "--json"))
    assert after["source"] == "replay"
    assert after["lines"][-3:] == ["status: green ok", "done", ""]
    # Plain text: trailing empty rows dropped.
    assert tether.ok("screen", sid).splitlines()[-2:] == ["status: green ok", "done"]


def test_screen_ansi_keeps_colours(tether):
    sid = _start(tether)
    out = tether.ok("screen", sid, "--ansi")
    assert "status: \x1b[0;32mgreen\x1b[0m ok" in out
    assert "\x1b" not in tether.ok("screen", sid)
    tether.ok("send", sid, "")


def test_screen_at_a_line_shows_the_screen_as_it_was(tether):
    sid = _start(tether)
    tether.ok("send", sid, "")
    tether.wait_status(sid, ("succeeded",))
    # Line 1 is the size line; rows 0-4 are lines 2-6.
    early = tether.ok("screen", sid, "--at", "6").splitlines()
    assert early == [f"row {i}" for i in range(5)]
    at = json.loads(tether.ok("screen", sid, "--at", "6", "--json"))
    assert at["at"] == 6 and at["source"] == "replay"
    assert at["cursor"] == {"x": 0, "y": 5, "visible": True}
    bad = tether("screen", sid, "--at", "0")
    assert bad.returncode == 2 and "--at takes a line number" in bad.stderr


def test_logs_rendered_is_the_scrollback_then_the_screen(tether):
    sid = _start(tether)
    tether.ok("send", sid, "")
    tether.wait_status(sid, ("succeeded",))
    rendered = tether.ok("logs", sid, "--rendered").splitlines()
    assert rendered == [
        *(f"row {i}" for i in range(30)),
        "status: green ok",
        "done",
    ]  # the alternate screen is not part of it, as in a terminal's scrollback
    assert tether.ok("logs", sid, "--rendered", "-n", "2").splitlines() == [
        "status: green ok",
        "done",
    ]
    raw = tether.ok("logs", sid)
    assert "full screen app" in raw  # the stream still has every byte
    clash = tether("logs", sid, "--rendered", "-f")
    assert clash.returncode == 2 and "cannot be combined with -f" in clash.stderr


def test_a_pipe_session_has_no_screen(tether):
    sid = tether.ok("run", "--", "echo", "hello").strip()
    tether.wait_status(sid, ("succeeded",))
    for args in (("screen", sid), ("logs", sid, "--rendered")):
        done = tether(*args)
        assert done.returncode == 1, args
        assert "runs on pipes, not in a terminal, so it has no screen" in done.stderr
        assert done.stdout == ""
