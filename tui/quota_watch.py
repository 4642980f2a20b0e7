"""The quota in the app: a toast when the space tether takes reaches 80% and 100% of
``storage.quota`` (once each time it rises to a level, not on every look), and with
``storage.on_quota = "cleanup"`` the retention policy applied (``home.quota``).

The app looks when it starts and then every ``QUOTA_EVERY`` seconds; a look is a few
``stat`` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.host import TetherHost

QUOTA_EVERY = 60.0
_RANK = {"ok": 0, "near": 1, "over": 2}


class QuotaWatch:
    def __init__(self, app: TetherHost) -> None:
        self.app = app
        self.level = "ok"
        self._error: str | None = None

    async def check(self) -> None:
        from home.config import ConfigError
        from home.quota import check, cleanup_over_quota, on_quota, warning

        app = self.app
        try:
            state = check(app.paths, app.config)
            action = on_quota(app.config) if state is not None else "warn"
        except ConfigError as e:
            if str(e) != self._error:
                self._error = str(e)
                app.notify(str(e), title="config.toml", severity="error", timeout=15)
            return
        if state is None:
            return
        if _RANK[state.level] > _RANK[self.level]:
            app.notify(
                warning(state, action) or state.message(),
                title="quota",
                severity="error" if state.level == "over" else "warning",
                timeout=12,
            )
        self.level = state.level
        if state.level != "over" or action != "cleanup":
            return
        try:
            done = await cleanup_over_quota(app.store, app.config, app.paths, state)
        except Exception as e:  # noqa: BLE001 - say why; the app goes on
            app.notify(f"The quota cleanup failed: {e}", severity="error", timeout=12)
            return
        if done is not None and done.purged:
            from storage.units import format_size

            await app.state.poll(force=True)
            app.notify(
                f"The quota cleanup removed {len(done.purged)} sessions "
                f"({format_size(done.bytes)} of output)",
                title="quota",
            )
