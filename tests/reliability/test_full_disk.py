"""A full disk: a clear error, no damage, and recovery once there is space again.

The database lives on a small tmpfs (mounted for the test; skipped where mounting is
not allowed). A session writes numbered lines; the disk is filled to the last byte
while it runs. Then ``tether run`` says in one line that the disk is full and runs
nothing, a new database cannot be created there either (and leaves nothing behind),
the database still passes its integrity checks, and once the filler is deleted the
supervisor catches up: the session ends ``succeeded`` with every line once and in
order (or a system line saying which bytes could not be kept). A last test limits the
file size (RLIMIT_FSIZE): the other way the operating system refuses a write.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from storage import open_store
from tests.support.reliability import (
    check_numbered,
    files_of,
    numbered,
    one_line_error,
    producer,
)
from tests.support.tether_cli import TETHER, Tether

LINES = 150_000
RATE = 250_000  # bytes a second: the session runs for about 5 s


@pytest.fixture
def small_disk(tmp_path: Path):
    """An 8 MB tmpfs at ``tmp_path/disk``, unmounted afterwards."""
    yield from _tmpfs(tmp_path, "8m")


@pytest.fixture
def disk_20m(tmp_path: Path):
    """A 20 MB tmpfs at ``tmp_path/disk``, unmounted afterwards."""
    yield from _tmpfs(tmp_path, "20m")


def _tmpfs(tmp_path: Path, size: str):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(disk)], capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
        else:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    st = os.statvfs(disk)
    assert st.f_bavail == 0, "the disk is not full"
    return filler


async def _session(db: Path, sid: int):  # type: ignore[no-untyped-def]
    async with open_store(db) as store:
        return await store.sessions.require(sid)


async def _integrity(db: Path) -> None:
    async with open_store(db) as store:
        report = await store.integrity_check()
        assert report.ok, report.problems


def _wait(db: Path, sid: int, done, timeout: float = 120):  # type: ignore[no-untyped-def]
    """(A deadline for a broken build, not a timing assertion.)"""
    deadline = time.monotonic() + timeout
    while True:
        s = asyncio.run(_session(db, sid))
        if done(s):
            return s
        assert time.monotonic() < deadline, f"#{sid} stayed {s.status} with {s.output_lines} lines"
        time.sleep(0.2)


def test_a_full_disk_is_a_clear_error_and_the_session_catches_up(small_disk, tmp_path, figures):
    t = Tether(small_disk / "home")
    t.home.mkdir(mode=0o700)
    (t.home / "config.toml").write_text("[general]\nstop_grace = 1.0\n")
    db = t.home / "tether.db"
    try:
        sid = int(
            t.ok("run", "--", *producer("--tag", "A", "--count", LINES, "--rate", RATE)).strip()
        )
        _wait(db, sid, lambda s: s.output_lines > 5000)
        filler = fill(small_disk)
        try:
            marker = tmp_path / "ran"
            ran = t("run", "--", "touch", str(marker))
            assert ran.returncode == 1, (ran.returncode, ran.stdout, ran.stderr)
            line = one_line_error(ran.stderr, "run on a full disk")
            assert "full" in line and str(db) in line
            assert not marker.exists()

            fresh = Tether(small_disk / "fresh")
            for args in (("ls",), ("run", "--", "touch", str(marker))):
                done = fresh(*args)
                assert done.returncode == 1, (args, done.stdout, done.stderr)
                one_line_error(done.stderr, f"{args[0]} with a new database on a full disk")
            leftovers = [p.name for p in fresh.home.rglob("*") if p.is_file()]
            assert not leftovers, f"a failed create left {leftovers}"

            listed = t("ls")
            assert listed.returncode == 0 and "running" in listed.stdout, listed
            asyncio.run(_integrity(db))
            time.sleep(1.5)  # the command keeps writing; its supervisor must hold on to it
        finally:
            filler.unlink()
        final = _wait(db, sid, lambda s: s.ended, timeout=180)
        assert final.status == "succeeded", final.status

        async def output() -> tuple[bytes, str]:
            async with open_store(db) as store:
                out = await store.output.read_bytes(sid, "stdout")
                system = (await store.output.read_bytes(sid, "system")).decode()
                return out, system

        out, system = asyncio.run(output())
        if "were lost here" in system:  # the buffer overflowed: a gap, said so
            numbers = [int(x.split()[1]) for x in out.decode().splitlines()]
            assert numbers == sorted(set(numbers)) and numbers[-1] == LINES
        else:
            k, tail = check_numbered(out, "A")
            assert (k, tail) == (LINES, b"")
        asyncio.run(_integrity(db))
        back = t.ok("run", "--", "echo", "back").strip()
        t.wait_status(back, ("succeeded",))
        assert "back" in t.ok("logs", back)
    finally:
        t.stop_leftovers()
    figures.add("full disk", trials=1, lines=LINES, faults=3)


# Lines of output that never fit a 20 MB disk: about 45 MB, and as it is stored: each
# line ends with 24 hashed bytes in base64 (--noise), which zstd cannot shrink much (bare
# numbered lines compress about 8x and all fitted once output was compressed at rest).
NEVER_FITS, NOISE = 1_000_000, 24
LOST = re.compile(r"; (\d+) bytes of output could not be stored \(")


@pytest.mark.parametrize("trial", range(2))
def test_output_that_never_fits_is_counted_to_the_byte_and_the_run_ends(disk_20m, figures, trial):
    """A producer that writes more than the disk holds, flat out. The session ends
    (the supervisor gives up on what it cannot store after a bounded time instead of
    retrying forever), and its end line counts every byte that is not stored: exactly
    the bytes written minus the bytes kept. Never ``succeeded`` as if nothing was lost:
    when output was still waiting at the end the run is ``failed``."""
    t = Tether(disk_20m / "home")
    t.home.mkdir(mode=0o700)
    (t.home / "config.toml").write_text("[general]\nstop_grace = 1.0\n")
    db = t.home / "tether.db"
    written = len(numbered(1, NEVER_FITS + 1, "B", NOISE))
    try:
        sid = int(
            t.ok(
                "run", "--", *producer("--tag", "B", "--noise", NOISE, "--count", NEVER_FITS)
            ).strip()
        )
        final = _wait(db, sid, lambda s: s.ended, timeout=240)
        _wait_released(t, sid)

        async def output() -> tuple[bytes, list[str]]:
            async with open_store(db) as store:
                out = await store.output.read_bytes(sid, "stdout")
                system = (await store.output.read_bytes(sid, "system")).decode()
                return out, system.splitlines()

        out, system = asyncio.run(output())
        end = system[-1]
        found = LOST.search(end)
        assert found, f"the end line does not count the loss: {end!r}"
        lost = int(found.group(1))
        assert lost > 0 and lost == written - len(out), (lost, written, len(out), end)
        notes = [ln for ln in system if "were lost here" in ln]
        in_notes = sum(int(ln.split("tether: ")[1].split(" bytes")[0]) for ln in notes)
        assert in_notes <= lost
        gave_up = "when tether gave up" in end
        assert final.status == ("failed" if gave_up else "succeeded"), (final.status, end)
        assert out.startswith(numbered(1, 1000, "B", NOISE))  # kept from the start, in order
        print(f"trial {trial}: {final.status}: {end}")
    finally:
        t.stop_leftovers()
    figures.add("full disk: output that never fits", trials=1, faults=1)


def _wait_released(t: Tether, sid: int, timeout: float = 120) -> None:
    """The supervisor let go of the session (a deadline for a broken build)."""
    from runner.locations import lock_is_held

    deadline = time.monotonic() + timeout
    locks = list((t.home).rglob(f"{sid}.lock"))
    while any(lock_is_held(p) for p in locks):
        assert time.monotonic() < deadline, f"#{sid}'s supervisor is still there"
        time.sleep(0.2)


def _limit_file_size(limit: int):  # type: ignore[no-untyped-def]
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_a_file_size_limit_is_a_clear_error_not_damage(tether, home, tmp_path, figures):
    tether.ok("run", "--", "echo", "first")
    tether.wait_status("1", ("succeeded",))
    db = home / "tether.db"
    asyncio.run(_integrity(db))  # the last connection closes: no -wal left to grow into
    before = files_of(db)
    marker = tmp_path / "ran"
    figures.add("full disk", trials=1, faults=1)
    ran = subprocess.run(
        [*TETHER, "run", "--", "touch", str(marker)],
        env=tether.env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        preexec_fn=_limit_file_size(100),
    )
    assert ran.returncode == 1, (ran.stdout, ran.stderr)
    line = one_line_error(ran.stderr, "run over the file size limit")
    assert not marker.exists()
    assert files_of(db)["db"] == before["db"]
    assert "not a usable" not in line and "backup" not in line, line
