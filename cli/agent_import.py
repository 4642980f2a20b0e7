"""``tether import --agent claude|codex [PATH]``: conversations started outside tether,
as sessions you can search and resume (agents/transcripts/importing.py).

PATH is a transcript file or a folder of them; without it, the agent's own folder
(``CLAUDE_CONFIG_DIR`` / ``CODEX_HOME`` honoured). A conversation already here is
skipped: importing twice adds nothing. An imported session runs only once the user
confirmed its command (``tether resume`` asks, as for any imported session).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from .context import EXIT_ERROR, EXIT_OK, Ctx, print_json

if TYPE_CHECKING:
    from agents.transcripts.importing import ImportReport


def cmd_import_agent(ctx: Ctx) -> int:
    from agents.transcripts.importing import agent_home, find_files, import_transcripts

    args = ctx.args
    env = dict(os.environ)
    try:
        files = find_files(args.agent, args.file, env)
    except FileNotFoundError as e:
        print(f"tether: cannot import: {e}. Nothing was imported.", file=sys.stderr)
        return EXIT_ERROR
    if not files:
        where = args.file or agent_home(args.agent, env)
        print(
            f"tether: no {args.agent} transcripts under {where}; nothing to import", file=sys.stderr
        )
        if args.json:
            print_json(_json(None, args.agent, args.dry_run))
        return EXIT_OK

    async def go() -> ImportReport:
        async with ctx.open_store(actor="cli") as store:
            return await import_transcripts(store, args.agent, files, env, dry_run=args.dry_run)

    report = ctx.run(go)
    for problem in report.problems:
        print(f"tether: transcript {problem}", file=sys.stderr)
    if args.json:
        print_json(_json(report, args.agent, args.dry_run))
    else:
        _print(report)
    return EXIT_OK


def _print(report: ImportReport) -> None:
    from storage.text import terminal_safe

    would = "would " if report.dry_run else ""
    for item in report.items:
        name = terminal_safe(item.name, keep_colour=False).replace("\n", " ")
        if item.problem:
            print(f"tether: skipped {item.path}: {item.problem}", file=sys.stderr)
        elif item.existing is not None:
            print(f"{would}skip {item.agent_session_id}  {name}: already here as #{item.existing}")
        else:
            target = f" as #{item.id}" if item.id is not None else ""
            print(f"{would}import{target}  {name}  ({report.agent} {item.agent_session_id})")
    n, skipped = len(report.imported), len(report.skipped)
    verb = "would import" if report.dry_run else "imported"
    summary = (
        f"{verb} {n} {report.agent} conversation{'s' * (n != 1)}" if n else "nothing to import"
    )
    if skipped:
        summary += f"; {skipped} already here"
    if n and not report.dry_run:
        summary += "; `tether resume ID` continues one (it asks before running it)"
    print(summary, file=sys.stderr)


def _json(report: ImportReport | None, agent: str, dry_run: bool) -> dict[str, Any]:
    items = report.items if report else []
    return {
        "agent": agent,
        "dry_run": dry_run,
        "imported": len(report.imported) if report else 0,
        "skipped": len(report.skipped) if report else 0,
        "sessions": [
            {
                "path": i.path,
                "agent_session_id": i.agent_session_id,
                "id": i.id,
                "existing_id": i.existing,
                "name": i.name,
                "problem": i.problem or None,
            }
            for i in items
        ],
        "problems": report.problems if report else [],
    }
