"""Upkeep of a supervisor's files: its lock file and control socket are put back when
someone removes them (logind empties the runtime directory at logout, tmp cleaners),
so that others find the supervisor by them again."""

from __future__ import annotations

import asyncio
from pathlib import Path

from . import log
from .locations import SupervisorLock
from .server import ControlServer

FILE_CHECK_EVERY = 1.0  # seconds between looks at the lock file and the socket


async def keep_files(
    lock: SupervisorLock, server: ControlServer, log_path: Path, session_id: int
) -> None:
    """Look at the lock file and the socket every ``FILE_CHECK_EVERY`` seconds and make
    each again if it is gone. Runs until cancelled (the end of the run)."""
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
