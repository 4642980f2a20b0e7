"""``tether backup`` and ``tether restore-backup``: online backups of the database, kept
in the backups dir and rotated to ``[backups] keep``, and putting one back.

Replacing the database needs a yes: on a terminal we ask, elsewhere ``--yes`` is
required (exit 2 without it). Nothing here imports Textual.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .context import EXIT_ERROR, EXIT_OK, EXIT_USAGE, Ctx, confirm, interactive, print_json

if TYPE_CHECKING:
    from home.paths import Paths


# -- backup ------------------------------------------------------------------------------
def cmd_backup(ctx: Ctx) -> int:
    args = ctx.args

    async def go() -> int:
        from home.config import keep_backups
        from storage.engine.backup import backup_name, create_backup, list_backups
        from storage.retention import format_age, format_size

        if args.list:
            found = list_backups(ctx.paths.backups, ctx.paths.db)
            if args.json:
                print_json([b.to_json() for b in found])
                return EXIT_OK
            if not found:
                print(f"No backups in {ctx.paths.backups}")
            now = time.time()
            for b in found:
                print(
                    f"{format_age(now - b.created_at):>5} ago  {format_size(b.bytes):>10}  "
                    f"{b.label or '-':<12} {b.path}"
                )
            return EXIT_OK
        if not ctx.paths.db.exists():
            print(f"tether: there is no database at {ctx.paths.db} yet", file=sys.stderr)
            return EXIT_ERROR
        async with ctx.open_store(actor="cli") as store:
            if args.path is None:
                info = await create_backup(
                    store, backup_dir=ctx.paths.backups, keep=keep_backups(ctx.config)
                )
            else:
                dest = Path(args.path).expanduser()
                if dest.is_dir():
                    dest = dest / backup_name(ctx.paths.db, "backup")
                try:
                    # Never over an existing file without --force; a link there is
                    # replaced, not followed (storage/files.py).
                    info = await create_backup(
                        store, dest, backup_dir=ctx.paths.backups, replace=args.force
                    )
                except FileExistsError:
                    print(f"tether: {dest} exists; pass --force to overwrite it", file=sys.stderr)
                    return EXIT_ERROR
            await store.audit.record("backup", None, {"path": str(info.path)})
        if args.json:
            print_json(info.to_json())
        else:
            print(f"Backed up to {info.path} ({format_size(info.bytes)})")
        return EXIT_OK

    return ctx.run(go)


def _live_supervisors(paths: Paths) -> list[str]:
    """Lock files some supervisor holds in this database's runtime directory."""
    from runner.locations import lock_is_held

    if not paths.runtime.is_dir():
        return []
    return sorted(p.stem for p in paths.runtime.glob("*.lock") if lock_is_held(p))


def cmd_restore_backup(ctx: Ctx) -> int:
    args = ctx.args

    async def go() -> int:
        from storage.engine.backup import restore_backup, restore_file, validate_backup
        from storage.errors import SchemaTooNew, StoreCorrupt
        from storage.retention import format_size

        source = Path(args.path).expanduser()
        info = await validate_backup(source)
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.created_at))
        if not args.json:
            print(
                f"{source}: a tether database (schema {info.schema_version}) with "
                f"{info.sessions} sessions, {format_size(info.bytes)}, from {when}"
            )
        live = _live_supervisors(ctx.paths)
        if live:
            ids = ", ".join(f"#{i}" for i in live)
            print(
                f"tether: sessions are running ({ids}); stop them before restoring "
                "(their output would go into the restored database)",
                file=sys.stderr,
            )
            return EXIT_ERROR
        if not args.yes:
            if not interactive():
                print(
                    "tether: not replacing the database without --yes when not run from a terminal",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            if not confirm(f"Replace the content of {ctx.paths.db} with this backup?"):
                print("Nothing was changed.")
                return EXIT_ERROR
        try:
            async with ctx.open_store(actor="cli") as store:
                result = await restore_backup(store, source, backup_dir=ctx.paths.backups)
                from runner.control import reconcile

                await reconcile(store, ctx.paths)
            previous = str(result.previous.path) if result.previous else None
        except (StoreCorrupt, SchemaTooNew) as e:
            # The database cannot even be opened: set it aside whole and put the backup
            # in its place.
            print(f"tether: the current database cannot be opened ({e.__class__.__name__})")
            moved = await restore_file(ctx.paths.db, source, backup_dir=ctx.paths.backups)
            previous = str(moved) if moved else None
        if args.json:
            print_json({"restored_from": info.to_json(), "previous": previous})
        else:
            print(f"Restored {ctx.paths.db} from {source}.")
            if previous:
                print(f"The database as it was is kept at {previous}")
        return EXIT_OK

    return ctx.run(go)


# -- registration ------------------------------------------------------------------------
def register(sub: Any, common: argparse.ArgumentParser) -> None:
    help = "back the database up (online: safe while sessions run)"
    p = sub.add_parser("backup", parents=[common], help=help, description=help)
    p.add_argument("path", nargs="?", help="file or directory (default: the backups dir, rotated)")
    p.add_argument("--list", action="store_true", help="list the backups instead")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    p.epilog = (
        "Each backup is checked (quick_check) before it is kept. A damaged database is "
        "not backed up: the command exits 1 naming the newest good backup, and no backup "
        "is rotated away."
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_backup)

    help = "replace the database with a backup (the current one is backed up first)"
    p = sub.add_parser("restore-backup", parents=[common], help=help, description=help)
    p.add_argument("path", help="the backup file")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_restore_backup)
