"""``tether attach``: real programs in real ptys, driven from a real terminal (tmux on the
tests' own server): keys reach the program, the size follows the client, the detach
key works in its three encodings and leaves the terminal clean."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from tests.support.attach import Pane, attach_pane

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

CTRL_BACKSLASH = b"\x1c"
MODIFY_OTHER_KEYS = b"\x1b[27;5;92~"
KITTY = b"\x1b[92;5u"


@pytest.fixture
def panes():
    made: list[Pane] = []
    yield made
    for pane in made:
        pane.kill()


def start_bash(tether) -> str:  # type: ignore[no-untyped-def]
    sid = tether.ok("run", "--pty", "--", "bash", "--norc", "--noprofile", "-i").strip()
    tether.wait_status(sid, ("running",))
    return sid


def attach(tether, panes, sid: str, **kw) -> Pane:  # type: ignore[no-untyped-def]
    pane = attach_pane(tether.home, sid, **kw)
    panes.append(pane)
    return pane


def prompt_ready(pane: Pane) -> None:
    pane.type("echo READY-$((40+2))")
    pane.keys("Enter")
    pane.wait_for("READY-42")


def test_keys_reach_bash_and_its_size_follows_the_client(tether, panes):
    sid = start_bash(tether)
    pane = attach(tether, panes, sid, cols=100, rows=30)
    prompt_ready(pane)
    pane.type("echo size=$(tput cols)x$(tput lines)")
    pane.keys("Enter")
    pane.wait_for("size=100x30")
    pane.resize(90, 20)
    pane.type("clear; echo size=$(tput cols)x$(tput lines)")
    pane.keys("Enter")
    pane.wait_for("size=90x20")
    # Tab completion and ctrl+u (readline) reach the program too.
    pane.type("echo tab-compl")
    pane.keys("C-u")
    pane.type("ech")
    pane.keys("Tab")
    pane.type(" done-$((1+1))")
    pane.keys("Enter")
    pane.wait_for("done-2")
    pane.keys("C-\\")
    shown = pane.wait_for("EXIT=0")
    assert f"detached from session #{sid}" in shown
    assert tether.json("show", sid)["status"] == "running"  # it keeps running
    system = tether.ok("logs", sid, "--stream", "system")
    assert "tether: attached: " in system and ", terminal 100x30" in system
    assert "tether: detached: " in system
    assert "terminal resized to 90x20" in system


@pytest.mark.parametrize(
    "key", [CTRL_BACKSLASH, MODIFY_OTHER_KEYS, KITTY], ids=["byte", "modifyOtherKeys", "kitty"]
)
def test_the_detach_key_in_every_encoding(tether, panes, key):
    sid = start_bash(tether)
    pane = attach(tether, panes, sid)
    prompt_ready(pane)
    pane.hex(key)
    shown = pane.wait_for("EXIT=0")
    assert f"detached from session #{sid}" in shown
    # nothing of the key reached bash: it would show as ^\ or as the escape's tail
    pane_out = tether.ok("logs", sid)
    assert "92;5" not in pane_out and "^\\" not in pane_out


def test_another_detach_key_from_the_config(tether, panes):
    (tether.home / "config.toml").write_text('[attach]\ndetach_key = "ctrl+b"\n')
    sid = start_bash(tether)
    pane = attach(tether, panes, sid)
    prompt_ready(pane)
    pane.keys("C-\\")  # now an ordinary key for the program (bash ignores it)
    pane.type("echo still-$((2+3))")
    pane.keys("Enter")
    pane.wait_for("still-5")
    pane.keys("C-b")
    pane.wait_for("EXIT=0")


def test_the_terminal_is_left_clean_after_detach(tether, panes, tmp_path):
    script = tmp_path / "modes.sh"
    # alternate screen, cursor keys, keypad, mouse (any, sgr), bracketed paste, hidden
    # cursor, origin mode, kitty keyboard: everything a full-screen program turns on
    modes = (
        "printf '\\033[?1049h\\033[?1h\\033=\\033[?1003h\\033[?1006h\\033[?2004h"
        "\\033[?25l\\033[>1u\\033[?1004h'\n"
    )
    # The modes are on before the attach (the snapshot carries them) and again live
    # (keypad mode, ESC =, is not in the emulator's snapshot: it comes back live).
    script.write_text(f"{modes}printf 'FULL-SCREEN'\nread x\n{modes}printf AGAIN\nexec sleep 600\n")
    sid = tether.ok("run", "--pty", "--", "sh", str(script)).strip()
    tether.wait_output(sid, "FULL-SCREEN")
    pane = attach(tether, panes, sid)
    pane.wait_for("FULL-SCREEN")
    assert pane.flag("alternate_on") == "1" and pane.flag("mouse_any_flag") == "1"
    pane.keys("Enter")
    pane.wait_for("AGAIN")
    on = {f: pane.flag(f) for f in FLAGS}
    assert on == {
        "alternate_on": "1",
        "cursor_flag": "0",
        "keypad_cursor_flag": "1",
        "keypad_flag": "1",
        "mouse_any_flag": "1",
        "mouse_sgr_flag": "1",
    }
    pane.keys("C-\\")
    shown = pane.wait_for("EXIT=0")
    assert "FULL-SCREEN" not in shown  # back on the main screen
    off = {f: pane.flag(f) for f in FLAGS}
    assert off == {
        "alternate_on": "0",
        "cursor_flag": "1",
        "keypad_cursor_flag": "0",
        "keypad_flag": "0",
        "mouse_any_flag": "0",
        "mouse_sgr_flag": "0",
    }


FLAGS = (
    "alternate_on",
    "cursor_flag",
    "keypad_cursor_flag",
    "keypad_flag",
    "mouse_any_flag",
    "mouse_sgr_flag",
)


def test_vim_edits_a_file_through_attach(tether, panes, tmp_path):
    if shutil.which("vim") is None:
        pytest.skip("needs vim")
    target = tmp_path / "note.txt"
    sid = tether.ok("run", "--pty", "--", "vim", "-u", "NONE", "-N", str(target)).strip()
    tether.wait_output(sid, "note.txt")
    pane = attach(tether, panes, sid)
    pane.wait_for("note.txt")
    pane.type("ihello")
    pane.keys("Escape")
    pane.type(":wq")
    pane.keys("Enter")
    shown = pane.wait_for("EXIT=0")
    assert f"session #{sid} ended" in shown
    assert target.read_text() == "hello\n"
    assert pane.flag("alternate_on") == "0" and pane.flag("cursor_flag") == "1"


def test_ctrl_c_interrupts_python_and_the_repl_survives(tether, panes):
    sid = tether.ok("run", "--pty", "--", "python3", "-q").strip()
    tether.wait_output(sid, ">>>")
    pane = attach(tether, panes, sid)
    pane.wait_for(">>>")
    pane.type("import time; time.sleep(30)")
    pane.keys("Enter")
    pane.keys("C-c")
    pane.wait_for("KeyboardInterrupt")
    pane.type("print(6*7)")
    pane.keys("Enter")
    pane.wait_for("42")
    assert tether.json("show", sid)["status"] == "running"


def test_reattach_shows_the_supervisors_screen(tether, panes):
    sid = start_bash(tether)
    pane = attach(tether, panes, sid)
    prompt_ready(pane)
    pane.type("printf '\\033[31mred\\033[0m %s\\n' line-{1..5}")
    pane.keys("Enter")
    pane.wait_for("red line-5")
    pane.keys("C-\\")
    pane.wait_for("EXIT=0")
    again = attach(tether, panes, sid)
    supervisor = tether.ok("screen", sid)
    shown = again.wait_until(lambda s: "red line-5" in s, "redrawn")
    assert _rows(shown) == _rows(supervisor)


def _rows(text: str) -> list[str]:
    rows = [r.rstrip() for r in text.splitlines()]
    while rows and not rows[-1]:
        rows.pop()
    return rows


def test_two_clients_see_the_same_screen_and_one_dying_harms_nothing(tether, panes):
    sid = start_bash(tether)
    first = attach(tether, panes, sid)
    prompt_ready(first)
    second = attach(tether, panes, sid)
    second.wait_for("READY-42")
    second.type("echo from-second-$((3*3))")
    second.keys("Enter")
    first.wait_for("from-second-9")  # what one types, both see
    # kill -9 the first client (its pane's shell runs it as a child)
    client = _client_pid(first.pid())
    os.kill(client, signal.SIGKILL)
    first.wait_for("EXIT=137")
    second.type("echo alive-$((5*5))")
    second.keys("Enter")
    second.wait_for("alive-25")
    assert tether.json("show", sid)["status"] == "running"
    # The killed one, seen by the supervisor: its line is stored with the next flush,
    # which may come after the echo above (CI on a loaded machine saw it missing).
    system = tether.wait_output(sid, "tether: detached: ", stream="system")
    assert system.count("tether: detached: ") == 1


def _client_pid(shell_pid: int) -> int:
    with open(f"/proc/{shell_pid}/task/{shell_pid}/children") as f:
        children = f.read().split()
    assert len(children) == 1, children
    return int(children[0])


def test_a_pipe_session_takes_lines(tether, panes):
    sid = tether.ok("run", "--", "sh", "-c", "while read l; do echo got:$l; done").strip()
    tether.wait_status(sid, ("running",))
    pane = attach(tether, panes, sid)
    pane.wait_for("detaches")
    pane.type("abc")
    pane.keys("Enter")
    pane.wait_for("got:abc")
    pane.keys("C-\\")
    pane.wait_for("EXIT=0")
    # Stored too: the live view had it at once, the database a flush later.
    assert "got:abc" in tether.wait_output(sid, "got:abc")


def test_an_ended_session_prints_its_final_screen_and_exits_1(tether, panes):
    sid = tether.ok("run", "--pty", "--", "sh", "-c", "echo final-words").strip()
    tether.wait_status(sid, ("succeeded",))
    done = tether("attach", sid)
    assert done.returncode == 1
    assert "has ended (succeeded)" in done.stderr
    assert "final-words" in done.stdout
    missing = tether("attach", "999")
    assert missing.returncode != 0 and "999" in missing.stderr
