"""The queue's limits as ``config.toml`` sets them: ``run.max_parallel`` and
``groups.NAME.max_parallel`` (0, the default, is no limit). The CLI and the TUI record
them in the database at every kick of the queue (runner/queue.py), so that a finishing
supervisor, which reads no configuration, starts the next session by the same limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from home.config import Config
    from storage.engine.queue import Limits


def queue_limits(config: Config) -> Limits:
    """The limits ``config`` sets."""
    from storage.engine.queue import Limits

    groups = {
        str(name): int(table.get("max_parallel", 0))
        for name, table in config.section("groups").items()
        if isinstance(table, dict) and table.get("max_parallel")
    }  # a group without a limit is left out, as the database keeps them
    return Limits(int(config.section("run").get("max_parallel", 0)), groups)
