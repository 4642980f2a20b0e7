"""Starting and controlling sessions from any process: the CLI and the TUI use this.

Every function takes an open ``Store`` and a ``paths`` object (``home.paths.Paths`` or
anything with the same few members, see ``runner.locations.RuntimePaths``). The
supervisor does the work and records it; these functions ask it and return the
session as the database then shows it. They live by concept and are gathered here:
launching (runner/launch.py), talking to a running supervisor (runner/client.py),
and reconciling sessions whose supervisor is gone (runner/reconcile.py).
"""

from __future__ import annotations

from .client import continue_, pause, resize, screen, send_input, status, stop
from .errors import ControlError, NeedsConfirmation, NotResumable, NotRunning, SupervisorGone
from .launch import launch
from .locations import is_alive
from .reconcile import PENDING_GRACE, reconcile, supervisor_errors, supervisor_warnings
from .start import resume_run, start_session

__all__ = [
    "start_session",
    "launch",
    "stop",
    "pause",
    "continue_",
    "resume_run",
    "send_input",
    "resize",
    "screen",
    "status",
    "reconcile",
    "is_alive",
    "supervisor_errors",
    "supervisor_warnings",
    "PENDING_GRACE",
    "ControlError",
    "NeedsConfirmation",
    "NotResumable",
    "NotRunning",
    "SupervisorGone",
]
