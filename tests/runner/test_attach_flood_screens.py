"""While output floods, an attached terminal gets screens, not every byte (issue 15:
capture with two clients attached as fast as with none).

A real pty session writes 16 MB of numbered lines to one attached client that reads
its socket as fast as it can and draws every frame into an emulator of its own (a
``SCREEN`` on a clean screen, ``OUTPUT`` fed on). The client is sent far less than the
16 MB (screens, at most one per write gap), its screen then agrees with the
supervisor's exactly (it streams again only from a screen no output came during), and
what is written after the flood reaches it as output again (runner/stream.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import sys
import threading
from typing import Any

from runner import control
from runner.frames import END, OUTPUT, SCREEN
from runner.locations import socket_path
from runner.screen import open_screen
from runner.stream import FLOOD_LIMIT, FrameReader, StreamHub, read_frame
from tests.support.streams import Terminal, flood_writer
from tests.support.supervisors import eventually, wait_output

MB = 1024 * 1024
SIZE = 16 * MB
LINE = 64

WRITER = flood_writer(
    SIZE, LINE, 'while (line := input()) != "bye":\n    print("AFTER-" + line, flush=True)'
)


class Client:
    """An attached terminal: every frame drawn into its own emulator."""

    def __init__(self) -> None:
        self.screen = open_screen(80, 24)
        self.output = 0  # bytes of OUTPUT frames
        self.screens = 0
        self.after_flood: list[bytes] = []  # kinds seen since ``mark``
        self.marked = False

    async def read(self, reader: asyncio.StreamReader) -> None:
        while (got := await read_frame(reader)) is not None:
            kind, payload = got
            if self.marked:
                self.after_flood.append(kind)
            if kind == SCREEN:
                self.screens += 1
                self.screen = open_screen(80, 24)
                self.screen.feed(payload)
            elif kind == OUTPUT:
                self.output += len(payload)
                self.screen.feed(payload)
            elif kind == END:
                return

    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.lines()]


async def test_a_flood_reaches_a_terminal_as_screens_then_output_again(store, paths, tmp_path):
    s = await control.start_session(
        store, paths, argv=[sys.executable, "-c", WRITER], cwd=tmp_path, mode="pty", size=(80, 24)
    )
    await wait_output(store, s.id, b"READY")
    reader, writer = await asyncio.open_unix_connection(str(socket_path(paths, s.id)))
    writer.write(json.dumps({"op": "attach", "cols": 80, "rows": 24}).encode() + b"\n")
    assert json.loads(await reader.readline())["ok"]
    client = Client()
    reading = None
    try:
        await control.send_input(store, paths, s.id, "go")

        # The client reads nothing until the whole flood is stored, so it falls behind
        # however fast this machine is (a client that keeps up is rightly sent every
        # byte: how much it is sent as output must not depend on the machine's speed).
        async def stored() -> bool:
            return (await store.sessions.require(s.id)).output_bytes > SIZE

        await eventually(stored, timeout=300, what="the flood stored")
        reading = asyncio.create_task(client.read(reader))

        async def caught_up() -> bool:  # the flood is over and the client shows its end
            if "ALL-WRITTEN" not in client.lines():
                return False
            supervisor = await control.screen(store, paths, s.id)
            return [line.rstrip() for line in supervisor["lines"]] == client.lines()

        # Deadlines only bound a broken build; nothing is timed.
        await eventually(caught_up, timeout=300, what="the client to show the supervisor's screen")
        assert client.output < SIZE // 4, "the flood was sent byte for byte, not as screens"
        assert client.screens >= 2

        # The screen it caught up with may have been read while the last bytes came
        # (then one more follows after the gap): within a few lines it streams again.
        client.marked = True
        for i in range(20):
            await control.send_input(store, paths, s.id, str(i))
            await eventually(
                lambda i=i: _now(f"AFTER-{i}" in client.lines()), timeout=60, what="the echo"
            )
            if OUTPUT in client.after_flood:
                break
        assert OUTPUT in client.after_flood, "after the flood the client should stream again"
    finally:
        await control.send_input(store, paths, s.id, "bye")
        if reading is not None:
            await asyncio.wait_for(reading, 60)
        writer.close()


class SlowTerminal(Terminal):
    """A pty session's supervisor whose screen is read slowly: the second read waits
    until the test lets it go (output may come meanwhile)."""

    def __init__(self) -> None:
        self.reads = 0
        self.reading = threading.Event()
        self.go_on = threading.Event()

    def screen(self, *, styled: bool, vt: bool) -> dict[str, Any]:
        self.reads += 1
        if self.reads == 2:
            self.reading.set()
            self.go_on.wait(30)
        return {"vt": base64.b64encode(b"screen %d" % self.reads).decode()}


async def test_output_during_a_screen_read_brings_another_screen():
    """A screen read while output came does not hold that output: streaming resumes
    only after a screen read with nothing coming meanwhile (else bytes would be lost)."""
    target = SlowTerminal()
    hub = StreamHub(target)
    feed = hub.output_hook(lambda stream_, data: None)
    ours, client = socket.socketpair()
    client.setblocking(False)
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    serving = asyncio.create_task(
        hub.serve({"op": "attach", "cols": 80, "rows": 24}, reader, writer, None)
    )
    loop = asyncio.get_running_loop()
    frames = FrameReader()
    got: list[tuple[bytes, bytes]] = []

    async def until(n: int) -> list[tuple[bytes, bytes]]:
        while len(got) < n:
            got.extend(frames.feed(await loop.sock_recv(client, 1 << 20)))
        return got

    try:
        hello = b""
        while not hello.endswith(b"\n"):
            hello += await loop.sock_recv(client, 1)
        assert await until(1) == [(SCREEN, b"screen 1")]
        feed("stdout", b"x" * (FLOOD_LIMIT + 1))  # a flood: the next is a screen
        await asyncio.wait_for(loop.run_in_executor(None, target.reading.wait), 30)
        feed("stdout", b"during")  # while the screen is read
        target.go_on.set()
        assert await asyncio.wait_for(until(3), 30) == [
            (SCREEN, b"screen 1"),
            (SCREEN, b"screen 2"),
            (SCREEN, b"screen 3"),  # it has "during" in it; screen 2 may not
        ]
        feed("stdout", b"after")
        assert (await asyncio.wait_for(until(4), 30))[3] == (OUTPUT, b"after")
    finally:
        target.go_on.set()
        serving.cancel()
        client.close()
        writer.close()


async def _now(value: bool) -> bool:
    return value
