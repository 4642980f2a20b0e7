"""``store.queue``: sessions waiting for a slot, in order, and the claim that starts one.

With ``run.max_parallel`` (or ``groups.NAME.max_parallel``) set, a new session waits
in line as ``pending`` until a slot frees. Slots in use are the sessions ``running``
or ``paused`` plus those *claimed*: taken out of the line by a process that is
starting them. Claiming is one ``BEGIN IMMEDIATE`` transaction with a conditional
``UPDATE``, so two processes kicking the queue at once never claim the same session,
and never more than the limits allow.

A claim names who made it (JSON: a claim id, host, boot, pid and start time of the
claiming process). The runner (runner/queue.py) gives a claim back to the head of the
line when its claimer died before the session's supervisor took the session's lock;
the supervisor starts the command only while the claim it was given still holds
(``holds``), so a session is never started twice.

The limits the claim obeys are kept in the database (``settings`` key
``queue.limits``), written by whoever reads ``config.toml`` (the CLI and the TUI, at
each start): a finishing supervisor, which reads no configuration, starts the next
session by the same limits.

``--after ID`` (pueue's dependencies): a session waits until ``ID`` has succeeded;
once ``ID`` has ended any other way (failed, stopped, lost) or is gone, the waiting
session does not start: ``settle`` marks it ``failed`` with a line saying why.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping

from storage.errors import SessionNotFound, StoreError
from storage.frozen import Frozen
from storage.models import ENDED, LIVE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from storage.engine.store import Store

LIMITS_KEY = "queue.limits"
_LIVE = tuple(LIVE)
# A session in line: its row has a place and the session has not started.
_IN_LINE = "q.position IS NOT NULL AND s.status = 'pending'"
# Taken out of the line to be started, not started yet: it holds a slot. (A session
# resumed without the queue is pending for a moment too, with an old claim still in its
# row: it has more runs than when it joined the line, ``q.runs``, schema v14.)
_CLAIMED = (
    "q.position IS NULL AND q.claim IS NOT NULL AND s.status = 'pending' AND s.run_count = q.runs"
)


class NotQueued(StoreError):
    """The session is not waiting in the queue (it started, ended, or never queued)."""

    def __init__(self, session_id: int, why: str) -> None:
        super().__init__(f"session #{session_id} is not in the queue: {why}")
        self.session_id = session_id


class Limits(Frozen):
    """How many sessions may run at once: in all (``max_parallel``) and per group;
    0 is no limit."""

    __slots__ = ("max_parallel", "groups")
    _FACTORIES = {"groups": dict}  # (as ``field(default_factory=dict)``)

    max_parallel: int
    groups: Mapping[str, int]

    def __init__(self, max_parallel: int = 0, groups: Mapping[str, int] | None = None) -> None:
        object.__setattr__(self, "max_parallel", max_parallel)
        object.__setattr__(self, "groups", {} if groups is None else groups)

    def of(self, group: str) -> int:
        return int(self.groups.get(group, 0)) if group else 0

    @property
    def any(self) -> bool:
        return self.max_parallel > 0 or any(v > 0 for v in self.groups.values())

    def to_json(self) -> dict[str, Any]:
        groups = {k: int(v) for k, v in sorted(self.groups.items()) if v}
        return {"max_parallel": int(self.max_parallel), "groups": groups}

    @classmethod
    def from_json(cls, data: Any) -> Limits:
        if not isinstance(data, dict):
            return cls()
        groups = data.get("groups") or {}
        return cls(int(data.get("max_parallel") or 0), {str(k): int(v) for k, v in groups.items()})


class Claim(Frozen):
    """A session taken out of the line to be started by the claimer."""

    __slots__ = ("session_id", "group", "options", "claim_id")

    session_id: int
    group: str
    options: dict[str, Any]
    claim_id: str

    def __init__(self, session_id: int, group: str, options: dict[str, Any], claim_id: str) -> None:
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "options", options)
        object.__setattr__(self, "claim_id", claim_id)


class QueueEntry(Frozen):
    """A session waiting in line: ``place`` is 1 for the next to start."""

    __slots__ = ("session_id", "place", "group", "after", "queued_at")

    session_id: int
    place: int
    group: str
    after: int | None
    queued_at: float

    def __init__(
        self,
        session_id: int,
        place: int,
        group: str,
        after: int | None,
        queued_at: float,
    ) -> None:
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "place", place)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "after", after)
        object.__setattr__(self, "queued_at", queued_at)


class HeldClaim(Frozen):
    """A claim whose session has not started yet, with who made it (for the runner to
    judge whether the claimer still lives)."""

    __slots__ = ("session_id", "claim", "text")

    session_id: int
    claim: dict[str, Any]
    text: str  # the claim as stored: giving it back matches it exactly

    def __init__(self, session_id: int, claim: dict[str, Any], text: str) -> None:
        object.__setattr__(self, "session_id", session_id)
        object.__setattr__(self, "claim", claim)
        object.__setattr__(self, "text", text)


if TYPE_CHECKING:
    Fetch = Callable[[str, Any], Awaitable[list[Any]]]


class Queue:
    """``store.queue`` (``reader.queue`` offers the reading half)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- limits -------------------------------------------------------------------------
    async def limits(self) -> Limits:
        raw = await self._store.scalar("SELECT value FROM settings WHERE key = ?", (LIMITS_KEY,))
        return Limits.from_json(json.loads(raw)) if raw else Limits()

    async def set_limits(self, limits: Limits) -> bool:
        """Record the limits the claims obey; True when they changed."""
        text = json.dumps(limits.to_json(), sort_keys=True)
        async with self._store.transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT value FROM settings WHERE key = ?", (LIMITS_KEY,)
            )
            if rows and rows[0][0] == text:
                return False
            await db.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (LIMITS_KEY, text, time.time()),
            )
        return True

    # -- joining the line -----------------------------------------------------------------
    async def add(
        self,
        session_id: int,
        *,
        group: str = "",
        after: int | None = None,
        options: Mapping[str, Any] | None = None,
        resume: bool = False,
    ) -> int:
        """Put a ``pending`` session at the end of the line; returns its place. With
        ``resume``, an ended session joins it for a new run: it becomes ``pending`` in
        the same transaction (``tether resume`` under ``run.max_parallel``)."""
        async with self._store.transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT status, run_count FROM sessions WHERE id = ?", (session_id,)
            )
            if not rows:
                raise SessionNotFound(session_id)
            status, runs = rows[0]
            if resume and status in ENDED:
                from storage.engine.sessions import _apply_status

                await _apply_status(db, session_id, "pending", time.time(), None, None, None)
            elif status != "pending" or resume:
                raise NotQueued(
                    session_id, f"it is {status}, not {'ended' if resume else 'pending'}"
                )
            # A session that was in line before (its first run) takes its row again.
            await db.execute(
                "INSERT INTO queue (session_id, grp, position, after, queued_at, options, runs) "
                "VALUES (?, ?, (SELECT coalesce(max(position), 0) + 1 FROM queue), ?, ?, ?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET grp = excluded.grp, "
                "position = excluded.position, after = excluded.after, "
                "queued_at = excluded.queued_at, options = excluded.options, "
                "runs = excluded.runs, claim = NULL, claimed_at = NULL",
                (
                    session_id,
                    group or "",
                    after,
                    time.time(),
                    json.dumps(dict(options)) if options else None,
                    runs,
                ),
            )
        return (await self.positions()).get(session_id, 0)

    # -- reading ----------------------------------------------------------------------------
    async def positions(self) -> dict[int, int]:
        """Every session in line and its place (1: the next to start)."""
        rows = await self._store.fetchall(
            "SELECT q.session_id, row_number() OVER (ORDER BY q.position) FROM queue q "
            f"JOIN sessions s ON s.id = q.session_id WHERE {_IN_LINE}"
        )
        return {r[0]: r[1] for r in rows}

    async def entries(self) -> list[QueueEntry]:
        """The sessions in line, the next to start first."""
        rows = await self._store.fetchall(
            "SELECT q.session_id, row_number() OVER (ORDER BY q.position), q.grp, q.after, "
            f"q.queued_at FROM queue q JOIN sessions s ON s.id = q.session_id WHERE {_IN_LINE} "
            "ORDER BY q.position"
        )
        return [QueueEntry(*r) for r in rows]

    async def groups(self, session_ids: list[int] | None = None) -> dict[int, str]:
        """The group of each session that has one (``tether run --group``)."""
        rows = await self._store.fetchall("SELECT session_id, grp FROM queue WHERE grp != ''")
        wanted = None if session_ids is None else set(session_ids)
        return {r[0]: r[1] for r in rows if wanted is None or r[0] in wanted}

    async def waiting(self) -> bool:
        """Is any session in line or claimed and not started? (Cheap: ``tether ls``
        asks it to know whether the queue may need a kick.)"""
        row = await self._store.fetchone(
            "SELECT 1 FROM queue q JOIN sessions s ON s.id = q.session_id "
            f"WHERE ({_IN_LINE}) OR ({_CLAIMED}) LIMIT 1"
        )
        return row is not None

    async def waiting_ids(self) -> set[int]:
        """The sessions in line or claimed and not started: ``pending`` on purpose
        (``reconcile`` does not judge them; the queue gives back a dead claimer's)."""
        rows = await self._store.fetchall(
            "SELECT q.session_id FROM queue q JOIN sessions s ON s.id = q.session_id "
            f"WHERE ({_IN_LINE}) OR ({_CLAIMED})"
        )
        return {r[0] for r in rows}

    async def startable(self) -> bool:
        """Would ``claim_next`` claim a session now, or ``settle`` give one up? Reads
        only (a ``Reader`` can answer)."""
        limits = await self.limits()
        if await _pick(self._store.fetchall, limits) is not None:
            return True
        return bool(await _unmet(self._store.fetchall))

    async def claims(self) -> list[HeldClaim]:
        """Claims whose session has not started yet."""
        rows = await self._store.fetchall(
            "SELECT q.session_id, q.claim FROM queue q JOIN sessions s ON s.id = q.session_id "
            f"WHERE {_CLAIMED}"
        )
        return [HeldClaim(r[0], json.loads(r[1]), r[1]) for r in rows]

    async def holds(self, session_id: int, claim_id: str) -> bool:
        """Does the claim ``claim_id`` still hold ``session_id`` (not given back)?"""
        raw = await self._store.scalar(
            "SELECT q.claim FROM queue q JOIN sessions s ON s.id = q.session_id "
            f"WHERE q.session_id = ? AND {_CLAIMED}",
            (session_id,),
        )
        return raw is not None and json.loads(raw).get("id") == claim_id

    # -- claiming ---------------------------------------------------------------------------
    async def claim_next(self, claim: Mapping[str, Any]) -> Claim | None:
        """Take the first session in line that may start now out of the line, for the
        caller to start: its ``--after`` session has succeeded, and a slot is free in
        all and in its group. None when none may. ``claim`` says who claims
        (JSON-able, with an ``id``)."""
        if await _pick(self._store.fetchall, await self.limits()) is None:
            return None  # nothing may start: no write lock taken (kicks are frequent)
        async with self._store.transaction() as db:
            limits = await _limits_in(db)
            picked = await _pick(db.execute_fetchall, limits)  # again, now atomically
            if picked is None:
                return None
            return await _take(db, picked, claim)

    async def claim(self, session_id: int, claim: Mapping[str, Any]) -> Claim:
        """Take ``session_id`` out of the line now, whatever the limits and its
        ``--after`` say ("start now")."""
        async with self._store.transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT q.session_id FROM queue q JOIN sessions s ON s.id = q.session_id "
                f"WHERE q.session_id = ? AND {_IN_LINE}",
                (session_id,),
            )
            if not rows:
                raise NotQueued(session_id, await _why_not(db, session_id))
            return await _take(db, session_id, claim)

    async def give_back(self, held: HeldClaim) -> bool:
        """Put a claimed session back at the head of the line (its claimer died before
        starting it). Only that very claim is given back: False when it started or
        was claimed again meanwhile."""
        async with self._store.transaction() as db:
            cur = await db.execute(
                "UPDATE queue SET position = (SELECT coalesce(min(position), 1) - 1 FROM queue), "
                "claim = NULL, claimed_at = NULL WHERE session_id = ? AND claim = ? "
                "AND position IS NULL AND (SELECT status FROM sessions WHERE id = ?) = 'pending'",
                (held.session_id, held.text, held.session_id),
            )
            return cur.rowcount == 1

    # -- changing the line ---------------------------------------------------------------
    async def move(self, session_id: int, steps: int) -> int:
        """Move a session in line ``steps`` places towards the head (negative: towards
        the end); returns its new place."""
        async with self._store.transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT q.session_id, q.position FROM queue q JOIN sessions s ON "
                f"s.id = q.session_id WHERE {_IN_LINE} ORDER BY q.position"
            )
            order = [r[0] for r in rows]
            if session_id not in order:
                raise NotQueued(session_id, await _why_not(db, session_id))
            places = [r[1] for r in rows]
            i = order.index(session_id)
            j = max(0, min(len(order) - 1, i - steps))
            order.insert(j, order.pop(i))
            await db.executemany(
                "UPDATE queue SET position = ? WHERE session_id = ?",
                list(zip(places, order, strict=True)),
            )
        return j + 1

    async def cancel(self, session_id: int, reason: str) -> None:
        """Take a session out of the line without starting it: it becomes ``stopped``,
        with ``reason`` as a system line."""
        async with self._store.transaction() as db:
            rows = await db.execute_fetchall(
                "SELECT 1 FROM queue q JOIN sessions s ON s.id = q.session_id "
                f"WHERE q.session_id = ? AND {_IN_LINE}",
                (session_id,),
            )
            if not rows:
                raise NotQueued(session_id, await _why_not(db, session_id))
            await _leave(db, session_id, "stopped", reason)

    async def settle(self) -> list[int]:
        """Give up the sessions in line that can never start: their ``--after`` session
        ended without succeeding, or is gone. Each becomes ``failed`` with a line
        saying why (and so do the sessions waiting for it, in turn). Returns them."""
        gone: list[int] = []
        while await _unmet(self._store.fetchall):  # a read first: usually nothing
            async with self._store.transaction() as db:
                unmet = await _unmet(db.execute_fetchall)
                for sid, after, status in unmet:
                    why = f"not started: #{after}, which it waited for (--after), " + (
                        f"ended {status}" if status else "no longer exists"
                    )
                    await _leave(db, sid, "failed", why)
                    gone.append(sid)
        return gone


