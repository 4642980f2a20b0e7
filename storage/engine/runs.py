"""``store.runs``: one row per start or resume of a session."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from storage.engine.sessions import _apply_status
from storage.errors import IllegalTransition, RunSuperseded, SessionNotFound
from storage.models import ENDED, LIVE, TRANSITIONS, ProcessIdentity, Run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from storage.engine.store import Store

_COLUMNS = (
    "session_id, number, argv, pid, started_at, ended_at, exit_code, signal, status, first_line, "
    "supervisor, host, boot, supervisor_pid, supervisor_start, command_start, lease, lease_until, "
    "socket"
)


def _run(row) -> Run:  # type: ignore[no-untyped-def]
    sid, number, argv, *rest = row
    return Run(sid, number, tuple(json.loads(argv)), *rest)


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
        supervisor: str | None = None,
        lease: float | None = None,
        identity: ProcessIdentity | None = None,
    ) -> Run:
        """Begin a new run: the session becomes ``running``. From the second run on a
        separator system line goes into the output first, so resumed output is easy
        to tell apart.

        ``supervisor`` names who looks after the run ("tether" for its own supervisor,
        or your program's name). Tether's ``reconcile`` marks a run ``lost`` only when
        it can tell that its supervisor is gone: with ``lease`` (seconds), when the
        lease was not renewed (``renew``) in time; with ``identity`` (host, boot,
        supervisor pid and start time), when that process is gone. A run with neither
        is never judged: ending it is up to whoever started it."""
        if lease is not None and not lease > 0:
            raise ValueError(f"a lease is a number of seconds above 0, not {lease!r}")
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
                import shlex  # here, as the output code: reading runs needs neither

                from storage.engine.output import append_in_tx

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
            who = identity
            await db.execute(
                "INSERT INTO runs (session_id, number, argv, pid, started_at, first_line, "
                "supervisor, host, boot, supervisor_pid, supervisor_start, command_start, "
                "lease, lease_until, socket) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    session_id, number, json.dumps(run_argv), pid, now, lines,
                    supervisor,
                    who.host if who else None,
                    who.boot if who else None,
                    who.supervisor_pid if who else None,
                    who.supervisor_start if who else None,
                    who.command_start if who else None,
                    lease,
                    time.time() + lease if lease is not None else None,
                    who.socket if who else None,
                ),
            )  # fmt: skip
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

    async def renew(self, session_id: int, lease: float | None = None) -> Run:
        """Renew the lease of the session's current run (``start(..., lease=)``) for
        ``lease`` seconds from now (default: the lease it was started with). Raises
        ``RunSuperseded`` when the run is over: it was judged lost because the lease
        had expired, or it ended, or the session was resumed elsewhere."""
        async with self._store.transaction() as db:
            row = await (
                await db.execute(
                    "SELECT s.status, s.run_count, r.lease FROM sessions s LEFT JOIN runs r "
                    "ON r.session_id = s.id AND r.number = s.run_count WHERE s.id = ?",
                    (session_id,),
                )
            ).fetchone()
            if row is None:
                raise SessionNotFound(session_id)
            status, number, held = row
            if status not in LIVE:
                raise RunSuperseded(session_id, number, number, status)
            seconds = lease if lease is not None else held
            if seconds is None or not seconds > 0:
                raise ValueError(
                    f"session #{session_id}'s run {number} has no lease: start it with lease="
                )
            await db.execute(
                "UPDATE runs SET lease = ?, lease_until = ? WHERE session_id = ? AND number = ?",
                (seconds, time.time() + seconds, session_id, number),
            )
        return await self.get(session_id, number)  # type: ignore[return-value]

    async def finish(
        self,
        session_id: int,
        *,
        exit_code: int | None = None,
        signal: int | None = None,
        status: str | None = None,
        reason: str | None = None,
        at: float | None = None,
        run: int | None = None,
    ) -> Run:
        """End the current run. The status is ``succeeded`` for exit 0, ``failed``
        otherwise, unless given (``stopped`` when the user stopped it, ``lost``).

        With ``run`` (its number), only that run is ended, and only while it is live:
        otherwise ``RunSuperseded`` is raised and nothing is written. A supervisor
        passes its own run, so that it never writes its end into a run that is no
        longer its own (judged lost, then resumed)."""
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
            if run is not None and (run != number or old not in LIVE):
                raise RunSuperseded(session_id, run, number, old)
            now = max(now, created)
            if old != status and status not in TRANSITIONS[old]:
                raise IllegalTransition(session_id, old, status)
            if reason:
                from storage.engine.output import append_in_tx

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
