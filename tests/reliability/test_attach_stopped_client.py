"""A stopped attached client (ctrl+z on it, a frozen ssh) while the command writes
100 MB: the issue's figure (issue 15).

A pty session's command writes 100 MB of numbered lines once a client process is
attached and stopped (SIGSTOP: it reads nothing). While that client stays stopped the
command gets all of it written and every byte lands in storage (counted and
checksummed through the storage API): the capture never waited for the client. The
client is kept stopped for at least ``STOPPED_FOR`` seconds, as the issue says; once
it runs again it gets a fresh screen (the supervisor's, with the last lines on it),
not the 100 MB backlog. The smaller CI-sized case, a pipe session and a client that
stops reading its socket, is tests/runner/test_stream.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from runner import control
from runner.locations import socket_path
from tests.support.streams import flood_writer
from tests.support.supervisors import eventually, process_state, wait_ended

MB = 1024 * 1024
SIZE = 100 * MB
LINE = 64  # bytes the command writes per line, its newline included
STOPPED_FOR = 30.0  # seconds the client reads nothing (the figure)
ROOT = Path(__file__).resolve().parents[2]

# No echo (what is typed would land between the lines); "go" starts the 100 MB, then
# a marker, then it waits for one more line and ends.
WRITER = flood_writer(SIZE, LINE, 'input()\nprint("BYE", flush=True)')

# A bare attached client: attach, say so, then read frames until the end and report
# what it got (kinds in order, output bytes, the last screen).
CLIENT = f"""
import json, socket, sys
sys.path.insert(0, {str(ROOT)!r})
from runner.stream import OUTPUT, SCREEN, FrameReader
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(json.dumps({{"op": "attach", "cols": 80, "rows": 24, "who": "stopped"}}).encode()
          + b"\\n")
hello = b""
while not hello.endswith(b"\\n"):
    hello += s.recv(1)
print("ATTACHED", flush=True)
reader, kinds, output, screen = FrameReader(), [], 0, b""
while data := s.recv(1 << 20):
    for kind, payload in reader.feed(data):
        kinds.append(kind.decode())
        if kind == OUTPUT:
            output += len(payload)
        elif kind == SCREEN:
            screen = payload
print(json.dumps({{"kinds": "".join(kinds), "output": output,
                  "screen": screen.decode("utf-8", "replace")}}), flush=True)
"""


def expected_stdout() -> tuple[int, str]:
    """Size and sha256 of what the terminal gives the capture (``\\n`` -> ``\\r\\n``)."""
    h = hashlib.sha256(b"READY\r\n")
    size = len(b"READY\r\n")
    block = bytearray()
    for i in range(SIZE // LINE):
        block += b"%0*d\r\n" % (LINE - 1, i)
        if len(block) >= MB:
            h.update(block)
            size += len(block)
            block.clear()
    block += b"ALL-WRITTEN\r\n"
    h.update(block)
    return size + len(block), h.hexdigest()


async def stored_stdout(store, sid: int) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    h = hashlib.sha256()
    size = 0
    async for chunk in store.output.iter_chunks(sid, stream="stdout"):
        h.update(chunk.data)
        size += len(chunk.data)
    return size, h.hexdigest()


async def last_line_is(store, sid: int, text: str) -> bool:  # type: ignore[no-untyped-def]
    lines = await store.output.tail(sid, 2, stream="stdout")
    return any(line.raw.rstrip(b"\r") == text.encode() for line in lines)


async def test_a_stopped_client_while_the_command_writes_100_mb(store, paths, tmp_path, figures):
    s = await control.start_session(
        store, paths, argv=[sys.executable, "-c", WRITER], cwd=tmp_path, mode="pty"
    )
    await eventually(lambda: last_line_is(store, s.id, "READY"), what="the writer ready")
    client = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, str(socket_path(paths, s.id)), stdout=subprocess.PIPE
    )
    try:
        assert client.stdout is not None
        attached = await asyncio.wait_for(client.stdout.readline(), 60)
        assert attached.strip() == b"ATTACHED"
        os.kill(client.pid, signal.SIGSTOP)
        stopped_at = time.monotonic()
        await eventually(
            lambda: _async(process_state(client.pid) == "T"), what="the client stopped"
        )

        await control.send_input(store, paths, s.id, "go")
        # Deadlines below only bound a broken build; nothing is timed.
        await eventually(
            lambda: last_line_is(store, s.id, "ALL-WRITTEN"), timeout=600, what="100 MB stored"
        )
        assert process_state(client.pid) == "T", "the client must still be stopped"
        assert await stored_stdout(store, s.id) == expected_stdout()  # every byte, in order
        assert (await control.status(store, paths, s.id))["dropped_bytes"] == 0

        left = STOPPED_FOR - (time.monotonic() - stopped_at)
        if left > 0:  # the figure: the client reads nothing for 30 s
            await asyncio.sleep(left)
        assert process_state(client.pid) == "T"
        os.kill(client.pid, signal.SIGCONT)

        await control.send_input(store, paths, s.id, "bye")
        ended = await wait_ended(store, paths, s.id, timeout=120)
        assert ended.status == "succeeded"
        out, _ = await asyncio.wait_for(client.communicate(), 120)
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
    got = json.loads(out)
    kinds = got["kinds"]
    assert got["output"] < 8 * MB, "it was sent a backlog instead of a fresh screen"
    assert "S" in kinds[1:], "once it read again it should have had a fresh screen"
    assert kinds[0] == "S" and kinds[-1] == "E"
    assert "ALL-WRITTEN" in got["screen"] or "BYE" in got["screen"]
    figures.add("attach: stopped client", trials=1, lines=SIZE // LINE + 2, faults=1)


async def _async(value: bool) -> bool:
    return value
