"""An agent session's own signal of its state (agents/hooks.py), from start to read.

``with_hooks`` gives a new run of an agent session its kind's ``hooks`` arguments
(after the program's name, so never inside a wrapper's), pointing the hook program
(runner/hook.py) at ``signal_file``: beside the session's control socket, in the
private runtime directory. The run's recorded argv stays the command as given.
``HookSignal`` is the supervisor's side: the latest state the agent reported, re-read
only when the file changed (one stat per look).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from agents.hooks import hook_args
from agents.kinds import AgentKind, recognise

from .spec import LaunchSpec

HOOK_PROGRAM = Path(__file__).resolve().with_name("hook.py")


def signal_file(socket: str) -> Path:
    """Where the hook of the session whose control socket is ``socket`` writes."""
    return Path(socket).with_suffix(".hook")


def with_hooks(spec: LaunchSpec, kind: AgentKind | None) -> LaunchSpec:
    """``spec`` with its agent's hooks added to what runs (unchanged for a session
    that runs no agent, a kind without hooks, or a command tether cannot add to)."""
    if kind is None or not kind.hooks:
        return spec
    found = recognise(spec.argv, {kind.name: kind})
    if found is None or found.shell_line:
        return spec
    HookSignal(signal_file(spec.socket)).clear()  # an earlier run's (killed) report
    hook = [sys.executable, "-I", "-S", str(HOOK_PROGRAM), str(signal_file(spec.socket))]
    at = found.args_at
    argv = spec.argv[:at] + hook_args(kind.hooks, hook) + spec.argv[at:]
    return replace(spec, argv=argv, shown_argv=spec.shown_argv or list(spec.argv))


class HookSignal:
    """The state an agent last reported through its hook, and when (wall clock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self.latest: tuple[str, float] | None = None

    def clear(self) -> None:
        """Forget an earlier run's signal (the file too)."""
        with contextlib.suppress(OSError):
            self.path.unlink()
        self._stamp, self.latest = None, None

    def read(self) -> tuple[str, float] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return self.latest
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                data = json.loads(self.path.read_bytes()[: 1 << 16])
                self.latest = (str(data["state"]), float(data["at"]))
            except (OSError, ValueError, KeyError, TypeError):
                pass  # keep what we had
        return self.latest
