"""Retention: which sessions a cleanup purges, and why; then doing it safely.

A ``RetentionPolicy`` (config ``[retention]``, overridable per cleanup) first yields a
``CleanupPlan``: the sessions it would purge, the reason for each and the bytes. Only
``apply`` changes anything, and it checks every session again first: one pinned,
resumed, tagged or edited since the plan was made is skipped.

Never eligible, whatever the policy: pinned sessions; pending, running and paused
ones; sessions with a protected tag. Rules (each one that is set adds sessions):

- ``max_age``: ended longer ago than this (``ended_at``, else ``created_at``);
- ``keep_newest``: all but the newest N eligible sessions (by creation);
- ``max_total_bytes``: while all output (trash included) is over the cap, the trash
  goes first (longest there first), then eligible sessions, oldest first;
- ``trash_days``: sessions in the trash longer than this.

Limits are strict: a session exactly ``max_age`` old is kept.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.engine.purge import ProgressFn, purge_sessions
from storage.errors import StoreError
from storage.models import ACTIVE, ENDED, Session

if TYPE_CHECKING:
    from storage.engine.store import Store

DAY = 86_400.0
BACKUP_OVER = 20  # back up before purging more sessions than this
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*", re.IGNORECASE)
_AGE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|y)?\s*", re.IGNORECASE)
_AGE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY, "y": 365 * DAY}
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
CONFIG_KEYS = (
    "max_age",
    "max_age_days",
    "keep",
    "max_size",
    "statuses",
    "protected_tags",
    "trash_days",
)


class PolicyError(StoreError, ValueError):
    """A retention setting that makes no sense; ``key`` names it."""

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"retention.{key}: {message}" if key else message)


# -- parsing ---------------------------------------------------------------------------
def parse_size(value: str | int, key: str = "max_size") -> int:
    """``5G``, ``500M``, ``1.5GiB``, ``2048`` (bytes) -> bytes. Units are powers of 1024."""
    if isinstance(value, bool):
        raise PolicyError(f"expected a size like 5G or 500M, not {value!r}", key)
    if isinstance(value, int):
        if value < 0:
            raise PolicyError("a size cannot be negative", key)
        return value
    m = _SIZE.fullmatch(str(value))
    if not m:
        raise PolicyError(f"expected a size like 5G or 500M, not {value!r}", key)
    number, unit, _ = m.groups()
    return int(float(number) * _SIZE_UNITS[unit.lower()])


def parse_age(value: str | int | float, key: str = "max_age") -> float:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` -> seconds. A bare number means days."""
    if isinstance(value, bool):
        raise PolicyError(f"expected an age like 30d or 12h, not {value!r}", key)
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise PolicyError("an age must be a positive number of days", key)
        return float(value) * DAY
    m = _AGE.fullmatch(str(value))
    if not m:
        raise PolicyError(f"expected an age like 30d, 12h or 2w, not {value!r}", key)
    number, unit = m.groups()
    return float(number) * _AGE_UNITS[(unit or "d").lower()]


def format_size(n: int) -> str:
    """Bytes for people: ``512 B``, ``3.4 KiB``, ``1.0 GiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def format_age(seconds: float) -> str:
    """A duration in its largest whole unit: ``45s``, ``12m``, ``5h``, ``3d``."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size:
            value = seconds / size
            return (
                f"{value:.0f}{unit}" if value >= 10 or value == int(value) else f"{value:.1f}{unit}"
            )
    return f"{seconds:.0f}s"


