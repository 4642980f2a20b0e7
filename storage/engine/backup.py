"""Backups of the database: made online, rotated, checked, and restored.

A backup is a plain SQLite file made with SQLite's online backup API
(``Store.backup_to``), so it is consistent even while supervisors write. Backups that
tether makes on its own live in one directory and are named
``<db>-<YYYYmmdd-HHMMSS>.backup.db`` (``<db>-<YYYYmmdd-HHMMSS>-<label>.backup.db`` for
the ones made before a cleanup or a restore; the older ``...-backup.backup.db`` names
are still recognised); ``rotate`` keeps the newest ``keep`` of them (migration backups,
``*.bak.db``, and copies of a damaged database, ``*.damaged.db``, are never rotated).

Every backup is verified before it is published: the copy is made in a private
directory (``storage.files``), must open as a whole tether database and pass
``quick_check``, and only then takes its name and counts in the rotation. A copy of a
damaged database is refused (``BackupDamaged``, naming the newest good backup) or, when
the caller asks (the backup made just before a restore), kept as ``*.damaged.db``;
either way no good backup is rotated away for it.

Restoring copies the backup *into* the live database through the same API, under
SQLite's locks, instead of replacing the file: another process that has the
database open sees the restored content rather than writing to a file that is no
longer there. The current database is backed up first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.errors import StoreError

if TYPE_CHECKING:
    from storage.engine.store import Store

SUFFIX = ".backup.db"
DAMAGED_SUFFIX = ".damaged.db"
REQUIRED_TABLES = ("sessions", "runs", "output_chunks", "output_fts", "sessions_fts", "audit_log")


class BackupInvalid(StoreError, ValueError):
    """A file that cannot be used as a tether backup; nothing was changed."""

    def __init__(self, path: str | os.PathLike[str], detail: str) -> None:
        self.path, self.detail = str(path), detail
        super().__init__(
            f"{path} cannot be restored: {detail}. Nothing was changed; pick another backup "
            f"(`tether backup --list`)."
        )


class BackupDamaged(StoreError):
    """The database failed verification while being backed up: no backup was made and
    none was rotated away."""

    def __init__(self, db: str | os.PathLike[str], detail: str, good: BackupInfo | None) -> None:
        self.db, self.detail, self.good = str(db), detail, good
        # quick_check reports one problem a line: say the first, count the others.
        found = [
            line.strip()
            for line in detail.removeprefix("it is damaged: ").replace("; ", "\n").splitlines()
            if line.strip() and not line.lstrip().startswith("***")
        ] or [detail]
        more = f", and {len(found) - 1} more" if len(found) > 1 else ""
        if good is not None:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(good.created_at))
            advice = (
                f"the newest good backup is {good.path} (from {when}): run `tether doctor`, "
                f"then `tether restore-backup {good.path}`"
            )
        else:
            advice = "there is no good backup to go back to: run `tether doctor`"
        super().__init__(
            f"the database {db} is damaged ({found[0]}{more}); no backup was made and "
            f"none was removed; {advice}"
        )


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    bytes: int
    created_at: float  # file modification time
    label: str  # backup, pre-cleanup, pre-restore, migration, or "" (another name)
    schema_version: int | None = None
    sessions: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.bytes,
            "created_at": self.created_at,
            "label": self.label,
            "schema_version": self.schema_version,
            "sessions": self.sessions,
        }


def backup_name(
    db_path: Path, label: str, now: float | None = None, n: int = 1, *, suffix: str = SUFFIX
) -> str:
    """``tether-20261203-101500.backup.db`` (label ``backup``), ``...-pre-cleanup.backup.db``
    for other labels; ``.2``, ``.3`` after the time for more in the same second."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    tail = "" if label == "backup" else f"-{label}"
    return f"{db_path.stem}-{stamp}{f'.{n}' if n > 1 else ''}{tail}{suffix}"


def _label(path: Path, stem: str) -> str:
    name = path.name
    if name.endswith(".bak.db"):
        return "migration"
    if name.endswith(DAMAGED_SUFFIX):
        return "damaged"
    if name.startswith(stem + "-") and name.endswith(SUFFIX):
        # 20261203-101500[.n][-label]; older names always carried the label ("-backup").
        parts = name[len(stem) + 1 : -len(SUFFIX)].split("-", 2)
        return parts[2] if len(parts) == 3 else "backup"
    return ""


def list_backups(
    backup_dir: str | os.PathLike[str], db_path: str | os.PathLike[str]
) -> list[BackupInfo]:
    """Backups of ``db_path`` in ``backup_dir``, newest first (cheap: no file is opened).
    Copies of a damaged database are listed with the label ``damaged``."""
    folder, stem = Path(backup_dir), Path(db_path).stem
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        if not p.name.startswith((stem + "-", stem + ".")) or p.is_symlink() or not p.is_file():
            continue
        if not p.name.endswith((SUFFIX, ".bak.db", DAMAGED_SUFFIX)):
            continue
        st = p.stat()
        found.append(BackupInfo(p, st.st_size, st.st_mtime, _label(p, stem)))
    return sorted(found, key=lambda b: (b.created_at, b.path.name), reverse=True)


