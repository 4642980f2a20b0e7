"""The hook program an agent runs on its own events (agents/hooks.py): it records the
attention state the event says for the session's supervisor, then exits 0 and prints
nothing (Claude Code adds a hook's output to the conversation, and a hook that fails
would show an error in it).

``python runner/hook.py FILE [JSON]``: the event is the last argument (codex
``notify``) or stdin (Claude Code hooks). ``FILE`` (in the supervisor's private
runtime directory) gets ``{"state", "event", "at"}``, written to a new file beside it
and renamed over it, so the supervisor never reads half of one.
"""

from __future__ import annotations

import json
import os
import sys
import time


def record(path: str, state: str, event: str, at: float) -> None:
    """Write the signal to ``path`` atomically; nothing when its directory is gone."""
    data = json.dumps({"state": state, "event": event, "at": at}).encode()
    temp = f"{path}.{os.getpid()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temp, path)


def main(argv: list[str]) -> int:
    if not argv:
        return 0
    path, rest = argv[0], argv[1:]
    try:
        text = rest[-1] if rest else sys.stdin.read(1 << 20)
        payload = json.loads(text)
        if not isinstance(payload, dict):
            return 0
        from agents.hooks import state_of

        state = state_of(payload)
        if state is not None:
            event = str(payload.get("hook_event_name") or payload.get("type") or "")
            record(path, state, event, time.time())
    except (OSError, ValueError):
        pass  # never in the agent's way: the screen still tells
    return 0


if __name__ == "__main__":
    # Run as a file (the agent's cwd is anywhere): the tree this file is in first.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main(sys.argv[1:]))
