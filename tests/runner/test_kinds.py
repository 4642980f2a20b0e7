"""Session kinds and the seams of the supervisor: real processes, pipes and terminals."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from runner.capture import Capture
from runner.kinds import PipeKind, PtyKind, kind_for, kind_named
from runner.server import ControlServer
from runner.spec import LaunchSpec


def _spec(tmp_path, argv, **kw) -> LaunchSpec:
    return LaunchSpec(
        db=str(tmp_path / "t.db"),
        session_id=1,
        lock=str(tmp_path / "1.lock"),
        socket=str(tmp_path / "1.sock"),
        log=str(tmp_path / "supervisor.log"),
        argv=argv,
        cwd=str(tmp_path),
        **kw,
    )


def _read_all(fd: int) -> bytes:
    os.set_blocking(fd, True)
    out = b""
    while True:
        try:
            part = os.read(fd, 65536)
        except OSError:  # EIO: a terminal whose other side is closed
            break
        if not part:
            break
        out += part
    return out


def test_the_mode_picks_the_kind(tmp_path):
    assert isinstance(kind_for(_spec(tmp_path, ["true"])), PipeKind)
    assert isinstance(kind_for(_spec(tmp_path, ["true"], mode="pty")), PtyKind)
    assert kind_named("pty").resizable and not kind_named("pipe").resizable
    assert kind_named("something else") is PipeKind
    assert (PipeKind.input_eol, PtyKind.input_eol) == (b"\n", b"\r")


def test_a_pipe_kind_keeps_stdout_and_stderr_apart(tmp_path):
    kind = kind_for(_spec(tmp_path, ["sh", "-c", "echo out; echo err >&2"]))
    child = kind.spawn()
    assert child.held
    asyncio.run(child.release(kind.spec.argv, kind.spec.cwd))
    streams = {stream: _read_all(fd) for fd, stream in child.outputs.items()}
    child.proc.wait()
    assert streams == {"stdout": b"out\n", "stderr": b"err\n"}
    assert child.input_fd is not None
    kind.close_input(child.input_fd)
    assert not kind.resize(child, 100, 30)
    for fd in child.outputs:
        os.close(fd)


def test_a_pty_kind_gives_a_terminal_of_the_asked_size(tmp_path):
    spec = _spec(tmp_path, ["sh", "-c", "stty size; echo $TERM"], mode="pty", cols=100, rows=30)
    kind = kind_for(spec)
    child = kind.spawn()
    assert list(child.outputs.values()) == ["stdout"]
    (fd,) = child.outputs
    assert fd == child.input_fd  # one fd: the terminal
    asyncio.run(child.release(kind.spec.argv, kind.spec.cwd))
    out = _read_all(fd)
    child.proc.wait()
    assert out.split() == [b"30", b"100", b"xterm-256color"]
    assert kind.status() == {"mode": "pty"}
    os.close(fd)


async def test_capture_shows_every_read_to_the_kinds_hook(tmp_path):
    seen: list[tuple[str, bytes]] = []
    capture = Capture(session_id=1, log_path=tmp_path / "log", buffer_limit=1 << 20, flush_bytes=64)
    r, w = os.pipe()
    os.set_blocking(r, False)
    capture.start({r: "stdout"}, lambda stream, data: seen.append((stream, data)), None)
    os.write(w, b"hello\n")
    os.close(w)
    await asyncio.wait_for(capture.eof.wait(), 10)
    assert b"".join(d for _, d in seen) == b"hello\n"
    assert {s for s, _ in seen} == {"stdout"}
    assert capture.buffer.pending == 6


class _Target:
    """A Controllable that is not a supervisor: the server needs no more than this."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bool]] = []

    def status(self):
        return {"mode": "test"}

    def send_input(self, text, *, eol):
        self.sent.append((text, eol))

    def request_stop(self, why, grace):
        self.stopped = (why, grace)

    async def wait_finished(self):
        return "stopped"

    async def set_paused(self, paused):
        return paused

    def resize(self, cols, rows):
        return True


async def test_the_control_server_serves_any_controllable(tmp_path):
    target = _Target()
    path = tmp_path / "s" / "c.sock"
    server = ControlServer(target, path, log_path=tmp_path / "log", session_id=1, grace=3.0)
    await server.start()

    async def ask(payload):
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(json.dumps(payload).encode() + b"\n")
        line = await reader.readline()
        writer.close()
        return json.loads(line)

    try:
        assert await ask({"op": "status"}) == {"ok": True, "mode": "test"}
        assert await ask({"op": "input", "text": "y"}) == {"ok": True}
        assert await ask({"op": "stop"}) == {"ok": True, "status": "stopped"}
        assert await ask({"op": "pause"}) == {"ok": True, "paused": True}
        assert (await ask({"op": "resize", "cols": 0, "rows": 5}))["ok"] is False
    finally:
        await server.close()
    assert target.sent == [("y", True)]
    assert target.stopped == ("user", 3.0)


def test_the_control_server_does_not_load_the_supervisor():
    code = "import sys, runner.server; print('runner.supervisor' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
