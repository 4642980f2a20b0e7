"""``python -m runner``: a session's supervisor.

Started by ``runner.launch.launch``, which writes a ``LaunchSpec`` (JSON) to our
stdin and reads one JSON line back from our stdout: ``{"ok": true, ...}`` once the
lock is held and the run has started, or ``{"ok": false, "error": ...}``. We detach
first (fork, new session), so the launcher never has to reap us and the terminal it
runs in can close. After the report, stdin, stdout and stderr are ``/dev/null``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


class Reporter:
    """Sends the one line the launcher waits for, then closes the pipe."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd

    def __call__(self, message: dict[str, Any]) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self.fd, json.dumps(message).encode() + b"\n")
        self.close()

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def _detach() -> None:
    """Fork; the parent exits at once (the launcher reaps it), the child starts a new
    session so no terminal hangup or job-control signal can reach it."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()


def _quiet_stdio() -> int:
    """Point stdin, stdout and stderr at /dev/null; return a private copy of the
    original stdout for the report."""
    report_fd = os.dup(1)
    os.set_inheritable(report_fd, False)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    return report_fd


TITLE_MAX = 200  # characters of the command shown in ps


def process_title(session_id: int, argv: list[str]) -> str:
    """What ``ps`` and ``top`` show for a supervisor: ``tether: #42 make -j8``."""
    import shlex

    command = shlex.join(argv).replace("\n", " ")
    if len(command) > TITLE_MAX:
        command = command[: TITLE_MAX - 1] + "…"
    return f"tether: #{session_id} {command}"


def _name_process(session_id: int, argv: list[str]) -> None:
    """Name this process after its session, so that a user can tell supervisors apart
    (the command line in ``ps``, and ``comm`` in ``top``). Without ``setproctitle``
    installed, they stay ``python3 -m runner``."""
    try:
        from setproctitle import setproctitle
    except ImportError:
        return
    with contextlib.suppress(Exception):  # a cosmetic; never a reason to fail
        setproctitle(process_title(session_id, argv))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner", description=__doc__)
    parser.add_argument("--foreground", action="store_true", help="do not detach (for debugging)")
    args = parser.parse_args(argv)

    from .log import write_entry
    from .spec import LaunchSpec

    spec = LaunchSpec.from_json(sys.stdin.buffer.read().decode())
    if not args.foreground:
        _detach()
    _name_process(spec.session_id, spec.argv)
    report = Reporter(_quiet_stdio())
    os.chdir("/")  # never hold a directory (or a mount) busy
    # Inherited "ignore" dispositions would pass on to the command.
    for sig in (signal.SIGQUIT, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_DFL)
    log_path = Path(spec.log)
    fault_log = None
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fault_log = os.fdopen(fd, "a")
        faulthandler.enable(fault_log)  # a hard crash (in SQLite, say) still leaves a trace
    except OSError:
        pass
    try:
        from .supervisor import Supervisor

        return asyncio.run(Supervisor(spec, report).main())
    except BaseException as e:  # noqa: BLE001 - never die silently
        write_entry(log_path, f"supervisor failed: {e!r}", session_id=spec.session_id, exc=e)
        report({"ok": False, "error": f"tether's supervisor failed: {e!r}"})
        return 1
    finally:
        report.close()


if __name__ == "__main__":
    sys.exit(main())
