"""Files tether creates where other users may write (an export's ``-o``, ``tether backup
DEST``, the directory of a ``--db``): made so that nobody else can read, plant or
redirect them.

Every such file is first created under a unique random name in the destination's own
directory, exclusively (``O_CREAT|O_EXCL|O_NOFOLLOW``, mode 0600): a file or symlink
planted there in advance makes the attempt fail instead of handing its owner the data
or making tether write through the link. Only once complete is it renamed into place
(or, when the caller must not overwrite, hard-linked: that fails if the name exists,
symlink or not). Writers that are not Python code (SQLite, which also makes a journal
beside its file) work inside a private directory made the same way (``staging_dir``).

A symlink at the final name is replaced, never followed: the file it points to is left
untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def create_exclusive(
    directory: str | os.PathLike[str], *, prefix: str = ".tether-", suffix: str = ""
) -> tuple[int, Path]:
    """Create a new empty file, 0600, under a unique name in ``directory``; return its
    descriptor (open for writing) and path. Never opens a file or link that was there."""
    folder = Path(directory)
    for _ in range(100):
        path = folder / f"{prefix}{secrets.token_hex(8)}{suffix}"
        try:
            fd = os.open(path, _FLAGS, 0o600)
        except FileExistsError:
            continue
        except (FileNotFoundError, PermissionError, NotADirectoryError) as e:
            # Name the directory the user chose, not our temporary name in it.
            raise type(e)(e.errno, e.strerror, os.fspath(folder)) from None
        os.fchmod(fd, 0o600)  # whatever the umask
        return fd, path
    raise FileExistsError(f"no free file name in {folder}")


@contextlib.contextmanager
def staging_dir(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """A new private directory (0700, unique random name) in ``directory``, removed
    afterwards with whatever is left in it. Files made inside it (an SQLite database
    and its journal) cannot be planted or read by other users; rename them out with
    ``publish``."""
    path = Path(tempfile.mkdtemp(prefix=".tether-", dir=directory))  # mkdir: exclusive, 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def publish(tmp: str | os.PathLike[str], target: str | os.PathLike[str], *, replace: bool) -> None:
    """Move the finished file ``tmp`` to ``target`` (same filesystem) in one step.

    ``replace=True`` renames over whatever is at ``target`` (a symlink is replaced, not
    followed). ``replace=False`` raises ``FileExistsError`` if anything is there: the
    file is hard-linked, which never overwrites, then its temporary name removed."""
    if replace:
        try:
            os.replace(tmp, target)
        except OSError as e:  # name the user's path, not our temporary one
            raise type(e)(e.errno, e.strerror, os.fspath(target)) from None
        return
    try:
        os.link(tmp, target, follow_symlinks=False)
    except FileExistsError:
        raise _exists(target) from None
    except OSError:
        # A filesystem without hard links (FAT, some FUSE): check, then rename.
        if os.path.lexists(target):
            raise _exists(target) from None
        os.rename(tmp, target)
        return
    os.unlink(tmp)


def _exists(target: str | os.PathLike[str]) -> FileExistsError:
    return FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(target))


@contextlib.contextmanager
def atomic_write(
    target: str | os.PathLike[str], *, replace: bool = True, buffering: int = 1024 * 1024
) -> Iterator[BinaryIO]:
    """Write ``target`` whole or not at all: yields a binary file created by
    ``create_exclusive`` beside it, then flushes it to disk and ``publish``-es it. If
    the body raises, the temporary file is removed and ``target`` left as it was."""
    path = Path(target)
    fd, tmp = create_exclusive(path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb", buffering) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path, replace=replace)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
