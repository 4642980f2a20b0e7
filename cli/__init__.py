"""The ``tether`` command. With no subcommand it opens the TUI.

Each group of subcommands lives in its own module with a ``register(sub, common)``
function; ``COMMAND_MODULES`` lists them and ``COMMANDS`` says which module registers
each command, so that a command imports only its own module (``tether ls`` need not
load export, doctor or demo). Handlers take a ``Ctx`` and return an exit code. Nothing
here imports Textual: only opening the TUI does.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from .context import Ctx, fail

# The package's version: pyproject.toml reads it from here (setuptools' dynamic "attr"),
# so ``--version`` prints it without importlib.metadata (~17 ms of imports).
__version__ = "0.1.0"

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

COMMAND_MODULES = [
    "cli.sessions",  # run ls show logs stop pause continue send resume rm restore
    "cli.screen",  # screen
    "cli.attach",  # attach
    "cli.system",  # config
    "cli.doctor",  # doctor
    "cli.search",  # search
    "cli.cleanup",  # cleanup
    "cli.backup",  # backup restore-backup
    "cli.transfer",  # export import
    "cli.demo",  # demo
    "cli.audit",  # audit
    "cli.queue",  # queue
    "cli.usage",  # usage
    "cli.agents",  # wait
]
# Which module registers each command. A command missing here still works: its parser
# is then built with every module, as for `tether --help` (tests/cli/test_cli_startup.py
# checks that this table matches what the modules register).
COMMANDS = {
    **dict.fromkeys(
        ("run", "ls", "show", "logs", "stop", "pause", "continue", "send", "resume", "rm"),
        "cli.sessions",
    ),
    "restore": "cli.sessions",
    "screen": "cli.screen",
    "attach": "cli.attach",
    "config": "cli.system",
    "doctor": "cli.doctor",
    "search": "cli.search",
    "cleanup": "cli.cleanup",
    "backup": "cli.backup",
    "restore-backup": "cli.backup",
    "export": "cli.transfer",
    "import": "cli.transfer",
    "demo": "cli.demo",
    "audit": "cli.audit",
    "queue": "cli.queue",
    "usage": "cli.usage",
    "wait": "cli.agents",
}


def _modules_for(argv: Sequence[str]) -> list[str]:
    """The command modules that parsing ``argv`` needs: the one registering its command;
    none when it names no command (the app, ``--version``); all of them for the list
    of commands in ``--help``, or for a command ``COMMANDS`` does not know."""
    words = iter(argv)
    for word in words:
        if word == "--db":
            next(words, None)  # its value, not a command
        elif word == "-h" or (word.startswith("--h") and "--help".startswith(word)):
            return COMMAND_MODULES
        elif not word.startswith("-"):
            module = COMMANDS.get(word)
            return [module] if module in COMMAND_MODULES else COMMAND_MODULES
    return []


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of ``tether``: with ``argv``, only what parsing it needs (see
    ``_modules_for``); without, every command."""
    db_help = (
        "database file (default: TETHER_DB, else the user data dir; TETHER_HOME=DIR puts "
        "everything under DIR)"
    )
    import argparse  # (with gettext: ~1 ms that a command parsed without it need not pay)

    parser = argparse.ArgumentParser(
        prog="tether",
        description="Run commands as durable sessions; watch, search, resume and clean "
        "them up. With no command, open the full-screen app.",
    )
    parser.add_argument("--db", metavar="PATH", help=db_help)
    parser.add_argument("--version", action=_version(), help="print tether's version and exit")
    # Subcommands accept --db too (`tether ls --db X`). SUPPRESS: a subcommand that is
    # not given --db must not overwrite one given before it (`tether --db X ls`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="PATH", default=argparse.SUPPRESS, help=db_help)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(_commands=sub.choices)  # for `parse`: each command's own parser
    for name in COMMAND_MODULES if argv is None else _modules_for(argv):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue  # a command group not built yet
        module.register(sub, common)
    return parser


def _version() -> type[argparse.Action]:
    import argparse

    class Version(argparse.Action):
        """``--version``: the package's version (``__version__``, which the installed
        metadata is made from)."""

        def __init__(self, option_strings: list[str], dest: str, **kw: object) -> None:
            super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)  # type: ignore[arg-type]

        def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
            print(f"tether {__version__}")
            parser.exit()

    return Version


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse ``argv``; arguments a subcommand does not know are reported with that
    subcommand's usage (``tether ls --bogus``), not the top-level one."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        own = args._commands.get(args.command) or parser
        own.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


