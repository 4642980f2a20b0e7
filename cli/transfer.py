"""``tether export`` and ``tether import``.

Export writes sessions as ``json`` (a complete ``tether.export/1`` document that
``import`` reads back), ``md``, ``txt`` or ``jsonl``, to a file (created 0600, written
whole or not at all) or to stdout. Secrets are redacted unless ``--no-redact``: the
built-in patterns plus ``[redaction] patterns`` from config; how many of each kind
goes to stderr.

Import checks the whole file before it opens the database, then writes everything in
one transaction: a bad file is refused with the problem and where it is, exit 1, and
the database is not touched. Nothing here imports Textual.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.units import format_size_decimal

from .context import EXIT_ERROR, EXIT_OK, EXIT_USAGE, Ctx, print_json

if TYPE_CHECKING:
    from storage import Store
    from storage.transfer.export import ExportResult
    from storage.transfer.importer import ImportResult


def _err(message: str) -> None:
    print(f"tether: {message}", file=sys.stderr)


class _Meter:
    """A progress line on stderr while a long export or import runs (terminals only)."""

    def __init__(self, verb: str) -> None:
        self.verb = verb
        self.on = sys.stderr.isatty()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.on or now - self.last < 0.2 or total <= 0:
            return
        self.last = now
        self.shown = True
        print(f"\r{self.verb}… {100 * done // total:3d}%", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def _redaction_text(result: ExportResult) -> str:
    if not result.redacted:
        return "redaction off (--no-redact): secrets in the output were kept"
    return result.redaction_text()


# -- export -----------------------------------------------------------------------------
async def _session_ids(ctx: Ctx, store: Store) -> list[int] | int:
    """The sessions to export, or an exit code."""
    args = ctx.args
    if args.all:
        return await store.sessions.ids(order="oldest")
    if args.query is not None:
        from storage.query import QueryError, parse
        from storage.transfer.export import matching_sessions

        try:
            return await matching_sessions(store, parse(args.query))
        except QueryError as e:
            _err(str(e))
            return EXIT_USAGE
    return [(await store.sessions.resolve(ref)).id for ref in args.ids]


def cmd_export(ctx: Ctx) -> int:
    from home.config import export_redactor
    from storage.transfer.export import (
        FORMATS,
        export_sessions,
        export_to_file,
        format_for_path,
    )

    args = ctx.args
    chosen = sum([bool(args.ids), args.all, args.query is not None])
    if chosen != 1:
        _err("say which sessions: IDs, --all or --query Q (one of them)")
        return EXIT_USAGE
    fmt = args.format
    if fmt is None:
        fmt = format_for_path(args.output) if args.output else "json"
        if fmt is None:
            _err(
                f"cannot tell the format from the name {args.output!r}; add --format "
                f"({', '.join(FORMATS)}) or use the extension .json, .md, .txt or .jsonl"
            )
            return EXIT_USAGE
    try:
        redactor = None if args.no_redact else export_redactor(ctx.config.section("redaction"))
    except ValueError as e:  # a bad pattern in config.toml
        _err(f"{ctx.config.path or 'config'}: {e}")
        return EXIT_ERROR

    meter = _Meter("exporting")
    meter.on = meter.on and bool(args.output)  # stdout may be the terminal itself

    async def go() -> ExportResult | int:
        from runner.control import reconcile

        async with ctx.open_store(actor="cli") as store:
            await reconcile(store, ctx.paths)
            ids = await _session_ids(ctx, store)
            if isinstance(ids, int):
                return ids
            if not ids:
                _err("no session matches; nothing was exported")
                return EXIT_ERROR
            if not args.output:
                result = await export_sessions(
                    store, ids, sys.stdout.buffer, fmt=fmt, redactor=redactor
                )
                sys.stdout.buffer.flush()
                return result
            return await export_to_file(
                store, ids, args.output, fmt=fmt, redactor=redactor, progress=meter
            )

    try:
        result = ctx.run(go)
    except OSError as e:
        why = _write_error(args.output, e) if args.output else None
        if why is None:
            raise
        _err(why)
        return EXIT_ERROR
    finally:
        meter.clear()
    if isinstance(result, int):
        return result
    where = args.output or "stdout"
    noun = "session" if result.sessions == 1 else "sessions"
    print(
        f"exported {result.sessions} {noun} "
        f"({format_size_decimal(result.output_bytes)} of output) as "
        f"{fmt} to {where}; {_redaction_text(result)}",
        file=sys.stderr,
    )
    return EXIT_OK


def _write_error(output: str, error: OSError) -> str | None:
    """Why ``-o OUTPUT`` could not be written, in the user's terms (their path, never
    the temporary name beside it); None when ``error`` is not about that file."""
    target = os.path.abspath(os.path.expanduser(output))
    folder = os.path.dirname(target)
    name = os.path.abspath(os.fsdecode(error.filename)) if error.filename else None
    if name is not None and name not in (target, folder) and os.path.dirname(name) != folder:
        return None
    shown = os.path.dirname(output.rstrip("/")) or "."
    if not os.path.lexists(folder):
        reason = f"the directory {shown} does not exist"
    elif not os.path.isdir(folder):
        reason = f"{shown} is not a directory"
    else:
        reason = (error.strerror or str(error)).lower()
    return f"cannot write {output}: {reason}"


# -- import -----------------------------------------------------------------------------
def cmd_import(ctx: Ctx) -> int:
    from storage.errors import ImportRejected

    args = ctx.args
    if args.agent:  # transcripts of claude or codex (cli/agent_import.py)
        from .agent_import import cmd_import_agent

        return cmd_import_agent(ctx)
    if args.file is None:
        _err("say what to import: FILE (a tether export), or --agent claude|codex [PATH]")
        return EXIT_USAGE
    with _readable(args.file) as path:
        meter = _Meter("checking")
        try:
            from storage.transfer.importer import check_file

            checked = check_file(path, progress=meter)  # before the database is opened
        except ImportRejected as e:
            meter.clear()
            _err(f"cannot import {args.file}: {e}. Nothing was imported.")
            return EXIT_ERROR
        meter.clear()

        async def go() -> ImportResult:
            from runner.control import reconcile
            from storage.transfer.importer import import_file

            async with ctx.open_store(actor="cli") as store:
                await reconcile(store, ctx.paths)
                writing = _Meter("importing")
                try:
                    result = await import_file(
                        store,
                        path,
                        dry_run=args.dry_run,
                        duplicate=args.duplicate,
                        checked=checked,
                        progress=writing,
                    )
                finally:
                    writing.clear()
                await _render_imported(store, result)
                return result

        try:
            result = ctx.run(go)
        except ImportRejected as e:  # the file changed after it was checked
            _err(f"cannot import {args.file}: {e}. Nothing was imported.")
            return EXIT_ERROR
    if args.json:
        print_json(_import_json(result, checked.redactions))
    else:
        _print_import(result, checked.redactions)
    return EXIT_OK


async def _render_imported(store: Any, result: ImportResult) -> None:
    """Build the rendered transcript of the terminal sessions imported: search reads a
    pty session's stdout only through it (runner/screen/render.py)."""
    from runner.screen.render import needs_render, render_session

    for s in result.sessions:
        if s.id is not None and await needs_render(store, s.id):
            await render_session(store, s.id)