async def _limits_in(db: Any) -> Limits:
    rows = await db.execute_fetchall("SELECT value FROM settings WHERE key = ?", (LIMITS_KEY,))
    return Limits.from_json(json.loads(rows[0][0])) if rows else Limits()


async def _pick(fetch: Fetch, limits: Limits) -> int | None:
    """The first session in line that may start now under ``limits``, or None."""
    ph = ",".join("?" * len(_LIVE))
    used = await fetch(
        f"SELECT (SELECT count(*) FROM sessions WHERE status IN ({ph})) + (SELECT count(*) "
        f"FROM queue q JOIN sessions s ON s.id = q.session_id WHERE {_CLAIMED})",
        _LIVE,
    )
    total = used[0][0]
    if limits.max_parallel and total >= limits.max_parallel:
        return None
    rows = await fetch(
        "SELECT q.grp, count(*) FROM queue q JOIN sessions s ON s.id = q.session_id "
        f"WHERE q.grp != '' AND (s.status IN ({ph}) OR ({_CLAIMED})) GROUP BY q.grp",
        _LIVE,
    )
    in_group = {r[0]: r[1] for r in rows}
    line = await fetch(
        "SELECT q.session_id, q.grp, q.after, a.status FROM queue q "
        "JOIN sessions s ON s.id = q.session_id LEFT JOIN sessions a ON a.id = q.after "
        f"WHERE {_IN_LINE} AND s.deleted_at IS NULL ORDER BY q.position",
        (),
    )
    for sid, group, after, after_status in line:
        if after is not None and after_status != "succeeded":
            continue  # waits for its --after session
        cap = limits.of(group)
        if cap and in_group.get(group, 0) >= cap:
            continue  # its group is full; a session of another group may go
        return int(sid)
    return None


