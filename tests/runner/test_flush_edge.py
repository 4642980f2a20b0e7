"""Output after a quiet spell is written at once; a burst is batched. With a flush
interval of a minute, a lone line must still reach the database long before it."""

from __future__ import annotations

import asyncio
import sys
import time

from runner import control

# One write per line (an unbuffered print() writes the text and the newline apart).
SCRIPT = (
    "import os, time\n"
    "os.write(1, b'first\\n')\n"
    "time.sleep(1.5)\n"
    "os.write(1, b'second\\n')\n"
    "time.sleep(60)\n"
)


async def _wait_for_lines(store, sid: int, n: int, limit: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await store.output.line_count(sid) >= n:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_line_after_a_quiet_spell_is_not_held_for_the_flush_interval(store, paths):  # type: ignore[no-untyped-def]
    session = await control.start_session(
        store,
        paths,
        argv=[sys.executable, "-u", "-c", SCRIPT],
        cwd="/",
        tuning={"flush_interval": 60.0},
    )
    try:
        # Without a leading-edge flush both lines would wait 60 s for the interval.
        assert await _wait_for_lines(store, session.id, 1, 20.0)
        assert await _wait_for_lines(store, session.id, 2, 20.0)
        lines = await store.output.read_lines(session.id, 0, 2)
        assert [ln.text for ln in lines] == ["first", "second"]
    finally:
        await control.stop(store, paths, session.id, grace=1.0)
