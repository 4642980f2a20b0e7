"""Processes a command started that left its process group (Linux).

``stop`` signals the command's process group. A process that made itself a new
session or group (``setsid``, a daemon's double fork, Node's ``detached: true``) is
out of that group and would outlive the stop. So the supervisor makes itself a
*child subreaper*: whatever the command orphans is re-parented to the supervisor
instead of to init, stays its descendant, and can be found in ``/proc`` and
signalled with the rest. The supervisor must then also reap those orphans when they
exit (``reap_orphans``), since it is now their parent.

Only an explicit stop signals them: a command that ends by itself may have started
something meant to outlive it (a tmux server, say), and that is left alone.
Elsewhere than Linux these functions do nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Collection

PR_SET_CHILD_SUBREAPER = 36
LINUX = sys.platform.startswith("linux")


def become_subreaper() -> bool:
    """Adopt the orphans of this process's descendants. True if it worked."""
    if not LINUX:
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) for every process we can see."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        found[int(name)] = (int(fields[1]), int(fields[2]), fields[0].decode())
    return found


def escaped(group: int, ignore: Collection[int] = ()) -> list[int]:
    """Live descendants of this process outside the process group ``group``, but for
    ``ignore`` (the supervisor's own helpers: its guardian, runner/guardian.py)."""
    if not LINUX:
        return []
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    # /proc is read one process at a time while pids are reused (they wrap at
    # pid_max, 32768 by default), so the snapshot may hold a cycle: visit each once.
    me = os.getpid()
    out, seen, todo = [], {me, *ignore}, list(children.get(me, []))
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += children.get(pid, [])
        _, pgrp, state = procs[pid]
        if pgrp != group and state not in ("Z", "X"):
            out.append(pid)
    return out


def signal_escaped(group: int, sig: int, ignore: Collection[int] = ()) -> int:
    """Send ``sig`` to every escaped descendant; returns how many there were."""
    pids = escaped(group, ignore)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
    return len(pids)


def reap_orphans(keep: int) -> None:
    """Reap adopted orphans that have exited (not ``keep``, the command itself, which
    its ``Popen`` reaps)."""
    if not LINUX:
        return
    me = os.getpid()
    for pid, (ppid, _, state) in _processes().items():
        if ppid == me and pid != keep and state == "Z":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
