"""Cleaning up this home by its retention policy, the same way from the command line,
the cleanup screen and at start: a purge first backs a large cleanup up into
``paths.backups`` (rotated to ``[backups] keep``) and leaves alone any session whose
supervisor still holds its lock.

``auto_cleanup`` is the start-up service: with ``general.auto_cleanup`` on, the app
applies the configured policy once when it starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from home.config import keep_backups, retention_policy

if TYPE_CHECKING:
    from home.config import Config
    from home.paths import Paths
    from storage import Store
    from storage.engine.cleanup import CleanupResult
    from storage.engine.purge import ProgressFn
    from storage.retention import CleanupPlan


async def apply_plan(
    store: Store,
    found: CleanupPlan,
    config: Config,
    paths: Paths,
    *,
    progress: ProgressFn | None = None,
) -> CleanupResult:
    """Purge what ``found`` lists (``storage.engine.cleanup.apply``) with this home's
    backups and its supervisors' locks. A bad ``[backups] keep`` is a ``ConfigError``."""
    from runner.control import is_alive
    from storage.engine.cleanup import apply

    return await apply(
        store,
        found,
        progress=progress,
        backup_dir=paths.backups,
        keep_backups=keep_backups(config),
        is_alive=lambda sid: is_alive(paths, sid),
    )


async def auto_cleanup(store: Store, config: Config, paths: Paths) -> CleanupResult | None:
    """Apply the configured retention policy when ``general.auto_cleanup`` is on.
    Returns what was done, or None when it is off or there was nothing to do."""
    if not config.general.auto_cleanup:
        return None
    from storage.engine.cleanup import plan

    found = await plan(store, retention_policy(config))
    if not found.items:
        return None
    return await apply_plan(store, found, config, paths)
