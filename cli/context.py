"""What every command gets: paths, configuration (``home``), a way to open the store,
asking the user for a yes, and the error policy (typed errors become one clear line on
stderr and an exit code)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable

from home.paths import Paths, resolve_paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, TypeVar

    from home.config import Config
    from storage.engine.reader import Reader

    T = TypeVar("T")


EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


class Ctx:
    """The parsed arguments, where things live, and the configuration."""

    def __init__(self, args: argparse.Namespace, paths: Paths) -> None:
        self.args = args
        self.paths = paths
        self._config: Config | None = None
        # The process ends with os._exit after the command (cli._leave): its reading
        # connections are then left open, not closed. Closing the last connection to
        # the database checkpoints the WAL and deletes it (an fsync and an unlink, 5-20
        # ms of a tether search that recorded its search_ms); left open, the WAL stays,
        # as after any crash, and the next writer's checkpoint takes it.
        self.quick_exit = False
        self._left_open: list[Any] = []

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Ctx:
        ctx = cls(args, resolve_paths(getattr(args, "db", None)))
        if not getattr(args, "loads_config", True):  # `config set/edit`: they mend a bad file
            from home.config import Config

            ctx._config = Config(path=ctx.paths.config_file)
        elif os.path.exists(ctx.paths.config_file_str):
            ctx.config  # noqa: B018 - checked now: a bad config.toml stops every command
        return ctx

    @property
    def config(self) -> Config:
        """``config.toml``, read when first needed (without one, nothing to read: a
        command that needs no setting never imports the config code)."""
        if self._config is None:
            from home.config import load_config

            path, key_ids = self.paths.config_file, None
            if path.exists():  # else no [keys] to check
                from tui.keys import KEYS as key_ids  # no Textual: just the binding ids

            self._config = load_config(path, key_ids=key_ids)
        return self._config

    def open_store(self, *, actor: str = "cli"):  # type: ignore[no-untyped-def]
        """``async with ctx.open_store() as store``: creates dirs (0700) as needed."""
        from home.store import open_store

        return open_store(self.paths, actor=actor)

    def run(self, fn: Callable[[], Awaitable[T]]) -> T:
        import asyncio  # only commands that write (or wait) start an event loop

        return asyncio.run(fn())  # type: ignore[arg-type]

    def read(self, fn: Callable[[Reader], Awaitable[T]]) -> T:
        """Run ``fn(reader)`` on the database opened for reading, synchronously: one
        plain connection, no event loop, no thread (``storage.engine.reader``). Sessions
        are reconciled first, as for every command; only when one must be marked lost
        is the store opened for writing to do it."""
        from home.store import open_reader
        from runner.reconcile import reconcile_read_only

        reader = open_reader(self.paths)
        try:
            if not reader.run(reconcile_read_only(reader, self.paths)) or (
                reader.run(reader.queue.waiting()) and self._queue_needs_kick(reader)
            ):
                self.run(self._reconcile)
            return reader.run(fn(reader))  # type: ignore[arg-type]
        finally:
            if self.quick_exit:
                self._left_open.append(reader)  # (see quick_exit)
            else:
                reader.close()

    async def _reconcile(self) -> None:
        from runner.reconcile import reconcile

        async with self.open_store(actor="cli") as store:
            await reconcile(store, self.paths)
            await self.kick_queue(store)

    async def kick_queue(self, store: Any) -> None:
        """Start the queued sessions that may start now (runner/queue.py), under the
        limits of config.toml. Cheap when nothing waits: one query."""
        if not await store.queue.waiting():
            return
        from home.queue import queue_limits
        from runner.queue import kick
        from storage.errors import StoreError

        try:
            await kick(store, self.paths, limits=queue_limits(self.config))
        except StoreError as e:  # busy: the command goes on, the next kick starts them
            print(f"tether: queued sessions not started now: {e}", file=sys.stderr)

    def _queue_needs_kick(self, reader: Reader) -> bool:
        from home.queue import queue_limits
        from runner.queue import needs_kick

        return reader.run(needs_kick(reader, queue_limits(self.config)))


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def fail(error: BaseException) -> int:
    """Print a typed error as one line; anything unexpected still gets a clear line."""
    import sqlite3

    from storage.errors import SessionNotFound, StoreError

    if isinstance(error, sqlite3.Error):  # one that escaped the store's own translation
        from storage.engine.sqlite_errors import translate

        error = translate(error, "tether's database")

    if isinstance(error, SessionNotFound | StoreError):
        print(f"tether: {error}", file=sys.stderr)
        return EXIT_ERROR
    from home.config import ConfigError

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
