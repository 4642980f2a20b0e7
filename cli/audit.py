"""``tether audit``: who did what to which session, when, oldest first (a log reads down,
as ``logs`` does; ``--tail N`` keeps the newest N). Purged sessions are still named by
their id or uid: their entries stay, scrubbed of what may have held secrets. Env values
that look secret are masked here too. Nothing here imports Textual."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from .common import _safe, _session_store, _short, _usage
from .context import EXIT_OK, Ctx

if TYPE_CHECKING:
    from storage import AuditEntry, Store


def cmd_audit(ctx: Ctx) -> int:
    args = ctx.args
    since = None
    if args.since is not None:
        from storage.query.time import TimeValueError, parse_time

        try:
            since = parse_time(args.since, now=time.time())
        except TimeValueError as e:
            raise _usage(ctx, f"--since: {e}") from None
    if args.tail is not None and args.tail < 0:
        raise _usage(ctx, "--tail: give a number of entries, 0 or more")

    async def go() -> int:
        async with _session_store(ctx) as store:
            session_id = None if args.id is None else await _session_id(store, args.id)
            entries = await store.audit.list(session_id, since=since, limit=args.tail)
            entries.reverse()  # oldest first
            names = await _names(store, {e.session_id for e in entries} - {None})
        if args.json:
            for e in entries:
                print(json.dumps(entry_json(e), ensure_ascii=False, default=str))
            return EXIT_OK
        _print_table(entries, names)
        return EXIT_OK

    return ctx.run(go)


async def _session_id(store: Store, ref: str) -> int:
    """A live or trashed session as other commands find it, else a purged one that the
    log names."""
    from storage.errors import SessionNotFound

    try:
        return (await store.sessions.resolve(ref)).id
    except SessionNotFound:
        gone = await store.audit.purged_session(ref)
        if gone is None:
            raise
        return gone.id


async def _names(store: Store, ids: set[int | None]) -> dict[int, str]:
    """``#42 build`` for each session still there, ``#42 (purged)`` for the others."""
    found = {
        s.id: s.name
        for s in await store.sessions.list(
            ids=sorted(i for i in ids if i is not None), include_deleted=True
        )
    }
    out = {}
    for sid in ids:
        if sid is None:
            continue
        if sid in found:
            out[sid] = f"#{sid} {_safe(found[sid])}".rstrip()
        else:
            out[sid] = f"#{sid} (purged)"
    return out


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """One entry as ``audit --json`` prints it (a line each): the stored detail, with
    secret env values masked."""
    detail = entry.detail
    if isinstance(detail, dict) and isinstance(detail.get("env"), dict):
        from storage.masking import shown_env

        detail = {**detail, "env": shown_env({str(k): str(v) for k, v in detail["env"].items()})}
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "session_id": entry.session_id,
        "detail": detail,
    }


def _print_table(entries: list[AuditEntry], names: dict[int, str]) -> None:
    from storage.engine.audit import describe

    if not entries:
        print("no audit entries", file=sys.stderr)
        return
    header = ("TIME", "ACTOR", "ACTION", "SESSION", "DETAIL")
    rows = [
        (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at)),
            _short(_safe(e.actor), 12),
            _safe(e.action),
            _short(names.get(e.session_id, "-") if e.session_id is not None else "-", 24),
            _short(_safe(describe(e)), 80),
        )
        for e in entries
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "who did what to which session, and when (oldest first)"
    p = sub.add_parser("audit", parents=[common], help=help, description=help)
    p.set_defaults(func=cmd_audit, _parser=p)
    p.add_argument(
        "id", nargs="?", help="only this session: 42, #42 or a uid prefix (purged ones too)"
    )
    p.add_argument(
        "--since",
        metavar="TIME",
        help="entries from TIME on: 2h, 7d, today, 2026-11-01 (as the query's since:)",
    )
    p.add_argument("--tail", type=int, metavar="N", help="only the newest N entries")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