def rotate(
    backup_dir: str | os.PathLike[str], db_path: str | os.PathLike[str], keep: int
) -> list[Path]:
    """Delete all but the newest ``keep`` rotating backups; returns what was deleted.
    Migration backups and copies of a damaged database are left alone (and not counted)."""
    mine = [b for b in list_backups(backup_dir, db_path) if b.label not in ("migration", "damaged")]
    removed = []
    for b in mine[max(0, keep) :]:
        with contextlib.suppress(FileNotFoundError):
            b.path.unlink()
            removed.append(b.path)
    return removed


def newest_good(
    backup_dir: str | os.PathLike[str], db_path: str | os.PathLike[str]
) -> BackupInfo | None:
    """The newest backup in ``backup_dir`` that passes ``validate_backup`` (opens every
    candidate until one does: for error messages, not for listing)."""
    for b in list_backups(backup_dir, db_path):
        if b.label == "damaged":
            continue
        with contextlib.suppress(BackupInvalid):
            return _inspect(b.path)
    return None


async def create_backup(
    store: Store,
    dest: str | os.PathLike[str] | None = None,
    *,
    backup_dir: str | os.PathLike[str] | None = None,
    keep: int | None = None,
    label: str = "backup",
    replace: bool = True,
    keep_damaged: bool = False,
) -> BackupInfo:
    """Back the database up to ``dest`` (a file), or into ``backup_dir`` under a
    dated name and then rotate that directory down to ``keep`` backups. 0600.

    The copy is verified (a whole tether database, ``quick_check``) before it takes
    its name; only then is the directory rotated. A copy that fails raises
    ``BackupDamaged`` (naming the newest good backup in ``backup_dir``) and nothing is
    published or removed, unless ``keep_damaged``: then it is kept under a
    ``*.damaged.db`` name, never rotated, and returned with the label ``damaged``.
    ``replace=False`` raises ``FileExistsError`` instead of overwriting ``dest``."""
    from storage.engine.opening import make_private_dir
    from storage.files import publish, staging_dir

    folder = Path(backup_dir) if backup_dir else store.path.parent / "backups"
    where = folder if dest is None else Path(dest).parent
    make_private_dir(where)
    with staging_dir(where) as stage:
        staged = await store.backup_to(stage / "copy.db")
        try:
            info = await asyncio.to_thread(_inspect, staged)
        except BackupInvalid as e:
            if not keep_damaged:
                good = await asyncio.to_thread(newest_good, folder, store.path)
                raise BackupDamaged(store.path, e.detail, good) from None
            info, label = None, "damaged"
        if dest is not None:
            target = Path(dest)
            publish(staged, target, replace=replace)
        else:
            target = _publish_dated(staged, folder, store.path, label)
    if dest is None and keep is not None and info is not None:
        rotate(folder, store.path, keep)
    st = target.stat()
    return BackupInfo(
        target,
        st.st_size,
        st.st_mtime,
        label,
        info.schema_version if info else None,
        info.sessions if info else None,
    )


def _publish_dated(staged: Path, folder: Path, db_path: Path, label: str) -> Path:
    """Give ``staged`` the first free dated name in ``folder`` (never overwriting: two
    backups in the same second, or from two processes, both keep theirs)."""
    from storage.files import publish

    now = time.time()
    for n in range(1, 1000):
        if label == "damaged":
            name = backup_name(db_path, "backup", now, n, suffix=DAMAGED_SUFFIX)
        else:
            name = backup_name(db_path, label, now, n)
        try:
            publish(staged, folder / name, replace=False)
        except FileExistsError:
            continue
        return folder / name
    raise FileExistsError(f"no free backup name in {folder}")


def _inspect(path: Path) -> BackupInfo:
    from storage.engine.opening import check_header
    from storage.engine.schema import SCHEMA_VERSION

    if not path.exists():
        raise BackupInvalid(path, "the file does not exist")
    if not path.is_file():
        raise BackupInvalid(path, "it is not a file")
    try:
        check_header(path)
    except StoreError as e:
        raise BackupInvalid(path, getattr(e, "detail", str(e))) from None
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as e:
        raise BackupInvalid(path, str(e)) from None
    try:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [t for t in REQUIRED_TABLES if t not in tables]
        if version == 0 or missing:
            raise BackupInvalid(path, "it is an SQLite database, but not a tether one")
        if version > SCHEMA_VERSION:
            raise BackupInvalid(
                path,
                f"it has schema version {version}, newer than this tether ({SCHEMA_VERSION})",
            )
        problems = [r[0] for r in con.execute("PRAGMA quick_check(5)") if r[0] != "ok"]
        if problems:
            raise BackupInvalid(path, "it is damaged: " + "; ".join(problems))
        sessions = con.execute("SELECT count(*) FROM sessions").fetchone()[0]
    except sqlite3.Error as e:
        raise BackupInvalid(path, str(e)) from None
    finally:
        con.close()
    st = path.stat()
    return BackupInfo(path, st.st_size, st.st_mtime, _label(path, path.stem), version, sessions)


