"""What every command gets: paths, configuration (``home``), a way to open the store,
asking the user for a yes, and the error policy (typed errors become one clear line on
stderr and an exit code)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from home.config import Config, ConfigError, load_config
from home.paths import Paths, resolve_paths

T = TypeVar("T")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


@dataclass
class Ctx:
    args: argparse.Namespace
    paths: Paths
    config: Config

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Ctx:
        from tui.keys import KEYS  # no Textual: just the binding ids, to check [keys]

        paths = resolve_paths(getattr(args, "db", None))
        if not getattr(args, "loads_config", True):  # `config set/edit`: they mend a bad file
            return cls(args, paths, Config(path=paths.config_file))
        return cls(args, paths, load_config(paths.config_file, key_ids=KEYS))

    def open_store(self, *, actor: str = "cli"):  # type: ignore[no-untyped-def]
        """``async with ctx.open_store() as store``: creates dirs (0700) as needed."""
        from home.store import open_store

        return open_store(self.paths, actor=actor)

    def run(self, fn: Callable[[], Awaitable[T]]) -> T:
        return asyncio.run(fn())  # type: ignore[arg-type]


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def fail(error: BaseException) -> int:
    """Print a typed error as one line; anything unexpected still gets a clear line."""
    from storage.errors import SessionNotFound, StoreError

    if isinstance(error, SessionNotFound | StoreError):
        print(f"tether: {error}", file=sys.stderr)
        return EXIT_ERROR
    if isinstance(error, UsageError | ConfigError):  # config.toml is input too
        print(f"tether: {error}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, OSError):
        print(
            f"tether: {error.strerror or error}"
            + (f": {error.filename}" if error.filename else ""),
            file=sys.stderr,
        )
        return EXIT_ERROR
    print(f"tether: unexpected error: {type(error).__name__}: {error}", file=sys.stderr)
    return EXIT_ERROR


def confirm(question: str) -> bool:
    """Ask a yes/no question on the terminal; anything but yes (or no input) is no."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def interactive() -> bool:
    """Whether a person is at the terminal to answer ``confirm``."""
    return sys.stdin.isatty() and sys.stdout.isatty()


class UsageError(Exception):
    """Bad command-line input found after parsing (exit 2)."""
