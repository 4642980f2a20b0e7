"""Starting sessions in the queue's order: the runner's half of ``store.queue``
(storage/engine/queue.py, where the line and its atomic claim are).

There is no queue daemon. The queue is *kicked*:

- by a supervisor whose run has just ended (its slot is free): runner/supervisor.py;
- by every command of the CLI and by the TUI, after reconciling: a supervisor killed
  with -9 leaves its session ``running`` until reconcile marks it ``lost``, which frees
  its slot, and a process killed while starting the next session leaves a claim that
  the next kick gives back (``give_back_stale``).

A kick gives back claims whose claimer died before the session's supervisor took its
lock, gives up sessions whose ``--after`` session ended without success (``settle``),
then claims and starts, one by one, every session that may start now. A supervisor
started for a claim runs the command only while that claim still holds (checked with
the session's lock held), so a session given back and claimed again never runs twice.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.engine.queue import Claim, Limits, NotQueued

from . import identity
from .locations import try_lock

if TYPE_CHECKING:
    from storage import Session, Store
    from storage.engine.reader import Reader

    from .locations import RuntimePaths
    from .spec import LaunchSpec

__all__ = [
    "Limits",
    "NotQueued",
    "applies",
    "cancel",
    "kick",
    "move",
    "needs_kick",
    "start_now",
    "submit",
]


def applies(limits: Limits | None, group: str = "", after: int | None = None) -> bool:
    """Does a new session go through the queue (rather than start at once)?"""
    return bool(group) or after is not None or (limits is not None and limits.any)


def claimer() -> dict[str, Any]:
    """Who claims: this process, named so that others can tell when it is gone."""
    pid = os.getpid()
    return {
        "id": uuid.uuid4().hex,
        "host": identity.host(),
        "boot": identity.boot(),
        "pid": pid,
        "start": identity.start_time(pid),
    }


def claimer_gone(claim: Mapping[str, Any]) -> bool:
    """True only when the process that made ``claim`` certainly no longer runs."""
    here = identity.same_boot(claim.get("host"), claim.get("boot"))
    if here is None:
        return False  # another host or pid namespace: not ours to judge
    return not here or not identity.is_running(claim.get("pid"), claim.get("start"))


# -- joining -------------------------------------------------------------------------------
async def submit(
    store: Store,
    paths: RuntimePaths,
    session_id: int,
    *,
    limits: Limits | None,
    group: str = "",
    after: int | None = None,
    options: Mapping[str, Any] | None = None,
    resume: bool = False,
) -> Session:
    """Put a new ``pending`` session in line, then kick the queue: it starts now when
    a slot is free and nothing before it may take it, else it waits (``pending``).
    ``options`` is how to launch it (``launch``'s grace, size, redact, tuning).
    ``resume``: an ended session joins the line for a new run (``resume_run``)."""
    if limits is not None:
        await publish(store, limits)
    options = {**(options or {}), "resume": True} if resume else options
    await store.queue.add(session_id, group=group, after=after, options=options, resume=resume)
    await kick(store, paths)
    return await store.sessions.require(session_id)


async def publish(store: Store, limits: Limits) -> None:
    """Record the configured limits for every process that starts queued sessions
    (a finishing supervisor reads no configuration)."""
    if await store.queue.limits() != limits:
        await store.queue.set_limits(limits)


# -- kicking ---------------------------------------------------------------------------------
async def needs_kick(reader: Reader | Store, limits: Limits | None) -> bool:
    """Would ``kick`` do anything now? Reads only: ``tether ls`` asks on its read-only
    connection and opens the database for writing only when the answer is yes."""
    queue = reader.queue
    if not await queue.waiting():
        return False
    if limits is not None and await queue.limits() != limits:
        return True
    if await queue.startable():
        return True
    return any(claimer_gone(held.claim) for held in await queue.claims())


async def kick(store: Store, paths: RuntimePaths, *, limits: Limits | None = None) -> list[Session]:
    """Start every queued session that may start now, in order (see the module's
    docstring). ``limits``: the configured ones, recorded first (None: those recorded).
    Returns the sessions it started (or tried to: a failed start is ``failed``)."""
    if limits is not None:
        await publish(store, limits)
    if not await store.queue.waiting():
        return []
    await give_back_stale(store, paths)
    await store.queue.settle()
    started = []
    while (claim := await store.queue.claim_next(claimer())) is not None:
        started.append(await _start(store, paths, claim))
    return started


async def give_back_stale(store: Store, paths: RuntimePaths) -> list[int]:
    """Put back in line the claimed sessions whose claimer died before their supervisor
    took the session's lock. The lock is held while deciding, so no supervisor starts
    in between; one that was already on its way finds its claim gone and lets go."""
    back = []
    for held in await store.queue.claims():
        if not claimer_gone(held.claim):
            continue
        with try_lock(paths.lock_file_str(held.session_id)) as free:
            if free and await store.queue.give_back(held):
                back.append(held.session_id)
    return back


async def _start(store: Store, paths: RuntimePaths, claim: Claim) -> Session:
    from .errors import RunnerError
    from .launch import launch

    opts = claim.options
    size = opts.get("size")
    try:
        return await launch(
            store,
            paths,
            claim.session_id,
            grace=float(opts.get("grace", 5.0)),
            size=(int(size[0]), int(size[1])) if size else None,
            redact=opts.get("redact"),
            tuning=opts.get("tuning"),
            claim=claim.claim_id,
            resume=bool(opts.get("resume")),
        )
    except (RunnerError, OSError) as e:
        # Never left claimed by a live process: that would hold its slot for good.
        session = await store.sessions.require(claim.session_id)
        if session.status == "pending":
            session = await store.sessions.set_status(
                claim.session_id, "failed", reason=f"could not start: {e}"
            )
        return session


# -- what the user does to the line ----------------------------------------------------------
async def start_now(store: Store, paths: RuntimePaths, session_id: int) -> Session:
    """Start a queued session at once, whatever the limits and its ``--after``."""
    return await _start(store, paths, await store.queue.claim(session_id, claimer()))


async def cancel(store: Store, session_id: int) -> Session:
    """Take a queued session out of the line: it never starts and becomes ``stopped``."""
    await store.queue.cancel(session_id, "removed from the queue before it started")
    return await store.sessions.require(session_id)


async def move(store: Store, session_id: int, steps: int) -> int:
    """Move a queued session ``steps`` places towards the head (negative: back);
    returns its new place (1: next to start)."""
    return await store.queue.move(session_id, steps)


# -- a finishing supervisor, or the guardian of a dead one -------------------------------------
@dataclass(frozen=True)
class SpecPaths:
    """The ``RuntimePaths`` of a supervisor's home, from its ``LaunchSpec``: its lock
    file's directory holds every session's lock and socket."""

    db: Path
    runtime: Path
    supervisor_log: Path

    @classmethod
    def of(cls, spec: LaunchSpec) -> SpecPaths:
        return cls(Path(spec.db), Path(spec.lock).parent, Path(spec.log))

    @property
    def runtime_str(self) -> str:
        return str(self.runtime)

    def lock_file_str(self, session_id: int) -> str:
        return str(self.lock_file(session_id))

    def lock_file(self, session_id: int) -> Path:
        return self.runtime / f"{session_id}.lock"

    def socket_file(self, session_id: int) -> Path:
        return self.runtime / f"{session_id}.sock"


def kick_command(spec: LaunchSpec) -> list[str]:
    """The command line of ``main``: what a supervisor's guardian runs once it has seen
    the supervisor die (runner/guardian.py), so that its slot is taken without a tether
    command."""
    root = str(Path(__file__).resolve().parent.parent)
    code = f"import sys; sys.path.insert(0, {root!r}); from runner.queue import main; main()"
    return [sys.executable, "-c", code, spec.db, str(Path(spec.lock).parent), spec.log]


def main() -> None:
    """``kick_command``: reconcile (the dead supervisor's session becomes lost, its slot
    frees), then kick the queue. Failures go to the supervisors' log."""
    import asyncio

    db, runtime, log_path = sys.argv[1:4]
    paths = SpecPaths(Path(db), Path(runtime), Path(log_path))

    async def go() -> None:
        from storage import open_store

        from .reconcile import reconcile

        async with open_store(db, create=False, actor="runner") as store:
            if await store.queue.waiting():
                await reconcile(store, paths)
                await kick(store, paths)

    try:
        asyncio.run(go())
    except Exception as e:  # noqa: BLE001 - nobody to tell but the log
        from .log import write_entry

        write_entry(paths.supervisor_log, f"could not kick the queue: {e!r}", exc=e)


AFTER_RUN_TRIES = 5  # a busy database: a finishing supervisor tries again, 1 s apart


async def after_run(store: Store, spec: LaunchSpec) -> list[Session]:
    """A supervisor's run has ended, freeing its slot: start what may start now. Then
    reconcile: a session whose supervisor died frees its slot too (kicked again). Tried
    again when the database is busy: nobody else may kick the queue for a long time."""
    import asyncio

    from .reconcile import reconcile

    paths = SpecPaths.of(spec)
    for attempt in range(AFTER_RUN_TRIES):
        try:
            if not await store.queue.waiting():
                return []
            started = await kick(store, paths)
            if await reconcile(store, paths):
                started += await kick(store, paths)
            return started
        except Exception:
            if attempt == AFTER_RUN_TRIES - 1:
                raise
            await asyncio.sleep(1.0)
    return []
