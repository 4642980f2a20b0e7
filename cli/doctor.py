"""``tether doctor [--fix] [--json]``: is everything where it should be, and whole?

Store-level checks come from ``storage.doctor``; this adds what only the CLI knows:
sessions marked running whose supervisor is gone, supervisor errors, and the paths
and permissions of the files (database and backups 0600, directories 0700). With
``--fix`` it repairs what is safe and says what it did. Exit 1 while problems remain.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import EXIT_ERROR, EXIT_OK, Ctx, print_json

if TYPE_CHECKING:
    from home.paths import Paths
    from storage import Store
    from storage.engine.doctor import Finding

_MARK = {"ok": "ok", "info": "info", "warning": "WARN", "problem": "PROBLEM"}


def _private_paths(paths: Paths) -> list[tuple[Path, int]]:
    """Everything that must be private, with the mode it should have."""
    out: list[tuple[Path, int]] = []
    for d in {paths.data_dir, paths.db.parent, paths.backups, paths.runtime_root, paths.runtime}:
        if d.is_dir():
            out.append((d, 0o700))
    for suffix in ("", "-wal", "-shm"):
        f = paths.db.with_name(paths.db.name + suffix)
        if f.is_file():
            out.append((f, 0o600))
    if paths.backups.is_dir():
        out += [(f, 0o600) for f in sorted(paths.backups.iterdir()) if f.is_file()]
    return out


def check_permissions(paths: Paths) -> tuple[Finding, list[tuple[Path, int]]]:
    """Files and directories others could read; returns the finding and what to fix."""
    from storage.engine.doctor import Finding

    loose, foreign = [], []
    for path, want in _private_paths(paths):
        st = path.lstat()
        if st.st_uid != os.getuid():
            foreign.append(path)
        elif stat.S_IMODE(st.st_mode) & 0o077:
            loose.append((path, want))
    if foreign:
        return (
            Finding(
                "permissions",
                "problem",
                f"{len(foreign)} paths belong to another user: " + ", ".join(map(str, foreign[:3])),
                count=len(foreign),
            ),
            loose,
        )
    if loose:
        shown = ", ".join(f"{p} ({oct(stat.S_IMODE(p.lstat().st_mode))[2:]})" for p, _ in loose[:3])
        return (
            Finding(
                "permissions",
                "problem",
                f"{len(loose)} paths can be read by others: {shown}",
                "make them private (files 600, directories 700)",
                len(loose),
            ),
            loose,
        )
    return Finding("permissions", "ok", f"files are private ({paths.data_dir})"), []


async def check_supervisors(store: Store, paths: Paths) -> list[Finding]:
    from runner.control import supervisor_errors
    from runner.reconcile import judged_lost
    from storage.engine.doctor import Finding

    out = []
    # Exactly what --fix (reconcile) would mark lost: it judges only what it can see.
    stale = await judged_lost(store, paths)
    if stale:
        shown = ", ".join(f"#{i}" for i in stale[:8])
        out.append(
            Finding(
                "supervisors",
                "problem",
                f"{len(stale)} sessions are marked running or pending but no supervisor holds "
                f"them ({shown})",
                "mark them lost, with a line saying why (reconcile)",
                len(stale),
            )
        )
    else:
        out.append(Finding("supervisors", "ok", "every running session has its supervisor"))
    errors = supervisor_errors(paths, limit=5)
    if errors:
        last = errors[-1].splitlines()[0] if errors[-1] else ""
        out.append(
            Finding(
                "supervisor-errors",
                "warning",
                f"{len(errors)} recent supervisor errors in {paths.supervisor_log}; the last: "
                f"{last}",
                count=len(errors),
            )
        )
    return out


async def check_transcripts(store: Store) -> Finding:
    """Ended terminal sessions whose rendered transcript is not built (recorded before
    tether stored screens, or their supervisor was killed), and raw stdout of terminal
    sessions still in the output index (recorded before schema v15): search reads such
    a session's raw stream where its transcript does not reach yet."""
    from runner.screen.render import pending_renders
    from storage.engine.doctor import Finding
    from storage.engine.output_index import raw_left
    from storage.units import format_size

    pending = await pending_renders(store)
    raw_sessions, raw_bytes = await raw_left(store)
    if not pending.sessions and not raw_sessions:
        return Finding("terminal-transcripts", "ok", "every terminal session is searched as seen")
    parts = []
    if pending.sessions:
        n = len(pending.sessions)
        parts.append(
            f"{n} ended terminal session{'s' * (n != 1)} ({format_size(pending.bytes)}) "
            "have no rendered transcript yet (built on first open)"
        )
    if raw_sessions:
        parts.append(
            f"{format_size(raw_bytes)} of the raw output of {raw_sessions} terminal "
            f"session{'s' * (raw_sessions != 1)} recorded before schema v15 is still indexed"
        )
    return Finding(
        "terminal-transcripts",
        "info",
        "; ".join(parts) + ": search reads their raw stream until their transcript is built",
        "build their transcripts, then drop their raw index entries",
        len(pending.sessions) + raw_sessions,
    )