class _Args:
    """The attributes argparse's ``Namespace`` would hold, for the commands parsed
    without the parser: a plain object, so that they do not import argparse."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __eq__(self, other: object) -> bool:
        return vars(self) == vars(other) if hasattr(other, "__dict__") else NotImplemented

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class _Attach(_Args):
    """What parsing ``tether attach ID`` gives; its ``_parser`` (for a usage error
    found later) is built only if asked for."""

    def __getattr__(self, name: str) -> Any:
        if name != "_parser":
            raise AttributeError(name)
        argv = [self.command, self.id]
        return parse(build_parser(argv), argv)._parser


def _attach_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """``tether attach ID`` parsed without building a parser (argparse's formatter
    loads shutil and locale: 6 ms of a start issue 15 times). Anything else (an option,
    help, a missing or extra argument) goes through the parser."""
    if len(argv) != 2 or argv[0] != "attach" or argv[1].startswith("-"):
        return None
    from .attach import cmd_attach

    return _Attach(db=None, command="attach", func=cmd_attach, id=argv[1])


def _search_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """``tether search WORDS...`` parsed without building a parser (cli/search.py)."""
    if not argv or argv[0] != "search":
        return None
    from .search import quick_args

    found = quick_args(argv)
    return None if found is None else _Parsed(_argv=list(argv), **found)


class _Parsed(_Args):
    """What the parser would make of ``_argv``, made without it; its ``_parser`` (for a
    usage error found later) is built only if asked for."""

    def __getattr__(self, name: str) -> Any:
        if name != "_parser":
            raise AttributeError(name)
        argv = self.__dict__["_argv"]
        return parse(build_parser(argv), argv)._parser


def _read_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """``tether ls [--json]`` and ``tether logs ID [--tail N]`` parsed without building
    a parser: cli.sessions registers eleven commands, and building their parsers costs
    a one-query command more than its query (5-10 ms; argparse's formatter also loads
    shutil and locale). Anything else goes through the parser; tests/cli/
    test_search_fast.py checks both give the same."""
    argv = list(argv)
    if argv in (["ls"], ["ls", "--json"]):
        from .sessions import cmd_ls

        return _Parsed(
            _argv=argv, db=None, command="ls", query=[], status=None, tag=None,
            attention=None, all=False, limit=None, json=len(argv) == 2, func=cmd_ls,
        )  # fmt: skip
    if len(argv) not in (2, 4) or argv[0] != "logs" or argv[1].startswith("-"):
        return None
    tail = None
    if len(argv) == 4:
        if argv[2] not in ("--tail", "-n") or argv[3].startswith("-"):
            return None
        try:
            tail = int(argv[3])  # as type=int does
        except ValueError:
            return None
    from .logs import cmd_logs

    return _Parsed(
        _argv=argv, db=None, command="logs", id=argv[1], follow=False, tail=tail,
        stream=None, timestamps=False, json=False, raw=False, rendered=False, func=cmd_logs,
    )  # fmt: skip


# Commands that only read and leave nothing running: as a process of their own, they end
# without Python's teardown (see ``_leave``).
QUICK_EXIT = frozenset({"search", "ls", "logs"})


def main(argv: Sequence[str] | None = None) -> int:
    quick = argv is None and sys.argv[1:2] != [] and sys.argv[1] in QUICK_EXIT
    if quick and sys.argv[1] in ("search", "ls"):
        import gc

        # One page of hits (or the list), then the process ends (``_leave``): the cycle
        # collector's full passes over every object the imports made (~1 ms) would free
        # nothing that the exit does not. (``logs`` keeps it: it may stream a session.)
        gc.disable()
    code = run(sys.argv[1:] if argv is None else argv, quick_exit=quick)
    if quick:
        _leave(code)
    return code


def _leave(code: int) -> None:
    """End the process now, its output written: Python's teardown frees every module
    and object one by one, 10-15 ms of a 100 ms ``tether search``, and a reading command
    has nothing left to do at exit (it started no thread; its connections are left open
    on purpose, see ``Ctx.quick_exit``). If the output cannot be written (the reader
    left), the usual exit reports it."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        return
    os._exit(code)


def run(argv: Sequence[str], *, quick_exit: bool = False) -> int:
    """Run the command ``argv`` (without the program name); its exit code. With
    ``quick_exit`` the process ends with ``os._exit`` right after (``_leave``)."""
    args = (
        _attach_args(argv)
        or _search_args(argv)
        or _read_args(argv)
        or parse(build_parser(argv), argv)
    )
    try:
        ctx = Ctx.from_args(args)
        ctx.quick_exit = quick_exit
        if args.command is None:
            return open_tui(ctx)
        # No config.toml or no quota: nothing to load.
        if os.path.exists(ctx.paths.config_file_str) and ctx.config.section("storage"):
            from .quota import check_quota

            check_quota(ctx, args.command)  # a line on stderr at 80% and 100% of the quota
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
    from tui import faster_frames

    faster_frames()
    from tui.app import run_app

    return run_app(ctx.paths, ctx.config)


if __name__ == "__main__":
    sys.exit(main())
