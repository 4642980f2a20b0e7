"""``tether usage [--by session|tag|day|cwd|status] [--json]``: where the space goes.

Without ``--by``: the database on disk by part (output, index, trash, other, free,
WAL, backups), the quota when one is set, the growth a day and when the quota would
be reached at that rate, the biggest sessions and the output of each of the last 14
days as bars, and the last day's metrics. With ``--by``: the output grouped that way.
The split of the file is measured page by page (SQLite's ``dbstat``) unless
``--estimate`` asks for the instant estimate (``storage.engine.usage``).

It reads through the read-only connection, then records a ``db_bytes`` sample when
none was taken in the last minute (so the size over time fills in even when no
session runs).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from .common import _safe, _short
from .context import EXIT_OK, Ctx, print_json

if TYPE_CHECKING:
    from storage.engine.usage import Group, Usage
    from storage.quota import QuotaState

BAR = 24  # cells of the longest bar


def cmd_usage(ctx: Ctx) -> int:
    args = ctx.args
    from home.quota import check
    from storage.engine import usage as lib

    quota = check(ctx.paths, ctx.config)

    async def read(reader: Any) -> tuple[Usage, list[Group] | None]:
        found = await lib.usage(reader, backups_dir=ctx.paths.backups, exact=not args.estimate)
        groups = await lib.groups(reader, args.by, limit=args.limit) if args.by else None
        return found, groups

    if args.limit is not None and args.limit < 1:
        from .common import _usage

        raise _usage(ctx, "--limit: give a number of groups, 1 or more")
    found, groups = ctx.read(read)
    _sample_size(ctx, found)
    if args.json:
        out: dict[str, Any] = {"database": str(ctx.paths.db), **found.to_json()}
        out["quota"] = quota.to_json() if quota else None
        if args.by:
            out["by"] = args.by
            out["groups"] = [g.to_json() for g in groups or []]
        print_json(out)
        return EXIT_OK
    _print_space(ctx, found, quota)
    if groups is not None:
        _print_groups(args.by, groups)
    else:
        _print_top(found)
        _print_days(found)
    _print_metrics(found)
    return EXIT_OK


def _sample_size(ctx: Ctx, found: Usage) -> None:
    from storage.engine.metrics import DB_EVERY, record_quietly

    last = found.db_sizes[-1].at if found.db_sizes else None
    if last is None or found.at - last >= DB_EVERY:
        record_quietly(ctx.paths.db, "db_bytes", found.space.database + found.space.wal)


def _size(n: float) -> str:
    from storage.units import format_size

    return format_size(int(n))


def _print_space(ctx: Ctx, u: Usage, quota: QuotaState | None) -> None:
    from home.plots import bar

    s = u.space
    print(f"tether usage: {ctx.paths.db}")
    backups = f", backups {_size(s.backups)} ({s.backup_files} files)" if s.backup_files else ""
    print(
        f"  {'on disk':<9} {_size(s.total):>10}  database {_size(s.database)}, "
        f"WAL {_size(s.wal)}{backups}"
    )
    if quota is not None:
        print(
            f"  {'quota':<9} {_size(quota.limit):>10}  {quota.fraction * 100:.0f}% used"
            + ("  (over)" if quota.level == "over" else "  (near)" if quota.level == "near" else "")
        )
    how = "" if s.exact else "  (estimated: the used pages less the output)"
    parts = [
        ("output", s.output, _sessions(u.sessions)),
        ("index", s.index, "full-text search" + (" and the small tables" if not s.exact else "")),
        ("trash", s.trash, _sessions(u.trashed)),
        ("other", s.other, "sessions, runs, settings, audit log, metrics"),
        ("free", s.free, "free pages inside the file"),
    ]
    largest = max(v for _, v, _ in parts) or 1
    for name, value, note in parts:
        if name == "other" and not s.exact:
            continue
        line = f"  {name:<9} {_size(value):>10}  {bar(value, largest, BAR):<{BAR}}  {note}"
        print((line + (how if name == "index" else "")).rstrip())
    t = u.trend
    if t.bytes_per_day is None:
        print(f"  {'growth':<9} {'-':>10}  {t.source}")
    else:
        sign = "+" if t.bytes_per_day >= 0 else "-"
        line = (
            f"  {'growth':<9} {sign + _size(abs(t.bytes_per_day)):>10}  a day "
            f"({t.source}, last {t.days:.0f} days)"
        )
        if quota is not None:
            days = t.days_to(quota.used, quota.limit)
            if days is not None:
                line += f"; the quota is reached in about {days:.0f} days"
        print(line)


def _print_top(u: Usage) -> None:
    from home.plots import bar

    if not u.top:
        print("\nno output recorded yet")
        return
    print("\nbiggest sessions")
    largest = u.top[0].bytes
    for s in u.top:
        label = _short(_safe(s.label), 28)
        mark = " (trash)" if s.trashed else " ★" if s.pinned else ""
        print(
            f"  {'#' + str(s.id):>6} {label:<28} {_size(s.bytes):>10}  "
            f"{bar(s.bytes, largest, BAR):<{BAR}}  {s.status}{mark}"
        )


def _print_days(u: Usage) -> None:
    from home.plots import bar, sparkline

    if not any(d.bytes for d in u.days):
        return
    spark = sparkline([d.bytes for d in u.days])
    print(f"\noutput per day  {u.days[0].key} {spark} {u.days[-1].key}")
    largest = max(d.bytes for d in u.days)
    for d in u.days:
        if d.bytes:
            print(
                f"  {d.key}  {_size(d.bytes):>10}  {bar(d.bytes, largest, BAR):<{BAR}}  "
                f"{_sessions(d.sessions)}"
            )


def _sessions(n: int) -> str:
    return f"{n} session" + ("" if n == 1 else "s")


def _print_groups(by: str, groups: list[Group]) -> None:
    from home.plots import bar

    if not groups:
        print("\nnothing recorded yet")
        return
    print(f"\nby {by}")
    largest = max(g.bytes for g in groups) or 1
    width = min(40, max(len(_safe(g.key)) for g in groups))
    head = {"session": "SESSION", "tag": "TAG", "day": "DAY", "cwd": "DIRECTORY"}.get(by, "STATUS")
    print(f"  {head:<{width}}  {'SESSIONS':>8}  {'OUTPUT':>10}  {'LINES':>10}")
    for g in groups:
        key = _short(_safe(g.key), width)
        print(
            f"  {key:<{width}}  {g.sessions:>8}  {_size(g.bytes):>10}  {g.lines:>10}  "
            f"{bar(g.bytes, largest, BAR)}"
        )


def _print_metrics(u: Usage) -> None:
    shown = {
        "capture_rate": ("capture rate", lambda v: f"{_size(v)}/s"),
        "index_lag": ("index lag", lambda v: f"{v:.1f} s"),
        "search_ms": ("search time", lambda v: f"{v:.0f} ms"),
    }
    lines = []
    for name, (title, fmt) in shown.items():
        m = u.figures.get(name)
        if m:
            lines.append(
                f"  {title:<13} mean {fmt(m['mean'])}, max {fmt(m['max'])} "
                f"({int(m['samples'])} samples)"
            )
    if lines:
        print("\nmetrics (last 24 hours)")
        print("\n".join(lines))
    else:
        when = time.strftime("%H:%M", time.localtime(u.at))
        print(
            f"\nmetrics: none recorded in the 24 hours before {when} (running sessions record them)"
        )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from storage.engine.usage import GROUPINGS

    help = "where the space goes: output, index, trash, WAL, backups; biggest sessions, growth"
    p = sub.add_parser("usage", parents=[common], help=help, description=help)
    p.add_argument("--by", choices=GROUPINGS, help="group the output by this")
    p.add_argument("--limit", type=int, metavar="N", help="with --by: only the N biggest groups")
    p.add_argument(
        "--estimate",
        action="store_true",
        help="split the file by the sessions' counters (instant) instead of page by page",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_usage, _parser=p)
