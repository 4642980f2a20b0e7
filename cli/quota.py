"""The quota line every command prints on stderr at 80% and 100% of ``storage.quota``,
and the cleanup ``storage.on_quota = "cleanup"`` applies then (``home.quota``).

Cheap enough for every command: ``cli.main`` imports this only when there is a
config.toml (no file, no quota); then it costs a few ``stat`` calls (database, WAL,
backups), no query. Commands that show the quota
themselves or are how the user deals with it do not repeat it.
"""

from __future__ import annotations

import sys

from .context import Ctx

QUIET = frozenset({"usage", "doctor", "config", "cleanup", "demo"})


def check_quota(ctx: Ctx, command: str) -> None:
    """Warn on stderr when near or over the quota; clean up when so configured."""
    if command in QUIET:
        return
    from home.quota import check, on_quota, warning

    state = check(ctx.paths, ctx.config)
    if state is None:
        return
    action = on_quota(ctx.config)
    line = warning(state, action)
    if line is None:
        return
    print(f"tether: {line}", file=sys.stderr)
    if state.level == "over" and action == "cleanup" and ctx.paths.db.exists():
        _cleanup(ctx, state)


def _cleanup(ctx: Ctx, state: object) -> None:
    from home.quota import cleanup_over_quota
    from storage.units import format_size

    async def go() -> None:
        async with ctx.open_store(actor="quota") as store:
            done = await cleanup_over_quota(store, ctx.config, ctx.paths, state)  # type: ignore[arg-type]
        if done is not None:
            print(
                f"tether: the quota cleanup purged {len(done.purged)} sessions "
                f"({format_size(done.bytes)} of output, {format_size(done.reclaimed)} "
                "given back)",
                file=sys.stderr,
            )

    ctx.run(go)