async def build_transcripts(store: Store) -> str:
    """Build every missing transcript (progress on stderr when it is a terminal)."""
    from runner.screen.render import render_pending
    from storage.units import format_size

    def show(done: int, sessions: int, fed: int) -> None:
        sys.stderr.write(
            f"\rtether doctor: rendering terminal sessions: {done}/{sessions}, {format_size(fed)}"
        )
        if done >= sessions:
            sys.stderr.write("\n")
        sys.stderr.flush()

    n = await render_pending(store, show if sys.stderr.isatty() else None)
    return f"built the rendered transcript of {n} terminal session{'s' * (n != 1)}"


async def _diagnose(store: Store, ctx: Ctx) -> list[Finding]:
    from home.config import retention_policy
    from storage.engine.doctor import diagnose

    found = [check_permissions(ctx.paths)[0]]
    found += await check_supervisors(store, ctx.paths)
    found += await diagnose(store, trash_days=retention_policy(ctx.config).trash_days)
    found.append(await check_transcripts(store))
    from home.quota import check
    from storage.engine.doctor import quota_finding

    quota = check(ctx.paths, ctx.config)  # storage.quota, when set
    return found + ([quota_finding(quota)] if quota is not None else [])


def _print(findings: list[Finding]) -> None:
    width = max(len(f.check) for f in findings)
    for f in findings:
        fix = f"  [--fix: {f.fix}]" if f.fix and f.level in ("warning", "problem") else ""
        print(f"  {_MARK[f.level]:<8} {f.check:<{width}}  {f.message}{fix}")


def _problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.level == "problem"]


def cmd_doctor(ctx: Ctx) -> int:
    args = ctx.args

    async def go() -> int:
        from runner.control import reconcile
        from storage import open_store
        from storage.engine.doctor import Finding, repair
        from storage.errors import StoreError

        db = ctx.paths.db
        if not db.exists():
            message = f"no database at {db} yet (it is made on first use)"
            if args.json:
                print_json({"database": str(db), "findings": [], "ok": True, "note": message})
            else:
                print(f"tether doctor: {message}")
            return EXIT_OK
        perms, loose = check_permissions(ctx.paths)  # before anything is opened or made
        try:
            # Not ctx.open_store(): that would quietly tighten directory modes first.
            store = await open_store(db, create=False, backup_dir=ctx.paths.backups, actor="doctor")
        except StoreError as e:
            found = [perms, Finding("open", "problem", str(e))]
            if args.json:
                findings = [f.to_json() for f in found]
                print_json({"database": str(db), "findings": findings, "fixed": [], "ok": False})
            else:
                print(f"tether doctor: {db}")
                _print(found)
            return EXIT_ERROR
        try:
            found = [perms, *(await _diagnose(store, ctx))[1:]]
            fixed: list[str] = []
            after = found
            if args.fix:
                if any(f.check == "supervisors" and f.level == "problem" for f in found):
                    lost = await reconcile(store, ctx.paths)
                    if lost:
                        shown = ", ".join(f"#{i}" for i in lost)
                        fixed.append(f"marked lost: {shown} (their supervisor was gone)")
                fixed += await repair(store, found)
                if any(f.check == "terminal-transcripts" and f.fix for f in found):
                    fixed.append(await build_transcripts(store))
                # Last, so that files made meanwhile (a WAL inherits the database's
                # mode, lock directories) are covered too.
                loose = check_permissions(ctx.paths)[1]
                if loose:
                    for path, mode in loose:
                        os.chmod(path, mode)
                    fixed.append(f"made {len(loose)} paths private")
                after = await _diagnose(store, ctx)
        finally:
            await store.close()
        ok = not _problems(after)
        if args.json:
            print_json(
                {
                    "database": str(ctx.paths.db),
                    "findings": [f.to_json() for f in found],
                    "fixed": fixed,
                    "after": [f.to_json() for f in after] if args.fix else None,
                    "ok": ok,
                }
            )
            return EXIT_OK if ok else EXIT_ERROR
        print(f"tether doctor: {ctx.paths.db}")
        _print(found)
        if args.fix:
            print("\nfixed:" if fixed else "\nnothing to fix")
            for line in fixed:
                print(f"  - {line}")
            print("\nafter fixing:")
            _print(after)
        problems = _problems(after)
        warnings = [f for f in after if f.level == "warning"]
        if problems:
            hint = "" if args.fix else "; `tether doctor --fix` repairs what is safe"
            unfixable = [f.check for f in problems if not f.fix]
            if args.fix and unfixable:
                hint = f"; not safe to repair automatically: {', '.join(unfixable)}"
            print(f"\n{len(problems)} problems, {len(warnings)} warnings{hint}", file=sys.stderr)
            return EXIT_ERROR
        print(f"\nno problems ({len(warnings)} warnings)")
        return EXIT_OK

    return ctx.run(go)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "check the database, indexes, supervisors, paths and permissions"
    p = sub.add_parser("doctor", parents=[common], help=help, description=help)
    p.add_argument("--fix", action="store_true", help="repair what is safe to repair")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_doctor)
