"""Checks of the reliability suite: numbered output, clean stderr, whole files, a real
terminal."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

PRODUCER = Path(__file__).resolve().parents[1] / "reliability" / "producer.py"


def producer(*args: object) -> list[str]:
    """argv of the numbered-line producer (see producer.py)."""
    return [sys.executable, str(PRODUCER), *(str(a) for a in args)]


def numbered(start: int, stop: int, tag: str = "", noise: int = 0) -> bytes:
    """What ``producer(--tag tag [--noise noise])`` writes for lines start..stop-1."""
    prefix = (tag + " ").encode() if tag else b""
    if not noise:
        return b"".join(prefix + b"%d\n" % i for i in range(start, stop))
    return b"".join(prefix + b"%d %s\n" % (i, _noise(i, noise)) for i in range(start, stop))


def _noise(i: int, size: int) -> bytes:
    """The producer's ``--noise``: base64 of ``size`` bytes hashed from the number."""
    return base64.b64encode(hashlib.blake2b(b"%d" % i, digest_size=size).digest())


def check_numbered(data: bytes, tag: str = "", *, crlf: bool = False) -> tuple[int, bytes]:
    """``data`` must be lines 1..k of the producer, in order, each exactly once, then
    maybe the start of line k+1 (cut by a kill). Returns (k, the partial tail).
    Raises AssertionError naming the first place it differs."""
    if crlf:
        data = data.replace(b"\r\n", b"\n")
    k = data.count(b"\n")
    expected = numbered(1, k + 1, tag)
    if data[: len(expected)] != expected:
        at = next(i for i, (a, b) in enumerate(zip(data, expected, strict=False)) if a != b)
        line = data[:at].count(b"\n")
        raise AssertionError(
            f"stored output differs from lines 1..{k} at byte {at} (line {line + 1}): "
            f"got {data[max(0, at - 30) : at + 30]!r}, "
            f"expected {expected[max(0, at - 30) : at + 30]!r}"
        )
    tail = data[len(expected) :]
    whole_next = numbered(k + 1, k + 2, tag)
    if crlf:
        whole_next = whole_next[:-1] + b"\r\n"
    if not whole_next.startswith(tail):
        raise AssertionError(f"after line {k}: {tail[:60]!r} is not the start of line {k + 1}")
    return k, tail


BAD_WORDS = ("Traceback", "locked", "unexpected error")


def clean_stderr(text: str, what: str) -> None:
    """No traceback, no lock error, no 'unexpected error' in a process's stderr."""
    for word in BAD_WORDS:
        assert word not in text, f"{what}: {word!r} in stderr:\n{text[-2000:]}"


def one_line_error(stderr: str, what: str) -> str:
    """A clear message: exactly one line, starting with 'tether: ', no traceback."""
    for word in ("Traceback", "unexpected error"):
        assert word not in stderr, f"{what}: {word!r} in stderr:\n{stderr[-2000:]}"
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"{what}: expected one line on stderr, got {stderr!r}"
    assert lines[0].startswith("tether: "), f"{what}: {lines[0]!r}"
    return lines[0]


def files_of(db: Path) -> dict[str, bytes]:
    """The database and its -wal/-shm/-journal files, byte for byte (those present)."""
    out = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        p = Path(f"{db}{suffix}")
        if p.exists():
            out[suffix or "db"] = p.read_bytes()
    return out


# -- a real terminal ---------------------------------------------------------------------
ESCAPE = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def run_in_pty(
    argv: list[str],
    env: dict[str, str],
    *,
    timeout: float = 60,
    size: tuple[int, int] = (120, 36),
    until: bytes | None = None,
) -> tuple[int | None, bytes]:
    """Run ``argv`` on a new terminal until it exits; (exit code, all it wrote). The
    code is None when it was still running after ``timeout`` seconds, or half a second
    after it wrote ``until``: it is then killed."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not data:
                break
            out += data
            if until is not None and until in out:
                deadline = min(deadline, time.monotonic() + 0.5)
                until = None
    finally:
        os.close(master)
    try:
        return proc.wait(10 if time.monotonic() < deadline else 0.1), bytes(out)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return None, bytes(out)


def after_screen(out: bytes) -> str:
    """What a program printed after leaving the alternate screen, escapes removed."""
    tail = out.rsplit(b"\x1b[?1049l", 1)[-1]
    return ESCAPE.sub(b"", tail).replace(b"\r\n", b"\n").decode("utf-8", "replace")
