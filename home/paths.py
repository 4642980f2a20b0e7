"""Where tether keeps things. Nothing here touches the disk at import time.

- database and backups: the user data dir (``TETHER_HOME`` or platformdirs)
- ``config.toml``: the user config dir
- locks, sockets, supervisor log: the user runtime dir, falling back to the data dir;
  one subdirectory per database so two databases never share session locks.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP = "tether"


class Paths:
    """Where one home's things are. A plain class rather than a frozen dataclass, same
    behaviour: every command builds one first, and ``dataclasses`` (it imports
    ``inspect`` and ``ast``) is ~10 ms that ``tether attach`` need not pay before its
    first screen (tests/cli/test_cli_startup.py)."""

    __slots__ = ("data_dir", "config_dir", "runtime_root", "db")
    _FIELDS = __slots__

    data_dir: Path
    config_dir: Path
    runtime_root: Path
    db: Path

    def __init__(self, data_dir: Path, config_dir: Path, runtime_root: Path, db: Path) -> None:
        values = (data_dir, config_dir, runtime_root, db)
        for name, value in zip(self._FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Paths is read-only: cannot set {name!r}")

    def _values(self) -> tuple[Path, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> tuple[type[Paths], tuple[Path, ...]]:  # copy, pickle
        return Paths, self._values()

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"Paths({inner})"

    @property
    def backups(self) -> Path:
        return self.data_dir / "backups"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def runtime(self) -> Path:
        """Locks and sockets of this database's sessions."""
        try:  # the builtin SHA-256: hashlib would load OpenSSL (3 ms of every attach)
            from _sha256 import sha256
        except ImportError:  # a Python without it (3.12 calls it _sha2)
            from hashlib import sha256

        key = sha256(str(self.db.resolve()).encode()).hexdigest()[:10]
        return self.runtime_root / key

    def lock_file(self, session_id: int) -> Path:
        return self.runtime / f"{session_id}.lock"

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

        for d in (self.data_dir, self.db.parent, self.runtime_root, self.runtime):
            make_private_dir(d)


def resolve_paths(
    db: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Paths:
    """Paths from ``--db``, ``TETHER_DB``, ``TETHER_HOME`` and platformdirs, in that order."""
    env = os.environ if env is None else env
    home = env.get("TETHER_HOME")
    if home:
        base = Path(home).expanduser().absolute()
        data_dir, config_dir, runtime_root = base, base, base / "run"
    else:
        import platformdirs

        data_dir = Path(platformdirs.user_data_dir(APP))
        config_dir = Path(platformdirs.user_config_dir(APP))
        runtime_root = _runtime_root(data_dir, env)
    db_path = db or env.get("TETHER_DB")
    db_file = Path(db_path).expanduser().absolute() if db_path else data_dir / "tether.db"
    return Paths(data_dir, config_dir, runtime_root, db_file)


def _runtime_root(data_dir: Path, env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return Path(xdg) / APP
    return data_dir / "run"
