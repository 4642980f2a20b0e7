"""``store.settings`` (key -> JSON value) and ``store.audit`` (who did what, when).

The audit log outlives the sessions it names: a purged session's entries stay, so the
log still says what was done to it and when. They may have held its command line, its
name, notes or env (``create`` and ``update`` entries), which is why a purge scrubs
them (``scrub_in_tx``) down to what ``scrubbed`` keeps: numbers under names tether
uses (counts, sizes, codes) and the names of the fields an entry touched. Session ids
are never given again (``AUTOINCREMENT``), so ``#42`` names the same session for good.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.models import AuditEntry

if TYPE_CHECKING:
    import aiosqlite

    from storage.engine.store import Store

_MISSING = object()


class Settings:
    """Small JSON values: UI state, preferences, recent queries."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, key: str, default: Any = None) -> Any:
        row = await self._store.fetchone("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(row[0]) if row else default

    async def set(self, key: str, value: Any) -> None:
        text = json.dumps(value)
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (key, text, time.time()),
            )

    async def set_many(self, values: dict[str, Any]) -> None:
        now = time.time()
        async with self._store.transaction() as db:
            await db.executemany(
                "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                [(k, json.dumps(v), now) for k, v in values.items()],
            )

    async def delete(self, key: str) -> bool:
        async with self._store.transaction() as db:
            cur = await db.execute("DELETE FROM settings WHERE key = ?", (key,))
            return cur.rowcount > 0

    async def all(self) -> dict[str, Any]:
        rows = await self._store.fetchall("SELECT key, value FROM settings ORDER BY key")
        return {k: json.loads(v) for k, v in rows}


@dataclass(frozen=True, slots=True)
class PurgedSession:
    """A session that is gone but named by the audit log (its ``purge`` entry)."""

    id: int
    uid: str | None
    purged_at: float


class Audit:
    """An append-only record of what was done to sessions, and by whom."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(
        self,
        action: str,
        session_id: int | None = None,
        detail: Any = None,
        *,
        actor: str | None = None,
    ) -> None:
        async with self._store.transaction() as db:
            await db.execute(
                "INSERT INTO audit_log (at, actor, action, session_id, detail) VALUES (?,?,?,?,?)",
                (
                    time.time(),
                    actor or self._store.actor,
                    action,
                    session_id,
                    json.dumps(detail, default=str) if detail is not None else None,
                ),
            )

    async def list(
        self,
        session_id: int | None = None,
        *,
        action: str | None = None,
        since: float | None = None,
        limit: int | None = 100,
    ) -> list[AuditEntry]:
        """Entries newest first: of one session (purged ones too), of one ``action``,
        recorded at or after ``since`` (a unix time); at most ``limit`` (None: all)."""
        where, params = _where(session_id, action, since)
        rows = await self._store.fetchall(
            f"SELECT id, at, actor, action, session_id, detail FROM audit_log {where} "
            "ORDER BY id DESC LIMIT ?",
            (*params, -1 if limit is None else limit),
        )
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]) if r[5] else None)
            for r in rows
        ]

    async def count(
        self,
        session_id: int | None = None,
        *,
        action: str | None = None,
        since: float | None = None,
    ) -> int:
        """How many entries ``list`` would give without a limit."""
        where, params = _where(session_id, action, since)
        return int(await self._store.scalar(f"SELECT count(*) FROM audit_log {where}", params))

    async def purged_session(self, ref: str | int) -> PurgedSession | None:
        """The purged session ``ref`` names (``42``, ``#42`` or a uid prefix of at least
        4 characters), from its ``purge`` entry; None when the log has no such purge."""
        text = str(ref).strip()
        m = re.fullmatch(r"#?(\d+)", text)
        if m:
            cond, param = "session_id = ?", int(m.group(1))
        elif len(text) >= 4 and re.fullmatch(r"[0-9a-fA-F-]+", text):
            cond, param = "json_extract(detail, '$.uid') LIKE ?", text.lower() + "%"
        else:
            return None
        rows = await self._store.fetchall(
            "SELECT session_id, json_extract(detail, '$.uid'), at FROM audit_log "
            f"WHERE action = 'purge' AND session_id IS NOT NULL AND {cond} "
            "ORDER BY id DESC LIMIT 2",
            (param,),
        )
        if len({r[0] for r in rows}) != 1:
            return None  # none, or a uid prefix of two purged sessions
        sid, uid, at = rows[0]
        return PurgedSession(sid, uid, at)


def _where(
    session_id: int | None, action: str | None, since: float | None
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for cond, value in (("session_id = ?", session_id), ("action = ?", action), ("at >= ?", since)):
        if value is not None:
            where.append(cond)
            params.append(value)
    return ("WHERE " + " AND ".join(where)) if where else "", params


# -- what a purge leaves of a session's entries ------------------------------------------

# Numbers (and true/false) kept under these names: counts, sizes, codes.
_NUMBERS = frozenset(
    {
        "runs",
        "run",
        "bytes",
        "lines",
        "sessions",
        "skipped",
        "done",
        "size_before",
        "size_after",
        "exit_code",
        "signal",
        "pinned",
        "count",
    }
)
# Lists and objects under these names become their length ("add": ["a", "b"] -> 2).
_COUNTED = frozenset({"argv", "add", "remove", "tags", "env", "resume_argv"})
# Names tether gives details; when one's value goes, the name stays in "removed" (so
# an ``update`` still says it changed the name and the notes, not to what).
_NAMED = frozenset(
    {"argv", "name", "notes", "cwd", "env", "resume_argv", "context", "rule", "reason", "text"}
)


def scrubbed(detail: Any) -> dict[str, Any]:
    """What a purged session's entry keeps of its ``detail``: numbers under known
    names, the length of known lists, the names of known fields whose values went, and
    ``"scrubbed": true``. No text of the detail survives (names are tether's own)."""
    kept: dict[str, Any] = {}
    removed: list[str] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "uid" and isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F-]+", value):
                kept[key] = value  # the session's own id, not its content
            elif key in _NUMBERS and isinstance(value, int | float):
                kept[key] = value
            elif key in _COUNTED and isinstance(value, list | dict):
                kept[key] = len(value)
            elif key in _NAMED:
                removed.append(key)
    if removed:
        kept["removed"] = sorted(removed)
    kept["scrubbed"] = True
    return kept


