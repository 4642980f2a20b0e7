"""``store.sessions``: create, read, list, edit, tag, trash, restore and purge sessions."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence

from storage.engine.index_merge import merge_for_write
from storage.errors import AmbiguousSession, IllegalTransition, SessionNotFound
from storage.models import (
    ACTIVE,
    ATTENTION,
    ENDED,
    SESSION_COLUMNS,
    SESSION_WIDTH,
    STATUSES,
    TRANSITIONS,
    Session,
    session_from_row,
)
from storage.uid import uuid7

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    import aiosqlite

    from storage.engine.store import Store

AMBIGUOUS_SHOWN = 10  # candidates an ambiguous uid prefix lists

ORDERS = {
    "newest": "s.created_at DESC, s.id DESC",
    "oldest": "s.created_at ASC, s.id ASC",
    "updated": "s.updated_at DESC, s.id DESC",
    # Unnamed sessions sort by their program, not by the JSON text of argv (which starts '["').
    "name": "lower(coalesce(nullif(s.name, ''), json_extract(s.argv, '$[0]'))) ASC, s.id DESC",
    "size": "s.output_bytes DESC, s.id DESC",
    "status": "s.status ASC, s.created_at DESC",
    "id": "s.id ASC",
}
# The fields ``update`` changes (the tags have their own methods, and ``update(tags=)``).
SESSION_EDITABLE = frozenset(
    {"name", "notes", "context", "pinned", "resume_argv", "pid", "env", "cwd"}
)
_REF = r"#?(\d+)"  # (compiled when first used: a search resolves no reference)


def _clean_tags(tags: Iterable[str]) -> list[str]:
    out = []
    for tag in tags:
        tag = tag.strip()
        if not tag or any(c.isspace() for c in tag) or "," in tag:
            raise ValueError(f"invalid tag {tag!r}: tags are single words without commas")
        if tag not in out:
            out.append(tag)
    return out


def _status_set(status: str | Iterable[str] | None) -> list[str] | None:
    if status is None:
        return None
    statuses = [status] if isinstance(status, str) else list(status)
    for s in statuses:
        if s not in STATUSES:
            raise ValueError(f"unknown status {s!r}; expected one of {', '.join(STATUSES)}")
    return statuses


class Sessions:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- reading ----------------------------------------------------------------------
    async def get(self, session_id: int) -> Session | None:
        """The session, or None when there is no such id (never raises for that)."""
        rows = await self._fetch("s.id = ?", [session_id])
        return rows[0] if rows else None

    async def get_by_uid(self, uid: str) -> Session | None:
        rows = await self._fetch("s.uid = ?", [uid])
        return rows[0] if rows else None

    async def require(self, session_id: int) -> Session:
        session = await self.get(session_id)
        if session is None:
            raise SessionNotFound(session_id)
        return session

    async def resolve(self, ref: str | int) -> Session:
        """Find a session by ``42``, ``#42`` or a uid prefix (at least 4 characters)."""
        if isinstance(ref, int):
            return await self.require(ref)
        ref = ref.strip()
        m = re.fullmatch(_REF, ref)
        if m:
            found = await self.get(int(m.group(1)))
            if found:
                return found
        if len(ref) >= 4 and re.fullmatch(r"[0-9a-fA-F-]+", ref):
            shown = AMBIGUOUS_SHOWN
            rows = await self._fetch(
                "s.uid LIKE ? ESCAPE '\\'", [ref.lower() + "%"], limit=shown + 1
            )
            if len(rows) == 1:
                return rows[0]
            if len(rows) > 1:
                raise AmbiguousSession(ref, rows[:shown], more=len(rows) > shown)
        raise SessionNotFound(int(m.group(1)) if m else ref)

    async def list(
        self,
        *,
        status: str | Iterable[str] | None = None,
        tag: str | None = None,
        cwd: str | None = None,
        pinned: bool | None = None,
        include_deleted: bool = False,
        only_deleted: bool = False,
        updated_since: float | None = None,
        ids: Sequence[int] | None = None,
        order: str = "newest",
        pinned_first: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Session]:
        """Sessions matching every given filter, newest first by default."""
        where, params = self._filters(
            status, tag, cwd, pinned, include_deleted, only_deleted, updated_since, ids
        )
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")
        order_sql = ("s.pinned DESC, " if pinned_first else "") + ORDERS[order]
        return await self._fetch(where, params, order=order_sql, limit=limit, offset=offset)

    async def count(
        self,
        *,
        status: str | Iterable[str] | None = None,
        tag: str | None = None,
        cwd: str | None = None,
        pinned: bool | None = None,
        include_deleted: bool = False,
        only_deleted: bool = False,
        updated_since: float | None = None,
    ) -> int:
        where, params = self._filters(
            status, tag, cwd, pinned, include_deleted, only_deleted, updated_since, None
        )
        return int(
            await self._store.scalar(f"SELECT count(*) FROM sessions s WHERE {where}", params)
        )

    async def ids(
        self,
        *,
        include_deleted: bool = False,
        order: str = "newest",
        status: str | Iterable[str] | None = None,
        pinned: bool | None = None,
    ) -> list[int]:
        """Every session id in list order: cheap, for a list that renders lazily."""
        if order not in ORDERS:
            raise ValueError(f"unknown order {order!r}; expected one of {', '.join(ORDERS)}")
        where, params = self._filters(
            status, None, None, pinned, include_deleted, False, None, None
        )
        rows = await self._store.fetchall(
            f"SELECT s.id FROM sessions s WHERE {where} ORDER BY {ORDERS[order]}", params
        )
        return [r[0] for r in rows]

    async def all_tags(self) -> list[tuple[str, int]]:
        rows = await self._store.fetchall(
            "SELECT tag, count(*) FROM session_tags GROUP BY tag ORDER BY tag"
        )
        return [(r[0], r[1]) for r in rows]

    def _filters(
        self, status, tag, cwd, pinned, include_deleted, only_deleted, updated_since, ids
    ) -> tuple[str, list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        statuses = _status_set(status)
        if statuses is not None:
            term = f"s.status IN ({','.join('?' * len(statuses))})"
            if ACTIVE.issuperset(statuses):
                # Live sessions are few, whatever the statistics say: ANALYZE only knows
                # the average number of sessions per status, and with it SQLite read all
                # 100 000 sessions of a database for its running ones (20 ms, twice
                # before the TUI's first paint; reconcile's query, run by every command,
                # scanned the table too). The hint makes it use the status index.
                term = f"likelihood({term}, 0.001)"
            where.append(term)
            params += statuses
        if tag is not None:
            where.append(
                "EXISTS (SELECT 1 FROM session_tags t WHERE t.session_id = s.id AND t.tag = ?)"
            )
            params.append(tag)
        if cwd is not None:
            prefix = os.path.expanduser(cwd).rstrip("/") or "/"
            where.append("(s.cwd = ? OR substr(s.cwd, 1, ?) = ?)")
            params += [prefix, len(prefix.rstrip("/")) + 1, prefix.rstrip("/") + "/"]
        if pinned is not None:
            where.append("s.pinned = ?")
            params.append(int(pinned))
        if only_deleted:
            where.append("s.deleted_at IS NOT NULL")
        elif not include_deleted:
            where.append("s.deleted_at IS NULL")
        if updated_since is not None:
            where.append("s.updated_at > ?")
            params.append(updated_since)
        if ids is not None:
            where.append(f"s.id IN ({','.join('?' * len(ids))})" if ids else "0")
            params += list(ids)
        return " AND ".join(where) or "1", params

    async def _fetch(
        self,
        where: str,
        params: Sequence[Any],
        *,
        order: str = "s.id",
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Session]:
        sql = (
            f"SELECT {', '.join('s.' + c.strip() for c in SESSION_COLUMNS.split(','))}, "
            f"(SELECT group_concat(tag, ' ') FROM (SELECT tag FROM session_tags t "
            f"WHERE t.session_id = s.id ORDER BY tag)), "
            f"(SELECT r.started_at FROM runs r WHERE r.session_id = s.id "
            f"AND r.number = s.run_count) FROM sessions s WHERE {where} "
            f"ORDER BY {order}"
        )
        params = list(params)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        rows = await self._store.fetchall(sql, params)
        n = SESSION_WIDTH
        return [session_from_row(r, tuple(r[n].split(" ")) if r[n] else (), r[n + 1]) for r in rows]

    # -- writing ----------------------------------------------------------------------
    async def create(
        self,
        argv: Sequence[str],
        cwd: str | os.PathLike[str] | None = None,
        *,
        name: str | None = None,
        mode: str = "pipe",
        tags: Iterable[str] = (),
        context: Any = None,
        env: dict[str, str] | None = None,
        resume_argv: Sequence[str] | None = None,
        origin: str = "local",
        uid: str | None = None,
        created_at: float | None = None,
        agent_kind: str | None = None,
        agent_session_id: str | None = None,
    ) -> Session:
        """A new ``pending`` session. ``env`` holds overrides only, never a whole
        environment. ``agent_kind``: the coding agent it runs (agents/), with the
        agent's own session id where tether chose it."""
        argv = list(argv)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv must be a non-empty list of strings")
        if mode not in ("pipe", "pty"):
            raise ValueError(f"mode must be 'pipe' or 'pty', not {mode!r}")
        if env is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise ValueError("env overrides must map strings to strings")
        tag_list = _clean_tags(tags)
        now = time.time() if created_at is None else created_at
        cwd = os.fspath(cwd) if cwd is not None else os.getcwd()
        async with self._store.transaction() as db:
            cur = await db.execute(
                "INSERT INTO sessions (uid, name, argv, cwd, env, mode, created_at, updated_at, "
                "context, origin, resume_argv, agent_kind, agent_session_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    uid or uuid7(now),
                    name or "",
                    json.dumps(argv),
                    cwd,
                    json.dumps(env) if env else None,
                    mode,
                    now,
                    now,
                    json.dumps(context) if context is not None else None,
                    origin,
                    json.dumps(list(resume_argv)) if resume_argv else None,
                    agent_kind,
                    agent_session_id,
                ),
            )
            sid = cur.lastrowid
            if tag_list:
                await db.executemany(
                    "INSERT INTO session_tags (session_id, tag) VALUES (?, ?)",
                    [(sid, t) for t in tag_list],
                )
            await _reindex_meta(db, sid)
            await _audit(db, self._store.actor, "create", sid, {"argv": argv})
        return await self.require(sid)

    async def update(
        self, session_id: int, *, tags: Iterable[str] | None = None, **fields: Any
    ) -> Session:
        """Change editable fields: name, notes, context, pinned, resume_argv, pid, env, cwd.
        With ``tags``, the session's tags become exactly those, in the same transaction:
        either every change is saved or none is (an invalid tag saves nothing)."""
        unknown = set(fields) - SESSION_EDITABLE
        if unknown:
            raise ValueError(
                f"cannot update {', '.join(sorted(unknown))}; editable fields are "
                f"{', '.join(sorted(SESSION_EDITABLE))}"
            )
        clean = None if tags is None else _clean_tags(tags)
        if not fields and clean is None:
            return await self.require(session_id)
        async with self._store.transaction() as db:
            if fields:
                await self._update_in_tx(db, session_id, fields)
            if clean is not None:
                await self._tags_in_tx(
                    db, session_id, "tags", {"tags": clean}, add=clean, replace=True
                )
        return await self.require(session_id)

    async def _update_in_tx(self, db: Any, session_id: int, fields: dict[str, Any]) -> None:
        sets, params = [], []
        for key, value in fields.items():
            if key in ("context", "env"):
                value = json.dumps(value) if value is not None else None
            elif key == "resume_argv":
                value = json.dumps(list(value)) if value else None
            elif key == "pinned":
                value = int(bool(value))
            elif key in ("name", "notes"):
                value = value or ""
            sets.append(f"{key} = ?")
            params.append(value)
        cur = await db.execute(
            f"UPDATE sessions SET {', '.join(sets)}, updated_at = max(updated_at, ?) WHERE id = ?",
            (*params, time.time(), session_id),
        )
        if cur.rowcount == 0:
            raise SessionNotFound(session_id)
        if {"name", "notes", "cwd"} & set(fields):
            await _reindex_meta(db, session_id)
        if set(fields) - {"pid"}:
            await _audit(
                db,
                self._store.actor,
                "update",
                session_id,
                {k: v for k, v in fields.items() if k != "context"},
            )

    async def set_status(
        self,
        session_id: int,
        status: str,
        *,
        exit_code: int | None = None,
        signal: int | None = None,
        reason: str | None = None,
        at: float | None = None,
    ) -> Session:
        """Move the session to ``status``; raises ``IllegalTransition`` when the move
        makes no sense (a succeeded session cannot become paused). ``reason`` is added
        to the output as a system line."""
        _status_set(status)
        now = time.time() if at is None else at
        async with self._store.transaction() as db:
            row = await (
                await db.execute(
                    "SELECT status, started_at, created_at FROM sessions WHERE id = ?",
                    (session_id,),
                )
            ).fetchone()
            if row is None:
                raise SessionNotFound(session_id)
            old, started, created = row
            now = max(now, created)  # a clock step back must not end it before it began
            if status != old and status not in TRANSITIONS[old]:
                raise IllegalTransition(session_id, old, status)
            await _apply_status(db, session_id, status, now, exit_code, signal, started)
            if reason:
                from storage.engine.output import append_in_tx

                await append_in_tx(
                    db, [(session_id, "system", reason.encode() + b"\n", now)], index=True
                )
        return await self.require(session_id)

    async def set_agent(self, session_id: int, kind: str | None, native_id: str | None) -> None:
        """Record which coding agent a session runs and the agent's own session id
        (found once it ran: a codex rollout file)."""
        async with self._store.transaction() as db:
            cur = await db.execute(
                "UPDATE sessions SET agent_kind = ?, agent_session_id = ?, "
                "updated_at = max(updated_at, ?) WHERE id = ?",
                (kind, native_id, time.time(), session_id),
            )
            if cur.rowcount == 0:
                raise SessionNotFound(session_id)

    async def set_attention(self, session_id: int, state: str, since: float) -> bool:
        """A running session's attention (working, idle, needs_you) since ``since``.
        Only while it runs (False otherwise: nothing is written); no audit entry (the
        supervisor writes it as the screen changes)."""
        if state not in ATTENTION:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION)}, not {state!r}")
        async with self._store.transaction() as db:
            cur = await db.execute(
                "UPDATE sessions SET attention = ?, attention_since = ?, "
                "updated_at = max(updated_at, ?) WHERE id = ? AND status = 'running'",
                (state, since, time.time(), session_id),
            )
            return cur.rowcount > 0

    async def add_tags(self, session_id: int, tags: Iterable[str]) -> Session:
        clean = _clean_tags(tags)
        return await self._change_tags(session_id, "tag", {"add": clean}, add=clean, replace=False)

    async def remove_tags(self, session_id: int, tags: Iterable[str]) -> Session:
        gone = list(tags)
        return await self._change_tags(session_id, "untag", {"remove": gone}, remove=gone)

    async def set_tags(self, session_id: int, tags: Iterable[str]) -> Session:
        clean = _clean_tags(tags)
        return await self._change_tags(session_id, "tags", {"tags": clean}, add=clean, replace=True)

    async def _change_tags(
        self,
        session_id: int,
        action: str,
        detail: dict[str, list[str]],
        *,
        add: list[str] = (),  # type: ignore[assignment]
        remove: list[str] = (),  # type: ignore[assignment]
        replace: bool = False,
    ) -> Session:
        """One tag edit in one transaction: rows, metadata index, audit entry."""
        async with self._store.transaction() as db:
            await self._tags_in_tx(db, session_id, action, detail, add, remove, replace)
        return await self.require(session_id)

    async def _tags_in_tx(
        self,
        db: Any,
        session_id: int,
        action: str,
        detail: dict[str, list[str]],
        add: list[str] = (),  # type: ignore[assignment]
        remove: list[str] = (),  # type: ignore[assignment]
        replace: bool = False,
    ) -> None:
        await self._exists(db, session_id)
        if replace:
            await db.execute("DELETE FROM session_tags WHERE session_id = ?", (session_id,))
        if remove:
            await db.executemany(
                "DELETE FROM session_tags WHERE session_id = ? AND tag = ?",
                [(session_id, t) for t in remove],
            )
        if add:
            await db.executemany(
                "INSERT OR IGNORE INTO session_tags (session_id, tag) VALUES (?, ?)",
                [(session_id, t) for t in add],
            )
        await self._touch(db, session_id)
        await _reindex_meta(db, session_id)
        await _audit(db, self._store.actor, action, session_id, detail)

    async def trash(self, ids: Iterable[int]) -> int:
        """Move sessions to the trash (hidden, restorable). Returns how many moved."""
        return await self._set_deleted(list(ids), time.time(), "trash")

    async def restore(self, ids: Iterable[int]) -> int:
        """Bring sessions back from the trash. Returns how many came back."""
        return await self._set_deleted(list(ids), None, "restore")

    async def _set_deleted(self, ids: list[int], value: float | None, action: str) -> int:
        if not ids:
            return 0
        cond = "deleted_at IS NULL" if value is not None else "deleted_at IS NOT NULL"
        n = 0
        async with self._store.transaction() as db:
            for sid in ids:
                cur = await db.execute(
                    f"UPDATE sessions SET deleted_at = ?, updated_at = max(updated_at, ?) "
                    f"WHERE id = ? AND {cond}",
                    (value, time.time(), sid),
                )
                if cur.rowcount:
                    n += 1
                    await _audit(db, self._store.actor, action, sid, None)
        return n

    async def purge(
        self, ids: Iterable[int], progress: Callable[[int, int], Any] | None = None
    ) -> int:
        """Delete sessions for good: rows, runs, tags, output and index entries. Each
        session goes in its own transaction, so an interrupted purge leaves every
        session either whole or gone. As ``cleanup``'s purge does, its audit entries
        are scrubbed and a ``purge`` entry (uid, runs, output size) records it. Call
        ``store.reclaim_space()`` afterwards to shrink the file."""
        from storage.engine.audit import scrub_in_tx

        ids = list(ids)
        done = 0
        for i, sid in enumerate(ids):
            async with self._store.transaction() as db:
                summary = await scrub_in_tx(db, sid)
                if summary is not None and await purge_in_tx(db, sid):
                    await _audit(db, self._store.actor, "purge", sid, summary)
                    done += 1
            if progress is not None:
                progress(i + 1, len(ids))
        if done:
            # Nothing of them left in the search indexes' older segments (FTS5
            # tombstones): ``storage.engine.forget.forget_terms``.
            from storage.engine.forget import forget_terms

            await forget_terms(self._store)
        return done

    async def _exists(self, db: aiosqlite.Connection, session_id: int) -> None:
        row = await (
            await db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,))
        ).fetchone()
        if row is None:
            raise SessionNotFound(session_id)

    async def _touch(self, db: aiosqlite.Connection, session_id: int) -> None:
        await db.execute(
            "UPDATE sessions SET updated_at = max(updated_at, ?) WHERE id = ?",
            (time.time(), session_id),
        )