async def _unmet(fetch: Fetch) -> list[tuple[int, int, str | None]]:
    """Sessions in line whose ``--after`` session ended without success or is gone:
    (session, after, its status or None)."""
    ended = [s for s in ENDED if s != "succeeded"]
    rows = await fetch(
        "SELECT q.session_id, q.after, a.status FROM queue q "
        "JOIN sessions s ON s.id = q.session_id LEFT JOIN sessions a ON a.id = q.after "
        f"WHERE {_IN_LINE} AND q.after IS NOT NULL "
        f"AND (a.id IS NULL OR a.status IN ({','.join('?' * len(ended))}))",
        ended,
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def _take(db: Any, session_id: int, claim: Mapping[str, Any]) -> Claim:
    text = json.dumps(dict(claim), sort_keys=True)
    await db.execute(
        "UPDATE queue SET position = NULL, claim = ?, claimed_at = ? "
        "WHERE session_id = ? AND position IS NOT NULL",
        (text, time.time(), session_id),
    )
    rows = await db.execute_fetchall(
        "SELECT grp, options FROM queue WHERE session_id = ?", (session_id,)
    )
    group, options = rows[0]
    return Claim(session_id, group, json.loads(options) if options else {}, str(claim["id"]))


async def _leave(db: Any, session_id: int, status: str, reason: str) -> None:
    """Out of the line for good, as ``status`` (inside the caller's transaction)."""
    from storage.engine.output import append_in_tx
    from storage.engine.sessions import _apply_status

    now = time.time()
    await db.execute("UPDATE queue SET position = NULL WHERE session_id = ?", (session_id,))
    await _apply_status(db, session_id, status, now, None, None, None)
    await append_in_tx(db, [(session_id, "system", reason.encode() + b"\n", now)], index=True)


async def _why_not(db: Any, session_id: int) -> str:
    rows = await db.execute_fetchall(
        "SELECT s.status, q.session_id, q.claim FROM sessions s "
        "LEFT JOIN queue q ON q.session_id = s.id WHERE s.id = ?",
        (session_id,),
    )
    if not rows:
        raise SessionNotFound(session_id)
    status, queued, claim = rows[0]
    if status == "pending" and claim:
        return "it is being started"
    if status == "pending" and queued is None:
        return "it never waited in the queue"
    return f"it is {status}"