@contextlib.contextmanager
def _readable(name: str):  # type: ignore[no-untyped-def]
    """A seekable path for ``name`` (``-`` is stdin, copied to a private temp file:
    the import reads the file twice)."""
    if name != "-":
        yield Path(name)
        return
    fd, tmp = tempfile.mkstemp(prefix="tether-import-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f, 1024 * 1024)
        yield Path(tmp)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _print_import(result: ImportResult, redactions: dict[str, int]) -> None:
    from storage.text import terminal_safe

    would = "would " if result.dry_run else ""
    for s in result.sessions:
        label = terminal_safe(s.label, keep_colour=False).replace("\n", " ")
        if s.action == "skip":
            print(f"{would}skip {s.source_uid}  {label}: already here as #{s.existing_id}")
        elif s.action == "duplicate":
            target = f" as #{s.id}" if s.id is not None else ""
            print(
                f"{would}import a copy{target}  {label}  (new uid {s.uid}, "
                f"#{s.existing_id} has {s.source_uid})"
            )
        else:
            target = f" as #{s.id}" if s.id is not None else ""
            print(f"{would}import{target}  {label}  ({s.status}, uid {s.uid})")
    n = result.imported
    size = format_size_decimal(sum(s.bytes for s in result.sessions if s.action != "skip"))
    verb = "would import" if result.dry_run else "imported"
    summary = f"{verb} {n} session{'s' * (n != 1)} ({size} of output)" if n else "nothing to import"
    if result.skipped:
        summary += f"; {result.skipped} already here"
    if result.dry_run:
        summary = "dry run: " + summary + "; nothing was written"
    redacted = sum(redactions.values())
    if result.redacted and redacted:  # redaction on, and it found something
        summary += (
            f" (the export was redacted: {redacted} secret{'s' * (redacted != 1)} "
            f"show as [REDACTED:...])"
        )
    print(summary, file=sys.stderr)


def _import_json(result: ImportResult, redactions: dict[str, int]) -> dict[str, Any]:
    return {
        "file": result.path,
        "dry_run": result.dry_run,
        "redacted": result.redacted,  # redaction was on when it was exported
        "redactions": dict(redactions),  # what it replaced, by kind
        "imported": result.imported,
        "skipped": result.skipped,
        "sessions": [
            {
                "action": s.action,
                "id": s.id,
                "existing_id": s.existing_id,
                "uid": s.uid,
                "source_uid": s.source_uid,
                "label": s.label,
                "status": s.status,
                "lines": s.lines,
                "bytes": s.bytes,
            }
            for s in result.sessions
        ],
    }


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    from storage.transfer.export import FORMATS

    help_text = "write sessions to a file: json (re-importable), md, txt or jsonl"
    p = sub.add_parser(
        "export",
        parents=[common],
        help=help_text,
        description=help_text + ". Secrets are redacted unless --no-redact (built-in patterns plus "
        "[redaction] patterns in config.toml).",
    )
    p.add_argument("ids", nargs="*", metavar="ID", help="sessions (42, #42 or a uid prefix)")
    p.add_argument("--all", action="store_true", help="every session not in the trash")
    p.add_argument("--query", metavar="Q", help="the sessions a search query matches")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (0600), not stdout")
    p.add_argument("--format", choices=FORMATS, help="default: from FILE's extension, else json")
    p.add_argument("--no-redact", action="store_true", help="keep secrets as they are")
    p.set_defaults(func=cmd_export, _parser=p)

    help_text = "import sessions from a json export (all or nothing), or --agent transcripts"
    q = sub.add_parser(
        "import",
        parents=[common],
        help=help_text,
        description=help_text
        + ". Sessions already here (same uid) are skipped. Imported sessions never run "
        "without confirmation.",
    )
    q.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="a tether.export/1 file (- for stdin); with --agent: a transcript or a folder",
    )
    q.add_argument(
        "--agent",
        choices=("claude", "codex"),
        help="import that agent's conversations (default: from CLAUDE_CONFIG_DIR / CODEX_HOME)",
    )
    q.add_argument("--dry-run", action="store_true", help="check and tell, write nothing")
    q.add_argument(
        "--duplicate", action="store_true", help="import sessions already here as copies"
    )
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_import, _parser=q)
