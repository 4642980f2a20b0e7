"""End to end, in a real terminal (tmux): ``enter`` on a running terminal session in the
list attaches in place and the detach key brings back the same list and selection; the
output screen's interactive mode (``I``) takes the terminal's keys (ctrl+c too) until
the detach key."""

from __future__ import annotations

import shutil

import pytest

from tests.support.attach import Pane, tether_command

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

SHELL = ["env", "PS1=in-alpha$ ", "bash", "--norc", "--noprofile", "-i"]


def test_enter_attaches_and_the_detach_key_comes_back(tether):
    alpha = tether.ok("run", "--pty", "-n", "alpha", "--", *SHELL).strip()
    tether.ok("run", "-n", "beta", "--", "sleep", "600")
    tether.wait_output(alpha, "in-alpha$")
    pane = Pane(tether.home, tether_command(), cols=120, rows=36)
    try:
        pane.wait_for("1/2 ")  # the list is up and takes keys
        pane.keys("j")  # alpha, the older one: second in the list
        pane.wait_until(lambda s: "2/2 " in s and "⏎ Attach" in s, "enter says Attach")
        pane.keys("Enter")
        pane.wait_until(lambda s: s.lstrip().startswith("in-alpha$"), "attached")
        pane.type("echo typed-$((6*7))")
        pane.keys("Enter")
        pane.wait_for("typed-42")
        pane.keys("C-\\")
        shown = pane.wait_for(f"detached from session #{alpha}")
        assert "2/2 " in shown and "⏎ Attach" in shown  # the same selection
    finally:
        pane.kill()
    assert "typed-42" in tether.ok("logs", alpha)


def test_interactive_output_screen_takes_every_key(tether):
    alpha = tether.ok("run", "--pty", "-n", "alpha", "--", *SHELL).strip()
    tether.wait_output(alpha, "in-alpha$")
    pane = Pane(tether.home, tether_command(), cols=120, rows=36)
    try:
        pane.wait_for("1/1 ")
        pane.keys("o")
        pane.wait_until(lambda s: "I Interactive" in s, "the output screen, I shown")
        pane.keys("I")
        pane.wait_for("interactive — ctrl+\\ to leave")
        pane.wait_for("leave interactive")  # the footer
        pane.type("sleep 300")
        pane.keys("Enter")
        pane.wait_for("sleep 300")
        pane.keys("C-c")  # to the program, not Textual's quit hint
        pane.type("echo q-$((6*7))")
        pane.keys("Enter")
        pane.wait_until(lambda s: "\nq-42" in s, "ctrl+c interrupted the sleep, q typed")
        pane.keys("C-\\")
        shown = pane.wait_until(lambda s: "I Interactive" in s, "interactive mode left")
        assert "to leave" not in shown
        pane.keys("Escape")  # our keys are ours again: back to the list
        pane.wait_for("1/1 ")
    finally:
        pane.kill()
    logs = tether.ok("logs", alpha)
    assert "q-42" in logs and "^C" in logs
