"""Processes told apart safely: this machine's boot, a process's start time, and whether
a process a run recorded is still that process.

A pid alone says nothing after its process ended: pids are reused (they wrap at
``pid_max``). A pid together with the process's start time (``/proc/PID/stat`` field
22, clock ticks after boot) names one process for the whole life of the machine's
boot, and only within one pid namespace. So what a run records is the host, the
*boot* (boot id and pid namespace) and, per process, pid and start time; another
process can then say "alive", "gone" or "cannot tell" (another host, another
namespace). Linux only; elsewhere nothing is recorded and nothing is judged by it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys

from storage.frozen import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from storage import ProcessIdentity

LINUX = sys.platform.startswith("linux")


@functools.cache
def host() -> str:
    import socket  # only when a run's host is compared: most commands never need it

    return socket.gethostname()


@functools.cache
def boot() -> str | None:
    """``"<boot id> <pid namespace>"``: pids recorded under another value mean nothing
    here. None where this cannot be told (not Linux)."""
    if not LINUX:
        return None
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot_id = f.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot_id} {namespace}"


class ProcStat(Frozen):
    __slots__ = ("pid", "state", "ppid", "pgrp", "start")

    pid: int
    state: str
    ppid: int
    pgrp: int
    start: int  # clock ticks after boot

    def __init__(self, pid: int, state: str, ppid: int, pgrp: int, start: int) -> None:
        object.__setattr__(self, "pid", pid)
        object.__setattr__(self, "state", state)
        object.__setattr__(self, "ppid", ppid)
        object.__setattr__(self, "pgrp", pgrp)
        object.__setattr__(self, "start", start)


def stat(pid: int) -> ProcStat | None:
    """What ``/proc/PID/stat`` says, or None when there is no such process (or it is a
    zombie: it has ended, only its exit status is left)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    state = fields[0].decode()
    if state in ("Z", "X"):
        return None
    return ProcStat(pid, state, int(fields[1]), int(fields[2]), int(fields[19]))


def start_time(pid: int) -> int | None:
    st = stat(pid)
    return st.start if st else None


def same_boot(recorded_host: str | None, recorded_boot: str | None) -> bool | None:
    """True when pids recorded on ``recorded_host`` under ``recorded_boot`` can be
    looked up here; False when they certainly name no living process (this host has
    restarted since); None when this process cannot tell (another host, another pid
    namespace, or nothing recorded)."""
    here = boot()
    if not recorded_host or not recorded_boot or here is None or recorded_host != host():
        return None
    if recorded_boot == here:
        return True
    if recorded_boot.split(" ", 1)[0] != here.split(" ", 1)[0]:
        return False  # another boot of this host: every process of that one is gone
    return None  # same boot, another pid namespace (a container): not ours to judge


def is_running(pid: int | None, start: int | None) -> bool:
    """Is the process with this pid the one that started at ``start``? (Call only when
    ``same_boot`` said True.)"""
    if not pid or start is None:
        return False
    return start_time(pid) == start


def group_members(pgrp: int, *, started_from: int, session_id: int | None = None) -> list[int]:
    """Live processes in process group ``pgrp`` that started no earlier than
    ``started_from``. With ``session_id``, only those whose environment says they belong
    to that tether session (``TETHER_SESSION``): a check against a group number reused
    after the group had emptied."""
    if not LINUX:
        return []
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = stat(int(name))
        if st is None or st.pgrp != pgrp or st.start < started_from:
            continue
        if session_id is not None and _tether_session(st.pid) != str(session_id):
            continue
        found.append(st.pid)
    return found


def _tether_session(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return None
    for entry in env:
        if entry.startswith(b"TETHER_SESSION="):
            return entry.split(b"=", 1)[1].decode(errors="replace")
    return None


def command_line(pid: int) -> str:
    """The process's command line, for messages ("" if it cannot be read)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return " ".join(a.decode(errors="replace") for a in f.read().split(b"\0") if a)
    except OSError:
        return ""


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def kill_group(pgrp: int, sig: int = 9) -> bool:
    """Send ``sig`` (SIGKILL: 9 by POSIX; the module ``signal`` would build its enums
    for every command that reconciles) to the process group ``pgrp``."""
    try:
        os.killpg(pgrp, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def of_supervisor(command_pid: int, socket: str) -> ProcessIdentity | None:
    """What a supervisor's run records so that others can tell it is alive without its
    lock file (runner/reconcile.py), and find what it leaves if it dies (``stop``)."""
    from pathlib import Path

    from storage import ProcessIdentity

    this_boot = boot()
    me = start_time(os.getpid())
    if this_boot is None or me is None:
        return None
    return ProcessIdentity(
        host=host(),
        boot=this_boot,
        supervisor_pid=os.getpid(),
        supervisor_start=me,
        command_start=start_time(command_pid),
        socket=str(Path(socket).absolute()),
    )
