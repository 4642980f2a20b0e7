"""``store.settings`` (key -> JSON value) and ``store.audit`` (who did what, when)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from storage.models import AuditEntry

if TYPE_CHECKING:
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
        self, session_id: int | None = None, *, action: str | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Newest first."""
        where, params = [], []
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        if action is not None:
            where.append("action = ?")
            params.append(action)
        rows = await self._store.fetchall(
            "SELECT id, at, actor, action, session_id, detail FROM audit_log "
            f"WHERE {' AND '.join(where) or '1'} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            AuditEntry(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]) if r[5] else None)
            for r in rows
        ]
