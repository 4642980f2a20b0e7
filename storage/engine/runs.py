"""``store.runs``: one row per start or resume of a session."""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from storage.engine.output import append_in_tx
from storage.engine.sessions import _apply_status
from storage.errors import IllegalTransition, SessionNotFound
from storage.models import ENDED, TRANSITIONS, Run

if TYPE_CHECKING:
    from storage.engine.store import Store

_COLUMNS = (
    "session_id, number, argv, pid, started_at, ended_at, exit_code, signal, status, first_line"
)


def _run(row) -> Run:  # type: ignore[no-untyped-def]
    sid, number, argv, pid, started, ended, code, sig, status, first = row
    return Run(sid, number, tuple(json.loads(argv)), pid, started, ended, code, sig, status, first)


class Runs:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def start(
        self,
        session_id: int,
        argv: Sequence[str] | None = None,
        *,
        pid: int | None = None,
        at: float | None = None,
    ) -> Run:
        """Begin a new run: the session becomes ``running``. From the second run on a
        separator system line goes into the output first, so resumed output is easy
        to tell apart."""
        now = time.time() if at is None else at
        async with self._store.transaction() as db:
            row = await (
                await db.execute(
                    "SELECT status, run_count, argv, output_lines, started_at, created_at "
                    "FROM sessions WHERE id = ?",
                    (session_id,),
                )
            ).fetchone()
            if row is None:
                raise SessionNotFound(session_id)
            status, count, stored_argv, lines, started, created = row
            now = max(now, created)  # a clock step back must not start it before it exists
            if status != "running" and "running" not in TRANSITIONS[status]:
                raise IllegalTransition(session_id, status, "running")
            run_argv = list(argv) if argv is not None else json.loads(stored_argv)
            number = count + 1
            if number > 1:
                stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
                sep = f"── run {number} · {stamp} · {shlex.join(run_argv)} ──\n"
                await append_in_tx(db, [(session_id, "system", sep.encode(), now)], index=True)
                lines = (
                    await (
                        await db.execute(
                            "SELECT output_lines FROM sessions WHERE id=?", (session_id,)
                        )
                    ).fetchone()
                )[0]
            await db.execute(
                "INSERT INTO runs (session_id, number, argv, pid, started_at, first_line) "
                "VALUES (?,?,?,?,?,?)",
                (session_id, number, json.dumps(run_argv), pid, now, lines),
            )
            await _apply_status(db, session_id, "running", now, None, None, started)
            await db.execute(
                "UPDATE sessions SET run_count = ?, pid = ?, started_at = CASE WHEN ? = 1 THEN ? "
                "ELSE coalesce(started_at, ?) END, ended_at = NULL, exit_code = NULL, "
                "signal = NULL WHERE id = ?",
                (number, pid, number, now, now, session_id),
            )
        return await self.get(session_id, number)  # type: ignore[return-value]

    async def set_pid(self, session_id: int, pid: int) -> None:
        async with self._store.transaction() as db:
            await db.execute("UPDATE sessions SET pid = ? WHERE id = ?", (pid, session_id))
            await db.execute(
                "UPDATE runs SET pid = ? WHERE session_id = ? AND number = "
                "(SELECT run_count FROM sessions WHERE id = ?)",
                (pid, session_id, session_id),
            )

    async def finish(
        self,
        session_id: int,
        *,
        exit_code: int | None = None,
        signal: int | None = None,
        status: str | None = None,
        reason: str | None = None,
        at: float | None = None,
    ) -> Run:
        """End the current run. The status is ``succeeded`` for exit 0, ``failed``
        otherwise, unless given (``stopped`` when the user stopped it, ``lost``)."""
        if status is None:
            status = "succeeded" if exit_code == 0 and signal is None else "failed"
        if status not in ENDED:
            raise ValueError(f"a run ends as one of {', '.join(sorted(ENDED))}, not {status!r}")
        now = time.time() if at is None else at
        async with self._store.transaction() as db:
            row = await (
                await db.execute(
                    "SELECT status, run_count, started_at, created_at FROM sessions WHERE id = ?",
                    (session_id,),
                )
            ).fetchone()
            if row is None:
                raise SessionNotFound(session_id)
            old, number, started, created = row
            now = max(now, created)
            if old != status and status not in TRANSITIONS[old]:
                raise IllegalTransition(session_id, old, status)
            if reason:
                await append_in_tx(
                    db, [(session_id, "system", reason.encode() + b"\n", now)], index=True
                )
            await db.execute(
                "UPDATE runs SET ended_at = max(started_at, ?), exit_code = ?, signal = ?, "
                "status = ? WHERE session_id = ? AND number = ?",
                (now, exit_code, signal, status, session_id, number),
            )
            await _apply_status(db, session_id, status, now, exit_code, signal, started)
        return await self.get(session_id, number)  # type: ignore[return-value]

    async def get(self, session_id: int, number: int) -> Run | None:
        row = await self._store.fetchone(
            f"SELECT {_COLUMNS} FROM runs WHERE session_id = ? AND number = ?", (session_id, number)
        )
        return _run(row) if row else None

    async def list(self, session_id: int) -> list[Run]:
        rows = await self._store.fetchall(
            f"SELECT {_COLUMNS} FROM runs WHERE session_id = ? ORDER BY number", (session_id,)
        )
        return [_run(r) for r in rows]

    async def latest(self, session_id: int) -> Run | None:
        row = await self._store.fetchone(
            f"SELECT {_COLUMNS} FROM runs WHERE session_id = ? ORDER BY number DESC LIMIT 1",
            (session_id,),
        )
        return _run(row) if row else None
