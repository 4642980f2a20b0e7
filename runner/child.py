"""The command as a process: starting it on pipes or on a terminal, signalling its group.

Either way the command runs in a new session and process group of its own, so that
signals for stop, pause and continue reach it and everything it started, and
nothing else. On a terminal (pty) it becomes the controlling terminal, with a window
size, so interactive programs and colours work. Which of the two a session gets,
and with what environment, is its kind's choice (runner/kinds.py).

The command is *held*: forked (before the supervisor has any thread), set up (its
session, fds, terminal, working directory, program found), then blocked before
``exec`` until ``Child.release``. The supervisor releases it only once it can
control and record it (database open, run started, control socket bound); if any of
that fails it ``abandon``s the child, which exits without ever running the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import stat
import struct
import termios
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .spec import LaunchSpec

PIPE_SIZE = 1024 * 1024  # ask the kernel for big pipes: fewer wakeups, fewer stalls
DEFAULT_TERM = "xterm-256color"


class StartError(Exception):
    """The command could not be started; ``str`` says exactly why."""


class Process:
    """The command's process (a child of ours): its pid and, once reaped, its return
    code (negative: the signal that killed it, as ``subprocess`` reports it)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


@dataclass
class Child:
    proc: Process
    outputs: dict[int, str]  # readable fd -> stream name
    input_fd: int | None  # where `send` writes: the stdin pipe or the pty master
    started_at: float = field(default_factory=time.time)
    started_mono: float = field(default_factory=time.monotonic)
    _go: int | None = None  # writing to it releases the held command
    _status: int | None = None  # the held child's word: exec failed (why), or EOF

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def held(self) -> bool:
        """Forked and waiting: the command has not run (yet)."""
        return self._go is not None

    async def release(self, argv: Sequence[str], cwd: str) -> None:
        """Let the held command ``exec``; returns once it has (its start time is now).
        Raises ``StartError`` when the exec itself fails."""
        go, status = self._go, self._status
        if go is None or status is None:
            return
        self._go = self._status = None
        self.started_at, self.started_mono = time.time(), time.monotonic()
        try:
            os.write(go, _GO)
        except BrokenPipeError:
            os.close(status)
            raise StartError("could not start: its process ended before it ran") from None
        finally:
            os.close(go)
        word = await asyncio.to_thread(_read_to_eof, status)  # EOF: the exec worked
        if word:
            raise StartError(_describe_word(word, argv, cwd))

    def abandon(self) -> None:
        """The command must not run: the held child exits without exec (and is
        killed, to be sure)."""
        for fd in (self._go, self._status):
            if fd is not None:
                os.close(fd)
        self._go = self._status = None
        self.signal_group(signal.SIGKILL)

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


_GO = b"G"
_READY = b"R"
_RESET = (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGPIPE)


def _read_to_eof(fd: int) -> bytes:
    out = b""
    try:
        while part := os.read(fd, 512):
            out += part
    finally:
        os.close(fd)
    return out


def find_program(prog: str, cwd: str, env: Mapping[str, str]) -> str:
    """Where ``exec`` will find ``prog`` (as execvp looks: PATH unless it holds a
    slash). Raises ``OSError`` (ENOENT, EACCES) as the exec would, before anything ran."""
    if "/" in prog:
        candidates = [os.path.join(cwd, prog)]
    else:
        path = env.get("PATH", os.defpath)
        candidates = [os.path.join(cwd, d or ".", prog) for d in path.split(os.pathsep)]
    denied: str | None = None
    for candidate in candidates:
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(candidate, os.X_OK):
            return candidate
        denied = denied or candidate
    if denied is not None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), prog)
    raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), prog)


def _describe_word(word: bytes, argv: Sequence[str], cwd: str) -> str:
    """The held child's failure report (``stage:errno``) as a user's message."""
    stage, _, code = word.decode(errors="replace").partition(":")
    err = int(code) if code.isdigit() else errno.EIO
    if stage == "exec" and err == errno.ENOENT:  # it was there: its #! interpreter is not
        return f"could not start {argv[0]}: its interpreter (the #! line) was not found"
    exc = OSError(err, os.strerror(err), cwd if stage == "cwd" else argv[0])
    return describe_start_error(list(argv), cwd, exc)


def _held_child(
    program: str,
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    stdio: tuple[int, int, int],
    go: int,
    status: int,
    *,
    terminal: bool,
) -> None:  # runs in the forked child; never returns
    stage = "setup"
    try:
        signal.set_wakeup_fd(-1)  # the supervisor's event loop is not ours
        for sig in _RESET:
            signal.signal(sig, signal.SIG_DFL)
        if hasattr(signal, "SIGXFSZ"):
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        os.setsid()
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        if terminal:
            _become_terminal_owner()
        stage = "cwd"
        os.chdir(cwd)
        stage = "exec"
        os.write(status, _READY)
        if os.read(go, 1) != _GO:
            os._exit(126)  # abandoned: the command never runs
        os.execve(program, list(argv), dict(env))
    except OSError as e:
        with contextlib.suppress(OSError):
            os.write(status, f"{stage}:{e.errno}".encode())
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        pass
    os._exit(127)


def _spawn_held(
    spec: LaunchSpec,
    env: Mapping[str, str],
    stdio: tuple[int, int, int],
    *,
    terminal: bool,
) -> tuple[Process, int, int]:
    """Fork the command, set up and held before exec (see the module docstring).
    Returns it with its go and status fds. Raises ``StartError`` when it could not get
    that far."""
    try:
        program = find_program(spec.argv[0], spec.cwd, env)
    except OSError as e:
        raise StartError(describe_start_error(spec.argv, spec.cwd, e)) from e
    go_r, go_w = os.pipe()
    status_r, status_w = os.pipe()
    # Safe to run Python in the child: the supervisor has no thread yet.
    pid = os.fork()
    if pid == 0:
        _held_child(program, spec.argv, spec.cwd, env, stdio, go_r, status_w, terminal=terminal)
    os.close(go_r)
    os.close(status_w)
    word = os.read(status_r, 512)  # blocks only for the child's setup
    if word != _READY:
        os.close(go_w)
        os.close(status_r)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        raise StartError(_describe_word(word or b"setup:5", spec.argv, spec.cwd))
    return Process(pid), go_w, status_r


def spawn_pipes(spec: LaunchSpec, env: dict[str, str]) -> Child:
    """Start the command (held: see ``Child.release``) with stdin, stdout and stderr on
    pipes of their own; raises ``StartError`` with a precise message when it cannot
    start."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    for fd in (out_r, err_r):
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    try:
        proc, go, status = _spawn_held(spec, env, (in_r, out_w, err_w), terminal=False)
    except StartError:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        raise
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    for fd in (in_w, out_r, err_r):
        os.set_blocking(fd, False)
    return Child(proc, {out_r: "stdout", err_r: "stderr"}, in_w, _go=go, _status=status)


def spawn_pty(spec: LaunchSpec, env: dict[str, str]) -> Child:
    """Start the command (held: see ``Child.release``) on a new terminal of
    ``spec.cols`` x ``spec.rows``; its one fd is both the output (as ``stdout``) and
    the input."""
    master, slave = os.openpty()
    set_window_size(master, spec.cols, spec.rows)
    try:
        proc, go, status = _spawn_held(spec, env, (slave, slave, slave), terminal=True)
    except StartError:
        os.close(master)
        os.close(slave)
        raise
    os.close(slave)
    os.set_blocking(master, False)
    return Child(proc, {master: "stdout"}, master, _go=go, _status=status)


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
