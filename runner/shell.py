"""A shell line as a command: what the user typed, run by the user's shell.

The TUI's new-session box and ``tether run -c LINE`` take one line of shell (loops,
pipes, ``$VARS``, ``~``), as pueue does; ``tether run -- CMD ARGS`` keeps its exact
argv. The session's argv is then ``[shell, "-c", line]``, which
``storage.models.Session.command`` shows as the line itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

FALLBACK = "/bin/sh"


def user_shell(env: Mapping[str, str] | None = None) -> str:
    """``$SHELL`` when it names a program that can run (an absolute path), else
    ``/bin/sh``."""
    shell = (os.environ if env is None else env).get("SHELL", "")
    if os.path.isabs(shell) and os.path.isfile(shell) and os.access(shell, os.X_OK):
        return shell
    return FALLBACK


def shell_argv(line: str, env: Mapping[str, str] | None = None) -> list[str]:
    """The argv that runs ``line`` in the user's shell: ``[$SHELL, "-c", line]``."""
    return [user_shell(env), "-c", line]