async def validate_backup(path: str | os.PathLike[str]) -> BackupInfo:
    """Check, without writing to it, that ``path`` opens as a tether database: SQLite
    header, tether tables, a schema this tether understands, ``quick_check``. Raises
    ``BackupInvalid`` otherwise."""
    return await asyncio.to_thread(_inspect, Path(path).expanduser())


@dataclass(frozen=True, slots=True)
class RestoreResult:
    restored_from: BackupInfo
    previous: BackupInfo | None  # the backup of the database as it was


async def restore_backup(
    store: Store,
    source: str | os.PathLike[str],
    *,
    backup_dir: str | os.PathLike[str] | None = None,
    keep: int | None = None,
) -> RestoreResult:
    """Replace the database's content with the backup at ``source``: validate it,
    back the current database up (label ``pre-restore``), then copy the backup in
    through the online backup API. The caller must make sure no supervisor is
    writing (``tether restore-backup`` refuses while sessions run)."""
    from storage.engine.opening import BUSY_TIMEOUT_MS
    from storage.engine.sqlite_errors import translate

    info = await validate_backup(source)
    if Path(source).resolve() == store.path.resolve():
        raise BackupInvalid(source, "it is the database itself")
    # A damaged database is what one restores over: keep its copy (never rotated).
    previous = await create_backup(
        store, backup_dir=backup_dir, keep=keep, label="pre-restore", keep_damaged=True
    )
    src_path = Path(source).expanduser()

    def copy() -> None:
        src = sqlite3.connect(f"file:{src_path}?mode=ro&immutable=1", uri=True)
        dst = sqlite3.connect(store.path)
        try:
            dst.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            sizes = [c.execute("PRAGMA page_size").fetchone()[0] for c in (src, dst)]
            if sizes[0] != sizes[1]:
                # A WAL database cannot change its page size in place.
                raise BackupInvalid(
                    src_path, f"its page size ({sizes[0]}) differs from the database's ({sizes[1]})"
                )
            src.backup(dst)
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            dst.close()
            src.close()

    async with store._lock:  # nothing else on our own connection meanwhile
        try:
            await asyncio.to_thread(copy)
        except sqlite3.Error as e:
            raise translate(e, str(store.path)) from e
    await store.audit.record(
        "restore-backup", None, {"from": str(src_path), "previous": str(previous.path)}
    )
    return RestoreResult(info, previous)


async def restore_file(
    db_path: str | os.PathLike[str],
    source: str | os.PathLike[str],
    *,
    backup_dir: str | os.PathLike[str] | None = None,
) -> Path | None:
    """Restore when the database cannot be opened at all (damaged, or from a newer
    tether): validate ``source``, move the current file and its WAL aside into
    ``backup_dir`` (named ``*.damaged.db``, never rotated), and put a copy of the
    backup in its place. Returns where the old file went (None if there was none)."""
    db = Path(db_path).expanduser()
    src = Path(source).expanduser()
    await validate_backup(src)
    folder = Path(backup_dir) if backup_dir else db.parent / "backups"
    stamp = time.strftime("%Y%m%d-%H%M%S")

    def run() -> Path | None:
        from storage.engine.opening import make_private_dir
        from storage.files import staging_dir

        make_private_dir(folder)
        make_private_dir(db.parent)
        # Copied in a private directory beside the database (which may be a shared
        # one, `--db /tmp/x.db`), then renamed into place.
        with staging_dir(db.parent) as stage:
            tmp = stage / db.name
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
            s = sqlite3.connect(f"file:{src}?mode=ro&immutable=1", uri=True)
            d = sqlite3.connect(tmp)
            try:
                s.backup(d)
                d.execute("PRAGMA journal_mode=DELETE")
            finally:
                d.close()
                s.close()

            def aside(n: int, suffix: str) -> Path:
                return (
                    folder / f"{db.stem}-{stamp}{f'.{n}' if n > 1 else ''}{DAMAGED_SUFFIX}{suffix}"
                )

            n = 1  # never over an earlier damaged copy
            while any(aside(n, x).exists() for x in ("", "-wal", "-shm")):
                n += 1
            moved = None
            for suffix in ("", "-wal", "-shm"):
                old = db.with_name(db.name + suffix)
                if old.exists():
                    os.replace(old, aside(n, suffix))
                    moved = moved or aside(n, suffix)
            os.replace(tmp, db)
        return moved

    return await asyncio.to_thread(run)
