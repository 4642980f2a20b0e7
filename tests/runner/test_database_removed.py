"""A supervisor whose database file is deleted stops its command and exits, instead of
running on unseen and filling a file nobody can open any more."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from runner import control
from runner.locations import lock_is_held


async def test_deleting_the_database_stops_the_session(store, paths):  # type: ignore[no-untyped-def]
    loop = "import time\nwhile True:\n    print('tick', flush=True)\n    time.sleep(0.05)\n"
    session = await control.start_session(
        store, paths, argv=[sys.executable, "-u", "-c", loop], cwd="/", grace=1.0
    )
    child = (await store.sessions.get(session.id)).pid
    assert child and control.is_alive(paths, session.id)
    await store.close()
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{paths.db}{suffix}")
        except FileNotFoundError:
            pass
    lock = paths.lock_file(session.id)
    deadline = time.monotonic() + 30
    while lock_is_held(lock) and time.monotonic() < deadline:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.1)
    assert not lock_is_held(lock), "the supervisor kept running without its database"
    # ...and it took the command with it.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the command outlived its supervisor")
    assert any("was removed or replaced" in e for e in control.supervisor_errors(paths))
