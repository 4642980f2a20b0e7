"""Retention: which sessions a cleanup would purge, and why. Pure: no database.

A ``RetentionPolicy`` (plain settings; ``home.config`` reads it from ``[retention]`` in
config.toml, and a cleanup may override it) turns a list of sessions into a
``CleanupPlan``: the sessions it would purge, the reason for each and the bytes.
``storage.engine.cleanup`` makes the plan from a store and applies it.

Never eligible, whatever the policy: pinned sessions; pending, running and paused
ones; sessions with a protected tag. Rules (each one that is set adds sessions):

- ``max_age``: ended longer ago than this (``ended_at``, else ``created_at``);
- ``keep_newest``: all but the newest N eligible sessions (by creation);
- ``max_total_bytes``: while all output (trash included) is over the cap, the trash
  goes first (longest there first), then eligible sessions, oldest first;
- ``trash_days``: sessions in the trash longer than this.

Limits are strict: a session exactly ``max_age`` old is kept. Sizes and ages are read
and written by ``storage.units``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from storage import units
from storage.errors import StoreError
from storage.frozen import Frozen, replace
from storage.models import ACTIVE, ENDED, Session
from storage.units import DAY, format_age


class PolicyError(StoreError, ValueError):
    """A retention setting that makes no sense; ``key`` names it."""

    def __init__(self, message: str, key: str | None = None) -> None:
        self.key = key
        super().__init__(f"retention.{key}: {message}" if key else message)


# -- sizes and ages, errors naming the setting ---------------------------------------------
def parse_size(value: str | int, key: str = "max_size") -> int:
    """``5G``, ``500M``, ``1.5GiB``, ``2048`` (bytes) -> bytes (``storage.units``); a
    ``PolicyError`` naming ``key`` when it cannot be read."""
    try:
        return units.parse_size(value)
    except units.UnitError as e:
        raise PolicyError(str(e), key) from None


def parse_age(value: str | int | float, key: str = "max_age") -> float:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` -> seconds; a bare number means days
    (``storage.units``). A ``PolicyError`` naming ``key`` when it cannot be read."""
    try:
        return units.parse_age(value)
    except units.UnitError as e:
        raise PolicyError(str(e), key) from None


def format_size(n: int) -> str:
    """Bytes for people: ``512 B``, ``3.4 KiB``, ``1.0 GiB`` (never TiB: cleanup and
    backup listings have always said ``2048.0 GiB``)."""
    return units.format_size(n, largest="GiB")


# -- the policy ------------------------------------------------------------------------
class RetentionPolicy(Frozen):
    """What a cleanup may purge. ``None`` turns a rule off."""

    __slots__ = (
        "max_age",
        "keep_newest",
        "max_total_bytes",
        "statuses",
        "protected_tags",
        "trash_days",
    )

    max_age: float | None  # seconds since the session ended
    keep_newest: int | None
    max_total_bytes: int | None
    statuses: frozenset[str]
    protected_tags: frozenset[str]
    trash_days: float | None

    def __init__(
        self,
        max_age: float | None = None,
        keep_newest: int | None = None,
        max_total_bytes: int | None = None,
        statuses: frozenset[str] = ENDED,
        protected_tags: frozenset[str] = frozenset({"keep"}),
        trash_days: float | None = 7.0,
    ) -> None:
        object.__setattr__(self, "max_age", max_age)
        object.__setattr__(self, "keep_newest", keep_newest)
        object.__setattr__(self, "max_total_bytes", max_total_bytes)
        object.__setattr__(self, "statuses", statuses)
        object.__setattr__(self, "protected_tags", protected_tags)
        object.__setattr__(self, "trash_days", trash_days)
        self.__post_init__()

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
class CleanupItem(Frozen):
    __slots__ = ("session", "rule", "reason", "bytes")

    session: Session
    rule: str  # trash, age, keep or size
    reason: str
    bytes: int

    def __init__(self, session: Session, rule: str, reason: str, bytes: int) -> None:
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "reason", reason)
        object.__setattr__(self, "bytes", bytes)

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


class CleanupPlan(Frozen):
    __slots__ = ("policy", "now", "items", "total_bytes", "sessions", "warnings")
    _FACTORIES = {"warnings": tuple}

    policy: RetentionPolicy
    now: float
    items: tuple[CleanupItem, ...]
    total_bytes: int  # output of every session (trash included) before the cleanup
    sessions: int  # sessions looked at
    warnings: tuple[str, ...]

    def __init__(
        self,
        policy: RetentionPolicy,
        now: float,
        items: tuple[CleanupItem, ...],
        total_bytes: int,
        sessions: int,
        warnings: tuple[str, ...] | None = None,
    ) -> None:
        object.__setattr__(self, "policy", policy)
        object.__setattr__(self, "now", now)
        object.__setattr__(self, "items", items)
        object.__setattr__(self, "total_bytes", total_bytes)
        object.__setattr__(self, "sessions", sessions)
        object.__setattr__(self, "warnings", () if warnings is None else warnings)

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