async def _apply_status(
    db: aiosqlite.Connection,
    session_id: int,
    status: str,
    now: float,
    exit_code: int | None,
    signal: int | None,
    started: float | None,
) -> None:
    sets = ["status = ?", "updated_at = max(updated_at, ?)"]
    params: list[Any] = [status, now]
    if status != "running":  # attention is a running session's: paused or ended, none
        sets.append("attention = NULL, attention_since = NULL")
    if status == "running" and started is None:
        sets.append("started_at = ?")
        params.append(now)
    if status in ENDED:
        sets += [
            "ended_at = max(coalesce(started_at, ?), ?)",
            "exit_code = ?",
            "signal = ?",
            "pid = NULL",
        ]
        params += [now, now, exit_code, signal]
    elif status in ("running", "pending"):
        sets.append("ended_at = NULL")
    await db.execute(f"UPDATE sessions SET {', '.join(sets)} WHERE id = ?", (*params, session_id))


async def purge_in_tx(db: aiosqlite.Connection, session_id: int, *, index: bool = True) -> bool:
    """Delete one session and everything of it, inside the caller's transaction.
    ``index=False`` skips the output index (for a caller that has emptied it)."""
    exists = await (
        await db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,))
    ).fetchone()
    if not exists:
        return False
    from storage.engine import output_index  # here: reading sessions never needs it
    from storage.engine.screens import forget_words

    # The output index is contentless: a delete must repeat the indexed text.
    cursor = await db.execute(
        f"SELECT {output_index.REMOVE_COLUMNS} FROM output_chunks "
        "WHERE session_id = ? AND indexed IN (1, 2)",
        (session_id,),
    )
    deleted = 0
    while index:
        batch = await cursor.fetchmany(256)
        if not batch:
            break
        deleted += await output_index.remove(db, batch)
    await cursor.close()
    await merge_for_write(db, deleted)  # deletions are index entries too, until merged
    # Its rendered transcript's entries too (a pty session's: what search reads of it);
    # the rows themselves go with the session (ON DELETE CASCADE), their entries would not.
    rendered = await db.execute_fetchall(
        "SELECT id, text, plain_size FROM rendered_chunks WHERE session_id = ?", (session_id,)
    )
    await forget_words(db, rendered)
    await db.execute("DELETE FROM output_chunks WHERE session_id = ?", (session_id,))
    await db.execute("DELETE FROM runs WHERE session_id = ?", (session_id,))
    await db.execute("DELETE FROM session_tags WHERE session_id = ?", (session_id,))
    await db.execute("DELETE FROM sessions_fts WHERE rowid = ?", (session_id,))
    await db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
    return True


async def _reindex_meta(db: aiosqlite.Connection, session_id: int) -> None:
    row = await (
        await db.execute(
            "SELECT name, argv, cwd, notes, (SELECT group_concat(tag, ' ') FROM session_tags "
            "WHERE session_id = ?) FROM sessions WHERE id = ?",
            (session_id, session_id),
        )
    ).fetchone()
    await db.execute("DELETE FROM sessions_fts WHERE rowid = ?", (session_id,))
    if row is None:
        return
    import shlex

    name, argv, cwd, notes, tags = row
    await db.execute(
        "INSERT INTO sessions_fts (rowid, name, command, cwd, tags, notes) VALUES (?,?,?,?,?,?)",
        (session_id, name, shlex.join(json.loads(argv)), cwd, tags or "", notes),
    )


async def _audit(
    db: aiosqlite.Connection, actor: str, action: str, session_id: int | None, detail: Any
) -> None:
    await db.execute(
        "INSERT INTO audit_log (at, actor, action, session_id, detail) VALUES (?,?,?,?,?)",
        (
            time.time(),
            actor,
            action,
            session_id,
            json.dumps(detail, default=str) if detail is not None else None,
        ),
    )
