"""An agent's own report of its state (agents/hooks.py, runner/hook.py, runner/hooks.py):
the arguments tether adds, what each event means, the hook program writing its file,
and when the report beats the screen."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from agents.attention import with_hook
from agents.hooks import HOOK_EVENTS, hook_args, state_of
from agents.kinds import BUILTIN, kinds_from_config
from runner.attention import load_settings
from runner.hooks import HOOK_PROGRAM, HookSignal, signal_file, with_hooks
from runner.spec import LaunchSpec


def _spec(argv, socket="/run/t/7.sock"):  # type: ignore[no-untyped-def]
    return LaunchSpec(db="db", session_id=7, lock="l", socket=socket, log="g", argv=argv, cwd="/")


def _hooked(argv, agent):  # type: ignore[no-untyped-def]
    return with_hooks(_spec(argv), load_settings(agent)[0])


def test_claude_gets_settings_with_a_hook_on_each_event_after_its_name(tmp_path) -> None:
    spec = _hooked(["npx", "-y", "@anthropic-ai/claude-code", "--resume", "X"], "claude")
    assert spec.argv[:4] == ["npx", "-y", "@anthropic-ai/claude-code", "--settings"]
    assert spec.argv[5:] == ["--resume", "X"]
    assert spec.shown_argv == ["npx", "-y", "@anthropic-ai/claude-code", "--resume", "X"]
    hooks = json.loads(spec.argv[4])["hooks"]
    assert sorted(hooks) == sorted(HOOK_EVENTS)
    [[command]] = [[h["command"] for h in g["hooks"]] for g in hooks["Stop"]]
    assert command.endswith(f"{HOOK_PROGRAM} /run/t/7.hook")
    assert signal_file("/run/t/7.sock") == Path("/run/t/7.hook")


def test_codex_gets_a_notify_override_that_is_a_toml_array() -> None:
    spec = _hooked(["codex", "resume", "ID"], "codex")
    assert spec.argv[0] == "codex" and spec.argv[1] == "-c" and spec.argv[3:] == ["resume", "ID"]
    key, _, value = spec.argv[2].partition("=")
    notify = tomllib.loads(f"v = {value}")["v"]
    assert key == "notify" and notify[0] == sys.executable and notify[-1] == "/run/t/7.hook"


def test_no_hooks_for_other_programs_a_shell_line_or_a_kind_without_them() -> None:
    for argv, agent in (
        (["bash"], None),
        (["sh", "-c", "claude"], "claude"),
        (["aider"], "aider"),
        (["vim"], "claude"),  # --agent claude on a wrapper tether cannot look into
    ):
        assert _hooked(argv, agent).argv == argv


def test_config_overrides_or_turns_off_a_kinds_hooks() -> None:
    kinds = kinds_from_config({"claude": {"hooks": []}, "codex": {"hooks": ["--x={hook_command}"]}})
    assert kinds["claude"].hooks == () and BUILTIN["claude"].hooks
    assert hook_args(kinds["codex"].hooks, ["/p y", "f"]) == ["--x='/p y' f"]


NOTE = "Notification"


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        ({"hook_event_name": NOTE, "notification_type": "permission_prompt"}, "needs_you"),
        ({"hook_event_name": NOTE, "notification_type": "idle_prompt"}, "idle"),
        ({"hook_event_name": NOTE, "message": "Claude needs your permission"}, "needs_you"),
        ({"hook_event_name": NOTE, "message": "Claude is waiting for your input"}, "idle"),
        ({"hook_event_name": NOTE, "message": "auth ok"}, None),
        ({"hook_event_name": "UserPromptSubmit", "prompt": "hi"}, "working"),
        ({"hook_event_name": "PreToolUse", "tool_name": "Bash"}, "working"),
        ({"hook_event_name": "Stop"}, "idle"),
        ({"hook_event_name": "SessionStart"}, None),
        ({"type": "agent-turn-complete", "thread-id": "t"}, "idle"),
        ({"type": "something-new"}, None),
    ],
)  # fmt: skip
def test_what_each_event_says(payload, state) -> None:  # type: ignore[no-untyped-def]
    assert state_of(payload) == state


def test_the_hook_program_records_the_event_from_stdin_or_its_last_argument(tmp_path) -> None:
    target = tmp_path / "3.hook"
    claude = {"hook_event_name": "Notification", "notification_type": "permission_prompt"}
    run = [sys.executable, "-I", "-S", str(HOOK_PROGRAM), str(target)]
    done = subprocess.run(run, input=json.dumps(claude), capture_output=True, text=True, cwd="/")
    assert done.returncode == 0 and done.stdout == "" and done.stderr == ""
    reader = HookSignal(target)
    state, at = reader.read()  # type: ignore[misc]
    assert state == "needs_you" and target.stat().st_mode & 0o777 == 0o600
    codex = json.dumps({"type": "agent-turn-complete"})
    subprocess.run([*run, codex], stdin=subprocess.DEVNULL, check=True, cwd="/")
    assert reader.read()[0] == "idle"  # type: ignore[index]
    # Nonsense, or a directory that is gone: still exit 0 and nothing said.
    bad = subprocess.run(run, input="not json", capture_output=True, text=True)
    assert (bad.returncode, bad.stdout, bad.stderr) == (0, "", "")
    gone = [*run[:-1], str(tmp_path / "no" / "x.hook"), codex]
    assert subprocess.run(gone, capture_output=True).returncode == 0
    reader.clear()
    assert not target.exists() and reader.read() is None


def test_a_fresh_report_beats_the_screen_and_a_stale_one_does_not() -> None:
    at = 100.0
    quiet = {"last_input": 0.0, "last_output": 99.0, "now": 101.0}
    assert with_hook("idle", ("needs_you", at), **quiet) == "needs_you"
    assert with_hook("working", ("idle", at), **quiet) == "idle"
    assert with_hook("idle", None, **quiet) == "idle"
    # A prompt on the screen is not hidden by a report that lags it.
    assert with_hook("needs_you", ("working", at), **quiet) == "needs_you"
    # Answered since (input after it): the screen again.
    assert with_hook("idle", ("needs_you", at), **{**quiet, "last_input": 100.5}) == "idle"
    # Output well after it: the agent moved on without telling.
    moved = {"last_input": 0.0, "last_output": 103.0, "now": 103.0}
    assert with_hook("working", ("needs_you", at), **moved) == "working"
    assert with_hook("idle", ("needs_you", at), **{**moved, "last_output": 101.0}) == "needs_you"
    # "working" stays while output flows, not once the agent drew nothing for long.
    busy = {"last_input": 0.0, "last_output": 150.0, "now": 151.0}
    assert with_hook("idle", ("working", at), **busy) == "working"
    assert with_hook("idle", ("working", at), **{**busy, "now": 161.0}) == "idle"
