"""End to end: the TUI's ``a`` attaches to a session in place (the app suspends), the
keys typed reach the program, and the detach key brings back the same list, filter
and selection."""

from __future__ import annotations

import shutil

import pytest

from tests.support.attach import Pane, tether_command

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def test_attach_from_the_list_and_come_back(tether):
    shell = ["env", "PS1=in-alpha$ ", "bash", "--norc", "--noprofile", "-i"]
    alpha = tether.ok("run", "--pty", "-n", "alpha", "--", *shell).strip()
    tether.ok("run", "-n", "beta", "--", "sleep", "600")
    tether.wait_output(alpha, "in-alpha$")
    pane = Pane(tether.home, tether_command(), cols=120, rows=36)
    try:
        pane.wait_for("1/2 ")  # the list is up and takes keys
        pane.keys("/")
        # keys typed before the filter has the focus would act on the list
        pane.wait_for("filter: words in")
        pane.type("alpha")
        pane.wait_for("filter alpha")
        pane.keys("Enter")
        pane.wait_until(
            lambda s: "beta" not in s and "1/1 " in s and "n New" in s, "the list, filtered"
        )
        pane.keys("a")
        pane.wait_until(lambda s: s.lstrip().startswith("in-alpha$"), "attached")
        pane.type("echo typed-$((6*7))")
        pane.keys("Enter")
        pane.wait_for("typed-42")
        pane.keys("C-\\")
        shown = pane.wait_for(f"detached from session #{alpha}")
        assert "alpha" in shown and "beta" not in shown  # the filter is still on
        assert "1/1 " in shown  # and the selection
    finally:
        pane.kill()
    system = tether.ok("logs", alpha, "--stream", "system")
    assert "tether: attached: " in system and "tether: detached: " in system
    assert "typed-42" in tether.ok("logs", alpha)
