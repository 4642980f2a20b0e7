"""Real supervisors in tests: a home whose leftovers are stopped, waiting for a session's
state or output, looking into /proc."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from home.paths import Paths, resolve_paths
from runner.locations import lock_is_held

T = TypeVar("T")


def supervised_paths(home: Path) -> Iterator[Paths]:
    """The paths of ``home`` (made), for a fixture to yield; afterwards every supervisor
    a test left running there is stopped."""
    p = resolve_paths(env={"TETHER_HOME": str(home)})
    p.ensure()
    yield p
    stop_leftover_supervisors(p.runtime)


def stop_leftover_supervisors(runtime: Path, pattern: str = "*.lock") -> None:
    """SIGTERM every supervisor still holding a lock under ``runtime`` (it then stops
    its command), SIGKILL those that do not go within a few seconds. ``pattern``
    finds the lock files (``*/*.lock`` for a home's runtime root)."""
    held = [p for p in runtime.glob(pattern) if lock_is_held(p)]
    pids = []
    for lock in held:
        try:
            pids.append(int(lock.read_text().strip()))
        except (OSError, ValueError):
            continue
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and any(lock_is_held(p) for p in held):
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def eventually(
    probe: Callable[[], Awaitable[T]], *, timeout: float = 30.0, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy (a deadline, not a timing
    assertion: it only bounds how long a broken build hangs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def wait_ended(store: Any, paths: Any, session_id: int, timeout: float = 30.0):
    """The session has ended and its supervisor has let go (indexing done)."""
    from runner.control import is_alive

    async def done():
        s = await store.sessions.require(session_id)
        return s if s.ended and not is_alive(paths, session_id) else None

    return await eventually(done, timeout=timeout, what=f"session #{session_id} to end")


async def wait_output(store: Any, session_id: int, needle: bytes, timeout: float = 30.0) -> bytes:
    async def seen():
        data = await store.output.read_bytes(session_id)
        return data if needle in data else None

    return await eventually(seen, timeout=timeout, what=f"{needle!r} in #{session_id}")


async def system_lines(store: Any, session_id: int) -> list[str]:
    data = await store.output.read_bytes(session_id, stream="system")
    return data.decode().splitlines()


def process_state(pid: int) -> str:
    """The one-letter state from /proc (R, S, T for stopped, Z...)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def kill_group(pid: int | None) -> None:
    if pid:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
