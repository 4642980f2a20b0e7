"""The quota of this home (``[storage] quota`` and ``on_quota``): where its use stands
(by ``stat`` only, cheap enough for every command), the warning line commands print,
and the cleanup ``on_quota = "cleanup"`` applies.

That cleanup is the retention policy (``[retention]``), applied as ``tether cleanup``
applies it: pinned, pending, running and paused sessions and protected tags are never
touched, nor a session whose supervisor still holds its lock. When the policy sets no
``max_size``, the cleanup adds one so that the output left brings the disk use back
under 80% of the quota (the oldest eligible sessions go first, the trash before
them). It runs at most once every ``CLEANUP_EVERY`` seconds, so a quota the policy
cannot meet is not tried again on every command.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from home.config import ConfigError, retention_policy
from home.config_schema import OPTIONS, SettingError

if TYPE_CHECKING:
    from home.config import Config
    from home.paths import Paths
    from storage import Store
    from storage.engine.cleanup import CleanupResult
    from storage.quota import QuotaState

CLEANUP_EVERY = 600.0
LAST_CLEANUP = "storage.quota_cleanup_at"  # in settings: when it last ran


def quota_limit(config: Config) -> int | None:
    """``storage.quota`` in bytes, or None when there is none."""
    from storage import units

    value = config.section("storage").get("quota")
    if value is None:
        return None
    try:
        return units.parse_size(OPTIONS["storage.quota"].validate(value))
    except (SettingError, units.UnitError) as e:
        raise ConfigError(config.path, str(e)) from None


def on_quota(config: Config) -> str:
    """``storage.on_quota``: ``warn`` (the default) or ``cleanup``."""
    option = OPTIONS["storage.on_quota"]
    try:
        return str(option.validate(config.section("storage").get("on_quota", option.default)))
    except SettingError as e:
        raise ConfigError(config.path, str(e)) from None


def check(paths: Paths, config: Config) -> QuotaState | None:
    """The quota state now, or None without a quota."""
    limit = quota_limit(config)
    if limit is None:
        return None
    from storage.quota import measure

    return measure(limit, paths.db, paths.backups)


def warning(state: QuotaState, action: str) -> str | None:
    """The line to show at 80% and over (None below): what it is and what to do."""
    if state.level == "ok":
        return None
    if state.level == "over" and action == "cleanup":
        hint = "applying the retention policy"
    else:
        hint = "`tether usage` shows where the space goes, `tether cleanup` frees it"
    return f"{state.message()}; {hint}"


async def cleanup_over_quota(
    store: Store, config: Config, paths: Paths, state: QuotaState, *, now: float | None = None
) -> CleanupResult | None:
    """With ``on_quota = "cleanup"`` and the quota reached, apply the retention policy
    (see the module docstring); None when it is not due or was tried lately."""
    from home.cleanup import apply_plan
    from storage.engine.cleanup import plan
    from storage.engine.usage import output_totals
    from storage.quota import NEAR, backups_bytes, database_bytes

    now = time.time() if now is None else now
    if state.level != "over" or on_quota(config) != "cleanup":
        return None
    last = await store.settings.get(LAST_CLEANUP, None)
    if isinstance(last, int | float) and now - last < CLEANUP_EVERY:
        return None
    await store.settings.set(LAST_CLEANUP, now)
    policy = retention_policy(config)
    if policy.max_total_bytes is None:
        live, trashed, _, _ = await output_totals(store)
        room = NEAR * state.limit - backups_bytes(paths.backups)[0]
        database = max(1, database_bytes(paths.db))
        policy = policy.override(max_total_bytes=max(0, int((live + trashed) * room / database)))
    found = await plan(store, policy, now)
    if not found.items:
        return None
    return await apply_plan(store, found, config, paths)
