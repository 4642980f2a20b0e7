"""The command dies with its supervisor: a tiny guardian process that ends the command's
process group when the supervisor is gone.

Policy: a session's command never outlives its supervisor. Nobody would capture its
output any more, nobody could stop it with ``tether stop`` the usual way, and a
``resume`` could start a second copy beside it. So right after spawning the command,
the supervisor forks a guardian holding the read end of a pipe whose only write end
the supervisor keeps. However the supervisor ends (kill -9 included), the kernel
closes that write end and the guardian reads end-of-file: it then sends the kind's
stop signals (and SIGCONT) to the command's group, waits the session's grace period,
and SIGKILLs what is left. When the command ends normally the supervisor first writes
a byte ("stand down") and the guardian exits without touching anything: what a
command leaves running on purpose (a background job) is not ours to end.

The guardian is its own session (a signal for the supervisor's group does not reach
it), ignores the usual termination signals, closes every descriptor but its pipe (it
must not keep the lock, the pty or the output pipes open), and never touches a group
whose leader is no longer the command (pid and start time).

If the guardian is killed as well (kill -9 of both), what is left is still found and
ended by ``tether stop`` from the pid and start time the run recorded
(runner/reconcile.py, ``find_leftovers``).

With ``then`` (a command line), a guardian that saw its supervisor die becomes that
command once the group is ended: the supervisor passes the queue's kick
(runner/queue.py), so a slot freed by a kill -9 is taken even when no tether command
runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Sequence

from . import identity

_STAND_DOWN = b"."
_IGNORED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGPIPE)


class Guardian:
    """The supervisor's side: the guardian's pid and the write end of its pipe."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid = pid
        self._fd: int | None = fd

    def stand_down(self) -> None:
        """The command has ended by itself: the guardian exits touching nothing."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, _STAND_DOWN)
        os.close(self._fd)
        self._fd = None


def start(
    group: int, grace: float, signals: Sequence[int], then: Sequence[str] | None = None
) -> Guardian:
    """Fork the guardian of the process group ``group`` (led by the command). Call it
    while the supervisor has no threads (right after spawning the command). ``then``:
    what the guardian executes after the supervisor died (see the module's docstring)."""
    leader_start = identity.start_time(group)
    r, w = os.pipe()  # both close-on-exec: the command never sees them
    pid = os.fork()
    if pid == 0:  # the guardian
        status = 0
        try:
            os.close(w)
            if _watch(r, group, leader_start, grace, signals) and then:
                for sig in _IGNORED:  # ignored signals stay ignored across exec:
                    signal.signal(sig, signal.SIG_DFL)  # the kick must be stoppable
                os.execv(then[0], list(then))
        except BaseException:  # noqa: BLE001 - nothing to report to; just go
            status = 1
        finally:
            os._exit(status)
    os.close(r)
    return Guardian(pid, w)


def _watch(
    fd: int, group: int, leader_start: int | None, grace: float, signals: Sequence[int]
) -> bool:
    """Wait for the supervisor's word or its end; True when it died (after ending the
    group)."""
    # Signals must not reach the supervisor's event loop through an inherited wakeup fd.
    signal.set_wakeup_fd(-1)
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    os.closerange(3, fd)
    os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
    while True:
        try:
            said = os.read(fd, 1)
        except InterruptedError:
            continue
        break
    if said:
        return False  # stand down: the command ended by itself
    # The supervisor is gone. End the group, unless its leader's pid now names another
    # process (the command is gone and its pid was given away).
    if leader_start is not None:
        now = identity.start_time(group)
        if now is not None and now != leader_start:
            return True
    for sig in (*signals, signal.SIGCONT):
        identity.kill_group(group, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not identity.kill_group(group, 0):
            return True  # all gone
        time.sleep(0.05)
    identity.kill_group(group, signal.SIGKILL)
    return True
