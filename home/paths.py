"""Where tether keeps things. Nothing here touches the disk at import time.

- database and backups: the user data dir (``TETHER_HOME`` or platformdirs)
- ``config.toml``: the user config dir
- locks, sockets, supervisor log: the user runtime dir, falling back to the data dir;
  one subdirectory per database so two databases never share session locks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

APP = "tether"


def _path(where: str) -> Path:
    from pathlib import Path

    return Path(where)


class Paths:
    """Where one home's things are. A plain class rather than a frozen dataclass, same
    behaviour: every command builds one first, and ``dataclasses`` (it imports
    ``inspect`` and ``ast``) is ~10 ms that ``tether attach`` need not pay before its
    first screen (tests/cli/test_cli_startup.py).

    The places are kept as plain strings and handed out as ``pathlib.Path`` objects
    made when asked. What a command that only reads needs has a string form too,
    ``X_str`` being ``str(X)``: ``tether search``, ``ls`` and ``logs`` go through those
    and never import pathlib, about 3 ms of a 35 ms ``tether search`` (issue 18)."""

    __slots__ = ("_where",)
    _FIELDS = ("data_dir", "config_dir", "runtime_root", "db")

    _where: tuple[str, str, str, str]

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        config_dir: str | os.PathLike[str],
        runtime_root: str | os.PathLike[str],
        db: str | os.PathLike[str],
    ) -> None:
        where = tuple(_norm(os.fspath(v)) for v in (data_dir, config_dir, runtime_root, db))
        object.__setattr__(self, "_where", where)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Paths is read-only: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._where == other._where  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._where)

    def __reduce__(self) -> tuple[type[Paths], tuple[str, ...]]:  # copy, pickle
        return Paths, self._where

    def __repr__(self) -> str:
        inner = ", ".join(
            f"{n}={_path(w)!r}" for n, w in zip(self._FIELDS, self._where, strict=True)
        )
        return f"Paths({inner})"

    @property
    def data_dir(self) -> Path:
        return _path(self._where[0])

    @property
    def config_dir(self) -> Path:
        return _path(self._where[1])

    @property
    def runtime_root(self) -> Path:
        return _path(self._where[2])

    @property
    def db(self) -> Path:
        return _path(self._where[3])

    @property
    def db_str(self) -> str:
        return self._where[3]

    @property
    def backups(self) -> Path:
        return _path(self.backups_str)

    @property
    def backups_str(self) -> str:
        return os.path.join(self._where[0], "backups")

    @property
    def config_file(self) -> Path:
        return _path(self.config_file_str)

    @property
    def config_file_str(self) -> str:
        return os.path.join(self._where[1], "config.toml")

    @property
    def runtime(self) -> Path:
        """Locks and sockets of this database's sessions."""
        return _path(self.runtime_str)

    @property
    def runtime_str(self) -> str:
        try:  # the builtin SHA-256: hashlib would load OpenSSL (3 ms of every attach)
            from _sha256 import sha256
        except ImportError:  # a Python without it (3.12 calls it _sha2)
            from hashlib import sha256

        key = sha256(os.path.realpath(self._where[3]).encode()).hexdigest()[:10]
        return os.path.join(self._where[2], key)

    def lock_file_str(self, session_id: int) -> str:
        return os.path.join(self.runtime_str, f"{session_id}.lock")

    def lock_file(self, session_id: int) -> Path:
        return _path(self.lock_file_str(session_id))

    def socket_file(self, session_id: int) -> Path:
        return self.runtime / f"{session_id}.sock"

    @property
    def supervisor_log(self) -> Path:
        """Where supervisors write their own failures (shown by ``tether doctor``)."""
        return self.runtime / "supervisor.log"

    def ensure(self) -> None:
        """Create the missing directories, private to the user (0700). Existing ones
        are never changed: the database's directory may be the user's own (or /tmp);
        ``tether doctor`` reports loose permissions on tether's directories."""
        from storage.engine.opening import make_private_dir

        data_dir, _, runtime_root, db = self._where
        for d in (data_dir, os.path.dirname(db) or ".", runtime_root, self.runtime_str):
            make_private_dir(d)


def resolve_paths(
    db: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Paths:
    """Paths from ``--db``, ``TETHER_DB``, ``TETHER_HOME`` and platformdirs, in that order."""
    env = os.environ if env is None else env
    home = env.get("TETHER_HOME")
    if home:
        base = _absolute(home)
        data_dir, config_dir, runtime_root = base, base, os.path.join(base, "run")
    else:
        import platformdirs

        data_dir = _absolute(platformdirs.user_data_dir(APP))
        config_dir = _absolute(platformdirs.user_config_dir(APP))
        runtime_root = _runtime_root(data_dir, env)
    db_path = db or env.get("TETHER_DB")
    db_file = _absolute(db_path) if db_path else os.path.join(data_dir, "tether.db")
    return Paths(data_dir, config_dir, runtime_root, db_file)


def _absolute(where: str | os.PathLike[str]) -> str:
    """``str(Path(where).expanduser().absolute())``: made absolute, not resolved
    (symlinks and ``..`` kept)."""
    text = os.path.expanduser(os.fspath(where))
    return _norm(text if os.path.isabs(text) else os.path.join(os.getcwd(), text))


def _norm(text: str) -> str:
    """``str(Path(text))`` on POSIX: no empty or ``.`` parts, no trailing ``/``; two
    leading slashes are kept, more become one; ``..`` is kept."""
    parts = "/".join(p for p in text.split("/") if p and p != ".")
    if not text.startswith("/"):
        return parts or "."
    two = text.startswith("//") and not text.startswith("///")
    return ("//" if two else "/") + parts


def _runtime_root(data_dir: str, env: Mapping[str, str]) -> str:
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return os.path.join(xdg, APP)
    return os.path.join(data_dir, "run")
