"""Import a ``tether.export/1`` document: check everything, then write it all or nothing.

    result = await import_file(store, "sessions.json")            # or dry_run=True
    result.imported, result.skipped, [s.id for s in result.sessions]

Two passes over the file. The first (``check_file``) reads and checks every line
and the checksum without touching the database. The second runs in ONE write
transaction and checks everything again while it writes (the file could have
changed in between); any problem rolls the whole import back.

Imported sessions keep their uid and get new local ids; a session whose uid is
already here is skipped, or with ``duplicate=True`` imported again under a new uid.
They are marked ``origin = 'imported'`` (the runner asks before running one). One
that was pending, running or paused when exported is not running here: it becomes
``lost``, with a system line saying why.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.engine import compress, output_index
from storage.engine.chunks import append_in_tx
from storage.engine.index_merge import merge_for_write
from storage.engine.sessions import _reindex_meta
from storage.models import ACTIVE
from storage.text import index_text
from storage.transfer.format import (
    ChunkRecord,
    End,
    ExportReader,
    Header,
    SessionEnd,
    SessionRecord,
)
from storage.uid import uuid7

if TYPE_CHECKING:
    import aiosqlite

    from storage.engine.store import Store

Progress = Callable[[int, int], Any]  # (file bytes done, file size)
BATCH_BYTES = 2 * 1024 * 1024  # chunk rows held before they go to SQLite


@dataclass(frozen=True)
class ImportedSession:
    uid: str  # the uid it has here (new for a duplicate)
    source_uid: str  # the uid in the file
    label: str
    status: str  # its status here
    action: str  # "import", "duplicate" or "skip" (already here)
    id: int | None = None  # the new local id (None when skipped or a dry run)
    existing_id: int | None = None  # the session already here with this uid
    lines: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class FileCheck:
    """What a valid export holds (``check_file``)."""

    header: Header
    sessions: tuple[SessionEnd, ...]
    chunks: int
    bytes: int
    redactions: dict[str, int]


@dataclass(frozen=True)
class ImportResult:
    path: str
    sessions: tuple[ImportedSession, ...]
    chunks: int
    bytes: int
    dry_run: bool
    redacted: bool  # the export was redacted

    @property
    def imported(self) -> int:
        return sum(1 for s in self.sessions if s.action != "skip")

    @property
    def skipped(self) -> int:
        return sum(1 for s in self.sessions if s.action == "skip")


def check_file(path: str | os.PathLike[str], progress: Progress | None = None) -> FileCheck:
    """Read and check the whole export (layout, types, sizes, numbering, checksum)
    without touching any database. Raises ``ImportRejected`` naming the problem and
    where it is."""
    size = os.path.getsize(path)
    ends: list[SessionEnd] = []
    header: Header | None = None
    with open(path, "rb") as f:
        reader = ExportReader(f)
        for event in reader.events():
            if isinstance(event, Header):
                header = event
            elif isinstance(event, SessionEnd):
                # Keep the small part only: the metadata and runs, never output.
                ends.append(event)
                if progress is not None:
                    progress(reader.pos, size)
            elif isinstance(event, End):
                assert header is not None
                if progress is not None:
                    progress(size, size)
                return FileCheck(header, tuple(ends), event.chunks, event.bytes, event.redactions)
    raise AssertionError("ExportReader ended without End")  # pragma: no cover


def _status_here(record: SessionRecord) -> str:
    return "lost" if record.status in ACTIVE else record.status


async def _present(store: Store, uids: list[str]) -> dict[str, int]:
    """uid -> local id of the sessions already here."""
    found: dict[str, int] = {}
    for i in range(0, len(uids), 500):
        part = uids[i : i + 500]
        rows = await store.fetchall(
            f"SELECT uid, id FROM sessions WHERE uid IN ({','.join('?' * len(part))})", part
        )
        found.update((r[0], r[1]) for r in rows)
    return found


async def import_file(
    store: Store,
    path: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    duplicate: bool = False,
    progress: Progress | None = None,
    checked: FileCheck | None = None,
) -> ImportResult:
    """Import the export at ``path`` (see the module doc). With ``dry_run`` nothing is
    written: the result says what would happen. Raises ``ImportRejected`` for a bad
    file, with the database unchanged. ``checked`` is ``check_file(path)`` when the
    caller already ran it (the file is checked again while it is written)."""
    import asyncio

    path = Path(path)
    if checked is None:
        checked = await asyncio.to_thread(check_file, path)
    uids = [end.record.uid for end in checked.sessions]
    present = await _present(store, uids)
    plan = []
    for end in checked.sessions:
        rec = end.record
        action = ("duplicate" if duplicate else "skip") if rec.uid in present else "import"
        here = present.get(rec.uid)
        plan.append(
            ImportedSession(
                rec.uid, rec.uid, rec.label, _status_here(rec), action, None, here, end.lines,
                end.bytes,
            )
        )  # fmt: skip
    result = ImportResult(
        str(path), tuple(plan), checked.chunks, checked.bytes, True, checked.header.redacted
    )
    if dry_run or result.imported == 0:
        return replace(result, dry_run=dry_run)
    done = await _write(store, path, duplicate, progress)
    return ImportResult(str(path), done, checked.chunks, checked.bytes, False, result.redacted)


class _Writer:
    """The second pass: one transaction, chunk rows in batches."""

    def __init__(self, db: aiosqlite.Connection, actor: str, source: str) -> None:
        self.db = db
        self.actor = actor
        self.source = source
        self.rows: list[tuple[Any, ...]] = []
        self.texts: list[tuple[int, str]] = []
        self.unindexed: list[int] = []  # of them, those with no index entry: IN_SCREEN
        self.size = 0
        self.next_id = 0

    async def start(self) -> None:
        row = await (await self.db.execute("SELECT max(id) FROM output_chunks")).fetchone()
        self.next_id = (row[0] or 0) + 1

    async def existing(self, uid: str) -> int | None:
        row = await (
            await self.db.execute("SELECT id FROM sessions WHERE uid = ?", (uid,))
        ).fetchone()
        return None if row is None else row[0]

    async def session(self, rec: SessionRecord, uid: str, exported_at: float) -> int:
        status = _status_here(rec)
        ended_at, exit_code, sig = rec.ended_at, rec.exit_code, rec.signal
        if status != rec.status:  # it was not over: it ends here, at the export
            ended_at = max(exported_at, rec.started_at or rec.created_at)
            exit_code = sig = None
        cur = await self.db.execute(
            "INSERT INTO sessions (uid, name, argv, cwd, env, mode, status, exit_code, signal, "
            "pid, created_at, updated_at, started_at, ended_at, notes, context, pinned, origin, "
            "resume_argv, last_output_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,NULL,?,?,?,?,?,?,?,'imported',?,?)",
            (
                uid,
                rec.name,
                json.dumps(list(rec.argv)),
                rec.cwd,
                json.dumps(rec.env) if rec.env else None,
                rec.mode,
                status,
                exit_code,
                sig,
                rec.created_at,
                rec.updated_at,
                rec.started_at,
                ended_at,
                rec.notes,
                json.dumps(rec.context) if rec.context is not None else None,
                int(rec.pinned),
                json.dumps(list(rec.resume_argv)) if rec.resume_argv else None,
                rec.last_output_at,
            ),
        )
        sid = cur.lastrowid
        assert sid is not None
        if rec.tags:
            await self.db.executemany(
                "INSERT INTO session_tags (session_id, tag) VALUES (?, ?)",
                [(sid, t) for t in rec.tags],
            )
        await _reindex_meta(self.db, sid)
        return sid

    async def chunk(self, sid: int, c: ChunkRecord, *, pty: bool = False) -> None:
        """``pty``: the chunk is a pty session's, whose stdout is searched through its
        rendered transcript, not indexed (storage/engine/output_index.py)."""
        cid = self.next_id
        self.next_id += 1
        self.rows.append(
            (cid, sid, c.run, c.stream, c.first_line, c.line_count, int(c.open_end),
             c.first_at, c.last_at, c.data)
        )  # fmt: skip
        if pty and c.stream == "stdout":
            self.unindexed.append(cid)
        else:
            self.texts.append((cid, index_text(c.data)))
        self.size += len(c.data)
        if self.size >= BATCH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self.rows:
            # An imported session's output never grows: every chunk is stored compressed.
            dict_id = await compress.newest_dict(self.db)
            rows = [(*r[:-1], *compress.pack(r[-1], dict_id)) for r in self.rows]
            await self.db.executemany(
                "INSERT INTO output_chunks (id, session_id, run, stream, first_line, line_count, "
                "open_end, first_at, last_at, indexed, data, plain_size) "
                f"VALUES (?,?,?,?,?,?,?,?,?,{output_index.IN_WORDS},?,?)",
                rows,
            )
            await self.db.executemany(
                f"UPDATE output_chunks SET indexed = {output_index.IN_SCREEN} WHERE id = ?",
                [(cid,) for cid in self.unindexed],
            )
            await output_index.add(self.db, self.texts)
            await merge_for_write(self.db, self.size)
        self.rows, self.texts, self.unindexed, self.size = [], [], [], 0

    async def finish(self, sid: int, end: SessionEnd, uid: str, exported_at: float) -> None:
        await self.flush()
        rec = end.record
        await self.db.executemany(
            "INSERT INTO runs (session_id, number, argv, pid, started_at, ended_at, exit_code, "
            "signal, status, first_line) VALUES (?,?,?,NULL,?,?,?,?,?,?)",
            [
                (sid, r.number, json.dumps(list(r.argv)), r.started_at, r.ended_at,
                 r.exit_code, r.signal, r.status, r.first_line)
                for r in end.runs
            ],
        )  # fmt: skip
        await self.db.execute(
            "UPDATE sessions SET run_count = ?, output_bytes = ?, output_lines = ? WHERE id = ?",
            (len(end.runs), end.bytes, end.lines, sid),
        )
        if rec.status in ACTIVE:
            at = max(exported_at, rec.started_at or rec.created_at)
            await self.db.execute(
                "UPDATE runs SET status = 'lost', ended_at = max(started_at, ?) "
                "WHERE session_id = ? AND ended_at IS NULL",
                (at, sid),
            )
            line = (
                f"imported while {rec.status} on another machine; it is not running here "
                "(marked lost)\n"
            )
            await append_in_tx(self.db, [(sid, "system", line.encode(), at)], index=True)
            self.next_id = await self._next_id()
        detail = {"uid": uid, "file": self.source}
        if uid != rec.uid:
            detail["copy_of"] = rec.uid
        await self.db.execute(
            "INSERT INTO audit_log (at, actor, action, session_id, detail) VALUES (?,?,?,?,?)",
            (time.time(), self.actor, "import", sid, json.dumps(detail)),
        )

    async def _next_id(self) -> int:
        row = await (await self.db.execute("SELECT max(id) FROM output_chunks")).fetchone()
        return (row[0] or 0) + 1


async def _write(
    store: Store, path: Path, duplicate: bool, progress: Progress | None
) -> tuple[ImportedSession, ...]:
    size = os.path.getsize(path)
    done: list[ImportedSession] = []
    async with store.transaction() as db:
        w = _Writer(db, store.actor, path.name)
        await w.start()
        exported_at = 0.0
        sid: int | None = None
        pty = False
        uid = ""
        with open(path, "rb") as f:
            reader = ExportReader(f)
            for event in reader.events():
                if isinstance(event, ChunkRecord):
                    if sid is not None:
                        await w.chunk(sid, event, pty=pty)
                elif isinstance(event, SessionRecord):
                    uid, action = event.uid, "import"
                    here = await w.existing(event.uid)
                    if here is not None:
                        uid, action = (uuid7(), "duplicate") if duplicate else ("", "skip")
                    sid = await w.session(event, uid, exported_at) if uid else None
                    pty = event.mode == "pty"
                    entry = ImportedSession(
                        uid or event.uid, event.uid, event.label, _status_here(event), action,
                        sid, here,
                    )  # fmt: skip
                elif isinstance(event, SessionEnd):
                    if sid is not None:
                        await w.finish(sid, event, uid, exported_at)
                    done.append(replace(entry, lines=event.lines, bytes=event.bytes))
                    sid = None
                    if progress is not None:
                        progress(reader.pos, size)
                elif isinstance(event, Header):
                    exported_at = event.exported_at
        # The reader yields End only after the checksum matched; getting here means it did.
    if progress is not None:
        progress(size, size)
    return tuple(done)
