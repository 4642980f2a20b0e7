"""The command as a process: starting it on pipes or on a terminal, signalling its group.

Either way the command runs in a new session and process group of its own, so that
signals for stop, pause and continue reach it and everything it started, and
nothing else. On a terminal (pty) it becomes the controlling terminal, with a window
size, so interactive programs and colours work. Which of the two a session gets,
and with what environment, is its kind's choice (runner/kinds.py).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .spec import LaunchSpec

PIPE_SIZE = 1024 * 1024  # ask the kernel for big pipes: fewer wakeups, fewer stalls
DEFAULT_TERM = "xterm-256color"


class StartError(Exception):
    """The command could not be started; ``str`` says exactly why."""


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    outputs: dict[int, str]  # readable fd -> stream name
    input_fd: int | None  # where `send` writes: the stdin pipe or the pty master
    started_at: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal_group(self, sig: int) -> bool:
        """Send ``sig`` to the command's process group; False if nobody is left."""
        try:
            os.killpg(self.proc.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False


def set_window_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _become_terminal_owner() -> None:  # runs in the child between fork and exec
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def command_env(spec: LaunchSpec, defaults: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's environment, then the kind's ``defaults`` (``TERM`` for a terminal),
    then the session's overrides (only those are stored)."""
    env = dict(os.environ)
    if defaults:
        env.update(defaults)
    env.update(spec.env)
    env["TETHER_SESSION"] = str(spec.session_id)
    return env


def describe_start_error(argv: list[str], cwd: str, exc: OSError) -> str:
    prog = argv[0]
    if exc.filename == cwd and exc.filename != prog:
        return f"could not start: cannot enter the working directory {cwd} ({exc.strerror})"
    if exc.errno == errno.ENOENT:
        if "/" in prog:
            return f"could not start: {prog} does not exist"
        return f"could not start: command not found: {prog}"
    if exc.errno == errno.EACCES:
        return f"could not start: {prog} is not executable (permission denied)"
    if exc.errno == errno.ENOEXEC:
        return f"could not start: {prog} is not a program this system can run (exec format error)"
    return f"could not start {prog}: {exc.strerror or exc}"


def check_cwd(cwd: str) -> None:
    """Raise ``StartError`` when the working directory cannot be entered."""
    if not os.path.exists(cwd):
        raise StartError(f"could not start: the working directory {cwd} does not exist")
    if not os.path.isdir(cwd):
        raise StartError(f"could not start: the working directory {cwd} is not a directory")


def spawn_pipes(spec: LaunchSpec, env: dict[str, str]) -> Child:
    """Start the command with stdin, stdout and stderr on pipes of their own; raises
    ``StartError`` with a precise message when it cannot start."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    for fd in (out_r, err_r):
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    try:
        proc = subprocess.Popen(
            spec.argv,
            stdin=in_r,
            stdout=out_w,
            stderr=err_w,
            cwd=spec.cwd,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as e:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        raise StartError(describe_start_error(spec.argv, spec.cwd, e)) from e
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    for fd in (in_w, out_r, err_r):
        os.set_blocking(fd, False)
    return Child(proc, {out_r: "stdout", err_r: "stderr"}, in_w)


def spawn_pty(spec: LaunchSpec, env: dict[str, str]) -> Child:
    """Start the command on a new terminal of ``spec.cols`` x ``spec.rows``; its one
    fd is both the output (as ``stdout``) and the input."""
    master, slave = os.openpty()
    set_window_size(master, spec.cols, spec.rows)
    try:
        # preexec_fn is safe here: the supervisor has started no threads yet.
        proc = subprocess.Popen(
            spec.argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=spec.cwd,
            env=env,
            start_new_session=True,
            preexec_fn=_become_terminal_owner,
            close_fds=True,
        )
    except OSError as e:
        os.close(master)
        os.close(slave)
        raise StartError(describe_start_error(spec.argv, spec.cwd, e)) from e
    os.close(slave)
    os.set_blocking(master, False)
    return Child(proc, {master: "stdout"}, master)


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