async def scrub_in_tx(db: aiosqlite.Connection, session_id: int) -> dict[str, Any] | None:
    """Before a purge deletes session ``session_id``, inside the caller's transaction:
    scrub its audit entries (``scrubbed``) and return what its ``purge`` entry records
    (its uid, runs, output lines and bytes). None when there is no such session."""
    row = await (
        await db.execute(
            "SELECT uid, run_count, output_lines, output_bytes FROM sessions WHERE id = ?",
            (session_id,),
        )
    ).fetchone()
    if row is None:
        return None
    entries = await (
        await db.execute(
            "SELECT id, detail FROM audit_log WHERE session_id = ? AND detail IS NOT NULL",
            (session_id,),
        )
    ).fetchall()
    changed = []
    for entry_id, text in entries:
        try:
            detail = json.loads(text)
        except ValueError:
            detail = None
        if not (isinstance(detail, dict) and detail.get("scrubbed") is True):
            changed.append((json.dumps(scrubbed(detail)), entry_id))
    await db.executemany("UPDATE audit_log SET detail = ? WHERE id = ?", changed)
    uid, runs, lines, size = row
    return {"uid": uid, "runs": runs, "lines": lines, "bytes": size}


# -- how an entry reads ------------------------------------------------------------------


def describe(entry: AuditEntry) -> str:
    """An entry's detail in a few words, as ``tether audit`` and the detail screen show
    it (secret env values masked; the caller makes it safe for a terminal)."""
    d = entry.detail
    if d is None:
        return ""
    if not isinstance(d, dict):
        return json.dumps(d, ensure_ascii=False, default=str)
    if d.get("scrubbed") is True:
        return _describe_scrubbed(entry.action, d)
    action = entry.action
    if action == "create" and isinstance(d.get("argv"), list):
        return shlex.join(str(a) for a in d["argv"])
    if action in ("tag", "untag", "tags"):
        sign = {"tag": "+", "untag": "-", "tags": ""}[action]
        words = d.get("add") or d.get("remove") or d.get("tags") or []
        return " ".join(f"{sign}{w}" for w in words) if words else "(none)"
    if action == "update":
        return "  ".join(_field(k, v) for k, v in d.items())
    if action == "purge":
        return _describe_purge(d)
    return "  ".join(_field(k, v) for k, v in d.items())


def _field(key: str, value: Any) -> str:
    if key == "env" and isinstance(value, dict):
        from storage.masking import shown_env

        shown = shown_env({str(k): str(v) for k, v in value.items()}) or {}
        return "env " + (" ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "(none)")
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return f"{key} {shlex.join(value)}"
    if isinstance(value, str):
        return f"{key} {value!r}" if value else f"{key} (empty)"
    return f"{key} {json.dumps(value, ensure_ascii=False, default=str)}"


def _describe_purge(d: dict[str, Any]) -> str:
    from storage.units import format_size

    parts = []
    if d.get("reason"):
        parts.append(str(d["reason"]))
    if isinstance(d.get("runs"), int):
        parts.append(f"{d['runs']} run{'s' * (d['runs'] != 1)}")
    if isinstance(d.get("lines"), int):
        parts.append(f"{d['lines']:,} lines")
    if isinstance(d.get("bytes"), int):
        parts.append(format_size(d["bytes"]))
    if d.get("uid"):
        parts.append(f"uid {d['uid']}")
    return " · ".join(parts)


_COUNT_WORDS = {
    "argv": "command of {n} words",
    "resume_argv": "resume command of {n} words",
    "env": "{n} env values",
    "add": "+{n} tags",
    "remove": "-{n} tags",
    "tags": "{n} tags",
}


def _describe_scrubbed(action: str, d: dict[str, Any]) -> str:
    if action == "purge":
        return _describe_purge(d)
    parts = []
    for key, value in d.items():
        if key in ("removed", "scrubbed", "uid"):
            continue
        template = _COUNT_WORDS.get(key, "{key} {n}")
        parts.append(template.format(key=key, n=value))
    removed = [k for k in d.get("removed", ()) if isinstance(k, str)]
    parts.append(f"{', '.join(removed)} removed at purge" if removed else "removed at purge")
    return " · ".join(parts)