# -- the policy ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """What a cleanup may purge. ``None`` turns a rule off."""

    max_age: float | None = None  # seconds since the session ended
    keep_newest: int | None = None
    max_total_bytes: int | None = None
    statuses: frozenset[str] = ENDED
    protected_tags: frozenset[str] = frozenset({"keep"})
    trash_days: float | None = 7.0

    def __post_init__(self) -> None:
        statuses = frozenset(self.statuses)
        object.__setattr__(self, "statuses", statuses)
        object.__setattr__(self, "protected_tags", frozenset(self.protected_tags))
        never = statuses & ACTIVE
        if never:
            raise PolicyError(
                f"{', '.join(sorted(never))} sessions are never cleaned up; stop them first "
                f"(eligible statuses: {', '.join(sorted(ENDED))})",
                "statuses",
            )
        unknown = statuses - ENDED
        if unknown:
            raise PolicyError(
                f"unknown status {', '.join(sorted(unknown))}; expected some of "
                f"{', '.join(sorted(ENDED))}",
                "statuses",
            )
        for name in ("max_age", "keep_newest", "max_total_bytes", "trash_days"):
            value = getattr(self, name)
            if value is not None and (value < 0 or not math.isfinite(value)):
                raise PolicyError(f"must be zero or more, not {value}", name)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> RetentionPolicy:
        """The policy in a config ``[retention]`` table (see home/config.py)."""
        unknown = set(section) - set(CONFIG_KEYS)
        if unknown:
            raise PolicyError(
                f"unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(CONFIG_KEYS)}"
            )
        values: dict[str, Any] = {}
        if "max_age" in section and "max_age_days" in section:
            raise PolicyError("give max_age or max_age_days, not both", "max_age")
        if "max_age" in section:
            values["max_age"] = parse_age(section["max_age"], "max_age")
        if "max_age_days" in section:
            days = section["max_age_days"]
            if isinstance(days, bool) or not isinstance(days, int | float):
                raise PolicyError(f"expected a number of days, not {days!r}", "max_age_days")
            values["max_age"] = parse_age(days, "max_age_days")
        if "keep" in section:
            keep = section["keep"]
            if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
                raise PolicyError(f"expected a whole number of sessions, not {keep!r}", "keep")
            values["keep_newest"] = keep
        if "max_size" in section:
            values["max_total_bytes"] = parse_size(section["max_size"], "max_size")
        for key in ("statuses", "protected_tags"):
            if key in section:
                items = section[key]
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise PolicyError("expected a list of strings", key)
                values[key] = frozenset(items)
        if "trash_days" in section:
            days = section["trash_days"]
            if isinstance(days, bool) or not isinstance(days, int | float) or days < 0:
                raise PolicyError(f"expected a number of days, not {days!r}", "trash_days")
            values["trash_days"] = float(days)
        return cls(**values)

    def override(self, **changes: Any) -> RetentionPolicy:
        """A copy with some rules changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def limited(self) -> bool:
        """Whether any rule beyond the trash is set."""
        return any(v is not None for v in (self.max_age, self.keep_newest, self.max_total_bytes))

    def protects(self, session: Session) -> str | None:
        """Why the session can never be purged by this policy, or None."""
        if session.pinned:
            return "pinned"
        if session.status in ACTIVE:
            return session.status
        tags = self.protected_tags.intersection(session.tags)
        if tags:
            return f"tagged {', '.join(sorted(tags))}"
        return None

    def describe(self) -> str:
        parts = []
        if self.max_age is not None:
            parts.append(f"ended over {format_age(self.max_age)} ago")
        if self.keep_newest is not None:
            parts.append(f"beyond the newest {self.keep_newest}")
        if self.max_total_bytes is not None:
            parts.append(f"while output is over {format_size(self.max_total_bytes)}")
        if self.trash_days is not None:
            parts.append(f"in trash over {format_age(self.trash_days * DAY)}")
        rules = "; ".join(parts) or "nothing (no rule set)"
        protected = ", ".join(sorted(self.protected_tags)) or "none"
        return (
            f"purge {rules}. Statuses: {', '.join(sorted(self.statuses))}. "
            f"Protected tags: {protected}."
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "max_age_seconds": self.max_age,
            "keep_newest": self.keep_newest,
            "max_total_bytes": self.max_total_bytes,
            "statuses": sorted(self.statuses),
            "protected_tags": sorted(self.protected_tags),
            "trash_days": self.trash_days,
        }


# -- the plan --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CleanupItem:
    session: Session
    rule: str  # trash, age, keep or size
    reason: str
    bytes: int

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.session.id,
            "name": self.session.label,
            "status": self.session.status,
            "age_seconds": now - session_time(self.session),
            "bytes": self.bytes,
            "rule": self.rule,
            "reason": self.reason,
            "trashed": self.session.trashed,
        }


@dataclass(frozen=True, slots=True)
class CleanupPlan:
    policy: RetentionPolicy
    now: float
    items: tuple[CleanupItem, ...]
    total_bytes: int  # output of every session (trash included) before the cleanup
    sessions: int  # sessions looked at
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(i.session.id for i in self.items)

    def __len__(self) -> int:
        return len(self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy.to_json(),
            "now": self.now,
            "sessions": [i.to_json(self.now) for i in self.items],
            "count": len(self.items),
            "bytes": self.bytes,
            "total_bytes": self.total_bytes,
            "warnings": list(self.warnings),
        }


def session_time(session: Session) -> float:
    """When a session counts as from, for ages: when it ended, else when made."""
    return session.ended_at if session.ended_at is not None else session.created_at


def plan_sessions(sessions: Iterable[Session], policy: RetentionPolicy, now: float) -> CleanupPlan:
    """The plan for a given set of sessions (pure: ``plan`` feeds it the database)."""
    every = sorted(sessions, key=lambda s: (s.created_at, s.id), reverse=True)  # newest first
    chosen: dict[int, tuple[str, str]] = {}
    trash_limit = policy.trash_days * DAY if policy.trash_days is not None else None
    trashed = [s for s in every if s.trashed and policy.protects(s) is None]
    for s in trashed:
        assert s.deleted_at is not None
        if trash_limit is not None and now - s.deleted_at > trash_limit:
            chosen[s.id] = (
                "trash",
                f"in trash {format_age(now - s.deleted_at)} (over {format_age(trash_limit)})",
            )
    eligible = [
        s
        for s in every
        if not s.trashed and s.status in policy.statuses and policy.protects(s) is None
    ]
    if policy.max_age is not None:
        for s in eligible:
            age = now - session_time(s)
            if age > policy.max_age:
                chosen[s.id] = (
                    "age",
                    f"ended {format_age(age)} ago (over {format_age(policy.max_age)})",
                )
    if policy.keep_newest is not None:
        for s in eligible[policy.keep_newest :]:
            chosen.setdefault(s.id, ("keep", f"not among the newest {policy.keep_newest}"))
    total = sum(s.output_bytes for s in every)
    warnings: list[str] = []
    if policy.max_total_bytes is not None:
        by_id = {s.id: s for s in every}
        left = total - sum(by_id[i].output_bytes for i in chosen)
        order = sorted(trashed, key=lambda s: (s.deleted_at, s.id)) + eligible[::-1]
        for s in order:
            if left <= policy.max_total_bytes:
                break
            if s.id in chosen or not s.output_bytes:
                continue
            chosen[s.id] = ("size", f"output over {format_size(policy.max_total_bytes)} in all")
            left -= s.output_bytes
        if left > policy.max_total_bytes:
            cap = format_size(policy.max_total_bytes)
            warnings.append(
                f"{format_size(left)} of output stays, over the {cap} cap: the rest is "
                "pinned, protected, active or of a status not eligible"
            )
    items = tuple(
        CleanupItem(s, *chosen[s.id], s.output_bytes)
        for s in sorted(every, key=lambda s: (s.created_at, s.id))
        if s.id in chosen
    )
    return CleanupPlan(policy, now, items, total, len(every), tuple(warnings))


async def plan(store: Store, policy: RetentionPolicy, now: float | None = None) -> CleanupPlan:
    """What ``apply`` would purge now under ``policy``. Changes nothing."""
    sessions = await store.sessions.list(include_deleted=True, order="newest")
    return plan_sessions(sessions, policy, time.time() if now is None else now)


# -- applying --------------------------------------------------------------------------
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
