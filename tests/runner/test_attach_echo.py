"""What an attached client types echoes at once (issue 15), although the capture rests
after small reads that come in quick succession (issue 18, runner/capture.py): input
going to the command ends a rest under way and keeps reads from resting for a moment.

Measured in turns of the event loop, not in time: a rest is READ_REST (0.3 s), a
read that is not held back comes within a few turns.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from runner.capture import Capture
from tests.runner.test_pace import _reads


async def _read_within_a_few_turns(cap: Capture, w: int, data: bytes) -> list[bytes]:
    seen: list[bytes] = []
    cap._on_output = lambda stream, got: seen.append(got)
    os.write(w, data)
    for _ in range(50):  # a few turns of the loop, far less than a rest
        await asyncio.sleep(0)
        if seen:
            break
    return seen


async def test_typed_keys_echo_at_once_while_the_capture_would_rest(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.set_blocking(r, False)
    cap = Capture(
        session_id=1, log_path=tmp_path / "log", buffer_limit=1 << 20, flush_bytes=1 << 16
    )
    cap.start({r: "stdout"}, lambda stream, data: None, None)
    try:
        # Small reads in quick succession: the capture rests now (or would, at the next).
        await _reads(cap, w, [b"a\n", b"b\n", b"c\n"])
        await _reads(cap, w, [b"d\n", b"e\n", b"f\n"])
        for key in b"hello":  # typed one by one; each echo comes at once
            cap.input_sent()
            echo = bytes([key])
            assert await _read_within_a_few_turns(cap, w, echo) == [echo]
    finally:
        os.close(w)
        cap.close_output(r)
