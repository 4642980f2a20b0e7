"""Changing ``config.toml``: one setting at a time (``set_setting``, ``unset_setting``) or
the whole text (``save_text``, after an edit), always checked as loading checks it.

The file keeps its comments, blank lines and order (tomlkit): only the line of the
changed key differs. A write is atomic: a new 0600 file in the same directory (0700
when tether makes it), flushed to disk, renamed over the old one, and the directory
synced; a read-change-write holds a lock on the directory so two at once lose nothing.
A symlink at the file's path is never written through (nor replaced): that file is the
user's to edit where it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from home.config import ConfigError, parse_config
from home.config_schema import Option, dotted, find, parse_value

NEW_FILE_HEADER = "# tether configuration; `tether config` shows every setting in effect.\n"


class ConfigNotWritten(Exception):
    """The file could not be written as asked (a symlink at its path, a change under us)."""


def refuse_link(path: Path) -> None:
    """``ConfigNotWritten`` if ``path`` is a symbolic link."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise ConfigNotWritten(
            f"{path} is a symbolic link (to {os.readlink(path)}); tether does not write "
            "through links: edit the file it points to, or put a plain file in its place"
        )


def read_text(path: Path) -> str | None:
    """The file's text, or None when there is none."""
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, f"cannot be read: {e}") from None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file's directory (made 0700 if missing) while a
    read-change-write runs."""
    from storage.engine.opening import make_private_dir

    make_private_dir(path.parent)
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (see the module's docstring). The
    caller has checked ``refuse_link`` under ``locked``."""
    from storage.files import atomic_write

    with atomic_write(path) as f:
        f.write(text.encode("utf-8"))
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)  # the rename itself survives a crash
    finally:
        os.close(fd)


def check_text(text: str, path: Path, key_ids: Collection[str] | None) -> None:
    """``ConfigError`` if ``text`` would not load."""
    parse_config(text, path, key_ids=key_ids)


def _change(path: Path, before: str | None, after: str, key_ids: Collection[str] | None) -> None:
    """Check ``after`` as loading would, then write it. When it fails for a reason the
    file had already, say so: the key asked for is not the problem."""
    try:
        check_text(after, path, key_ids)
    except ConfigError as e:
        try:
            check_text(before or "", path, key_ids)
        except ConfigError:
            raise ConfigError(
                None, f"{e} (the file had this problem already: `tether config edit` to fix it)"
            ) from None
        raise
    write_atomic(path, after)


def set_setting(
    path: Path, key: str, text: str, key_ids: Collection[str] | None
) -> tuple[str, Any, Option]:
    """Set the dotted ``key`` to the value typed as ``text`` (``parse_value``); return
    the key as written, the value and its option. ``SettingError`` for a bad key or
    value, ``ConfigError`` if the file would not load after."""
    import tomlkit

    from home.config_schema import split_key

    parts = split_key(key)
    option = find(parts, key_ids)
    name = dotted(parts)
    value = parse_value(option, text, name)
    with locked(path):
        refuse_link(path)
        before = read_text(path)
        doc = _parse(path, before if before is not None else NEW_FILE_HEADER)
        table: Any = doc
        for part in parts[:-1]:
            if part not in table:
                # [groups] holds only tables: write [groups.build], not an empty [groups]
                table[part] = tomlkit.table(is_super_table=part == "groups" and table is doc)
            table = table[part]
        table[parts[-1]] = tomlkit.item(value)
        _change(path, before, tomlkit.dumps(doc), key_ids)
    return name, value, option


def unset_setting(path: Path, key: str, key_ids: Collection[str] | None) -> bool:
    """Remove the dotted ``key`` from the file, so its default is in effect; False when
    the file does not set it. A key the schema does not know may be removed when the
    file has it (an old or misspelt one); otherwise it is a ``SettingError``."""
    import tomlkit

    from home.config_schema import split_key

    parts = split_key(key)
    with locked(path):
        refuse_link(path)
        before = read_text(path)
        doc = _parse(path, before or "")
        table: Any = doc
        for part in parts[:-1]:
            table = table.get(part) if hasattr(table, "get") else None
        present = hasattr(table, "get") and parts[-1] in table
        if not present:
            find(parts, key_ids)  # an unknown key is an error; a known one is just not set
            return False
        del table[parts[-1]]
        _change(path, before, tomlkit.dumps(doc), key_ids)
    return True


def save_text(
    path: Path, text: str, *, expect: str | None, key_ids: Collection[str] | None
) -> None:
    """Write a whole edited ``text`` if it loads (else ``ConfigError``, nothing written)
    and the file still holds ``expect`` (what the edit started from; None: no file)."""
    check_text(text, path, key_ids)
    with locked(path):
        refuse_link(path)
        if read_text(path) != expect:
            raise ConfigNotWritten(f"{path} changed while you were editing it; not saved")
        write_atomic(path, text)


def _parse(path: Path, text: str) -> Any:
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        return tomlkit.parse(text)
    except ParseError as e:
        raise ConfigError(path, f"not valid TOML: {e} (`tether config edit` to fix it)") from None
