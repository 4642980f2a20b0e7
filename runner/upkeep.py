"""Upkeep of a supervisor: its lock file and control socket are put back when someone
removes them (logind empties the runtime directory at logout, tmp cleaners), so that
others find the supervisor by them again; and, about once a minute, the session's
metrics (capture rate, index lag) and the database's size are sampled into the
``metrics`` table (``storage.engine.metrics``), for the usage view."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from . import log
from .locations import SupervisorLock
from .server import ControlServer

FILE_CHECK_EVERY = 1.0  # seconds between looks at the lock file and the socket
METRICS_EVERY = 60.0  # seconds between samples of the metrics
FIRST_SAMPLE_AFTER = 5.0


async def keep_files(
    lock: SupervisorLock,
    server: ControlServer,
    log_path: Path,
    session_id: int,
    store: Any = None,
) -> None:
    """Look at the lock file and the socket every ``FILE_CHECK_EVERY`` seconds and make
    each again if it is gone; with ``store``, sample the metrics every
    ``METRICS_EVERY`` seconds. Runs until cancelled (the end of the run)."""
    sampler = None
    if store is not None:  # in a task of its own: a busy database never delays the files
        sampler = asyncio.create_task(MetricsSampler(store, session_id, log_path).run())
    try:
        await _keep_files(lock, server, log_path, session_id)
    finally:
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler  # its transaction rolled back before the store closes


async def _keep_files(
    lock: SupervisorLock, server: ControlServer, log_path: Path, session_id: int
) -> None:
    while True:
        await asyncio.sleep(FILE_CHECK_EVERY)
        try:
            if not lock.still_there() and lock.repair():
                log.write_entry(
                    log_path,
                    f"the lock file {lock.path} was removed; made it again",
                    session_id=session_id,
                    level="WARN",
                )
            if not server.still_there():
                await server.rebind()
                log.write_entry(
                    log_path,
                    f"the control socket {server.path} was removed; made it again",
                    session_id=session_id,
                    level="WARN",
                )
        except Exception as e:  # noqa: BLE001 - try again next time
            log.write_entry(
                log_path,
                f"could not restore the lock file or socket: {e!r}",
                session_id=session_id,
                level="WARN",
            )


class MetricsSampler:
    """Samples a session's metrics every ``every`` seconds. A failed sample (a busy or
    full database) is logged once and skipped: metrics never hold up the capture."""

    def __init__(
        self, store: Any, session_id: int, log_path: Path, every: float = METRICS_EVERY
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.log_path = log_path
        self.every = every
        self._mark: Any = None
        self._failing = False

    async def run(self) -> None:
        """Sample a few seconds after the start (the base of the rates: a start
        stays quick, and a command of a moment records nothing), then every
        ``every`` seconds, until cancelled."""
        await asyncio.sleep(min(FIRST_SAMPLE_AFTER, self.every))
        while True:
            await self.tick()
            await asyncio.sleep(self.every)

    async def tick(self) -> None:
        from storage.engine.metrics import sample_session

        try:
            self._mark = await sample_session(self.store, self.session_id, self._mark)
            self._failing = False
        except Exception as e:  # noqa: BLE001 - a metric is not worth failing for
            if not self._failing:
                log.write_entry(
                    self.log_path,
                    f"could not record metrics: {e!r}",
                    session_id=self.session_id,
                    level="WARN",
                )
            self._failing = True
