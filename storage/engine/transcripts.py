"""Agent transcripts in the database (schema v12): the files known, how far each was
read, and the conversation entries taken from them, searchable with the output.

    t = Transcripts(store)
    files = await t.files()                      # every known file, one query
    await t.add_file(path, session_id, "claude")
    await t.record(file, size, mtime_ns, offset, entries, state, context)

What a transcript line means is not known here: ``agents/transcripts`` reads the files
and gives plain entries; this module only stores them. A file's entries are its own
(``file_id``): a file that was rewritten (shorter than what was read) is read again
from the start with ``restart``. Purging a session removes its files and entries, and
their index entries (triggers of v12).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.engine.store import Store

__all__ = ["Entry", "TranscriptFile", "Transcripts", "UnlinkedSession"]


@dataclass(frozen=True, slots=True)
class TranscriptFile:
    """A transcript file of a session, and where reading it stopped."""

    id: int
    path: str
    session_id: int
    agent: str
    size: int
    mtime_ns: int
    offset: int
    entries: int
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """One turn of a conversation: a prompt (``user``), a reply (``assistant``) or a
    tool call with its command (``tool``)."""

    at: float
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class UnlinkedSession:
    """An agent session with no transcript file known yet (where to look for one)."""

    id: int
    agent_kind: str
    agent_session_id: str | None
    cwd: str
    env: dict[str, str]
    started_at: float | None
    ended_at: float | None


_FILE_COLUMNS = "id, path, session_id, agent, size, mtime_ns, offset, entries, state"


def _file(row: Any) -> TranscriptFile:
    fid, path, sid, agent, size, mtime_ns, offset, entries, state = tuple(row)
    return TranscriptFile(
        fid, path, sid, agent, size, mtime_ns, offset, entries, json.loads(state or "{}")
    )


class Transcripts:
    """The transcript tables of one store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def files(self, session_ids: Sequence[int] | None = None) -> list[TranscriptFile]:
        """The known transcript files (of ``session_ids`` only, when given)."""
        sql = f"SELECT {_FILE_COLUMNS} FROM transcript_files"
        params: list[Any] = []
        if session_ids is not None:
            sql += f" WHERE session_id IN ({','.join('?' * len(session_ids))})"
            params = list(session_ids)
        return [_file(r) for r in await self._store.fetchall(sql, params)]

    async def file(self, path: str) -> TranscriptFile | None:
        row = await self._store.fetchone(
            f"SELECT {_FILE_COLUMNS} FROM transcript_files WHERE path = ?", (path,)
        )
        return _file(row) if row else None

    async def add_file(self, path: str, session_id: int, agent: str) -> TranscriptFile:
        """Know ``path`` as a transcript of ``session_id`` (not read yet); a path known
        already keeps its row."""
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO transcript_files (path, session_id, agent) VALUES (?, ?, ?) "
                "ON CONFLICT (path) DO NOTHING",
                (path, session_id, agent),
            )
        found = await self.file(path)
        assert found is not None
        return found

    async def unlinked_sessions(self, kinds: Sequence[str]) -> list[UnlinkedSession]:
        """Agent sessions of ``kinds`` that have no transcript file known yet."""
        if not kinds:
            return []
        rows = await self._store.fetchall(
            "SELECT s.id, s.agent_kind, s.agent_session_id, s.cwd, s.env, s.started_at, "
            "s.ended_at FROM sessions s WHERE s.agent_kind IN "
            f"({','.join('?' * len(kinds))}) AND s.status != 'pending' AND NOT EXISTS "
            "(SELECT 1 FROM transcript_files f WHERE f.session_id = s.id)",
            list(kinds),
        )
        return [
            UnlinkedSession(r[0], r[1], r[2], r[3], json.loads(r[4] or "{}"), r[5], r[6])
            for r in rows
        ]

    async def session_of(self, agent_kind: str, agent_session_id: str) -> int | None:
        """The session running (or imported from) that agent conversation, if any."""
        return await self._store.scalar(
            "SELECT id FROM sessions WHERE agent_kind = ? AND agent_session_id = ? "
            "ORDER BY id LIMIT 1",
            (agent_kind, agent_session_id),
        )

    async def touch(self, file: TranscriptFile, size: int, mtime_ns: int) -> None:
        """The file was looked at and has nothing new (its size or time moved without a
        whole new line): remember the look, so the next one costs a stat again."""
        async with self._store.transaction() as db:
            await db.execute(
                "UPDATE transcript_files SET size = ?, mtime_ns = ? WHERE id = ?",
                (size, mtime_ns, file.id),
            )

    async def record(
        self,
        file: TranscriptFile,
        *,
        size: int,
        mtime_ns: int,
        offset: int,
        entries: Sequence[Entry],
        state: Mapping[str, Any],
        context: Mapping[str, Any] | None = None,
        restart: bool = False,
    ) -> bool:
        """What one read of ``file`` found, in one transaction: its new ``entries``
        (numbered after those it has; ``restart``: its old ones are dropped first),
        where reading stopped, and ``context`` members set on the session (model,
        token counts). False, and nothing written, when another process recorded a
        read of the file since ``file`` was looked up (it took these lines already)."""
        async with self._store.transaction() as db:
            first = 0 if restart else file.entries
            cur = await db.execute(
                "UPDATE transcript_files SET size = ?, mtime_ns = ?, offset = ?, entries = ?, "
                "state = ? WHERE id = ? AND offset = ? AND entries = ?",
                (
                    size,
                    mtime_ns,
                    offset,
                    first + len(entries),
                    json.dumps(dict(state)),
                    file.id,
                    file.offset,
                    file.entries,
                ),
            )
            if cur.rowcount == 0:
                return False
            if restart:
                await db.execute("DELETE FROM transcript_entries WHERE file_id = ?", (file.id,))
            await db.executemany(
                "INSERT INTO transcript_entries (session_id, file_id, number, at, role, text) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (file.session_id, file.id, first + i, e.at, e.role, e.text)
                    for i, e in enumerate(entries)
                ],
            )
            if context:
                await _merge_context(db, file.session_id, context)
        return True


async def _merge_context(db: Any, session_id: int, members: Mapping[str, Any]) -> None:
    """Set ``members`` in the session's context (an object; made one when empty). A
    context that is not an object (an embedder's list) is left alone."""
    row = await (
        await db.execute("SELECT context FROM sessions WHERE id = ?", (session_id,))
    ).fetchone()
    if row is None:
        return
    try:
        context = json.loads(row[0]) if row[0] else {}
    except ValueError:
        return
    if not isinstance(context, dict):
        return
    merged = {**context, **members}
    if merged != context:
        await db.execute(
            "UPDATE sessions SET context = ? WHERE id = ?", (json.dumps(merged), session_id)
        )
