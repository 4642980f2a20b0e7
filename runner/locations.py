"""Where a session's supervisor keeps its lock and socket, and how liveness is told.

The runner takes a ``paths`` object rather than importing ``tui``: anything with
``db``, ``runtime``, ``lock_file(id)``, ``socket_file(id)`` and ``supervisor_log``
works (``home.paths.Paths`` does).

Liveness is the lock: a supervisor holds an exclusive ``flock`` on its session's lock
file for its whole life, so a free lock means no supervisor, whatever pids say, and a
reboot frees every lock. ``sweep`` deletes the lock files (and stale sockets) of
sessions that are not running, holding each lock while it does. Deleting a lock file
that another process has just opened would give two processes "the" lock on two
different files, so whoever takes a lock checks afterwards that the file it locked is
still the one at the path, and tries again if not.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator

from storage.engine.opening import make_private_dir

from .errors import UnsafeRuntimeDir

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see storage/__init__)

SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL
SHORT_SOCKET_ROOT = "/tmp"


if TYPE_CHECKING:  # types only: nothing at run time needs them
    from pathlib import Path
    from typing import Protocol

    class RuntimePaths(Protocol):
        """What the runner needs to know about where things live. The string forms
        (``runtime_str``, ``lock_file_str``) are what reading commands use: they never
        import pathlib (home/paths.py)."""

        db: Path

        @property
        def runtime(self) -> Path: ...

        @property
        def runtime_str(self) -> str: ...

        def lock_file_str(self, session_id: int) -> str: ...

        @property
        def supervisor_log(self) -> Path: ...

        def lock_file(self, session_id: int) -> Path: ...

        def socket_file(self, session_id: int) -> Path: ...


def private_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` (and parents) 0700 if needed and check that it is ours and
    private: not a symlink, owned by this user, no group or other access."""
    make_private_dir(path)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafeRuntimeDir(str(path), "it is not a plain directory")
    if st.st_uid != os.getuid():
        raise UnsafeRuntimeDir(str(path), f"it belongs to uid {st.st_uid}")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)


def socket_path(paths: RuntimePaths, session_id: int) -> Path:
    """The control socket of a session. Unix socket paths are limited to 107 bytes; a
    longer one is replaced by ``/tmp/tether-<uid>/<hash of the runtime dir>/<id>.sock``,
    which every process computes the same way."""
    path = paths.socket_file(session_id)
    if len(os.fsencode(path)) <= SOCKET_PATH_MAX:
        return path
    import hashlib  # only for a long path
    from pathlib import Path

    key = hashlib.sha256(os.fsencode(paths.runtime.absolute())).hexdigest()[:16]
    return Path(SHORT_SOCKET_ROOT, f"tether-{os.getuid()}", key, path.name)


def prepare_socket_dir(sock: Path) -> None:
    """Make sure the directory of ``sock`` (and, for the short fallback, its parent)
    is private to this user."""
    if str(sock.parent.parent.parent) == SHORT_SOCKET_ROOT:
        private_dir(sock.parent.parent)
    private_dir(sock.parent)


def _open_lock(path: Path | str) -> int:
    private_dir(os.path.dirname(path))
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _still_there(fd: int, path: Path | str) -> bool:
    """Is the file open as ``fd`` still the one at ``path`` (not swept meanwhile)?"""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (held.st_dev, held.st_ino)


def _lock_now(path: Path | str) -> int | None:
    """An fd holding ``path``'s exclusive lock, or None if another process holds it."""
    while True:
        fd = _open_lock(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return None
            raise
        if _still_there(fd, path):
            return fd
        os.close(fd)  # swept between open and flock: lock the new file instead


def lock_is_held(lock_file: Path | str) -> bool:
    """True when some process holds the lock (a supervisor is alive)."""
    try:
        fd = os.open(lock_file, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def is_alive(paths: RuntimePaths, session_id: int) -> bool:
    """Is a supervisor holding this session's lock?"""
    return lock_is_held(paths.lock_file_str(session_id))


def supervisor_pid(paths: RuntimePaths, session_id: int) -> int | None:
    """The pid a live supervisor wrote into its lock file (None if not alive)."""
    lock = paths.lock_file_str(session_id)
    if not lock_is_held(lock):
        return None
    return lock_pid(lock)


def lock_pid(lock_file: Path | str) -> int | None:
    """The pid the last supervisor to hold this lock wrote into it, if any."""
    try:
        with open(lock_file) as f:
            text = f.read().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def try_lock(lock_file: Path | str) -> Iterator[bool]:
    """Hold the lock for a moment if it is free (yields True), else yield False.
    Used by ``reconcile`` so that no supervisor can start while it decides."""
    fd = _lock_now(lock_file)
    if fd is None:
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)


class SupervisorLock:
    """The exclusive lock a supervisor holds for its whole life."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Try once; True when taken. The pid goes into the file for ``doctor``."""
        fd = _lock_now(self.path)
        if fd is None:
            return False
        self.fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor releases the flock
            self.fd = None

    def still_there(self) -> bool:
        """Is the file we hold still the one at the path? (Not when someone removed
        it, or the whole runtime directory: logind at logout, a tmp cleaner.)"""
        return self.fd is not None and _still_there(self.fd, self.path)

    def repair(self) -> bool:
        """Lock a new file at the path (re-creating the directory, private) after ours
        was removed, so that others see us alive by the lock again; True when done.
        Until then they judge us by the pid and start time our run recorded."""
        fd = _lock_now(self.path)
        if fd is None:
            return False  # someone holds it for a moment (reconcile deciding): later
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        old, self.fd = self.fd, fd
        if old is not None:
            os.close(old)
        return True


def mark_launching(paths: RuntimePaths, session_id: int) -> None:
    """Leave the session's lock file before starting its supervisor: a ``pending``
    session with a lock file here (and nobody holding it for a while) was launched from
    here and its supervisor never started; one without was not ours to launch (a
    library's, or another home's), and ``reconcile`` leaves it alone."""
    os.close(_open_lock(paths.lock_file_str(session_id)))


def sweep(paths: RuntimePaths, keep: set[int]) -> int:
    """Delete the lock files, stale sockets and agents' hook reports of sessions not in
    ``keep`` (those that may have a supervisor: running, paused, pending), each while
    holding its lock, so a live supervisor's files are never touched. Returns how many
    lock files went."""
    removed = 0
    try:
        names = os.listdir(paths.runtime_str)
    except FileNotFoundError:
        return 0
    for name in names:
        stem, dot, ext = name.partition(".")
        if ext != "lock" or not stem.isdigit() or int(stem) in keep:
            continue
        sid = int(stem)
        lock = paths.lock_file_str(sid)
        fd = _lock_now(lock)
        if fd is None:
            continue  # a supervisor still holds it (finishing its indexing)
        try:
            sock = socket_path(paths, sid)
            for leftover in (sock, sock.with_suffix(".hook")):  # .hook: runner/hooks.py
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            os.unlink(lock)
            removed += 1
        finally:
            os.close(fd)
    # The (empty) short socket directory stays: removing it could pull it from under
    # a supervisor that has just made it and is about to bind its socket there.
    return removed
