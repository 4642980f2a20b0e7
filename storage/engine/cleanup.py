"""Cleaning up a store by a retention policy: the plan for what is in it now, then
applying that plan safely.

``plan`` feeds the store's sessions to the pure ``storage.retention.plan_sessions``.
Only ``apply`` changes anything, and it checks every session again first: one pinned,
resumed, tagged or edited since the plan was made is skipped. A large cleanup is
backed up first; every purge and the cleanup itself go into the audit log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.engine.purge import ProgressFn, purge_sessions
from storage.models import ENDED, Session
from storage.retention import CleanupItem, CleanupPlan, RetentionPolicy, plan_sessions

if TYPE_CHECKING:
    from storage.engine.store import Store

BACKUP_OVER = 20  # back up before purging more sessions than this


async def plan(store: Store, policy: RetentionPolicy, now: float | None = None) -> CleanupPlan:
    """What ``apply`` would purge now under ``policy``. Changes nothing."""
    sessions = await store.sessions.list(include_deleted=True, order="newest")
    return plan_sessions(sessions, policy, time.time() if now is None else now)


@dataclass(frozen=True, slots=True)
class CleanupResult:
    purged: tuple[int, ...]
    bytes: int
    skipped: tuple[tuple[int, str], ...]  # (session id, why) for sessions left alone
    backup: Path | None
    size_before: int
    size_after: int
    seconds: float
    strategy: str

    @property
    def reclaimed(self) -> int:
        return max(0, self.size_before - self.size_after)

    def to_json(self) -> dict[str, Any]:
        return {
            "purged": list(self.purged),
            "bytes": self.bytes,
            "skipped": [{"id": i, "why": why} for i, why in self.skipped],
            "backup": str(self.backup) if self.backup else None,
            "size_before": self.size_before,
            "size_after": self.size_after,
            "seconds": round(self.seconds, 3),
        }


def _changed(item: CleanupItem, fresh: Session | None, plan: CleanupPlan) -> str | None:
    if fresh is None:
        return "already gone"
    why = plan.policy.protects(fresh)
    if why:
        return f"now {why}"
    if fresh.status not in ENDED:
        return f"now {fresh.status}"
    if item.rule == "trash" and not fresh.trashed:
        return "restored from the trash"
    if fresh.updated_at > max(item.session.updated_at, plan.now):
        return "changed since the plan was made"
    return None


async def apply(
    store: Store,
    plan: CleanupPlan,
    *,
    progress: ProgressFn | None = None,
    backup_dir: str | Path | None = None,
    keep_backups: int = 5,
    backup_over: int = BACKUP_OVER,
    is_alive: Callable[[int], bool] | None = None,
) -> CleanupResult:
    """Purge what ``plan`` lists, then shrink the file. Each session is checked again
    first and skipped when it no longer qualifies (or ``is_alive`` says a supervisor
    still holds it). Over ``backup_over`` sessions, a backup is made first (in
    ``backup_dir``, default ``backups/`` beside the database; ``keep_backups`` kept).
    Every purge and the cleanup itself go into the audit log."""
    from storage.engine.backup import create_backup
    from storage.engine.purge import db_size

    started = time.perf_counter()
    todo: list[CleanupItem] = []
    skipped: list[tuple[int, str]] = []
    for item in plan.items:
        fresh = await store.sessions.get(item.session.id)
        why = _changed(item, fresh, plan)
        if why is None and is_alive is not None and is_alive(item.session.id):
            why = "its supervisor is still running"
        if why:
            skipped.append((item.session.id, why))
        else:
            todo.append(item)
    backup = None
    if len(todo) > backup_over:
        where = Path(backup_dir) if backup_dir else store.path.parent / "backups"
        backup = (
            await create_backup(store, backup_dir=where, keep=keep_backups, label="pre-cleanup")
        ).path
    if not todo:
        size = db_size(store)
        return CleanupResult((), 0, tuple(skipped), backup, size, size, 0.0, "none")
    result = await purge_sessions(
        store,
        [i.session.id for i in todo],
        details={i.session.id: {"rule": i.rule, "reason": i.reason} for i in todo},
        progress=progress,
    )
    await store.audit.record(
        "cleanup",
        None,
        {
            "sessions": len(result.purged),
            "bytes": result.bytes,
            "skipped": len(skipped),
            "backup": str(backup) if backup else None,
            "size_before": result.size_before,
            "size_after": result.size_after,
            "policy": plan.policy.to_json(),
        },
    )
    return CleanupResult(
        result.purged,
        result.bytes,
        tuple(skipped),
        backup,
        result.size_before,
        result.size_after,
        time.perf_counter() - started,
        result.strategy,
    )
