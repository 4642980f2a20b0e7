"""``tether cleanup``: purge old sessions by the retention policy, plan first.

The policy comes from ``[retention]`` (``home.config``), overridden by the options; the
purge itself is ``home.cleanup.apply_plan``, shared with the app. Nothing that deletes
runs without a yes: on a terminal we ask, elsewhere ``--yes`` is required (exit 2
without it). Nothing here imports Textual.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .context import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    Ctx,
    UsageError,
    confirm,
    interactive,
    print_json,
)

if TYPE_CHECKING:
    from storage.engine.purge import PurgeProgress
    from storage.retention import CleanupPlan, RetentionPolicy

PROGRESS_OVER_SESSIONS = 20  # show progress for purges larger than this ...
PROGRESS_OVER_BYTES = 64 << 20  # ... or than this
STATUSES = ("succeeded", "failed", "stopped", "lost")


# -- the policy: [retention] overridden by the options -------------------------------
def _policy(ctx: Ctx) -> RetentionPolicy:
    from home.config import retention_policy
    from storage.retention import PolicyError, parse_age, parse_size

    args = ctx.args
    base = retention_policy(ctx.config)
    try:
        statuses = None
        if args.status:
            statuses = frozenset(s.strip() for v in args.status for s in v.split(",") if s.strip())
        return base.override(
            max_age=parse_age(args.older_than, "older-than") if args.older_than else None,
            keep_newest=args.keep,
            max_total_bytes=parse_size(args.max_size, "max-size") if args.max_size else None,
            statuses=statuses,
            trash_days=parse_age(args.trash_days, "trash-days") / 86400
            if args.trash_days
            else None,
        )
    except PolicyError as e:
        raise UsageError(str(e).replace("retention.", "--")) from None


# -- output -------------------------------------------------------------------------------
def _safe(text: str) -> str:
    from storage.text import terminal_safe

    return terminal_safe(text, keep_colour=False).replace("\n", " ")


def print_plan(found: CleanupPlan) -> None:
    from storage.retention import format_age, format_size, session_time

    if not found.items:
        print("Nothing to clean up: " + found.policy.describe())
        for w in found.warnings:
            print(f"note: {w}")
        return
    rows = [
        (
            f"#{i.session.id}",
            i.session.status + (" (trash)" if i.session.trashed else ""),
            format_age(found.now - session_time(i.session)),
            format_size(i.bytes),
            i.reason,
            _safe(i.session.label),
        )
        for i in found.items
    ]
    head = ("ID", "STATUS", "AGE", "SIZE", "REASON", "NAME")
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(5)]
    for r in [head, *rows]:
        cells = [r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].rjust(widths[2])]
        cells += [r[3].rjust(widths[3]), r[4].ljust(widths[4]), r[5][:40]]
        print("  ".join(cells).rstrip())
    n = len(found.items)
    print(
        f"total: {n} session{'s' * (n != 1)}, {format_size(found.bytes)} of "
        f"{format_size(found.total_bytes)} of output"
    )
    for w in found.warnings:
        print(f"note: {w}")


def _progress_printer() -> Callable[[PurgeProgress], None]:
    tty = sys.stderr.isatty()
    last = [-1]

    def show(p: PurgeProgress) -> None:
        pct = int(p.fraction * 100)
        what = {
            "purge": "purging",
            "index": "re-indexing what stays",
            "reclaim": "reclaiming space",
        }
        text = (
            f"{what.get(p.phase, p.phase)}: {p.sessions_done}/{p.sessions_total} sessions, {pct}%"
        )
        if tty:
            sys.stderr.write("\r\x1b[2K" + text)
            sys.stderr.flush()
        elif pct // 10 != last[0] // 10 or p.phase == "reclaim":
            print(text, file=sys.stderr, flush=True)
        last[0] = pct

    return show


# -- cleanup ---------------------------------------------------------------------------
def cmd_cleanup(ctx: Ctx) -> int:
    args = ctx.args
    policy = _policy(ctx)

    async def go() -> int:
        from home.cleanup import apply_plan
        from runner.control import reconcile
        from storage.engine.cleanup import plan
        from storage.retention import format_size

        async with ctx.open_store(actor="cli") as store:
            await reconcile(store, ctx.paths)
            found = await plan(store, policy)
            if not args.json:
                print_plan(found)
            if not found.items or args.dry_run:
                if args.json:
                    print_json({"plan": found.to_json(), "result": None})
                elif found.items:
                    print("(dry run: nothing was changed)")
                return EXIT_OK
            if not args.yes:
                if not interactive():
                    print(
                        "tether: not purging without --yes when not run from a terminal "
                        "(--dry-run only shows the plan)",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE
                n = len(found.items)
                if not confirm(
                    f"Delete these {n} session{'s' * (n != 1)} ({format_size(found.bytes)}) "
                    "for good?"
                ):
                    print("Nothing was changed.")
                    return EXIT_ERROR
            big = len(found.items) > PROGRESS_OVER_SESSIONS or found.bytes > PROGRESS_OVER_BYTES
            show = _progress_printer() if big else None
            result = await apply_plan(store, found, ctx.config, ctx.paths, progress=show)
            if show is not None and sys.stderr.isatty():
                sys.stderr.write("\r\x1b[2K")
        if args.json:
            print_json({"plan": found.to_json(), "result": result.to_json()})
            return EXIT_OK
        n = len(result.purged)
        print(
            f"Deleted {n} session{'s' * (n != 1)} ({format_size(result.bytes)} of output) in "
            f"{result.seconds:.1f} s; the database went from {format_size(result.size_before)} "
            f"to {format_size(result.size_after)}."
        )
        if result.backup:
            print(f"A backup from just before is at {result.backup}")
        for sid, why in result.skipped:
            print(f"skipped #{sid}: {why}")
        return EXIT_OK

    return ctx.run(go)


# -- registration ------------------------------------------------------------------------
def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "purge old sessions by the retention policy (shows the plan first)"
    p = sub.add_parser(
        "cleanup",
        parents=[common],
        help=help,
        description=help + ". Options override [retention] in config.toml. Pinned, running, "
        "paused and protected-tag sessions are never purged.",
    )
    p.add_argument(
        "--older-than", metavar="AGE", help="sessions that ended over AGE ago (30d, 12h)"
    )
    p.add_argument("--keep", type=int, metavar="N", help="all but the newest N eligible sessions")
    p.add_argument("--max-size", metavar="SIZE", help="oldest first while output is over SIZE (5G)")
    p.add_argument(
        "--status",
        action="append",
        metavar="S",
        help=f"eligible statuses (repeatable or comma-separated; default {','.join(STATUSES)})",
    )
    p.add_argument("--trash-days", metavar="AGE", help="purge trash older than AGE (default 7d)")
    p.add_argument("--dry-run", action="store_true", help="only show the plan")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask")
    p.add_argument("--json", action="store_true", help="print the plan and result as JSON")
    p.set_defaults(func=cmd_cleanup)
