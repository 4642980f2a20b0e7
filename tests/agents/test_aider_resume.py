"""aider's native resume with a real supervisor and the fake aider of tests/agents/fakes
(it keeps ``.aider.chat.history.md`` in its cwd, as the real one does): ``tether resume``
restarts it with ``--restore-chat-history`` and its own arguments, only when that file
is there."""

from __future__ import annotations

from tests.agents.test_live import _kill_everything, agents_env, until  # noqa: F401 - fixture


def test_aider_resumes_with_its_chat_history_and_its_arguments(tether, agents_env):  # noqa: F811
    sid = tether.ok("run", "--pty", "-C", str(agents_env), "--", "aider", "--model", "m1").strip()
    shown = tether.json("show", sid)
    assert shown["agent"] == {"kind": "aider", "session_id": None}
    assert shown["argv"] == ["aider", "--model", "m1"]
    until(lambda: "Main model: fake" in tether.ok("screen", sid), "aider started")
    tether.ok("send", sid, "add a README")
    until(lambda: "Ok: add a README" in tether.ok("screen", sid), "aider answered")
    history = agents_env / ".aider.chat.history.md"
    assert "#### add a README" in history.read_text()

    _kill_everything(tether, sid)
    tether.wait_status(sid, ("lost",))
    tether.ok("resume", sid)
    argv = tether.json("show", sid)["runs"][-1]["argv"]
    assert argv == ["aider", "--model", "m1", "--restore-chat-history"]
    until(lambda: "> add a README" in tether.ok("screen", sid), "the chat history back")
    assert "Arguments: --model m1 --restore-chat-history" in tether.ok("screen", sid)


def test_without_its_chat_history_aider_is_offered_a_fresh_start(tether, agents_env):  # noqa: F811
    sid = tether.ok("run", "--pty", "-C", str(agents_env), "--", "aider").strip()
    until(lambda: "Main model: fake" in tether.ok("screen", sid), "aider started")
    tether.ok("stop", sid)
    tether.wait_status(sid, ("stopped",))
    (agents_env / ".aider.chat.history.md").unlink()
    refused = tether("resume", sid)
    assert refused.returncode == 1
    assert "conversation cannot be continued: aider's transcript is gone" in refused.stderr
    tether.ok("resume", sid, "--fresh")
    assert tether.json("show", sid)["runs"][-1]["argv"] == ["aider"]
