"""Attention and native resume with real supervisors, real ptys and the fake agents of
tests/agents/fakes (they draw the screens recorded from the real claude and codex and
write transcripts in their real on-disk formats)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from agents.kinds import cwd_slug

FAKES = Path(__file__).resolve().parent / "fakes" / "bin"


@pytest.fixture
def agents_env(tether, tmp_path):
    """The fake agents first on PATH; their homes in tmp_path."""
    tether.env["PATH"] = f"{FAKES}{os.pathsep}{tether.env['PATH']}"
    tether.env["CLAUDE_CONFIG_DIR"] = str(tmp_path / "claude-home")
    tether.env["CODEX_HOME"] = str(tmp_path / "codex-home")
    project = tmp_path / "project"
    project.mkdir()
    return project


def until(probe, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """Poll ``probe`` until it returns something truthy (a deadline for a broken build,
    not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.1)


def attention(tether, sid: str) -> str | None:
    return tether.json("show", sid)["attention"]


def test_a_prompt_needs_you_until_it_is_answered(tether):
    sid = tether.ok("run", "--pty", "-c", 'read -p "Deploy now? [y/N] " x; sleep 60').strip()
    done = tether("wait", sid, "--attention", "needs_you", "--timeout", "30")
    assert done.returncode == 0, done.stderr
    listed = tether.json("ls", "--attention", "needs_you")
    assert [(str(s["id"]), s["attention"]) for s in listed] == [(sid, "needs_you")]
    assert "needs you" in tether.ok("ls")
    assert tether.json("ls", "--attention", "working") == []
    tether.ok("send", sid, "y")
    assert tether("wait", sid, "--attention", "idle,working", "--timeout", "30").returncode == 0
    assert tether.json("ls", "--attention", "needs_you") == []
    tether.ok("stop", sid)
    shown = tether.wait_status(sid, ("stopped",))
    assert shown["attention"] is None and shown["attention_since"] is None


def test_wait_says_when_what_it_waits_for_cannot_come(tether):
    sid = tether.ok("run", "--", "true").strip()
    tether.wait_status(sid, ("succeeded",))
    assert tether("wait", sid).returncode == 0
    gone = tether("wait", sid, "--attention", "needs_you")
    assert gone.returncode == 1 and "will not be needs_you" in gone.stderr
    sid = tether.ok("run", "--", "false").strip()
    assert tether("wait", sid, "--timeout", "30").returncode == 1  # it failed
    slow = tether.ok("run", "--", "sleep", "60").strip()
    assert tether("wait", slow, "--timeout", "0.3").returncode == 3
    bad = tether("wait", slow, "--attention", "asleep")
    assert bad.returncode == 2 and "unknown attention 'asleep'" in bad.stderr


def test_claude_needs_you_is_answered_with_its_keys_and_resumes_natively(
    tether, agents_env, tmp_path
):
    sid = tether.ok("run", "--pty", "-C", str(agents_env), "--", "claude").strip()
    shown = tether.json("show", sid)
    native = shown["agent"]["session_id"]
    assert shown["agent"]["kind"] == "claude" and len(native) == 36
    assert shown["argv"] == ["claude", "--session-id", native]
    until(lambda: attention(tether, sid) == "idle", "claude idle at its input box")

    tether.ok("send", sid, "list the files")
    until(lambda: attention(tether, sid) == "needs_you", "claude asking permission")
    tether.ok("send", "--no-newline", sid, "1")  # claude's approve keys (agents/kinds.py)
    until(lambda: attention(tether, sid) == "idle", "claude back at its input box")
    transcript = tmp_path / "claude-home" / "projects" / cwd_slug(str(agents_env))
    entries = [json.loads(x) for x in (transcript / f"{native}.jsonl").read_text().splitlines()]
    assert [e["type"] for e in entries] == ["user", "assistant"]
    assert entries[0]["sessionId"] == native and entries[0]["message"]["content"] == (
        "list the files"
    )

    _kill_everything(tether, sid)
    shutil.rmtree(tether.home / "run")  # the runtime dir is gone too, as after a reboot
    tether.wait_status(sid, ("lost",))
    tether.ok("resume", sid)
    resumed = tether.json("show", sid)
    assert resumed["runs"][-1]["argv"] == ["claude", "--resume", native]
    until(lambda: "❯ list the files" in tether.ok("screen", sid), "the conversation back")


def test_without_its_transcript_claude_is_offered_a_fresh_start(tether, agents_env, tmp_path):
    sid = tether.ok("run", "--pty", "-C", str(agents_env), "--", "claude").strip()
    native = tether.json("show", sid)["agent"]["session_id"]
    until(lambda: attention(tether, sid) == "idle", "claude idle")
    tether.ok("stop", sid)
    tether.wait_status(sid, ("stopped",))
    refused = tether("resume", sid)  # it was never written to: no transcript
    assert refused.returncode == 1
    assert "conversation cannot be continued: claude's transcript is gone" in refused.stderr
    assert f"tether resume {sid} --fresh" in refused.stderr
    tether.ok("resume", sid, "--fresh")
    assert tether.json("show", sid)["runs"][-1]["argv"] == ["claude", "--session-id", native]


def test_codex_resumes_the_session_its_rollout_file_names(tether, agents_env, tmp_path):
    sid = tether.ok("run", "--pty", "-C", str(agents_env), "--", "codex").strip()
    shown = tether.json("show", sid)
    assert shown["agent"] == {"kind": "codex", "session_id": None}
    assert shown["argv"] == ["codex"]
    until(lambda: attention(tether, sid) == "idle", "codex idle")
    tether.ok("send", sid, "run the tests")
    until(lambda: attention(tether, sid) == "needs_you", "codex asking approval")
    tether.ok("send", "--no-newline", sid, "y")
    until(lambda: attention(tether, sid) == "idle", "codex back at its composer")
    tether.ok("stop", sid)
    tether.wait_status(sid, ("stopped",))
    [rollout] = (tmp_path / "codex-home" / "sessions").glob("*/*/*/rollout-*.jsonl")
    meta = json.loads(rollout.read_text().splitlines()[0])
    assert meta["type"] == "session_meta" and meta["payload"]["cwd"] == str(agents_env)
    tether.ok("resume", sid)
    resumed = tether.json("show", sid)
    codex_id = meta["payload"]["id"]
    assert resumed["agent"] == {"kind": "codex", "session_id": codex_id}
    assert resumed["runs"][-1]["argv"] == ["codex", "resume", codex_id]
    until(lambda: "› run the tests" in tether.ok("screen", sid), "the conversation back")


def _kill_everything(tether, sid: str) -> None:
    """kill -9 the session's command, its supervisor and the supervisor's guardian."""
    pid = tether.json("show", sid)["pid"]
    stat = Path(f"/proc/{pid}/stat").read_text()
    supervisor = int(stat[stat.rfind(")") + 2 :].split()[1])
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    # All stopped first, then killed: killed one by one, the supervisor could see its
    # command die and record it as failed before its own kill came (CI: "#1 stayed
    # failed"), which is not the crash this means.
    victims = [supervisor, *map(int, children), pid]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for victim in victims:
            try:
                os.kill(victim, sig)
            except ProcessLookupError:
                pass
