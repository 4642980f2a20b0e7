"""The ``tether`` command. With no subcommand it opens the TUI.

Each group of subcommands lives in its own module with a ``register(sub, common)``
function; ``COMMAND_MODULES`` lists them. Handlers take a ``Ctx`` and return an exit
code. Nothing here imports Textual: only opening the TUI does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .context import Ctx, fail

COMMAND_MODULES = [
    "cli.sessions",  # run ls show logs stop pause continue send resume rm restore
    "cli.screen",  # screen
    "cli.system",  # config
    "cli.doctor",  # doctor
    "cli.search",  # search
    "cli.cleanup",  # cleanup
    "cli.backup",  # backup restore-backup
    "cli.transfer",  # export import
    "cli.demo",  # demo
]


def build_parser() -> argparse.ArgumentParser:
    db_help = (
        "database file (default: TETHER_DB, else the user data dir; TETHER_HOME=DIR puts "
        "everything under DIR)"
    )
    parser = argparse.ArgumentParser(
        prog="tether",
        description="Run commands as durable sessions; watch, search, resume and clean "
        "them up. With no command, open the full-screen app.",
    )
    parser.add_argument("--db", metavar="PATH", help=db_help)
    parser.add_argument("--version", action=_Version, help="print tether's version and exit")
    # Subcommands accept --db too (`tether ls --db X`). SUPPRESS: a subcommand that is
    # not given --db must not overwrite one given before it (`tether --db X ls`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=db_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(_commands=sub.choices)  # for `parse`: each command's own parser
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue  # a command group not built yet
        module.register(sub, common)
    return parser


class _Version(argparse.Action):
    """``--version``: read from the installed package's metadata only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kw: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("tether")
        except PackageNotFoundError:
            found = "unknown (not installed)"
        print(f"tether {found}")
        parser.exit()


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; arguments a subcommand does not know are reported with that
    subcommand's usage (``tether ls --bogus``), not the top-level one."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        own = args._commands.get(args.command) or parser
        own.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    try:
        ctx = Ctx.from_args(args)
        if args.command is None:
            return open_tui(ctx)
        return int(args.func(ctx) or 0)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `tether logs 1 | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - last line of defence: a message, not a traceback
        return fail(e)


def open_tui(ctx: Ctx) -> int:
    ctx.paths.ensure()
    from tui.app import run_app

    return run_app(ctx.paths, ctx.config)


if __name__ == "__main__":
    sys.exit(main())
