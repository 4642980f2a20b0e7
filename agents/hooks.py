"""The agent telling tether itself: Claude Code hooks and codex ``notify``.

An agent kind's ``hooks`` (agents/kinds.py) are arguments added after the program's
name when tether starts it, so that the agent runs tether's hook program
(runner/hook.py) on its own events. They never touch the user's settings files: Claude
Code layers ``--settings JSON`` over them, codex takes ``-c notify=[...]`` as a
one-run override. Placeholders in those arguments:

- ``{claude_settings}``: a Claude Code settings object whose ``hooks`` run the hook
  program on ``HOOK_EVENTS`` (the event's JSON comes on its stdin);
- ``{hook_argv}``: the hook program's argv as a JSON array (also a TOML array: codex
  appends the event's JSON as the last argument);
- ``{hook_command}``: the hook program as one shell line.

``state_of`` maps an event's payload to an attention state (None: the event says
nothing about it). Pure Python: the hook program and the supervisor use it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["HOOK_EVENTS", "hook_args", "state_of"]

# Claude Code events that say what it is doing.
HOOK_EVENTS = ("Notification", "Stop", "UserPromptSubmit", "PreToolUse", "PostToolUse")

_WORKING = {"UserPromptSubmit", "PreToolUse", "PostToolUse", "SubagentStop", "PreCompact"}
# Claude Code's notification_type values; older versions send only the message.
_NOTIFICATION = {
    "permission_prompt": "needs_you",
    "elicitation_dialog": "needs_you",
    "idle_prompt": "idle",
}


def claude_settings(command: str) -> str:
    """The ``--settings`` JSON that runs ``command`` on each of ``HOOK_EVENTS``."""
    hook = [{"matcher": "", "hooks": [{"type": "command", "command": command}]}]
    return json.dumps({"hooks": {event: hook for event in HOOK_EVENTS}}, separators=(",", ":"))


def hook_args(template: Sequence[str], hook_argv: Sequence[str]) -> list[str]:
    """A kind's ``hooks`` arguments with the placeholders filled for ``hook_argv``."""
    command = shlex.join(hook_argv)
    values = {
        "{claude_settings}": claude_settings(command),
        "{hook_argv}": json.dumps(list(hook_argv)),
        "{hook_command}": command,
    }
    out = []
    for arg in template:
        for name, value in values.items():
            arg = arg.replace(name, value)
        out.append(arg)
    return out


def state_of(payload: Mapping[str, Any]) -> str | None:
    """The attention state an agent's event says: a Claude Code hook's input
    (``hook_event_name``) or a codex notification (``type``)."""
    event = payload.get("hook_event_name")
    if event == "Notification":
        kind = _NOTIFICATION.get(str(payload.get("notification_type") or ""))
        if kind is not None:
            return kind
        message = str(payload.get("message") or "").lower()
        if "permission" in message or "needs your" in message:
            return "needs_you"
        if "waiting for your input" in message:
            return "idle"
        return None
    if event == "PermissionRequest":
        return "needs_you"
    if event == "Stop":
        return "idle"
    if event in _WORKING:
        return "working"
    kind = payload.get("type")
    if kind == "agent-turn-complete":
        return "idle"
    if kind in ("approval-requested", "user-input-requested"):
        return "needs_you"
    return None
