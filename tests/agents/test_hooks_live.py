"""An agent's own report of its state, with real supervisors, ptys and the fake claude
and codex of tests/agents/fakes, which run the hooks tether gives them as the real ones
do. A ``quietly`` request draws nothing prompt-like: only the hook can tell."""

from __future__ import annotations

from tests.agents.test_live import agents_env, attention, until  # noqa: F401 - fixture

QUIET = "● Thinking it over"


def test_claude_says_it_needs_you_through_its_hook_with_no_prompt_on_screen(tether, agents_env):  # noqa: F811
    sid = tether.ok("run", "--pty", "-C", str(agents_env), "--", "claude").strip()
    shown = tether.json("show", sid)
    assert shown["argv"][:2] == ["claude", "--session-id"]  # the hooks are not shown
    assert shown["runs"][-1]["argv"] == shown["argv"]
    until(lambda: attention(tether, sid) == "idle", "claude idle at its input box")
    tether.ok("send", sid, "quietly list the files")
    until(lambda: QUIET in tether.ok("screen", sid), "claude thinking, no prompt drawn")
    until(lambda: attention(tether, sid) == "needs_you", "needs you, from its hook")
    assert "needs_you" in [s["attention"] for s in tether.json("ls", "--attention", "needs_you")]
    tether.ok("send", "--no-newline", sid, "1")  # answered: its Stop hook says idle
    until(lambda: attention(tether, sid) == "idle", "idle after its turn")


def test_without_its_hooks_the_quiet_question_goes_unseen(tether, agents_env):  # noqa: F811
    config = tether.home / "config.toml"
    config.write_text(config.read_text() + "\n[agents.claude]\nhooks = []\n")
    sid = tether.ok("run", "--pty", "-C", str(agents_env), "--", "claude").strip()
    until(lambda: attention(tether, sid) == "idle", "claude idle")
    tether.ok("send", sid, "quietly list the files")
    until(lambda: QUIET in tether.ok("screen", sid), "claude thinking, no prompt drawn")
    # The screen alone: quiet, nothing asked.
    until(lambda: attention(tether, sid) == "idle", "idle by the screen")


def test_codex_ends_its_turn_through_notify_while_its_screen_still_says_working(
    tether,
    agents_env,  # noqa: F811
):
    sid = tether.ok("run", "--pty", "-C", str(agents_env), "--", "codex").strip()
    until(lambda: attention(tether, sid) == "idle", "codex idle")
    tether.ok("send", sid, "quietly tidy up")
    until(lambda: "• Working (0s" in tether.ok("screen", sid), "its last screen says working")
    until(lambda: attention(tether, sid) == "idle", "idle, from its notify program")
